//! Configuration from `HOOKPOST_*` environment variables, validated at start-up.
//! [`Config::default`] is the documented set of defaults; they work on a dev machine.

use std::net::SocketAddr;
use std::time::Duration;

use crate::retry::RetrySchedule;

#[derive(Clone)]
pub struct Config {
    /// `HOOKPOST_AMQP_URL`
    pub amqp_url: String,
    /// `HOOKPOST_REDIS_URL`
    pub redis_url: String,
    /// `HOOKPOST_DATABASE_URL`: PostgreSQL, the system of record of the delivery log.
    pub database_url: String,
    /// `HOOKPOST_DATABASE_POOL`: connections to PostgreSQL one process holds at most.
    pub database_pool: usize,
    /// `HOOKPOST_DATABASE_WRITE_TIMEOUT`: how long a log write may wait for PostgreSQL
    /// before its connection is given up (a half-open one never answers) and the write
    /// is made again on another.
    pub database_write_timeout: Duration,
    /// `HOOKPOST_HTTP_ADDR`: the API (ingest), and `/metrics` of `hookpost all`.
    pub http_addr: SocketAddr,
    /// `HOOKPOST_HTTP_HEADER_TIMEOUT`: how long a client may take to send a request's
    /// headers (and an idle connection may stay open) before it is closed.
    pub http_header_timeout: Duration,
    /// `HOOKPOST_HTTP_REQUEST_TIMEOUT`: how long one request may take, body read and
    /// answer included; longer ones are cut with a 503. Above `HOOKPOST_REQUEST_TIMEOUT`,
    /// which bounds a test send made while the client waits.
    pub http_request_timeout: Duration,
    /// `HOOKPOST_HTTP_MAX_CONNECTIONS`: connections one HTTP server holds at most; more
    /// wait in the listen backlog until one closes.
    pub http_max_connections: usize,
    /// `HOOKPOST_METRICS_ADDR`: `/metrics`, `/healthz`, `/readyz` of worker and scheduler.
    pub metrics_addr: SocketAddr,
    /// `HOOKPOST_OPS_ON_API`: serve `/metrics` and `/readyz` on the API port too (they
    /// are always on `HOOKPOST_METRICS_ADDR`).
    pub ops_on_api: bool,
    /// `HOOKPOST_ADMIN_TOKEN`: operators' bearer token; admin routes are closed without it.
    pub admin_token: Option<String>,
    /// `HOOKPOST_AUTH_FAILURE_LIMIT`: failed authentications (API key, admin token,
    /// console sign-in) one client address may make per window; then it gets 429.
    pub auth_failure_limit: u32,
    /// `HOOKPOST_AUTH_FAILURE_WINDOW`: the window failed authentications are counted in.
    pub auth_failure_window: Duration,
    /// `HOOKPOST_PREFIX`: names the exchange `{prefix}.events` and starts every queue
    /// and Redis key, so that deployments and tests can share servers.
    pub prefix: String,
    /// `HOOKPOST_RETRY_SCHEDULE`
    pub retry_schedule: RetrySchedule,
    /// `HOOKPOST_ALLOW_PRIVATE_TARGETS`: deliver to loopback/private/link-local addresses.
    pub allow_private_targets: bool,
    /// `HOOKPOST_ALLOWED_PORTS`: ports hook URLs may use beyond 80, 443 and the
    /// unprivileged ones that are not well-known data-store ports.
    pub allowed_ports: crate::ports::AllowedPorts,
    /// `HOOKPOST_EGRESS_PROXY`: an HTTP(S) proxy every delivery and test send goes
    /// through. hookpost cannot see the address the proxy connects to: the proxy must
    /// enforce the address policy itself.
    pub egress_proxy: Option<url::Url>,
    /// `HOOKPOST_CONNECT_TIMEOUT`
    pub connect_timeout: Duration,
    /// `HOOKPOST_REQUEST_TIMEOUT`: a whole attempt, connect to last byte read.
    pub request_timeout: Duration,
    /// `HOOKPOST_PREFETCH`: unacked messages a worker holds per queue.
    pub prefetch: u16,
    /// `HOOKPOST_CONCURRENCY`: requests a worker has in flight at most.
    pub concurrency: usize,
    /// `HOOKPOST_THREADS`: the threads that run one process's tasks; unset, one a core
    /// the process may use (its CPU quota counted). One spends the least CPU a
    /// delivery: no task moves to another thread or wakes one.
    pub threads: Option<usize>,
    /// `HOOKPOST_HOOK_CONCURRENCY`: requests a worker has in flight to one hook at most;
    /// more deliveries to that hook are deferred, so a slow hook cannot hold up the rest.
    pub hook_concurrency: usize,
    /// `HOOKPOST_HOOK_WAIT`: how long a delivery waits for a slot at its hook before it
    /// is deferred (a fast hook frees one within milliseconds).
    pub hook_wait: Duration,
    /// `HOOKPOST_DEFER_DELAY`: how long a delivery deferred by the per-hook limit waits.
    pub defer_delay: Duration,
    /// `HOOKPOST_MAX_BODY_BYTES`: largest API request body.
    pub max_body_bytes: usize,
    /// `HOOKPOST_MAX_BATCH`: most events in one `POST /v1/events/batch`.
    pub max_batch: usize,
    /// `HOOKPOST_PUBLISH_WINDOW`: events one API request publishes before it waits for
    /// their confirms and publishes the next ones, so that a big batch does not land on
    /// RabbitMQ as one burst that every other tenant's events wait behind.
    pub publish_window: usize,
    /// `HOOKPOST_FILTER_BUDGET`: work units one event's filters may spend, across all its
    /// hooks (about a nanosecond of CPU each); past them, filters fail closed.
    pub filter_budget: u64,
    /// `HOOKPOST_RETENTION`: how long events and the delivery log are kept.
    pub retention: Duration,
    /// `HOOKPOST_RETRY_SHARDS`: how many sorted sets the retry set is spread over.
    pub retry_shards: u32,
    /// `HOOKPOST_SCHEDULER_BATCH`: retries one claim moves at most.
    pub scheduler_batch: usize,
    /// `HOOKPOST_SCHEDULER_INTERVAL`: how often an idle scheduler looks for due retries.
    pub scheduler_interval: Duration,
    /// `HOOKPOST_SHUTDOWN_GRACE`: how long in-flight deliveries may finish on SIGTERM.
    pub shutdown_grace: Duration,
    /// `HOOKPOST_LOG_FORMAT`: `human` or `json`.
    pub log_json: bool,
    /// `HOOKPOST_EVENT_TYPES`: event types beyond the built-in catalogue (comma-separated).
    pub event_types: crate::catalogue::Catalogue,
    /// `HOOKPOST_ACCEPT_UNKNOWN_EVENT_TYPES`: accept events of types outside a tenant's
    /// catalogue (off: refused with 400 at the API, dead-lettered from the exchange).
    pub accept_unknown_event_types: bool,
    /// `HOOKPOST_QUORUM_QUEUES`: declare quorum queues (a clustered RabbitMQ) instead of
    /// classic ones. A queue's type cannot change in place: switch on a new prefix.
    pub quorum_queues: bool,
    /// `HOOKPOST_QUEUE_SHARDS`: how many queues events are spread over, by a hash of the
    /// event id (RabbitMQ's consistent-hash exchange), when one queue's process is the
    /// limit. Every role of a deployment must use the same number.
    pub queue_shards: u32,
    /// `HOOKPOST_ROTATION_GRACE`: how long a rotated-out secret keeps signing.
    pub rotation_grace: Duration,
    /// `HOOKPOST_AUDIT_RETENTION`: how long the audit log keeps an entry.
    pub audit_retention: Duration,
    /// `HOOKPOST_DISABLE_AFTER`: a hook whose attempts have all failed this long is
    /// deactivated.
    pub disable_after: Duration,
    /// `HOOKPOST_RETRY_AFTER_CAP`: the longest a receiver's `Retry-After` may put off the
    /// next attempt.
    pub retry_after_cap: Duration,
    /// `HOOKPOST_MAX_HOOKS`: hooks one tenant may have.
    pub max_hooks: usize,
    /// `HOOKPOST_TENANT_RATE`: events a second one tenant may post through the API on
    /// average (its own limit, set through the admin API, replaces it).
    pub tenant_rate: u32,
    /// `HOOKPOST_TENANT_BURST`: events one tenant may post at once after a quiet spell.
    pub tenant_burst: u32,
    /// `HOOKPOST_FAIR_RATE`: deliveries a second one tenant's API events may put in the
    /// event queues (its fair lane); its events beyond it go to the overflow queue.
    pub fair_rate: u32,
    /// `HOOKPOST_FAIR_BURST`: deliveries one tenant may put in the event queues at once.
    pub fair_burst: u32,
    /// `HOOKPOST_LIGHT_RATE`: a tenant sending no more deliveries a second than this
    /// (through one ingest) is light: its API events take the light queue. 0: no light
    /// queue is used.
    pub light_rate: u32,
    /// `HOOKPOST_LIGHT_BURST`: deliveries a light tenant may send at once.
    pub light_burst: u32,
    /// `HOOKPOST_FAIRNESS`: workers move a tenant's surplus events to the overflow queue
    /// while other tenants have events to process.
    pub fairness: bool,
    /// `HOOKPOST_MAX_EVENT_BYTES`: larger messages on the exchange are dead-lettered.
    pub max_message_bytes: usize,
    /// `HOOKPOST_CONSOLE_SESSION_TTL`: a web console session left idle this long ends.
    pub console_session_ttl: Duration,
    /// `HOOKPOST_CONSOLE_SECURE_COOKIE`: mark the console's cookies `Secure` on every
    /// request, for a TLS proxy that does not send `X-Forwarded-Proto: https`.
    pub console_secure_cookie: bool,
    /// `HOOKPOST_CONSOLE_FRAME_ANCESTORS`: the origins that may embed the console in a
    /// frame (a SaaS product showing its customers their webhooks); none by default.
    /// With any, the console's cookies are `SameSite=None; Secure; Partitioned`.
    pub console_frame_ancestors: Vec<String>,
    /// `HOOKPOST_TRUST_PROXY`: believe `X-Forwarded-For`, `-Host` and `-Proto` (set only
    /// behind a proxy that overwrites them): client addresses, the console's Origin check
    /// and its cookies then go by them.
    pub trust_proxy: bool,
    /// `HOOKPOST_SECRET_KEY`: the server's keys (`<id>:<base64 of 32 bytes>`, the current
    /// one first): hook secrets are encrypted under them, and keys for other uses are
    /// derived from the current one.
    pub secret_keys: Option<crate::secret_key::SecretKeys>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs: the admin token, and passwords inside URLs.
        f.debug_struct("Config")
            .field("amqp_url", &redact_url(&self.amqp_url))
            .field("redis_url", &redact_url(&self.redis_url))
            .field("database_url", &redact_url(&self.database_url))
            .field("http_addr", &self.http_addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<set>"))
            .field("prefix", &self.prefix)
            .field("retry_schedule", &self.retry_schedule)
            .field("allow_private_targets", &self.allow_private_targets)
            .field("allowed_ports", &self.allowed_ports.to_env())
            .field(
                "egress_proxy",
                &self.egress_proxy.as_ref().map(|u| redact_url(u.as_str())),
            )
            .field("secret_keys", &self.secret_keys)
            .finish_non_exhaustive()
    }
}

