//! Every `hookpost-bench` scenario, with tiny sizes: the bench cannot rot. Its figures
//! are not judged here (speed is measured by running the bench, not by tests).

use hookpost_bench::{scenarios, NoisyVia, Options, Report};

fn tiny(hookpost: Option<&str>) -> Options {
    Options {
        events: 40,
        hooks: 3,
        concurrency: 8,
        payload_bytes: 256,
        rate: 200,
        duration_s: 1,
        batch: 1,
        deadline_s: 60,
        hookpost: hookpost.map(Into::into),
        noisy_via: NoisyVia::Api,
        noisy_batch: 1,
    }
}

/// Runs `name` and checks that the receivers saw every delivery once (`ingest` has none).
async fn run_clean(name: &str, o: &Options) -> Report {
    let report = scenarios::run(name, o)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    assert_eq!(
        report.get("lost"),
        Some(0.0),
        "{name}: {:?}",
        report.figures
    );
    if name != "ingest" {
        assert_eq!(report.get("duplicates"), Some(0.0), "{name}");
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bench_scenario_runs_and_loses_nothing() {
    let o = tiny(None);
    for name in scenarios::SCENARIOS {
        if *name == "log-query" {
            // It delivers nothing: it reads a log it wrote, every answer a 200.
            let r = scenarios::run(name, &o).await.expect("log-query runs");
            assert_eq!(r.get("deliveries"), Some(40.0), "{:?}", r.figures);
            assert!(r.get("p99_ms.by_hook_and_status").is_some());
            continue;
        }
        if *name == "done-marks" {
            // The store's claims alone, no delivery: the first period takes the sets of
            // before, the next as few as a small tenant's marks need.
            let r = scenarios::run(name, &o).await.expect("done-marks runs");
            assert_eq!(r.get("sets_of_a_tenant.first"), Some(16_384.0));
            assert_eq!(
                r.get("sets_of_a_tenant.next"),
                Some(64.0),
                "{:?}",
                r.figures
            );
            assert!(r.get("bytes_per_mark.next").unwrap_or(0.0) > 0.0);
            continue;
        }
        if *name == "broker-floor" {
            // RabbitMQ alone: no receiver, so no deliveries to count; every message is
            // consumed before it reports.
            let r = scenarios::run(name, &o).await.expect("broker-floor runs");
            assert!(
                r.get("noisy_published_per_sec").unwrap_or(0.0) > 0.0,
                "{:?}",
                r.figures
            );
            for phase in ["alone", "beside"] {
                let p99 = r.get(&format!("quiet_consume_{phase}_p99_ms"));
                assert!(p99.is_some_and(|ms| ms > 0.0), "{:?}", r.figures);
            }
            continue;
        }
        run_clean(name, &o).await;
    }
    run_clean(
        "http",
        &Options {
            batch: 10,
            ..o.clone()
        },
    )
    .await;
    run_clean(
        "noisy-neighbour",
        &Options {
            noisy_via: NoisyVia::Exchange,
            ..o
        },
    )
    .await;
}

/// `--hookpost`: each role a child process of the real binary, its own figures reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_runs_hookpost_as_child_processes() {
    let o = tiny(Some(crate::HOOKPOST));
    for (name, roles) in [
        ("throughput", &["ingest", "worker", "scheduler"][..]),
        (
            "retry-drain",
            &[
                "scheduler.moving",
                "worker.delivering",
                "scheduler.delivering",
                "ingest",
            ],
        ),
    ] {
        let report = run_clean(name, &o).await;
        assert_eq!(report.get("complete"), Some(1.0), "{name}");
        let peaks: Vec<&str> = report
            .figures
            .iter()
            .filter(|(_, v)| *v > 0.0)
            .filter_map(|(n, _)| n.strip_prefix("peak_rss_mb.hookpost-"))
            .collect();
        assert_eq!(peaks, roles, "{name}: {:?}", report.figures);
        assert!(
            report.get("cpu_s.bench").is_some(),
            "{name}: the bench apart"
        );
    }
}

/// A run that fails half way still stops hookpost and removes what it made: no Redis key
/// and no database of its prefix stays on the shared servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_fails_half_way_leaves_nothing_behind() {
    let o = tiny(None);
    let b = scenarios::Bench::start(&o, hookpost::Roles::ALL)
        .await
        .unwrap();
    let prefix = b.config.prefix.clone();
    let store = b.store.clone();
    let server = hookpost_db::scratch::with_database(&b.config.database_url, "postgres");
    let pg = hookpost_tests::postgres(&server).await;
    // The run's keys and databases.
    let made = async || {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut store.conn())
            .await
            .unwrap();
        let databases = pg
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname LIKE $1 || '%'",
                &[&prefix],
            )
            .await
            .unwrap()
            .get::<_, i64>(0);
        (keys.len(), databases)
    };
    let failed = b
        .around(async |b: &mut scenarios::Bench| -> anyhow::Result<()> {
            b.hook(&b.key, &b.rx.url("ok", 0)).await?;
            let (keys, databases) = made().await;
            assert!(
                keys > 0 && databases == 1,
                "{keys} keys, {databases} databases"
            );
            anyhow::bail!("half way")
        })
        .await;
    assert_eq!(failed.unwrap_err().to_string(), "half way");
    assert_eq!(made().await, (0, 0), "{prefix}'s keys and database");
}
