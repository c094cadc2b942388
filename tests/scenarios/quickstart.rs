//! The README's quick start, run as written: its shell lines, against a hookpost of the
//! test's own (its address for `127.0.0.1:8080`, a free port for the receiver's 9000).

use hookpost_tests::{free_port, TestApp, TestOptions};

const README: &str = include_str!("../../README.md");

/// The command lines of the README's quick start block, comments left out.
fn quickstart_lines() -> Vec<&'static str> {
    let block = README
        .split_once("<!-- quickstart -->")
        .and_then(|(_, rest)| rest.split_once("<!-- /quickstart -->"))
        .expect("the README has a quick start block")
        .0;
    block
        .lines()
        .filter(|l| !l.starts_with("```") && !l.starts_with('#') && !l.trim().is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_quick_start_delivers_a_verified_first_webhook() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let lines = quickstart_lines();
    assert!(lines.len() <= 6, "five steps: {lines:#?}");
    let api = app.url("").trim_start_matches("http://").to_owned();
    let receiver_port = free_port().to_string();
    let local = |l: &str| {
        l.replace("127.0.0.1:8080", &api)
            .replace("9000", &receiver_port)
    };
    let (log_line, steps) = lines.split_last().unwrap();
    // The steps, then the log line until it shows the delivery delivered (the first
    // attempt may come before the receiver listens: the retry a second later gets it).
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n{}\n\
         for _ in $(seq 100); do\n  log=$({})\n  \
         if grep -q '\"status\":\"delivered\"' <<<\"$log\"; then echo \"$log\"; exit 0; fi\n  \
         sleep 0.2\ndone\necho \"not delivered: $log\"; exit 1\n",
        steps
            .iter()
            .map(|l| local(l))
            .collect::<Vec<_>>()
            .join("\n"),
        local(log_line),
    );
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("HOOKPOST_ADMIN_TOKEN", hookpost_tests::app::ADMIN_TOKEN)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the quick start failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.contains("ticket.created attempt") && stdout.contains(": verified"),
        "the receiver verified the delivery:\n{stdout}"
    );
    assert!(!stdout.contains("BAD SIGNATURE"), "{stdout}");
    app.finish().await;
}