/// A URL, or a comma-separated list of them (cluster nodes), with passwords hidden.
pub fn redact_url(urls: &str) -> String {
    urls.split(',')
        .map(redact_one)
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            redis_url: "redis://127.0.0.1:6379/".into(),
            database_url: "postgres://postgres@127.0.0.1:5432/hookpost".into(),
            database_pool: 8,
            database_write_timeout: Duration::from_secs(10),
            http_addr: "127.0.0.1:8080".parse().expect("address"),
            http_header_timeout: Duration::from_secs(10),
            http_request_timeout: Duration::from_secs(60),
            http_max_connections: 1024,
            metrics_addr: "127.0.0.1:9090".parse().expect("address"),
            ops_on_api: false,
            admin_token: None,
            auth_failure_limit: 10,
            auth_failure_window: Duration::from_secs(60),
            prefix: "hookpost".into(),
            retry_schedule: RetrySchedule::default(),
            allow_private_targets: false,
            allowed_ports: crate::ports::AllowedPorts::default(),
            egress_proxy: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            prefetch: 256,
            concurrency: 512,
            threads: None,
            hook_concurrency: 16,
            defer_delay: Duration::from_secs(1),
            hook_wait: Duration::from_millis(500),
            max_body_bytes: 1 << 20,
            max_batch: 1000,
            publish_window: 10,
            filter_budget: crate::filter::DEFAULT_BUDGET,
            retention: Duration::from_secs(7 * 86_400),
            retry_shards: 1,
            scheduler_batch: 500,
            scheduler_interval: Duration::from_millis(200),
            shutdown_grace: Duration::from_secs(30),
            log_json: false,
            max_message_bytes: 1 << 20,
            event_types: crate::catalogue::Catalogue::default(),
            accept_unknown_event_types: false,
            quorum_queues: false,
            queue_shards: 1,
            rotation_grace: Duration::from_secs(86_400),
            audit_retention: Duration::from_secs(90 * 86_400),
            max_hooks: 100,
            tenant_rate: 1_000,
            tenant_burst: 10_000,
            // Two fifths of what one worker delivers a second on a small host (about
            // 5,000), so that two tenants at full lane still fit; a burst of a fifth of a
            // second of that worker's work, which is what another tenant's event may wait
            // behind (4,000 put a quiet tenant's p99 at 0.9-1.3 s, 1,000 at 0.4 s).
            fair_rate: 2_000,
            fair_burst: 1_000,
            light_rate: 500,
            light_burst: 50,
            fairness: true,
            disable_after: Duration::from_secs(5 * 86_400),
            retry_after_cap: Duration::from_secs(3600),
            console_session_ttl: Duration::from_secs(8 * 3600),
            console_secure_cookie: false,
            console_frame_ancestors: Vec::new(),
            trust_proxy: false,
            secret_keys: None,
        }
    }
}

