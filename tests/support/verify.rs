//! Checks signatures with `examples/verify_webhook.py` (Python's standard library), an
//! implementation independent of the code under test, and the one the README shows.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::receiver::Received;

/// Whether the Python verifier accepts this request for `secret`.
pub fn python_accepts(secret: &str, request: &Received) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/verify_webhook.py");
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let input = serde_json::json!({
        "headers": headers,
        "body": String::from_utf8(request.body.clone()).expect("UTF-8 body"),
    });
    let mut child = Command::new("python3")
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
