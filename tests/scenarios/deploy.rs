//! docker-compose.yml and deploy/ agree with the code, Prometheus accepts its files, every
//! alert fires when it should and only then, and the dashboard reads what hookpost exports.

use std::process::Command;

use hookpost_tests::{TestApp, TestOptions};

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

/// The checks of scripts/check-deploy.py, fed with the `/metrics` page of a running
/// hookpost (every role, after one API request so that the request histogram has
/// series): the dashboard's and the rules' metric names must all be there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_kubernetes_and_dashboard_match_the_code_and_its_metrics() {
    let app = TestApp::spawn(TestOptions::default()).await;
    app.tenant("acme").await;
    let page = app.metrics().await;
    let file = std::env::temp_dir().join(format!("hookpost-metrics-{}.txt", std::process::id()));
    std::fs::write(&file, &page).unwrap();
    run(Command::new(hookpost_tests::python())
        .arg(format!("{}/scripts/check-deploy.py", repo()))
        .arg(repo())
        .env("HOOKPOST_METRICS_FILE", &file)
        .env(
            "HOOKPOST_VARIABLES",
            hookpost_core::config::VARIABLES.join(","),
        ));
    let _ = std::fs::remove_file(&file);
    app.finish().await;
}

#[test]
fn every_alert_fires_on_its_unit_test_series_and_only_then() {
    let tests = format!("{}/deploy/prometheus/tests/alerts_test.yml", repo());
    run(Command::new("promtool").args(["test", "rules", &tests]));
}

#[test]
fn the_prometheus_operator_objects_are_generated_from_the_rule_files() {
    run(Command::new(hookpost_tests::python())
        .arg(format!("{}/scripts/gen-monitoring", repo()))
        .arg("--check"));
}

#[test]
fn promtool_accepts_the_scrape_config_and_the_alert_rules() {
    let dir = format!("{}/deploy/prometheus", repo());
    run(Command::new("promtool").args(["check", "rules", &format!("{dir}/alerts.yml")]));
    run(Command::new("promtool").args(["check", "config", &format!("{dir}/prometheus.yml")]));
}