/// A variable that is set but not valid.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

/// Why nothing starts without `HOOKPOST_SECRET_KEY`.
pub const NO_SECRET_KEY: &str = "not set: hook secrets and custom header values are \
encrypted under it, and hookpost does not start without it. Generate a key with \
`echo \"k1:$(head -c 32 /dev/urandom | base64)\"`, keep it safe (losing it loses every \
hook's secret), and give every role the same value";

/// Every variable [`Config::from_env`] reads, for docs and the consistency test.
pub const VARIABLES: &[&str] = &[
    "HOOKPOST_AMQP_URL",
    "HOOKPOST_REDIS_URL",
    "HOOKPOST_DATABASE_URL",
    "HOOKPOST_DATABASE_POOL",
    "HOOKPOST_DATABASE_WRITE_TIMEOUT",
    "HOOKPOST_HTTP_ADDR",
    "HOOKPOST_HTTP_HEADER_TIMEOUT",
    "HOOKPOST_HTTP_REQUEST_TIMEOUT",
    "HOOKPOST_HTTP_MAX_CONNECTIONS",
    "HOOKPOST_METRICS_ADDR",
    "HOOKPOST_OPS_ON_API",
    "HOOKPOST_ADMIN_TOKEN",
    "HOOKPOST_AUTH_FAILURE_LIMIT",
    "HOOKPOST_AUTH_FAILURE_WINDOW",
    "HOOKPOST_PREFIX",
    "HOOKPOST_RETRY_SCHEDULE",
    "HOOKPOST_ALLOW_PRIVATE_TARGETS",
    "HOOKPOST_ALLOWED_PORTS",
    "HOOKPOST_EGRESS_PROXY",
    "HOOKPOST_CONNECT_TIMEOUT",
    "HOOKPOST_REQUEST_TIMEOUT",
    "HOOKPOST_PREFETCH",
    "HOOKPOST_CONCURRENCY",
    "HOOKPOST_THREADS",
    "HOOKPOST_HOOK_CONCURRENCY",
    "HOOKPOST_DEFER_DELAY",
    "HOOKPOST_HOOK_WAIT",
    "HOOKPOST_MAX_BODY_BYTES",
    "HOOKPOST_MAX_BATCH",
    "HOOKPOST_PUBLISH_WINDOW",
    "HOOKPOST_FILTER_BUDGET",
    "HOOKPOST_RETENTION",
    "HOOKPOST_RETRY_SHARDS",
    "HOOKPOST_SCHEDULER_BATCH",
    "HOOKPOST_SCHEDULER_INTERVAL",
    "HOOKPOST_SHUTDOWN_GRACE",
    "HOOKPOST_LOG_FORMAT",
    "HOOKPOST_MAX_EVENT_BYTES",
    "HOOKPOST_EVENT_TYPES",
    "HOOKPOST_ACCEPT_UNKNOWN_EVENT_TYPES",
    "HOOKPOST_QUORUM_QUEUES",
    "HOOKPOST_QUEUE_SHARDS",
    "HOOKPOST_ROTATION_GRACE",
    "HOOKPOST_AUDIT_RETENTION",
    "HOOKPOST_MAX_HOOKS",
    "HOOKPOST_TENANT_RATE",
    "HOOKPOST_TENANT_BURST",
    "HOOKPOST_FAIR_RATE",
    "HOOKPOST_FAIR_BURST",
    "HOOKPOST_LIGHT_RATE",
    "HOOKPOST_LIGHT_BURST",
    "HOOKPOST_FAIRNESS",
    "HOOKPOST_DISABLE_AFTER",
    "HOOKPOST_RETRY_AFTER_CAP",
    "HOOKPOST_CONSOLE_SESSION_TTL",
    "HOOKPOST_CONSOLE_SECURE_COOKIE",
    "HOOKPOST_CONSOLE_FRAME_ANCESTORS",
    "HOOKPOST_TRUST_PROXY",
    "HOOKPOST_SECRET_KEY",
    // Read by the operators' commands only (`hookpost deliveries`, `hookpost retries`).
    "HOOKPOST_API_URL",
];

