//! The Python and Node packages the tests run, in folders of their own under `target/`,
//! made on first use so that a plain `cargo test` works too: a virtualenv (PyYAML for the
//! deploy checks, the stock `standardwebhooks` library that receivers use, pika for the
//! producer example, httpx and attrs for the generated Python client) and a
//! `node_modules` (amqplib; TypeScript, Node's types and `standardwebhooks` for the
//! TypeScript client). Nothing goes into the system's Python, which Debian refuses
//! (externally managed).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const PACKAGES: [&str; 5] = ["pyyaml", "standardwebhooks", "pika", "httpx", "attrs"];
const IMPORTS: &str = "import yaml, standardwebhooks, pika, httpx, attrs";
const NODE_PACKAGES: [&str; 4] = [
    "amqplib@0.10",
    "typescript@5.9.3",
    "@types/node@20",
    "standardwebhooks@1",
];

pub fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A `node_modules` folder with [`NODE_PACKAGES`], for `NODE_PATH`; panics with what to
/// install when it cannot be made.
pub fn node_modules() -> &'static Path {
    static MODULES: OnceLock<PathBuf> = OnceLock::new();
    MODULES.get_or_init(|| {
        let prefix = target().join("test-node");
        let modules = prefix.join("node_modules");
        let installed = |p: &&str| {
            let name = p.rsplit_once('@').map_or(*p, |(name, _)| name);
            modules.join(name).join("package.json").exists()
        };
        if !NODE_PACKAGES.iter().all(installed) {
            let done = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(&prefix)
                .args(NODE_PACKAGES)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                done,
                "npm could not install {NODE_PACKAGES:?}: install nodejs and npm"
            );
        }
        modules
    })
}

/// The virtualenv's `python`, ready; panics with what to install when it cannot be made.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = target().join("test-venv");
        let python = venv.join("bin/python");
        let ready = |python: &Path| {
            Command::new(python)
                .args(["-c", IMPORTS])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !ready(&python) {
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                made,
                "python3 -m venv {} failed: install python3 and python3-venv \
                 (scripts/test does)",
                venv.display()
            );
            let installed = Command::new(&python)
                .args(["-m", "pip", "install", "-q"])
                .args(PACKAGES)
                .status()
                .is_ok_and(|s| s.success());
            assert!(installed, "pip could not install {PACKAGES:?} from PyPI");
            assert!(ready(&python), "{IMPORTS} fails in {}", venv.display());
        }
        python
    })
}

/// The pinned schemathesis the contract scenario runs, in a virtualenv of its own (it
/// is large, and only that scenario needs it).
pub const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// schemathesis' command, ready; panics with what to install when it cannot be made.
pub fn schemathesis() -> &'static Path {
    static ST: OnceLock<PathBuf> = OnceLock::new();
    ST.get_or_init(|| {
        let venv = target().join("test-schemathesis");
        let st = venv.join("bin/schemathesis");
        let version = SCHEMATHESIS.rsplit('=').next().unwrap_or_default();
        let ready = |st: &Path| {
            Command::new(st).arg("--version").output().is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains(version)
            })
        };
        if !ready(&st) {
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                made,
                "python3 -m venv {} failed: install python3-venv",
                venv.display()
            );
            let installed = Command::new(venv.join("bin/python"))
                .args(["-m", "pip", "install", "-q", SCHEMATHESIS])
                .status()
                .is_ok_and(|s| s.success());
            assert!(installed, "pip could not install {SCHEMATHESIS} from PyPI");
            assert!(ready(&st), "{} does not run", st.display());
        }
        st
    })
}
