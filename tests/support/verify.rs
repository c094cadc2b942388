//! Checks signatures with implementations independent of the code under test:
//! `examples/verify_webhook.py` (Python's standard library, the one the README shows) and
//! `examples/verify_standardwebhooks.py` (the stock Standard Webhooks library).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::receiver::Received;

/// Whether the Python verifier accepts this request for `secret`.
pub fn python_accepts(secret: &str, request: &Received) -> bool {
    run_example("verify_webhook.py", secret, request)
}

/// Whether the stock `standardwebhooks` library accepts this request's
/// `webhook-signature`, handed `secret` as `examples/verify_standardwebhooks.py` shows.
pub fn stock_library_accepts(secret: &str, request: &Received) -> bool {
    run_example("verify_standardwebhooks.py", secret, request)
}

/// Runs `examples/{script} secret` with the request on stdin; whether it exits 0.
fn run_example(script: &str, secret: &str, request: &Received) -> bool {
    let script = format!("{}/../examples/{script}", env!("CARGO_MANIFEST_DIR"));
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let input = serde_json::json!({
        "headers": headers,
        "body": String::from_utf8(request.body.clone()).expect("UTF-8 body"),
    });
    let mut child = Command::new(crate::python())
        .arg(script)
        .arg(secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write");
    child
        .wait_with_output()
        .expect("python3 finishes")
        .status
        .success()
}