/// Origins (`https://app.example.com`, a port if not the scheme's), separated by commas
/// or spaces, as a CSP `frame-ancestors` source list takes them.
fn frame_ancestors(v: &str) -> Result<Vec<String>, String> {
    v.split([',', ' '])
        .filter(|o| !o.is_empty())
        .map(|o| {
            let url = url::Url::parse(o).map_err(|e| format!("`{o}` is not an origin: {e}"))?;
            let origin = url.origin().ascii_serialization();
            if !matches!(url.scheme(), "http" | "https") || o.trim_end_matches('/') != origin {
                return Err(format!(
                    "`{o}` is not an origin: give scheme, host and port only, as `{origin}`"
                ));
            }
            Ok(origin)
        })
        .collect()
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The variables that make another process (a role started as a child) join the
    /// deployment this configuration describes: brokers, names and layout, retry
    /// schedule and timeouts. Addresses are left out: each process needs its own.
    pub fn deployment_env(&self) -> Vec<(&'static str, String)> {
        let ms = crate::duration::format;
        let schedule: Vec<String> = self
            .retry_schedule
            .delays()
            .iter()
            .map(|d| ms(*d))
            .collect();
        let mut env = vec![
            ("HOOKPOST_AMQP_URL", self.amqp_url.clone()),
            ("HOOKPOST_REDIS_URL", self.redis_url.clone()),
            ("HOOKPOST_DATABASE_URL", self.database_url.clone()),
            ("HOOKPOST_DATABASE_POOL", self.database_pool.to_string()),
            (
                "HOOKPOST_DATABASE_WRITE_TIMEOUT",
                ms(self.database_write_timeout),
            ),
            ("HOOKPOST_PREFIX", self.prefix.clone()),
            ("HOOKPOST_RETRY_SCHEDULE", schedule.join(",")),
            (
                "HOOKPOST_ALLOW_PRIVATE_TARGETS",
                self.allow_private_targets.to_string(),
            ),
            ("HOOKPOST_ALLOWED_PORTS", self.allowed_ports.to_env()),
            (
                "HOOKPOST_EGRESS_PROXY",
                self.egress_proxy
                    .as_ref()
                    .map(url::Url::to_string)
                    .unwrap_or_default(),
            ),
            ("HOOKPOST_CONNECT_TIMEOUT", ms(self.connect_timeout)),
            ("HOOKPOST_REQUEST_TIMEOUT", ms(self.request_timeout)),
            ("HOOKPOST_SHUTDOWN_GRACE", ms(self.shutdown_grace)),
            ("HOOKPOST_SCHEDULER_INTERVAL", ms(self.scheduler_interval)),
            ("HOOKPOST_SCHEDULER_BATCH", self.scheduler_batch.to_string()),
            ("HOOKPOST_QUEUE_SHARDS", self.queue_shards.to_string()),
            ("HOOKPOST_RETRY_SHARDS", self.retry_shards.to_string()),
            ("HOOKPOST_QUORUM_QUEUES", self.quorum_queues.to_string()),
            ("HOOKPOST_TENANT_RATE", self.tenant_rate.to_string()),
            ("HOOKPOST_TENANT_BURST", self.tenant_burst.to_string()),
            ("HOOKPOST_FAIR_RATE", self.fair_rate.to_string()),
            ("HOOKPOST_FAIR_BURST", self.fair_burst.to_string()),
            ("HOOKPOST_LIGHT_RATE", self.light_rate.to_string()),
            ("HOOKPOST_LIGHT_BURST", self.light_burst.to_string()),
            ("HOOKPOST_FAIRNESS", self.fairness.to_string()),
            ("HOOKPOST_PUBLISH_WINDOW", self.publish_window.to_string()),
        ];
        if let Some(token) = &self.admin_token {
            env.push(("HOOKPOST_ADMIN_TOKEN", token.clone()));
        }
        env.push((
            "HOOKPOST_AUTH_FAILURE_LIMIT",
            self.auth_failure_limit.to_string(),
        ));
        env.push(("HOOKPOST_AUTH_FAILURE_WINDOW", ms(self.auth_failure_window)));
        env.push(("HOOKPOST_TRUST_PROXY", self.trust_proxy.to_string()));
        if let Some(keys) = &self.secret_keys {
            env.push(("HOOKPOST_SECRET_KEY", keys.to_env()));
        }
        env
    }

    /// Reads variables through `get`; unset ones keep their defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let var = |name: &'static str| get(name).filter(|v| !v.is_empty()).map(|v| (name, v));
        if let Some((_, v)) = var("HOOKPOST_AMQP_URL") {
            c.amqp_url = v;
        }
        if let Some((_, v)) = var("HOOKPOST_REDIS_URL") {
            c.redis_url = v;
        }
        if let Some((_, v)) = var("HOOKPOST_DATABASE_URL") {
            c.database_url = v;
        }
        if let Some(v) = var("HOOKPOST_DATABASE_POOL") {
            c.database_pool = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_DATABASE_WRITE_TIMEOUT") {
            c.database_write_timeout = nonzero_duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_HTTP_ADDR") {
            c.http_addr = parsed(v)?;
        }
        if let Some(v) = var("HOOKPOST_HTTP_HEADER_TIMEOUT") {
            c.http_header_timeout = nonzero_duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_HTTP_REQUEST_TIMEOUT") {
            c.http_request_timeout = nonzero_duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_HTTP_MAX_CONNECTIONS") {
            c.http_max_connections = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_METRICS_ADDR") {
            c.metrics_addr = parsed(v)?;
        }
        if let Some(v) = var("HOOKPOST_OPS_ON_API") {
            c.ops_on_api = boolean(v)?;
        }
        c.admin_token = var("HOOKPOST_ADMIN_TOKEN").map(|(_, v)| v);
        c.check_admin_token()?;
        if let Some(v) = var("HOOKPOST_AUTH_FAILURE_LIMIT") {
            c.auth_failure_limit = positive(v)?;
        }
        if let Some((name, v)) = var("HOOKPOST_AUTH_FAILURE_WINDOW") {
            c.auth_failure_window = duration((name, v))?;
            if c.auth_failure_window < Duration::from_secs(1) {
                return Err(ConfigError {
                    var: name,
                    message: "must be at least 1s".into(),
                });
            }
        }
        if let Some((name, v)) = var("HOOKPOST_PREFIX") {
            check_prefix(&v).map_err(|message| ConfigError { var: name, message })?;
            c.prefix = v;
        }
        if let Some((name, v)) = var("HOOKPOST_RETRY_SCHEDULE") {
            c.retry_schedule =
                RetrySchedule::parse(&v).map_err(|message| ConfigError { var: name, message })?;
        }
        if let Some(v) = var("HOOKPOST_ALLOW_PRIVATE_TARGETS") {
            c.allow_private_targets = boolean(v)?;
        }
        if let Some((name, v)) = var("HOOKPOST_ALLOWED_PORTS") {
            c.allowed_ports = crate::ports::AllowedPorts::parse(&v)
                .map_err(|message| ConfigError { var: name, message })?;
        }
        if let Some((name, v)) = var("HOOKPOST_EGRESS_PROXY") {
            c.egress_proxy =
                Some(proxy_url(&v).map_err(|message| ConfigError { var: name, message })?);
        }
        if let Some(v) = var("HOOKPOST_CONNECT_TIMEOUT") {
            c.connect_timeout = duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_REQUEST_TIMEOUT") {
            c.request_timeout = duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_PREFETCH") {
            c.prefetch = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_CONCURRENCY") {
            c.concurrency = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_THREADS") {
            c.threads = Some(positive(v)?);
        }
        if let Some(v) = var("HOOKPOST_HOOK_CONCURRENCY") {
            c.hook_concurrency = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_HOOK_WAIT") {
            c.hook_wait = duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_DEFER_DELAY") {
            c.defer_delay = duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_MAX_BODY_BYTES") {
            c.max_body_bytes = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_MAX_BATCH") {
            c.max_batch = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_PUBLISH_WINDOW") {
            c.publish_window = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_FILTER_BUDGET") {
            c.filter_budget = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_RETENTION") {
            c.retention = duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_RETRY_SHARDS") {
            c.retry_shards = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_SCHEDULER_BATCH") {
            c.scheduler_batch = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_SCHEDULER_INTERVAL") {
            c.scheduler_interval = duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_SHUTDOWN_GRACE") {
            c.shutdown_grace = duration(v)?;
        }
        if let Some((name, v)) = var("HOOKPOST_LOG_FORMAT") {
            c.log_json = match v.as_str() {
                "json" => true,
                "human" => false,
                _ => {
                    return Err(ConfigError {
                        var: name,
                        message: "must be `human` or `json`".into(),
                    })
                }
            };
        }
        if let Some(v) = var("HOOKPOST_MAX_EVENT_BYTES") {
            c.max_message_bytes = positive(v)?;
        }
        if let Some((name, v)) = var("HOOKPOST_EVENT_TYPES") {
            let types: Vec<String> = v
                .split(',')
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect();
            crate::hook::check_events(&types).map_err(|m| ConfigError {
                var: name,
                message: m,
            })?;
            c.event_types = crate::catalogue::Catalogue::new(types);
        }
        if let Some(v) = var("HOOKPOST_ACCEPT_UNKNOWN_EVENT_TYPES") {
            c.accept_unknown_event_types = boolean(v)?;
        }
        if let Some(v) = var("HOOKPOST_ROTATION_GRACE") {
            c.rotation_grace = duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_AUDIT_RETENTION") {
            c.audit_retention = duration(v)?;
            if c.audit_retention < Duration::from_secs(1) {
                return Err(ConfigError {
                    var: "HOOKPOST_AUDIT_RETENTION",
                    message: "must be at least 1s".into(),
                });
            }
        }
        if let Some(v) = var("HOOKPOST_DISABLE_AFTER") {
            c.disable_after = duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_RETRY_AFTER_CAP") {
            c.retry_after_cap = duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_MAX_HOOKS") {
            c.max_hooks = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_TENANT_RATE") {
            c.tenant_rate = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_TENANT_BURST") {
            c.tenant_burst = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_FAIR_RATE") {
            c.fair_rate = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_FAIR_BURST") {
            c.fair_burst = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_LIGHT_RATE") {
            c.light_rate = parsed(v)?;
        }
        if let Some(v) = var("HOOKPOST_LIGHT_BURST") {
            c.light_burst = positive(v)?;
        }
        if let Some(v) = var("HOOKPOST_FAIRNESS") {
            c.fairness = boolean(v)?;
        }
        if let Some(v) = var("HOOKPOST_CONSOLE_SESSION_TTL") {
            c.console_session_ttl = duration(v)?;
        }
        if let Some(v) = var("HOOKPOST_CONSOLE_SECURE_COOKIE") {
            c.console_secure_cookie = boolean(v)?;
        }
        if let Some((name, v)) = var("HOOKPOST_CONSOLE_FRAME_ANCESTORS") {
            c.console_frame_ancestors =
                frame_ancestors(&v).map_err(|message| ConfigError { var: name, message })?;
        }
        if let Some(v) = var("HOOKPOST_TRUST_PROXY") {
            c.trust_proxy = boolean(v)?;
        }
        if let Some((name, v)) = var("HOOKPOST_SECRET_KEY") {
            c.secret_keys = Some(
                crate::secret_key::SecretKeys::parse(&v)
                    .map_err(|message| ConfigError { var: name, message })?,
            );
        }
        if let Some(v) = var("HOOKPOST_QUORUM_QUEUES") {
            c.quorum_queues = boolean(v)?;
        }
        if let Some(v) = var("HOOKPOST_QUEUE_SHARDS") {
            c.queue_shards = positive(v)?;
            if c.queue_shards > MAX_QUEUE_SHARDS {
                return Err(ConfigError {
                    var: "HOOKPOST_QUEUE_SHARDS",
                    message: format!("must be at most {MAX_QUEUE_SHARDS}"),
                });
            }
        }
        if c.retention < Duration::from_secs(1) {
            return Err(ConfigError {
                var: "HOOKPOST_RETENTION",
                message: "must be at least 1s".into(),
            });
        }
        Ok(c)
    }

    /// Refuses an admin token that is short or a known placeholder (see
    /// [`crate::admin_token::check`]). Reading the environment runs it, and so does
    /// starting a role, for configurations built in code.
    pub fn check_admin_token(&self) -> Result<(), ConfigError> {
        match &self.admin_token {
            Some(token) => crate::admin_token::check(token).map_err(|message| ConfigError {
                var: "HOOKPOST_ADMIN_TOKEN",
                message,
            }),
            None => Ok(()),
        }
    }

    /// Everything a role checks before it opens anything, for configurations read from
    /// the environment and built in code alike: the admin token, the server key, and
    /// (`serves_api`) that the API outwaits a test send, which waits for the receiver.
    pub fn check_to_start(&self, serves_api: bool) -> Result<(), ConfigError> {
        self.check_admin_token()?;
        if serves_api && self.http_request_timeout <= self.request_timeout {
            return Err(ConfigError {
                var: "HOOKPOST_HTTP_REQUEST_TIMEOUT",
                message: "must be longer than HOOKPOST_REQUEST_TIMEOUT".into(),
            });
        }
        self.secret_keys.as_ref().map(|_| ()).ok_or(ConfigError {
            var: "HOOKPOST_SECRET_KEY",
            message: NO_SECRET_KEY.into(),
        })
    }

    /// Retention in whole seconds, for Redis `EXPIRE`.
    pub fn retention_secs(&self) -> u64 {
        self.retention.as_secs().max(1)
    }

    /// The threads of a process (`HOOKPOST_THREADS`), else one a core it may use (its
    /// affinity and CPU quota counted).
    pub fn thread_count(&self) -> usize {
        self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }

    /// What one of a worker process's `lanes` runs with: its share of the process's
    /// prefetch and requests in flight (in all and to one hook), so that the process as
    /// a whole holds what the settings say (at least one of each). The lanes share the
    /// process's PostgreSQL pool.
    pub fn lane_share(&self, lanes: usize) -> Config {
        let lanes = lanes.max(1);
        let share = |n: usize| n.div_ceil(lanes).max(1);
        Config {
            prefetch: u16::try_from(share(usize::from(self.prefetch))).unwrap_or(u16::MAX),
            concurrency: share(self.concurrency),
            hook_concurrency: share(self.hook_concurrency),
            ..self.clone()
        }
    }
}

