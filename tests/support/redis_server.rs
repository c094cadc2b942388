//! A `redis-server` of a test's own, on a free port, with its data in a temporary
//! directory: tests that change or restart Redis never touch the shared one.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    pub dir: std::path::PathBuf,
    /// The append-only file's `appendfsync`, `None` without one.
    aof: Option<&'static str>,
    child: Child,
}

impl RedisServer {
    /// Starts one; `aof` turns on the append-only file (`appendfsync everysec`, as
    /// shipped).
    pub fn start(aof: bool) -> RedisServer {
        Self::start_with(aof.then_some("everysec"))
    }

    /// Starts one whose append-only file has every acknowledged write before a kill:
    /// `appendfsync always`. With `everysec`, Redis postpones writing the file for up to
    /// 2 s while the last second's fsync is still running (a busy disk), and a kill then
    /// loses writes it acknowledged, which a test about something else must not trip on.
    pub fn start_fsync_always() -> RedisServer {
        Self::start_with(Some("always"))
    }

    fn start_with(aof: Option<&'static str>) -> RedisServer {
        let port = crate::free_port();
        let dir =
            std::env::temp_dir().join(format!("hookpost-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Self::spawn(port, &dir, aof);
        RedisServer {
            port,
            dir,
            aof,
            child,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Empties it while it runs (`FLUSHALL`), as a server back without its data would be.
    pub async fn flush_all(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let answer: String = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
        assert_eq!(answer, "OK");
    }

    /// Writes a snapshot now (`SAVE`): without an append-only file, what a restart comes
    /// back with, whatever is written after it.
    pub async fn save(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let answer: String = redis::cmd("SAVE").query_async(&mut conn).await.unwrap();
        assert_eq!(answer, "OK");
    }

    /// SIGKILLs the server (no chance to save anything) and starts it again on the same
    /// port and directory, from whatever it had written.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(self.port, &self.dir, self.aof);
    }

    /// SIGKILLs the server, moves its data aside, and starts it again empty; returns
    /// where the data went (for [`RedisServer::kill_and_restore`]).
    pub fn kill_and_restart_empty(&mut self) -> std::path::PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let aside = self.dir.with_extension("aside");
        let _ = std::fs::remove_dir_all(&aside);
        std::fs::rename(&self.dir, &aside).unwrap();
        std::fs::create_dir_all(&self.dir).unwrap();
        self.child = Self::spawn(self.port, &self.dir, self.aof);
        aside
    }

    /// SIGKILLs the server and starts it again from the data moved aside.
    pub fn kill_and_restore(&mut self, aside: &std::path::Path) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::remove_dir_all(&self.dir).unwrap();
        std::fs::rename(aside, &self.dir).unwrap();
        self.child = Self::spawn(self.port, &self.dir, self.aof);
    }

    /// `SHUTDOWN NOSAVE` (the server exits keeping nothing new), then starts it again.
    pub fn shutdown_nosave_and_restart(&mut self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "SHUTDOWN", "NOSAVE"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        self.child = Self::spawn(self.port, &self.dir, self.aof);
    }

    fn spawn(port: u16, dir: &std::path::Path, aof: Option<&str>) -> Child {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args([
                "--appendonly",
                if aof.is_some() { "yes" } else { "no" },
                "--appendfsync",
                aof.unwrap_or("everysec"),
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian's redis-server package)");
        // Up once it answers PING (it loads the AOF before that).
        let started = Instant::now();
        while !ping(port) {
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-server did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }
}

fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut buf)
            .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
