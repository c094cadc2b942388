//! `openapi.json` is the contract: schemathesis runs every operation it describes, with a
//! tenant key and then with the admin token, through its examples, its coverage of each
//! schema's edges, random fuzzing and stateful sequences, and finds nothing. Its checks
//! (server errors, response schemas and statuses, valid data taken, invalid data
//! refused, Allow headers, auth) all run; `tests/contract/schemathesis.toml` names the
//! few rules the document cannot state, and why.

use std::path::Path;
use std::process::Command;

use hookpost_tests::app::ADMIN_TOKEN;
use hookpost_tests::python::{schemathesis, target};
use hookpost_tests::{TestApp, TestOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_with_a_tenant_key_or_the_admin_token() {
    let app = TestApp::spawn(TestOptions {
        configure: |c| {
            // /metrics and /readyz are in the document, on the API port.
            c.ops_on_api = true;
            // schemathesis sends many bad tokens on purpose.
            c.auth_failure_limit = 1_000_000;
            // Hooks it makes point anywhere (example.com, …): every request, test sends
            // included, goes to a closed port on this machine and nowhere else.
            c.egress_proxy = Some("http://127.0.0.1:9".parse().unwrap());
        },
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let base = app.base.clone();
    tokio::task::spawn_blocking(move || {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (who, token) in [
            ("a tenant key", key.as_str()),
            ("the admin token", ADMIN_TOKEN),
        ] {
            let out = Command::new(schemathesis())
                .arg("--config-file")
                .arg(repo.join("tests/contract/schemathesis.toml"))
                .arg("run")
                .arg(repo.join("openapi.json"))
                .args(["--url", &base])
                .args(["-H", &format!("Authorization: Bearer {token}")])
                .args(["--max-examples", "20", "--seed", "1", "--workers", "1"])
                .env("NO_COLOR", "1")
                // Its cache folder goes under target/, not into the checkout.
                .current_dir(target())
                .output()
                .expect("schemathesis starts");
            let report = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "schemathesis with {who} found failures:\n{report}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(report.contains("47 selected / 47 total"), "{report}");
        }
    })
    .await
    .unwrap();
    app.finish().await;
}
