//! Logs through `tracing`: human by default, JSON on request, filtered by `RUST_LOG`
//! (default `info`). Secrets never reach a log line: hooks, keys and configuration
//! print redacted.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call is a no-op (tests start many apps).
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