/// Prefixes name queues and Redis keys: 1 to 64 of `a-z A-Z 0-9 _ . -`.
pub fn check_prefix(p: &str) -> Result<(), String> {
    if (1..=64).contains(&p.len())
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        Ok(())
    } else {
        Err("must be 1 to 64 characters of a-z, A-Z, 0-9, `_`, `.`, `-`".into())
    }
}

/// An `http://` or `https://` proxy URL with a host, and nothing after it.
fn proxy_url(v: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(v).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("must name a proxy only, no path or query".into());
    }
    Ok(url)
}

fn parsed<T: std::str::FromStr>((var, v): (&'static str, String)) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e| ConfigError {
        var,
        message: format!("`{v}`: {e}"),
    })
}

/// More queues than this gain nothing on a broker of a few nodes: each worker opens a
/// consumer on every one.
pub const MAX_QUEUE_SHARDS: u32 = 64;

fn positive<T: std::str::FromStr + Default + PartialEq>(
    (var, v): (&'static str, String),
) -> Result<T, ConfigError> {
    match v.parse::<T>() {
        Ok(n) if n != T::default() => Ok(n),
        _ => Err(ConfigError {
            var,
            message: format!("`{v}` is not a positive whole number"),
        }),
    }
}

fn boolean((var, v): (&'static str, String)) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError {
            var,
            message: format!("`{v}` is not true or false"),
        }),
    }
}

