//! `hookpost worker` processes SIGKILLed again and again while thousands of deliveries are
//! in flight: the messages they held go back to RabbitMQ, and the other workers (or a
//! restarted one) finish the job.

use std::time::Duration;

use hookpost_tests::child::ChildRole;
use hookpost_tests::invariants::{scale, three_hooks};
use hookpost_tests::{Receiver, TestApp, TestOptions};

use crate::HOOKPOST;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sigkilled_again_and_again_under_load_lose_nothing() {
    let app = TestApp::spawn(TestOptions {
        roles: hookpost_tests::WORKERS_APART,
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let (receivers, mut ledger) = three_hooks(&app, &key).await;
    // Workers of one thread and of two lanes (two workers in one process), in turn: both
    // shapes of the shipped binary are killed mid-delivery.
    let worker = |n: usize| {
        let threads = [("HOOKPOST_THREADS", (1 + n % 2).to_string())];
        ChildRole::spawn_with(HOOKPOST, "worker", &app.config, &threads)
    };
    let mut workers = vec![worker(0), worker(1)];
    let kills = 6 * scale();
    let killer = async {
        for n in 0..kills {
            tokio::time::sleep(Duration::from_millis(700)).await;
            workers.remove(0).kill().await;
            workers.push(worker(n));
        }
    };
    tokio::join!(ledger.post(&app, &key, 2000 * scale(), 100), killer);
    let rx: Vec<&Receiver> = receivers.iter().collect();
    ledger
        .settle(
            &format!("{kills} worker SIGKILLs"),
            &app,
            &rx,
            4,
            Duration::from_secs(180),
        )
        .await;
    for w in &mut workers {
        assert!(
            w.running(),
            "the surviving workers did not crash by themselves"
        );
    }
    assert_eq!(app.dead_letter_count().await, 0, "nothing dead-lettered");
    app.finish().await;
}
