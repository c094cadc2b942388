//! docker-compose.yml and deploy/ agree with the code, and Prometheus accepts its files.

use std::process::Command;

fn repo() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/..").to_owned()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?} runs: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn compose_and_kubernetes_files_match_the_configuration() {
    run(Command::new("python3")
        .arg(format!("{}/scripts/check-deploy.py", repo()))
        .arg(repo())
        .env(
            "HOOKPOST_VARIABLES",
            hookpost_core::config::VARIABLES.join(","),
        ));
}

#[test]
fn promtool_accepts_the_scrape_config_and_the_alert_rules() {
    let dir = format!("{}/deploy/prometheus", repo());
    run(Command::new("promtool").args(["check", "rules", &format!("{dir}/alerts.yml")]));
    run(Command::new("promtool").args(["check", "config", &format!("{dir}/prometheus.yml")]));
}
