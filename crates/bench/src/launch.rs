//! Starting hookpost for a scenario: in the bench's own process (the default), or as one
//! child process per role from a `hookpost` binary (`--hookpost PATH`), the way it is
//! deployed, so that each hookpost process's CPU and memory are measured apart from the
//! bench's producer and receivers.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hookpost::{Roles, Running};
use hookpost_core::Config;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::{procstat, Report};

pub enum Hookpost {
    /// Boxed: it is far larger than the list of children.
    InProcess(Box<Running>),
    Children(Vec<RoleProcess>),
}

/// One role as a child process.
pub struct RoleProcess {
    role: &'static str,
    child: Child,
    /// The API's address (ingest only).
    http: SocketAddr,
    /// Where it serves `/metrics` and `/readyz` (every role).
    metrics: SocketAddr,
}

impl Hookpost {
    /// Starts `roles` with `config`, in this process when `binary` is `None`, and returns
    /// once every role is ready.
    pub async fn start(
        binary: Option<&Path>,
        config: &Config,
        roles: Roles,
    ) -> anyhow::Result<Self> {
        Hookpost::start_within(binary, config, roles, Duration::from_secs(30)).await
    }

    /// [`Hookpost::start`], waiting up to `ready_within` for every role to be ready (a
    /// role waits for a rebuild of Redis, say).
    pub async fn start_within(
        binary: Option<&Path>,
        config: &Config,
        roles: Roles,
        ready_within: Duration,
    ) -> anyhow::Result<Self> {
        let hookpost = match binary {
            None => {
                let listener = match roles.ingest {
                    true => Some(tokio::net::TcpListener::bind("127.0.0.1:0").await?),
                    false => None,
                };
                let cancel = CancellationToken::new();
                Hookpost::InProcess(Box::new(
                    hookpost::start(config.clone(), roles, listener, None, cancel).await?,
                ))
            }
            Some(binary) => {
                let wanted = [
                    ("ingest", roles.ingest),
                    ("worker", roles.worker),
                    ("scheduler", roles.scheduler),
                ];
                let mut children = Vec::new();
                for (role, _) in wanted.into_iter().filter(|(_, on)| *on) {
                    children.push(RoleProcess::spawn(binary, role, config)?);
                }
                Hookpost::Children(children)
            }
        };
        hookpost.wait_ready(ready_within).await?;
        Ok(hookpost)
    }