fn duration((var, v): (&'static str, String)) -> Result<Duration, ConfigError> {
    crate::duration::parse(&v).map_err(|message| ConfigError { var, message })
}

/// A timeout of 0 would close every connection at once.
fn nonzero_duration((var, v): (&'static str, String)) -> Result<Duration, ConfigError> {
    match duration((var, v))? {
        d if d.is_zero() => Err(ConfigError {
            var,
            message: "must be more than 0".into(),
        }),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn frame_ancestors_are_origins_and_nothing_else() {
        let c = from(&[(
            "HOOKPOST_CONSOLE_FRAME_ANCESTORS",
            "https://app.example.com, http://127.0.0.1:5000/",
        )])
        .unwrap();
        assert_eq!(
            c.console_frame_ancestors,
            ["https://app.example.com", "http://127.0.0.1:5000"]
        );
        for bad in [
            "app.example.com",
            "https://a.example/path",
            "ftp://a.example",
            "*",
        ] {
            let e = from(&[("HOOKPOST_CONSOLE_FRAME_ANCESTORS", bad)]).unwrap_err();
            assert_eq!(e.var, "HOOKPOST_CONSOLE_FRAME_ANCESTORS", "{bad}");
        }
        assert!(Config::default().console_frame_ancestors.is_empty());
    }

    #[test]
    fn a_child_given_the_deployment_env_joins_the_same_deployment() {
        let c = Config {
            amqp_url: "amqp://a:b@10.0.0.1:5672/%2f,amqp://a:b@10.0.0.2:5672/%2f".into(),
            redis_url: "redis://10.0.0.3:7000/".into(),
            prefix: "bench1".into(),
            admin_token: Some("hUj3Xq0lD9v2mZ8kQ1wP4rT6yB7nC5sA0eF3gH2iJ4k=".into()),
            auth_failure_limit: 3,
            auth_failure_window: Duration::from_secs(5),
            trust_proxy: true,
            retry_schedule: RetrySchedule::new(vec![
                Duration::from_secs(90),
                Duration::from_millis(1500),
            ]),
            allow_private_targets: true,
            allowed_ports: crate::ports::AllowedPorts::parse("22,9000-9099").unwrap(),
            egress_proxy: Some("http://proxy.internal:3128".parse().unwrap()),
            request_timeout: Duration::from_millis(2500),
            scheduler_batch: 1000,
            queue_shards: 3,
            retry_shards: 4,
            quorum_queues: true,
            secret_keys: Some(
                crate::secret_key::SecretKeys::parse(&crate::secret_key::SecretKeys::generate(
                    "k1",
                ))
                .unwrap(),
            ),
            ..Config::default()
        };
        let env: HashMap<&str, String> = c.deployment_env().into_iter().collect();
        let child = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        assert_eq!(child.amqp_url, c.amqp_url);
        assert_eq!(child.redis_url, c.redis_url);
        assert_eq!(child.prefix, c.prefix);
        assert_eq!(child.admin_token, c.admin_token);
        assert_eq!(child.retry_schedule, c.retry_schedule);
        assert!(child.allow_private_targets);
        assert_eq!(child.allowed_ports, c.allowed_ports);
        assert_eq!(child.egress_proxy, c.egress_proxy);
        assert_eq!(child.request_timeout, c.request_timeout);
        assert_eq!(child.connect_timeout, c.connect_timeout);
        assert_eq!(child.shutdown_grace, c.shutdown_grace);
        assert_eq!(child.scheduler_interval, c.scheduler_interval);
        assert_eq!(child.scheduler_batch, 1000);
        assert_eq!((child.queue_shards, child.retry_shards), (3, 4));
        assert!(child.quorum_queues);
        assert_eq!(child.secret_keys, c.secret_keys);
        assert_eq!(child.auth_failure_limit, 3);
        assert_eq!(child.auth_failure_window, Duration::from_secs(5));
        assert!(child.trust_proxy);
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = from(&[]).unwrap();
        assert_eq!(c.prefix, "hookpost");
        assert_eq!(c.retry_schedule, RetrySchedule::default());
        assert!(!c.allow_private_targets);
        assert!(!c.trust_proxy && !c.console_secure_cookie && c.admin_token.is_none());
        assert_eq!(c.auth_failure_limit, 10);
        assert!(c.allowed_ports.is_empty() && c.egress_proxy.is_none());
        assert_eq!(c.threads, None);
    }

    #[test]
    fn threads_are_a_positive_count() {
        assert_eq!(from(&[("HOOKPOST_THREADS", "4")]).unwrap().threads, Some(4));
        for bad in ["0", "-1", "two"] {
            let e = from(&[("HOOKPOST_THREADS", bad)]).unwrap_err();
            assert_eq!(e.var, "HOOKPOST_THREADS", "{bad}");
        }
    }

    #[test]
    fn the_publish_window_is_a_positive_count() {
        assert_eq!(from(&[]).unwrap().publish_window, 10);
        let c = from(&[("HOOKPOST_PUBLISH_WINDOW", "1")]).unwrap();
        assert_eq!(c.publish_window, 1);
        for bad in ["0", "-1", "five"] {
            let e = from(&[("HOOKPOST_PUBLISH_WINDOW", bad)]).unwrap_err();
            assert_eq!(e.var, "HOOKPOST_PUBLISH_WINDOW", "{bad}");
        }
    }

    #[test]
    fn the_light_lane_is_a_rate_zero_turning_it_off_and_a_positive_burst() {
        let c = from(&[]).unwrap();
        assert_eq!((c.light_rate, c.light_burst), (500, 50));
        let c = from(&[("HOOKPOST_LIGHT_RATE", "0"), ("HOOKPOST_LIGHT_BURST", "1")]).unwrap();
        assert_eq!((c.light_rate, c.light_burst), (0, 1));
        for (var, bad) in [
            ("HOOKPOST_LIGHT_RATE", "-1"),
            ("HOOKPOST_LIGHT_RATE", "many"),
            ("HOOKPOST_LIGHT_BURST", "0"),
        ] {
            assert_eq!(from(&[(var, bad)]).unwrap_err().var, var, "{bad}");
        }
    }

    #[test]
    fn a_lane_gets_its_share_of_the_process_limits() {
        let c = from(&[
            ("HOOKPOST_PREFETCH", "255"),
            ("HOOKPOST_CONCURRENCY", "512"),
            ("HOOKPOST_HOOK_CONCURRENCY", "3"),
        ])
        .unwrap();
        let lane = c.lane_share(2);
        assert_eq!(
            (lane.prefetch, lane.concurrency, lane.hook_concurrency),
            (128, 256, 2)
        );
        // Never none of anything.
        let many = c.lane_share(64);
        assert_eq!((many.prefetch, many.hook_concurrency), (4, 1));
        // One lane is the process.
        assert_eq!(c.lane_share(1).prefetch, 255);
        assert_eq!(c.lane_share(0).prefetch, 255);
    }

    #[test]
    fn reads_the_egress_settings() {
        let c = from(&[
            ("HOOKPOST_ALLOWED_PORTS", "22, 8000-8999"),
            ("HOOKPOST_EGRESS_PROXY", "http://u:pw@proxy.internal:3128"),
        ])
        .unwrap();
        assert!(c.allowed_ports.allows(22) && c.allowed_ports.allows(8500));
        let proxy = c.egress_proxy.as_ref().unwrap();
        assert_eq!(proxy.host_str(), Some("proxy.internal"));
        assert!(
            !format!("{c:?}").contains("pw@"),
            "the proxy's password stays out of logs"
        );
    }

    #[test]
    fn reads_values() {
        let c = from(&[
            ("HOOKPOST_PREFIX", "t1"),
            ("HOOKPOST_RETRY_SCHEDULE", "1s,2s"),
            ("HOOKPOST_ALLOW_PRIVATE_TARGETS", "true"),
            ("HOOKPOST_HTTP_ADDR", "0.0.0.0:80"),
            ("HOOKPOST_QUEUE_SHARDS", "4"),
        ])
        .unwrap();
        assert_eq!(c.prefix, "t1");
        assert_eq!(c.queue_shards, 4);
        assert_eq!(c.retry_schedule.attempts(), 3);
        assert!(c.allow_private_targets);
        assert_eq!(c.http_addr.port(), 80);
    }

    #[test]
    fn http_limits_default_to_the_safe_values_and_are_read() {
        let c = from(&[]).unwrap();
        assert_eq!(c.http_header_timeout, Duration::from_secs(10));
        assert_eq!(c.http_request_timeout, Duration::from_secs(60));
        assert!(c.http_request_timeout > c.request_timeout);
        assert_eq!(c.http_max_connections, 1024);
        assert!(!c.ops_on_api);
        let c = from(&[
            ("HOOKPOST_HTTP_HEADER_TIMEOUT", "2s"),
            ("HOOKPOST_HTTP_REQUEST_TIMEOUT", "45s"),
            ("HOOKPOST_HTTP_MAX_CONNECTIONS", "10"),
            ("HOOKPOST_OPS_ON_API", "true"),
        ])
        .unwrap();
        assert_eq!(c.http_header_timeout, Duration::from_secs(2));
        assert_eq!(c.http_request_timeout, Duration::from_secs(45));
        assert_eq!(c.http_max_connections, 10);
        assert!(c.ops_on_api);
        for (var, value) in [
            ("HOOKPOST_HTTP_MAX_CONNECTIONS", "0"),
            ("HOOKPOST_HTTP_HEADER_TIMEOUT", "soon"),
            ("HOOKPOST_HTTP_REQUEST_TIMEOUT", "0s"),
            ("HOOKPOST_OPS_ON_API", "maybe"),
        ] {
            assert_eq!(from(&[(var, value)]).unwrap_err().var, var);
        }
    }

    #[test]
    fn names_the_bad_variable() {
        for (var, value) in [
            ("HOOKPOST_PREFIX", "a b"),
            ("HOOKPOST_RETRY_SCHEDULE", "soon"),
            ("HOOKPOST_PREFETCH", "0"),
            ("HOOKPOST_HTTP_ADDR", "nowhere"),
            ("HOOKPOST_LOG_FORMAT", "xml"),
            ("HOOKPOST_ALLOW_PRIVATE_TARGETS", "maybe"),
            ("HOOKPOST_QUEUE_SHARDS", "0"),
            ("HOOKPOST_QUEUE_SHARDS", "65"),
            ("HOOKPOST_ADMIN_TOKEN", "change-me"),
            ("HOOKPOST_AUTH_FAILURE_LIMIT", "0"),
            ("HOOKPOST_AUTH_FAILURE_WINDOW", "10ms"),
            ("HOOKPOST_TRUST_PROXY", "sometimes"),
            ("HOOKPOST_ALLOWED_PORTS", "1-99999"),
            ("HOOKPOST_ALLOWED_PORTS", "http"),
            ("HOOKPOST_EGRESS_PROXY", "proxy:3128"),
            ("HOOKPOST_EGRESS_PROXY", "socks5://proxy:1080"),
            ("HOOKPOST_EGRESS_PROXY", "http://proxy:3128/path"),
        ] {
            let err = from(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = from(&[
            ("HOOKPOST_ADMIN_TOKEN", "q7Lz0vN3kX9pW2mR5tY8bC1dF4gH6jK0s"),
            (
                "HOOKPOST_AMQP_URL",
                "amqp://u:pass-word@h:5672/%2f,amqp://u:pass-word@h2:5672/%2f",
            ),
        ])
        .unwrap();
        let text = format!("{c:?}");
        assert!(
            !text.contains("q7Lz0vN3kX9pW2mR5tY8bC1dF4gH6jK0s") && !text.contains("pass-word"),
            "{text}"
        );
    }
}
