//! Logs in tests: `RUST_LOG` (default `warn`) to the test's output, and everything
//! hookpost logs at debug level into a buffer, so a test can prove what never appears
//! in a log line (secrets, keys, signatures).

use std::io::Write;
use std::sync::Mutex;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, Layer};

static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the test subscriber once per test binary.
pub fn init() {
    // Targets, not EnvFilter: a per-layer EnvFilter here silenced the other layer's
    // debug events outside spans.
    let shown: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::WARN));
    let _ = tracing_subscriber::registry()
        .with(fmt::layer().with_test_writer().with_filter(shown))
        .with(
            fmt::layer()
                .with_ansi(false)
                .with_writer(|| Capture)
                // Every hookpost crate's target starts with `hookpost`.
                .with_filter(Targets::new().with_target("hookpost", Level::DEBUG)),
        )
        .try_init();
}

/// Everything captured so far, by every test of this binary.
pub fn captured() -> String {
    String::from_utf8_lossy(&CAPTURED.lock().unwrap()).into_owned()
}
