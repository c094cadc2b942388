//! CPU seconds and memory of the processes that take part: this one (with hookpost in
//! it, unless it runs as child processes), RabbitMQ (`beam.smp`) and Redis
//! (`redis-server`), from `/proc`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub cpu_s: f64,
    /// What its children that ended spent (once it reaped them).
    pub reaped_cpu_s: f64,
    pub rss_mb: f64,
    pub peak_rss_mb: f64,
}

fn ticks_per_s() -> f64 {
    100.0 // CLK_TCK on Linux
}

pub fn sample(pid: u32) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    let (cutime, cstime): (f64, f64) = (f.get(13)?.parse().ok()?, f.get(14)?.parse().ok()?);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Some(Sample {
        cpu_s: (utime + stime) / ticks_per_s(),
        reaped_cpu_s: (cutime + cstime) / ticks_per_s(),
        rss_mb: kb("VmRSS:") / 1024.0,
        peak_rss_mb: kb("VmHWM:") / 1024.0,
    })
}

/// The pids of the processes named: this one (`hookpost+bench` when hookpost runs in it),
/// RabbitMQ's first, and, given `redis_url`, the `redis-server` listening on its port (its
/// title ends in `:PORT`), so that a Redis of its own is the one measured.
pub fn processes(redis_url: Option<&str>, hookpost_inside: bool) -> BTreeMap<&'static str, u32> {
    // The first node of a cluster's list.
    let redis_port = redis_url.map(|url| {
        url::Url::parse(url.split(',').next().unwrap_or(""))
            .ok()
            .and_then(|u| u.port())
            .unwrap_or(6379)
    });
    let mut out = BTreeMap::new();
    let me = if hookpost_inside {
        "hookpost+bench"
    } else {
        "bench"
    };
    out.insert(me, std::process::id());
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let name = match comm.trim() {
            "beam.smp" => "rabbitmq",
            "redis-server" if redis_port.is_some_and(|port| listens_on(pid, port)) => "redis",
            _ => continue,
        };
        out.entry(name).or_insert(pid);
    }
    out
}

/// Each of `processes` with the CPU seconds it has spent so far: the start of a
/// measurement, whose `cpu_s.{name}` is each one's CPU since.
pub fn cpu_now(processes: BTreeMap<&'static str, u32>) -> Vec<(&'static str, u32, f64)> {
    processes
        .into_iter()
        .filter_map(|(name, pid)| Some((name, pid, sample(pid)?.cpu_s)))
        .collect()
}

fn listens_on(pid: u32, port: u16) -> bool {
    let title = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let title = title.trim_end_matches('\0');
    title.split(['\0', ' ']).next_back().is_some_and(|addr| {
        addr.rsplit_once(':')
            .is_some_and(|(_, p)| p.parse() == Ok(port))
    })
}
