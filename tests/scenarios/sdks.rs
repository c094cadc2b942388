//! The client libraries in `sdks/`: each, as its README shows it, makes a hook, sends an
//! event, reads the delivery and resends it against a live hookpost, with a receiver that
//! checks every request with the library's own `verify`; and the committed clients are
//! exactly what `openapi.json` generates.

use std::path::{Path, PathBuf};
use std::process::Command;

use hookpost_tests::python::target;
use hookpost_tests::{node_modules, python, TestApp, TestOptions};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `cmd`, and its last output line as JSON; panics with what it printed otherwise.
fn run_json(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("the driver starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON line")
}

/// What both drivers must have seen.
fn assert_the_round_trip(seen: &Value) {
    assert_eq!(seen["refused"], "invalid_field", "{seen}");
    assert_eq!(seen["event_id"], seen["delivery_event_id"], "{seen}");
    assert_eq!(
        seen["attempts"],
        serde_json::json!(["delivered", "delivered"]),
        "{seen}"
    );
    assert_eq!(seen["verified"], serde_json::json!([true, true]), "{seen}");
    let at = seen["created_at"].as_str().unwrap_or_default();
    assert!(at.starts_with("20"), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_makes_a_hook_sends_an_event_and_reads_and_resends_its_delivery() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let (python, base) = (python(), app.base.clone());
    let seen = tokio::task::spawn_blocking(move || {
        run_json(
            Command::new(python)
                .arg(repo().join("tests/sdk/client_test.py"))
                .args([&base, &key])
                .env("PYTHONPATH", repo().join("sdks/python")),
        )
    })
    .await
    .unwrap();
    assert_the_round_trip(&seen);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_client_compiles_strictly_and_does_the_same() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let base = app.base.clone();
    let seen = tokio::task::spawn_blocking(move || {
        // The package as published: its tsconfig (strict), built beside a node_modules.
        let build = target().join(format!("tmp/sdk-ts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&build);
        std::fs::create_dir_all(&build).unwrap();
        let sdk = repo().join("sdks/typescript");
        for file in ["package.json", "tsconfig.json"] {
            std::fs::copy(sdk.join(file), build.join(file)).unwrap();
        }
        copy_dir(&sdk.join("src"), &build.join("src"));
        std::os::unix::fs::symlink(node_modules(), build.join("node_modules")).unwrap();
        let tsc = Command::new(node_modules().join(".bin/tsc"))
            .args(["-p", "tsconfig.json"])
            .current_dir(&build)
            .output()
            .expect("tsc starts");
        assert!(
            tsc.status.success(),
            "the TypeScript client does not compile:\n{}",
            String::from_utf8_lossy(&tsc.stdout)
        );
        let seen = run_json(
            Command::new("node")
                .arg(repo().join("tests/sdk/client_test.js"))
                .arg(build.join("dist/index.js"))
                .args([&base, &key]),
        );
        std::fs::remove_dir_all(&build).unwrap();
        seen
    })
    .await
    .unwrap();
    assert_the_round_trip(&seen);
    assert_eq!(seen["status_refused"], 400);
    app.finish().await;
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn the_committed_clients_are_what_openapi_json_generates() {
    let out = Command::new(repo().join("sdks/generate"))
        .arg("--check")
        .output()
        .expect("sdks/generate starts");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
