//! A PostgreSQL of a test's own (`initdb` + `pg_ctl`), on a free port with its data in a
//! temporary directory: tests that stop or kill the database never touch the shared one.
//! As root (CI's containers), the server runs as the `postgres` account, which it requires.

use std::path::PathBuf;
use std::process::Command;

pub struct PgServer {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

impl PgServer {
    /// Makes a cluster (trust auth, no fsync: a test's data) and starts it.
    pub fn start() -> PgServer {
        let port = crate::free_port();
        let dir = std::env::temp_dir().join(format!("hookpost-pg-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let server = PgServer {
            port,
            dir,
            bin: bindir(),
        };
        if is_root() {
            run(Command::new("chown").arg("postgres:").arg(&server.dir));
        }
        run(server
            .cmd("initdb")
            .arg("-D")
            .arg(server.dir.join("data"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]));
        server.start_again();
        server
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/hookpost", self.port)
    }

    /// `pg_ctl stop -m immediate`: no checkpoint, connections cut, like a crash.
    pub fn stop_immediate(&self) {
        run(self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"]));
    }

    /// Starts the server on its port and data (after a stop), waiting until it answers.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        run(self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-o", &options, "start"]));
    }

    fn cmd(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match is_root() {
            true => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(path);
                c
            }
            false => Command::new(path),
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed server's programs (Debian keeps them off PATH).
fn bindir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions
        .pop()
        .expect("PostgreSQL's server programs under /usr/lib/postgresql/<version>/bin")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the PostgreSQL program runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
