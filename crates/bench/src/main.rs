//! `hookpost-bench SCENARIO [flags]`: see `docs/benchmarks.md`.

use clap::Parser;
use hookpost_bench::{scenarios, NoisyVia, Options};

#[derive(Parser)]
#[command(
    name = "hookpost-bench",
    about = "Measures hookpost end to end on this machine."
)]
struct Cli {
    /// throughput, http, ingest, fanout, fanout-http, latency, isolation, retry-drain,
    /// backlog-drain (a hanging hook's backlog drained once it answers), ordered,
    /// noisy-neighbour, baseline (the machine's minimal durable loop), broker-floor (RabbitMQ
    /// alone under noisy-neighbour), log-query (the log API over a big log), done-marks
    /// (Redis's bytes a done mark, a first retention period and the next), rebuild (Redis
    /// back empty while retries wait; rebuild-ordered, rebuild-parked likewise), or all
    scenario: String,
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Hooks (fanout, fanout-http; the noisy tenant's in noisy-neighbour); tenants in
    /// done-marks.
    #[arg(long, default_value_t = 10)]
    hooks: usize,
    /// Requests in flight (http, ingest).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 1024)]
    payload_bytes: usize,
    /// Events per second (latency; broker-floor's noisy publisher, 0 = as fast as it can).
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// Seconds (latency; the quiet tenant alone in noisy-neighbour; each phase of
    /// broker-floor; the retention, so a period's length, in done-marks).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Events per request (http, ingest); more than 1 uses /v1/events/batch.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Seconds to wait for every delivery.
    #[arg(long, default_value_t = 300)]
    deadline: u64,
    /// Run hookpost from this binary, one child process per role (as deployed), so that
    /// each one's CPU and memory are reported apart from the bench's; without it,
    /// hookpost runs in the bench's process.
    #[arg(long)]
    hookpost: Option<std::path::PathBuf>,
    /// How noisy-neighbour's noisy tenant sends: over the API (under the default intake
    /// limit, honouring 429 and Retry-After, --concurrency connections) or straight to
    /// the exchange.
    #[arg(long, value_enum, default_value_t = NoisyVia::Api)]
    noisy_via: NoisyVia,
    /// Events per request of noisy-neighbour's noisy tenant over the API.
    #[arg(long, default_value_t = 1)]
    noisy_batch: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let o = Options {
        events: cli.events,
        hooks: cli.hooks,
        concurrency: cli.concurrency,
        payload_bytes: cli.payload_bytes,
        rate: cli.rate,
        duration_s: cli.duration,
        batch: cli.batch,
        deadline_s: cli.deadline,
        hookpost: cli.hookpost,
        noisy_via: cli.noisy_via,
        noisy_batch: cli.noisy_batch.max(1),
    };
    match &o.hookpost {
        Some(bin) if !bin.is_file() => anyhow::bail!("--hookpost {}: no such file", bin.display()),
        Some(bin) => eprintln!(
            "hookpost runs as child processes, one per role, from {}; RabbitMQ and Redis are the local servers",
            bin.display()
        ),
        None => eprintln!(
            "hookpost runs in this process (all roles); RabbitMQ and Redis are the local servers"
        ),
    }
    let names: Vec<&str> = if cli.scenario == "all" {
        scenarios::SCENARIOS.to_vec()
    } else {
        vec![cli.scenario.as_str()]
    };
    for name in names {
        scenarios::run(name, &o).await?.print();
    }
    Ok(())
}
