//! Every `hookpost-bench` scenario, with tiny sizes: the bench cannot rot. Its figures
//! are not judged here (speed is measured by running the bench, not by tests).

use hookpost_bench::{scenarios, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bench_scenario_runs_and_loses_nothing() {
    let o = Options {
        events: 40,
        hooks: 3,
        concurrency: 8,
        payload_bytes: 256,
        rate: 200,
        duration_s: 1,
        batch: 1,
        deadline_s: 60,
    };
    for name in scenarios::SCENARIOS {
        let report = scenarios::run(name, &o)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(
            report.get("lost"),
            Some(0.0),
            "{name}: {:?}",
            report.figures
        );
        if *name != "ingest" {
            assert_eq!(report.get("duplicates"), Some(0.0), "{name}");
        }
    }
    let batched = scenarios::run("http", &Options { batch: 10, ..o })
        .await
        .unwrap();
    assert_eq!(batched.get("lost"), Some(0.0));
}
