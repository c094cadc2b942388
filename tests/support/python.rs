//! The Python the tests run: a virtualenv of their own under `target/`, with the packages
//! they need (PyYAML for the deploy checks, the stock `standardwebhooks` library that
//! receivers use), made on first use so that a plain `cargo test` works too. It never
//! installs into the system's Python, which Debian refuses (externally managed).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const PACKAGES: [&str; 2] = ["pyyaml", "standardwebhooks"];
const IMPORTS: &str = "import yaml, standardwebhooks";

/// The virtualenv's `python`, ready; panics with what to install when it cannot be made.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
        let venv = target.join("test-venv");
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
