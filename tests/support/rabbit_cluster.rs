//! A RabbitMQ cluster of the tests' own: `n` nodes with their own names, ports, data
//! directories and Erlang cookie, joined with `rabbitmqctl join_cluster`. The shared
//! broker is never touched (its configuration files are not read either).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

const BIN: &str = "/usr/lib/rabbitmq/bin";

pub struct RabbitCluster {
    pub nodes: Vec<Node>,
    dir: PathBuf,
}

pub struct Node {
    pub name: String,
    pub port: u16,
    dist_port: u16,
}

impl RabbitCluster {
    /// Starts `n` nodes and joins the others to the first; panics if that takes more
    /// than two minutes.
    pub fn start(n: usize) -> RabbitCluster {
        let dir = std::env::temp_dir().join(format!("hookpost-rabbit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        write_private(&dir.join(".erlang.cookie"), "HOOKPOSTTESTCLUSTER");
        std::fs::write(
            dir.join("enabled_plugins"),
            "[rabbitmq_consistent_hash_exchange].\n",
        )
        .unwrap();
        std::fs::write(dir.join("env.conf"), "").unwrap();
        std::fs::write(dir.join("rabbitmq.conf"), "").unwrap();
        let nodes: Vec<Node> = (0..n)
            .map(|_| {
                let port = free_port();
                Node {
                    name: format!("hpt{port}@localhost"),
                    port,
                    dist_port: free_port(),
                }
            })
            .collect();
        let cluster = RabbitCluster { nodes, dir };
        for node in &cluster.nodes {
            cluster.spawn(node);
        }
        for node in &cluster.nodes {
            cluster.await_startup(node);
        }
        let first = cluster.nodes[0].name.clone();
        for node in &cluster.nodes[1..] {
            cluster.ctl(node, &["stop_app"]);
            cluster.ctl(node, &["join_cluster", &first]);
            cluster.ctl(node, &["start_app"]);
        }
        cluster
    }

    /// Every node, comma-separated, as `HOOKPOST_AMQP_URL` takes them.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| self.url_of(n))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn url_of(&self, node: &Node) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", node.port)
    }

    /// Stops a node (`rabbitmqctl stop`: the Erlang VM exits).
    pub fn stop(&self, i: usize) {
        self.ctl(&self.nodes[i], &["stop"]);
    }

    /// The client connections a node holds.
    pub fn connections(&self, i: usize) -> usize {
        let out = self.ctl_output(&self.nodes[i], &["list_connections", "-q", "name"]);
        out.lines().filter(|l| !l.trim().is_empty()).count()
    }

    fn spawn(&self, node: &Node) {
        let base = self.dir.join(&node.name);
        std::fs::create_dir_all(&base).unwrap();
        let status = self
            .env(Command::new(format!("{BIN}/rabbitmq-server")))
            .arg("-detached")
            .env("RABBITMQ_NODENAME", &node.name)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", node.port.to_string())
            .env("RABBITMQ_DIST_PORT", node.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", base.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", base.join("log"))
            .env("RABBITMQ_PID_FILE", base.join("pid"))
            .env("RABBITMQ_CONFIG_FILE", self.dir.join("rabbitmq.conf"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                self.dir.join("enabled_plugins"),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("rabbitmq-server runs (Debian's rabbitmq-server package)");
        assert!(status.success(), "rabbitmq-server -detached failed");
    }

    fn await_startup(&self, node: &Node) {
        let started = Instant::now();
        // The node registers with epmd a moment after `-detached` returns.
        while !self
            .env(Command::new(format!("{BIN}/rabbitmqctl")))
            .args(["-n", &node.name, "await_startup", "--timeout", "30"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "RabbitMQ node {} did not start",
                node.name
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn ctl(&self, node: &Node, args: &[&str]) {
        let out = self
            .env(Command::new(format!("{BIN}/rabbitmqctl")))
            .args(["-n", &node.name])
            .args(args)
            .output()
            .expect("rabbitmqctl runs");
        assert!(
            out.status.success(),
            "rabbitmqctl {args:?} on {}: {}",
            node.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ctl_output(&self, node: &Node, args: &[&str]) -> String {
        self.env(Command::new(format!("{BIN}/rabbitmqctl")))
            .args(["-n", &node.name])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The end of each node's log, for a failed test's output.
    fn print_logs(&self) {
        for node in &self.nodes {
            let path = self
                .dir
                .join(&node.name)
                .join("log")
                .join(format!("{}.log", node.name));
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("--- the last lines of {}", path.display());
            for line in &lines[lines.len().saturating_sub(60)..] {
                eprintln!("{line}");
            }
        }
    }

    /// The cluster's own cookie and configuration, never the shared broker's.
    fn env(&self, mut cmd: Command) -> Command {
        cmd.env("HOME", &self.dir)
            .env("RABBITMQ_CONF_ENV_FILE", self.dir.join("env.conf"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1");
        cmd
    }
}

impl Drop for RabbitCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
        for node in &self.nodes {
            let _ = self
                .env(Command::new(format!("{BIN}/rabbitmqctl")))
                .args(["-n", &node.name, "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
