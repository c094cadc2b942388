//! `hookpost`: run a role, or do an operator's task.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use hookpost::Roles;
use hookpost_core::Config;
use tokio_util::sync::CancellationToken;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "hookpost",
    version,
    about = "Webhook delivery: events in, signed POSTs out, retried until delivered."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The HTTP API and event intake (HOOKPOST_HTTP_ADDR).
    Ingest,
    /// A delivery worker; start as many as the load needs.
    Worker,
    /// Moves due retries back to RabbitMQ; several may run.
    Scheduler,
    /// All three roles in one process: the API on HOOKPOST_HTTP_ADDR, metrics on
    /// HOOKPOST_METRICS_ADDR.
    All,
    /// Tenants and their API keys (talks to PostgreSQL and Redis directly).
    Tenants {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// The delivery log, through the API with the admin token.
    Deliveries {
        #[command(subcommand)]
        command: DeliveryCommand,
    },
    /// The retry backlog, through the API with the admin token.
    Retries {
        #[command(subcommand)]
        command: RetryCommand,
    },
    /// The audit log of operators' actions, through the API with the admin token.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Keyspace administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Creates a tenant.
    Create {
        id: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Lists tenants.
    List,
    /// Issues an API key for a tenant; the key is printed once.
    KeyCreate { tenant: String },
    /// Lists a tenant's keys (ids and prefixes, never the keys).
    Keys { tenant: String },
    /// Revokes a key.
    KeyRevoke { tenant: String, key_id: String },
}

#[derive(Subcommand)]
enum DeliveryCommand {
    /// A page of a tenant's log, newest first.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        hook: Option<String>,
        #[arg(long)]
        event: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// One delivery with its attempts.
    Show {
        id: String,
        #[arg(long)]
        tenant: String,
    },
    /// Sends a delivery again (same id and body).
    Resend {
        id: String,
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
enum RetryCommand {
    /// How many retries fall due in the next minute, hour and day.
    Stats,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// A page of the log, newest first.
    List {
        #[arg(long)]
        tenant: Option<String>,
        /// An action (`hook.update`), or a prefix of them (`hook`).
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        cursor: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Applies the database schema (as `migrate`), then, when Redis has no keyspace
    /// marker (a new deployment, or a Redis that lost its data), puts back what
    /// PostgreSQL holds and writes the marker. Safe to run on every start.
    Init {
        /// Accepted from older versions, which needed it to rebuild a deployment that had
        /// run before; init always does now.
        #[arg(long, hide = true)]
        force: bool,
    },
    /// Re-encrypts every hook's secrets and header values under the current (first)
    /// key of HOOKPOST_SECRET_KEY. Safe while hookpost runs, and to run again.
    RotateSecretKey,
    /// Brings the PostgreSQL schema up to this build's version (creating the database
    /// when the server has none of that name). Safe to run again and from several
    /// processes at once; migrations only go forward.
    Migrate,
}

/// `hookpost admin migrate`, and the first step of `init`.
async fn migrate(config: &Config) -> anyhow::Result<()> {
    let done = hookpost::migrate(config)
        .await
        .context("could not migrate the database (HOOKPOST_DATABASE_URL)")?;
    match done.from == done.to {
        true => println!("database schema at version {}; nothing to do", done.to),
        false => println!(
            "database schema migrated from version {} to {}",
            done.from, done.to
        ),
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    no_transparent_huge_pages();
    let cli = Cli::parse();
    let config = Config::from_env().context("invalid configuration")?;
    // Outside the runtime: the trace exporter's HTTP client runs on threads of its own,
    // and sends what is still buffered when `traces` drops, after the runtime is gone.
    let traces = hookpost_ops::telemetry::init(config.log_json);
    // A worker runs each of its threads as a lane, a worker of its own on a one-thread
    // runtime (one thread spends the least CPU a delivery, and the lanes use every
    // core): this thread is the first lane's, `serve` starts the others. The other roles
    // run one runtime of that many threads.
    let (threads, lanes) = match cli.command {
        Command::Worker => (1, config.thread_count()),
        _ => (config.thread_count(), 1),
    };
    let result = hookpost::runtime(threads)
        .context("the async runtime starts")?
        .block_on(run(cli, config, lanes));
    drop(traces);
    result
}

/// mimalloc asks for transparent huge pages for its memory. Where the kernel grants them
/// on request (`madvise`, Debian's default), each 2 MiB page it hands back and touches
/// again is zeroed whole: without them every role holds a third less memory and the
/// worker delivers 7–13 % more a second (docs/benchmarks.md). Best effort: a kernel
/// without the flag keeps its default.
fn no_transparent_huge_pages() {
    #[cfg(all(feature = "mimalloc", target_os = "linux"))]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// `lanes`: the worker's (see `main`).
async fn run(cli: Cli, config: Config, lanes: usize) -> anyhow::Result<()> {
    match cli.command {
        Command::Ingest => serve(config, Roles::INGEST, 1).await,
        Command::Worker => serve(config, Roles::WORKER, lanes).await,
        Command::Scheduler => serve(config, Roles::SCHEDULER, 1).await,
        Command::All => serve(config, Roles::ALL, 1).await,
        Command::Tenants { command } => tenants(config, command).await,
        Command::Deliveries { command } => deliveries(&config, command).await,
        Command::Retries {
            command: RetryCommand::Stats,
        } => {
            print(api(&config)?.retry_stats().await?);
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::List {
                    tenant,
                    action,
                    limit,
                    cursor,
                },
        } => {
            let mut q = vec![("limit", limit.to_string())];
            for (k, v) in [("tenant", tenant), ("action", action), ("cursor", cursor)] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            print(api(&config)?.audit(&q).await?);
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::RotateSecretKey,
        } => {
            let keys = config.secret_keys.as_ref().with_context(|| {
                format!(
                    "HOOKPOST_SECRET_KEY: {}",
                    hookpost_core::config::NO_SECRET_KEY
                )
            })?;
            let done = hookpost::rotate_secret_key(&config).await?;
            println!(
                "re-encrypted {} hooks under key `{}`; {} already were; {} could not be read",
                done.resealed,
                keys.current().0,
                done.current,
                done.unreadable
            );
            if done.unreadable > 0 {
                bail!(
                    "{} hooks are sealed under a key HOOKPOST_SECRET_KEY no longer holds, or \
                     were tampered with (see the log); keep the old key in the list and run again",
                    done.unreadable
                );
            }
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::Migrate,
        } => migrate(&config).await,
        Command::Admin {
            command: AdminCommand::Init { force: _ },
        } => {
            migrate(&config).await?;
            match hookpost::init_keyspace(&config).await? {
                true => println!("keyspace marker written (what PostgreSQL holds was put back)"),
                false => println!("keyspace marker already present (or another process is writing it); nothing to do"),
            }
            Ok(())
        }
    }
}

/// Runs `roles` until a signal; a worker in `lanes` lanes (from `main`), each with its
/// share of the process's limits.
async fn serve(config: Config, roles: Roles, lanes: usize) -> anyhow::Result<()> {
    tracing::info!(?config, ?roles, "starting");
    let http = if roles.ingest {
        Some(
            tokio::net::TcpListener::bind(config.http_addr)
                .await
                .with_context(|| format!("binding {}", config.http_addr))?,
        )
    } else {
        None
    };
    // Every role serves `/metrics`, `/healthz` and `/readyz` here.
    let ops = Some(
        tokio::net::TcpListener::bind(config.metrics_addr)
            .await
            .with_context(|| format!("binding {}", config.metrics_addr))?,
    );
    let cancel = CancellationToken::new();
    let config = config.lane_share(lanes);
    let mut running = hookpost::start(config.clone(), roles, http, ops, cancel.clone()).await?;
    for lane in 1..lanes {
        hookpost::start_worker_lane(config.clone(), lane, &mut running)?;
    }
    if lanes > 1 {
        tracing::info!(lanes, "worker lanes started, one a thread");
    }
    tracing::info!(api = ?running.http_addr, metrics = ?running.metrics_addr, "running");
    let signal = shutdown_signal();
    tokio::pin!(signal);
    tokio::select! {
        _ = &mut signal => tracing::info!("shutting down"),
        ended = running.tasks.join_next() => {
            cancel.cancel();
            running.stop().await;
            if let Some(Err(e)) = ended {
                bail!("a role failed: {e}");
            }
            bail!("a role stopped unexpectedly");
        }
    }
    running.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn tenants(config: Config, command: TenantCommand) -> anyhow::Result<()> {
    let store = hookpost::store(&config)?;
    let db = hookpost::db(&config, None)?;
    match command {
        TenantCommand::Create { id, name } => {
            hookpost_core::event::check_tenant_id(&id)
                .map_err(|m| anyhow::anyhow!("tenant id {m}"))?;
            let tenant = hookpost_store::tenants::Tenant {
                name: name.unwrap_or_else(|| id.clone()),
                id,
                created_at: hookpost_core::now_ms(),
            };
            cli_audit(&db, "tenant.create", &tenant.id, None).await?;
            if !db.create_tenant(&store, &tenant).await? {
                bail!("tenant `{}` exists", tenant.id);
            }
            println!("{}", serde_json::to_string(&tenant)?);
        }
        TenantCommand::List => {
            for id in store.tenants().await? {
                println!("{id}");
            }
        }
        TenantCommand::KeyCreate { tenant } => {
            if store.tenant(&tenant).await?.is_none() {
                bail!("no tenant `{tenant}`");
            }
            cli_audit(&db, "key.create", &tenant, None).await?;
            let (info, key) = db.create_key(&store, &tenant).await?;
            println!("{}", serde_json::json!({ "id": info.id, "key": key }));
        }
        TenantCommand::Keys { tenant } => {
            for k in store.keys_of(&tenant).await? {
                println!("{}", serde_json::to_string(&k)?);
            }
        }
        TenantCommand::KeyRevoke { tenant, key_id } => {
            cli_audit(&db, "key.revoke", &tenant, Some(&key_id)).await?;
            if !db.revoke_key(&store, &tenant, &key_id).await? {
                bail!("tenant `{tenant}` has no key `{key_id}`");
            }
            println!("revoked {key_id}");
        }
    }
    Ok(())
}

/// Records a tenant command run against the database directly, before it runs.
async fn cli_audit(
    db: &hookpost_db::Db,
    action: &str,
    tenant: &str,
    target: Option<&str>,
) -> anyhow::Result<()> {
    let mut entry = hookpost_db::audit::AuditEntry::now("cli", action, Some(tenant));
    entry.target = target.map(str::to_owned);
    db.audit(&entry)
        .await
        .context("the audit log cannot be written; nothing was done")
}

/// The API client for operators' commands: `HOOKPOST_API_URL` (default: the local
/// `HOOKPOST_HTTP_ADDR`) and `HOOKPOST_ADMIN_TOKEN`.
fn api(config: &Config) -> anyhow::Result<hookpost::ops_client::ApiClient> {
    let token = config
        .admin_token
        .as_deref()
        .context("HOOKPOST_ADMIN_TOKEN must be set for this command")?;
    let base = std::env::var("HOOKPOST_API_URL")
        .unwrap_or_else(|_| format!("http://{}", config.http_addr));
    Ok(hookpost::ops_client::ApiClient::new(&base, token))
}

fn print(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

async fn deliveries(config: &Config, command: DeliveryCommand) -> anyhow::Result<()> {
    let client = api(config)?;
    let out = match command {
        DeliveryCommand::List {
            tenant,
            status,
            hook,
            event,
            limit,
            cursor,
        } => {
            let mut q = vec![("limit", limit.to_string())];
            for (k, v) in [
                ("status", status),
                ("hook", hook),
                ("event", event),
                ("cursor", cursor),
            ] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            client.deliveries(&tenant, &q).await?
        }
        DeliveryCommand::Show { id, tenant } => client.delivery(&tenant, &id).await?,
        DeliveryCommand::Resend { id, tenant } => client.resend(&tenant, &id).await?,
    };
    print(out);
    Ok(())
}
