//! `hookpost` as a child process (the real binary, built in this package), so that a test
//! can SIGKILL it mid-delivery the way an OOM killer or a lost node would.

use std::process::Stdio;

use hookpost_core::Config;
use tokio::process::{Child, Command};

pub struct ChildRole {
    child: Child,
}

impl ChildRole {
    /// Starts `<binary> <role>` configured like `config` (prefix, broker, Redis, retry
    /// schedule, timeouts), with its metrics on a port of its own. `binary` is the
    /// scenario's `env!("CARGO_BIN_EXE_hookpost-child")`: the shipped CLI's own `main`.
    pub fn spawn(binary: &str, role: &str, config: &Config) -> ChildRole {
        let mut cmd = Command::new(binary);
        cmd.arg(role)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "error")
            .env("HOOKPOST_AMQP_URL", &config.amqp_url)
            .env("HOOKPOST_REDIS_URL", &config.redis_url)
            .env("HOOKPOST_PREFIX", &config.prefix)
            .env("HOOKPOST_METRICS_ADDR", "127.0.0.1:0")
            .env("HOOKPOST_RETRY_SCHEDULE", schedule(config))
            .env(
                "HOOKPOST_ALLOW_PRIVATE_TARGETS",
                config.allow_private_targets.to_string(),
            )
            .env("HOOKPOST_CONNECT_TIMEOUT", ms(config.connect_timeout))
            .env("HOOKPOST_REQUEST_TIMEOUT", ms(config.request_timeout))
            .env("HOOKPOST_SHUTDOWN_GRACE", ms(config.shutdown_grace))
            .env("HOOKPOST_SCHEDULER_INTERVAL", ms(config.scheduler_interval))
            .env("HOOKPOST_QUEUE_SHARDS", config.queue_shards.to_string())
            .env("HOOKPOST_RETRY_SHARDS", config.retry_shards.to_string())
            .env("HOOKPOST_QUORUM_QUEUES", config.quorum_queues.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        ChildRole {
            child: cmd.spawn().expect("hookpost starts"),
        }
    }

    /// SIGKILL: no shutdown, no acks, no cleanup.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill");
    }

    /// Still running (it has not crashed by itself)?
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

fn schedule(config: &Config) -> String {
    let delays: Vec<String> = config
        .retry_schedule
        .delays()
        .iter()
        .map(|d| hookpost_core::duration::format(*d))
        .collect();
    delays.join(",")
}

fn ms(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}
