//! A Redis Cluster of the tests' own: three primaries (`redis-server --cluster-enabled
//! yes`) on free ports, joined by `redis-cli --cluster create`, data in a temporary
//! directory. The shared Redis is never touched.
//!
//! `HOOKPOST_TEST_REDIS=cluster` runs the scenarios against one such cluster, started
//! on first use and stopped when the test process ends (a watchdog shell kills the
//! servers then, since a `static` is never dropped).

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct RedisCluster {
    pub ports: Vec<u16>,
    dir: std::path::PathBuf,
    children: Vec<Child>,
}

impl RedisCluster {
    /// Starts `n` primaries (at least 3, as `redis-cli --cluster create` requires) and
    /// waits until every node reports `cluster_state:ok`.
    pub fn start(n: usize) -> RedisCluster {
        let ports: Vec<u16> = (0..n).map(|_| cluster_port()).collect();
        let dir = std::env::temp_dir().join(format!(
            "hookpost-redis-cluster-{}-{}",
            ports[0],
            std::process::id()
        ));
        let mut children = Vec::new();
        for port in &ports {
            let node_dir = dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", "nodes.conf"])
                .args(["--cluster-node-timeout", "2000"])
                .arg("--dir")
                .arg(&node_dir)
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server runs (Debian's redis-server package)");
            children.push(child);
        }
        let cluster = RedisCluster {
            ports,
            dir,
            children,
        };
        for port in &cluster.ports {
            cluster.wait_for(*port, "PING", "PONG");
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for port in &cluster.ports {
            cluster.wait_for(*port, "CLUSTER INFO", "cluster_state:ok");
        }
        cluster
    }

    /// `redis+cluster://` with every node as a seed.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}/", hosts.join(","))
    }

    /// How many commands the nodes refused with `CROSSSLOT` since they started.
    pub fn cross_slot_errors(&self) -> u64 {
        self.ports
            .iter()
            .map(|p| {
                let stats = cli(*p, "INFO errorstats");
                stats
                    .lines()
                    .find_map(|l| l.strip_prefix("errorstat_CROSSSLOT:count="))
                    .map_or(0, |n| n.trim().parse().unwrap_or(0))
            })
            .sum()
    }

    /// Keys on each node (a test's keys must spread over the nodes).
    pub fn keys_per_node(&self, pattern: &str) -> Vec<usize> {
        self.ports
            .iter()
            .map(|p| {
                cli(*p, &format!("KEYS {pattern}"))
                    .lines()
                    .filter(|l| !l.is_empty())
                    .count()
            })
            .collect()
    }

    /// The port of the node that holds `key`'s slot (the others answer `MOVED`).
    pub fn owner(&self, key: &str) -> u16 {
        *self
            .ports
            .iter()
            .find(|p| !cli(**p, &format!("EXISTS {key}")).contains("MOVED"))
            .expect("one node holds every slot")
    }

    fn wait_for(&self, port: u16, command: &str, expected: &str) {
        let started = Instant::now();
        while !cli(port, command).contains(expected) {
            if started.elapsed() > Duration::from_secs(20) {
                panic!("redis node {port}: `{command}` never answered {expected}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Kills the servers and removes their data once this process has ended.
    fn watch_over(&self) {
        let pids: Vec<String> = self.children.iter().map(|c| c.id().to_string()).collect();
        let script = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -9 {pids} 2>/dev/null; rm -rf '{dir}'",
            me = std::process::id(),
            pids = pids.join(" "),
            dir = self.dir.display(),
        );
        // It outlives this process on purpose: nothing here waits for it.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh runs");
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.kill();
    }
}

fn cluster_port() -> u16 {
    // A cluster node also listens on port + 10000 (the cluster bus).
    loop {
        let port = crate::free_port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn cli(port: u16, command: &str) -> String {
    Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(command.split(' '))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The cluster the scenarios share when `HOOKPOST_TEST_REDIS=cluster`, or `None`.
pub fn shared() -> Option<&'static RedisCluster> {
    static CLUSTER: OnceLock<Option<RedisCluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            (std::env::var("HOOKPOST_TEST_REDIS").as_deref() == Ok("cluster")).then(|| {
                let cluster = RedisCluster::start(3);
                cluster.watch_over();
                cluster
            })
        })
        .as_ref()
}
