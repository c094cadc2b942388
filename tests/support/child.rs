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
        Self::spawn_with(binary, role, config, &[])
    }

    /// [`ChildRole::spawn`] with more variables (or ones that override the deployment's):
    /// the child's own environment, the test process's stays untouched.
    pub fn spawn_with(
        binary: &str,
        role: &str,
        config: &Config,
        env: &[(&str, String)],
    ) -> ChildRole {
        let mut cmd = Command::new(binary);
        cmd.arg(role)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "error")
            .envs(config.deployment_env())
            .env("HOOKPOST_METRICS_ADDR", "127.0.0.1:0")
            .envs(env.iter().map(|(k, v)| (k, v)))
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

    /// SIGTERM, as an orchestrator stops a process: it settles what it holds and exits.
    /// Returns whether it exited with success within `grace`.
    pub async fn stop(mut self, grace: std::time::Duration) -> bool {
        let pid = self.child.id().expect("still running").to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().await;
        assert!(sent.is_ok_and(|s| s.success()), "SIGTERM sent");
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }

    /// Still running (it has not crashed by itself)?
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}