    /// The API's address, when ingest runs.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        match self {
            Hookpost::InProcess(r) => r.http_addr,
            Hookpost::Children(c) => c.iter().find(|p| p.role == "ingest").map(|p| p.http),
        }
    }

    /// Counters that tell whether a run went the usual way, summed over every role
    /// ([`COUNTERS`]): `deferred.REASON`, the deliveries put off without an attempt
    /// (`hook_concurrency`: through a slow hook's backlog, near 0 for a fast receiver);
    /// `slow_attempts_released`, first attempts still running when their message was
    /// acked; `fairness_moved`, events moved to the overflow queue; `db_commits` and
    /// `db_commits_writes`, the log's commits and the events' writes they carried.
    pub async fn put_counters(&self, report: &mut Report) {
        let mut texts = Vec::new();
        match self {
            Hookpost::InProcess(r) => texts.push(r.metrics.render()),
            Hookpost::Children(children) => {
                let http = reqwest::Client::new();
                for p in children {
                    let url = format!("http://{}/metrics", p.metrics);
                    if let Ok(answer) = http.get(url).send().await {
                        texts.push(answer.text().await.unwrap_or_default());
                    }
                }
            }
        }
        let mut sums = std::collections::BTreeMap::<String, f64>::new();
        for line in texts.iter().flat_map(|t| t.lines()) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            // `name{label="value"}`: the figure is named by the label's value.
            let (name, label) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.split('"').nth(1)),
                None => (series, None),
            };
            let Some((_, figure)) = COUNTERS.iter().find(|(metric, _)| *metric == name) else {
                continue;
            };
            let figure = match label {
                Some(label) => format!("{figure}.{label}"),
                None => (*figure).to_owned(),
            };
            *sums.entry(figure).or_default() += value.parse().unwrap_or(0.0);
        }
        for (figure, n) in sums {
            report.put(&figure, n);
        }
    }

    async fn wait_ready(&self, within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            let problem = match self {
                Hookpost::InProcess(r) if r.readiness.is_ready() => None,
                Hookpost::InProcess(r) => Some(format!("{:?}", r.readiness.problems())),
                Hookpost::Children(children) => {
                    let mut problem = None;
                    for p in children {
                        if !p.is_ready(&http).await {
                            problem = Some(format!("`hookpost {}` is not ready", p.role));
                            break;
                        }
                    }
                    problem
                }
            };
            let Some(problem) = problem else {
                return Ok(());
            };
            if started.elapsed() > within {
                bail!("hookpost did not become ready: {problem}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// CPU seconds (over its life) and memory of each child process, named
    /// `hookpost-ROLE` with `tag` after it; nothing in-process (the bench's own figures
    /// hold it).
    pub fn account(&self, report: &mut Report, tag: &str) {
        let Hookpost::Children(children) = self else {
            return;
        };
        for p in children {
            let Some(s) = p.child.id().and_then(procstat::sample) else {
                continue;
            };
            let name = format!("hookpost-{}{tag}", p.role);
            report.put(&format!("cpu_s.{name}"), s.cpu_s);
            report.put(&format!("rss_mb.{name}"), s.rss_mb);
            report.put(&format!("peak_rss_mb.{name}"), s.peak_rss_mb);
        }
    }

    /// Each child process, named as in [`Hookpost::account`], with its pid (none
    /// in-process).
    pub fn pids(&self) -> Vec<(String, u32)> {
        let Hookpost::Children(children) = self else {
            return Vec::new();
        };
        let pid = |p: &RoleProcess| Some((format!("hookpost-{}", p.role), p.child.id()?));
        children.iter().filter_map(pid).collect()
    }

    /// Stops every role the way an operator does (SIGTERM for a child), so that in-flight
    /// deliveries finish and their acks go out.
    pub async fn stop(self) {
        match self {
            Hookpost::InProcess(r) => (*r).stop().await,
            Hookpost::Children(children) => {
                for mut p in children {
                    p.terminate().await;
                }
            }
        }
    }
}

impl RoleProcess {
    fn spawn(binary: &Path, role: &'static str, config: &Config) -> anyhow::Result<Self> {
        let (http, metrics) = (free_addr()?, free_addr()?);
        let child = Command::new(binary)
            .arg(role)
            .envs(config.deployment_env())
            .env("HOOKPOST_HTTP_ADDR", http.to_string())
            .env("HOOKPOST_METRICS_ADDR", metrics.to_string())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("warn".into()),
            )
            .stdin(std::process::Stdio::null())
            // The bench's stdout is its report: the child's log goes to stderr.
            .stdout(std::io::stderr())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} {role}", binary.display()))?;
        Ok(RoleProcess {
            role,
            child,
            http,
            metrics,
        })
    }

    async fn is_ready(&self, http: &reqwest::Client) -> bool {
        let url = format!("http://{}/readyz", self.metrics);
        let answer = http.get(url).send().await;
        answer.is_ok_and(|r| r.status().is_success())
    }

    async fn terminate(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let exited = tokio::time::timeout(Duration::from_secs(40), self.child.wait()).await;
        if exited.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// The counters [`Hookpost::put_counters`] reports, and the figure each becomes.
const COUNTERS: [(&str, &str); 5] = [
    ("hookpost_deliveries_deferred_total", "deferred"),
    (
        "hookpost_slow_attempts_released_total",
        "slow_attempts_released",
    ),
    ("hookpost_fairness_moved_total", "fairness_moved"),
    // The log's commits, and the event writes they carried.
    ("hookpost_db_batch_size_count", "db_commits"),
    ("hookpost_db_batch_size_sum", "db_commits_writes"),
];

/// A loopback address nothing listens on now.
fn free_addr() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}
