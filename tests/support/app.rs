//! hookpost started in-process against the shared RabbitMQ and Redis, under a prefix of
//! its own, and removed again (queues, exchanges, keys) when the test ends.

use std::time::Duration;

use hookpost::{Roles, Running};
use hookpost_broker::Topology;
use hookpost_core::retry::RetrySchedule;
use hookpost_core::Config;
use hookpost_store::Store;
use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::BasicProperties;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{amqp_url, redis_url, unique_prefix, wait_until};
use hookpost_db::Db;

/// The operators' token of every test deployment: random-looking, 32+ characters, as
/// hookpost requires.
pub const ADMIN_TOKEN: &str = "hp-tests-7Rk2vQ9xLm4Tz8Wp1Nc6Hd3Jf5Gs0Yb";

/// `HOOKPOST_SECRET_KEY` of every test deployment (a fixed test key: 32 bytes of 0x42).
pub const SECRET_KEY: &str = "test1:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";

/// Every role but the worker, whose processes a test starts itself (as children, to
/// kill or stop them at will).
pub const WORKERS_APART: Roles = Roles {
    worker: false,
    ..Roles::ALL
};

#[derive(Clone)]
pub struct TestOptions {
    pub roles: Roles,
    pub retry: &'static str,
    /// The broker URL hookpost uses (a fault proxy's, say); the tests' own clients use the real one.
    pub amqp_url: Option<String>,
    pub shutdown_grace: Duration,
    pub request_timeout: Duration,
    /// `HOOKPOST_ALLOW_PRIVATE_TARGETS`: on in tests, whose receivers are on 127.0.0.1.
    pub allow_private: bool,
    pub rotation_grace: Duration,
    pub retention: Duration,
    pub disable_after: Duration,
    /// A Redis other than the shared one (a test's own server).
    pub redis_url: Option<String>,
    /// A database other than the test's own on the shared server (on a test's own server).
    pub database_url: Option<String>,
    /// `HOOKPOST_DATABASE_WRITE_TIMEOUT`.
    pub database_write_timeout: Duration,
    /// `HOOKPOST_QUEUE_SHARDS` and `HOOKPOST_RETRY_SHARDS`.
    pub queue_shards: u32,
    pub retry_shards: u32,
    /// `HOOKPOST_QUORUM_QUEUES`.
    pub quorum: bool,
    /// `HOOKPOST_CONSOLE_FRAME_ANCESTORS`.
    pub frame_ancestors: Vec<String>,
    /// `HOOKPOST_ACCEPT_UNKNOWN_EVENT_TYPES`.
    pub accept_unknown_event_types: bool,
    /// Any other setting, changed last.
    pub configure: fn(&mut Config),
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            roles: Roles::ALL,
            retry: "1s,1s,1s",
            amqp_url: None,
            shutdown_grace: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            allow_private: true,
            rotation_grace: Duration::from_secs(86_400),
            retention: Duration::from_secs(3600),
            disable_after: Duration::from_secs(3600),
            redis_url: None,
            database_url: None,
            database_write_timeout: Config::default().database_write_timeout,
            queue_shards: 1,
            retry_shards: 1,
            quorum: false,
            frame_ancestors: Vec::new(),
            accept_unknown_event_types: false,
            configure: |_| {},
        }
    }
}

pub struct TestApp {
    pub config: Config,
    pub running: Option<Running>,
    /// `http://127.0.0.1:port` of the API, when ingest runs.
    pub base: String,
    pub http: reqwest::Client,
    pub store: Store,
    /// The log's database (the test's own).
    pub db: Db,
    /// Extra role sets started on the same prefix (more workers, schedulers).
    pub others: Vec<Running>,
    finished: bool,
}

impl TestApp {
    pub fn config(opts: &TestOptions, prefix: &str) -> Config {
        let mut config = Config {
            amqp_url: opts.amqp_url.clone().unwrap_or_else(amqp_url),
            redis_url: opts.redis_url.clone().unwrap_or_else(redis_url),
            database_url: opts
                .database_url
                .clone()
                .unwrap_or_else(|| crate::database_url(prefix)),
            database_write_timeout: opts.database_write_timeout,
            admin_token: Some(ADMIN_TOKEN.into()),
            prefix: prefix.to_owned(),
            retry_schedule: RetrySchedule::parse(opts.retry).expect("a valid schedule"),
            allow_private_targets: opts.allow_private,
            // Port 9 (discard) is the tests' URL where nothing listens; refused by default.
            allowed_ports: hookpost_core::ports::AllowedPorts::parse("9").expect("a port"),
            rotation_grace: opts.rotation_grace,
            retention: opts.retention,
            disable_after: opts.disable_after,
            connect_timeout: Duration::from_secs(2),
            request_timeout: opts.request_timeout,
            // The API must outwait a test send, which waits up to the request timeout.
            http_request_timeout: (opts.request_timeout + Duration::from_secs(5))
                .max(Config::default().http_request_timeout),
            shutdown_grace: opts.shutdown_grace,
            scheduler_interval: Duration::from_millis(50),
            queue_shards: opts.queue_shards,
            console_frame_ancestors: opts.frame_ancestors.clone(),
            retry_shards: opts.retry_shards,
            quorum_queues: opts.quorum,
            accept_unknown_event_types: opts.accept_unknown_event_types,
            secret_keys: Some(
                hookpost_core::secret_key::SecretKeys::parse(SECRET_KEY).expect("a valid key"),
            ),
            ..Config::default()
        };
        (opts.configure)(&mut config);
        config
    }

    pub async fn spawn(opts: TestOptions) -> TestApp {
        crate::logs::init();
        let config = Self::config(&opts, &unique_prefix());
        let running = start(&config, opts.roles).await;
        let base = running
            .http_addr
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        let store = running.store.clone();
        let db = running.db.clone();
        TestApp {
            config,
            running: Some(running),
            base,
            http: reqwest::Client::new(),
            store,
            db,
            others: Vec::new(),
            finished: false,
        }
    }

    /// Starts more roles on this app's prefix (another worker process, say).
    pub async fn start_more(&mut self, roles: Roles, config: Option<Config>) -> usize {
        let running = start(config.as_ref().unwrap_or(&self.config), roles).await;
        self.others.push(running);
        self.others.len() - 1
    }

    pub fn topology(&self) -> Topology {
        Topology::for_config(&self.config)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Revokes tenant `id`'s first key through the admin API (204 expected).
    pub async fn revoke_first_key(&self, id: &str) {
        let keys: Value = self
            .get(ADMIN_TOKEN, &format!("/v1/tenants/{id}/keys"))
            .await
            .json()
            .await
            .unwrap();
        let key_id = keys["keys"][0]["id"].as_str().unwrap();
        let r = self
            .http
            .delete(self.url(&format!("/v1/tenants/{id}/keys/{key_id}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }

    /// Creates a tenant and returns a new API key of it.
    pub async fn tenant(&self, id: &str) -> String {
        let r = self
            .http
            .post(self.url("/v1/tenants"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "id": id, "name": id }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "create tenant: {}",
            r.text().await.unwrap()
        );
        self.new_key(id).await
    }

    /// Issues tenant `id` another API key through the admin API; the key.
    pub async fn new_key(&self, id: &str) -> String {
        let r = self
            .http
            .post(self.url(&format!("/v1/tenants/{id}/keys")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates a hook; returns its JSON (with `id` and `secret`).
    pub async fn hook(&self, key: &str, url: &str, events: &[&str]) -> Value {
        self.hook_with(key, url, json!({ "events": events })).await
    }

    /// Creates a hook on every event type with more `fields` (controls, say); its JSON.
    pub async fn hook_with(&self, key: &str, url: &str, fields: Value) -> Value {
        let mut body = json!({"url": url, "events": ["*"]});
        body.as_object_mut()
            .expect("an object")
            .extend(fields.as_object().expect("fields as an object").clone());
        let r = self
            .http
            .post(self.url("/v1/hooks"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "create hook: {}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// `method path` with `key` and an optional JSON body: the status and the JSON
    /// answer (a string when it is not JSON).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("the API answers");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `PATCH /v1/hooks/{id}` with `key` and `body`: the status and the JSON answer.
    pub async fn patch_hook(&self, key: &str, id: &str, body: Value) -> (u16, Value) {
        self.send("PATCH", &format!("/v1/hooks/{id}"), key, Some(body))
            .await
    }

    /// Widens hook `id` to `ticket.created` and `ticket.updated`, which changes the `hook`
    /// object its next deliveries send; the API must take it (200).
    pub async fn widen_hook_events(&self, key: &str, id: &str) {
        let events = json!({"events": ["ticket.created", "ticket.updated"]});
        let (s, body) = self.patch_hook(key, id, events).await;
        assert_eq!(s, 200, "{body}");
    }

    /// `GET path` with `key`.
    pub async fn get(&self, key: &str, path: &str) -> reqwest::Response {
        let r = self.http.get(self.url(path)).bearer_auth(key).send().await;
        r.expect("the API answers")
    }

    /// `POST /v1/events/batch` with `events`.
    pub async fn post_batch(&self, key: &str, events: &[Value]) -> reqwest::Response {
        let url = self.url("/v1/events/batch");
        let r = self
            .http
            .post(url)
            .bearer_auth(key)
            .json(events)
            .send()
            .await;
        r.expect("the API answers")
    }

    pub async fn post_event(&self, key: &str, event: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/events"))
            .bearer_auth(key)
            .json(event)
            .send()
            .await
            .unwrap()
    }

    /// Publishes raw bytes straight to the exchange, as a careful producer would: with
    /// confirms, mandatory, and again while RabbitMQ says no queue took it (bindings
    /// declared a moment ago may not route yet).
    pub async fn publish_raw(&self, routing_key: &str, body: &[u8]) {
        self.publish_to(&self.topology().exchange, routing_key, body)
            .await;
    }

    /// [`TestApp::publish_raw`] to any exchange: `""` and a queue's name put a message
    /// straight into that queue (a task in the deliveries queue, say).
    pub async fn publish_to(&self, exchange: &str, routing_key: &str, body: &[u8]) {
        let conn = hookpost_broker::connect(&amqp_url(), "test-producer", Duration::from_secs(5))
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        for _ in 0..100 {
            let confirm = ch
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    body,
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_content_type("application/json".into()),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            match confirm {
                lapin::Confirmation::Ack(None) => {
                    hookpost_broker::close(&conn, "done").await;
                    return;
                }
                lapin::Confirmation::Ack(Some(_)) => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                other => panic!("publish refused: {other:?}"),
            }
        }
        panic!("no queue took the message");
    }

    /// How many messages wait in the dead-letter queue.
    pub async fn dead_letter_count(&self) -> u32 {
        self.queue_depth(&self.topology().dead_queue).await
    }

    /// How many messages wait in one of this app's queues.
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        self.queue_counts(queue).await.0
    }

    /// How many messages wait in one of this app's queues, and how many consumers it has.
    pub async fn queue_counts(&self, queue: &str) -> (u32, u32) {
        let conn =
            hookpost_broker::connect(&amqp_url(), "test-queue-depth", Duration::from_secs(5))
                .await
                .unwrap();
        let ch = conn.create_channel().await.unwrap();
        let q = ch
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .unwrap();
        hookpost_broker::close(&conn, "done").await;
        (q.message_count(), q.consumer_count())
    }

    /// Takes every message from the dead-letter queue: (reason header, body).
    pub async fn dead_letters(&self) -> Vec<(String, Vec<u8>)> {
        let conn = hookpost_broker::connect(&amqp_url(), "test-dlq", Duration::from_secs(5))
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        let mut out = Vec::new();
        while let Some(m) = ch
            .basic_get(
                self.topology().dead_queue.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .unwrap()
        {
            let reason = m
                .properties
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get("x-hookpost-reason").cloned())
                .map(|v| match v {
                    lapin::types::AMQPValue::LongString(s) => s.to_string(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            m.delivery
                .acker
                .ack(lapin::options::BasicAckOptions::default())
                .await
                .unwrap();
            out.push((reason, m.delivery.data.clone()));
        }
        hookpost_broker::close(&conn, "done").await;
        out
    }

    /// `http://…{path}` on the metrics address (`/metrics`, `/readyz`).
    pub fn ops_url(&self, path: &str) -> String {
        let running = self.running.as_ref().expect("running");
        let addr = running.metrics_addr.expect("a metrics listener");
        format!("http://{addr}{path}")
    }

    /// The `/readyz` answer (on the metrics address): `ready`, and the failing checks
    /// under `problems`.
    pub async fn readyz(&self) -> serde_json::Value {
        let r = self.http.get(self.ops_url("/readyz")).send().await;
        r.unwrap().json().await.unwrap()
    }

    /// The `/metrics` page (on the metrics address).
    pub async fn metrics(&self) -> String {
        let r = self
            .http
            .get(self.ops_url("/metrics"))
            .send()
            .await
            .unwrap();
        r.text().await.unwrap()
    }

    /// One series' value (`name{labels}` exactly as rendered); 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let page = self.metrics().await;
        page.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    /// The first retry of `tenant`'s delivery that `got` (its first two requests) shows:
    /// the gap between the requests, and the `Retry-After` seconds the log kept from the
    /// first answer.
    pub async fn first_retry(
        &self,
        tenant: &str,
        got: &[crate::receiver::Received],
    ) -> (Duration, Option<u64>) {
        let gap = got[1].at.duration_since(got[0].at);
        let d = self.db.delivery(tenant, &got[0].delivery_id()).await;
        let d = d.unwrap().expect("the delivery is in the log");
        (gap, d.attempts[0].retry_after_s)
    }

    /// Waits until the log shows delivery `id` of `tenant` with `status`.
    pub async fn wait_for_status(&self, tenant: &str, id: &str, status: &str) {
        wait_until(
            &format!("{id} {status} in the log"),
            Duration::from_secs(30),
            // A read that fails (a fault the test injected) is "not yet".
            || async {
                self.db
                    .delivery(tenant, id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|d| d.status.as_str() == status)
            },
        )
        .await;
    }

    /// Stops every role, then removes the prefix's queues, exchanges and keys.
    pub async fn finish(mut self) {
        self.finished = true;
        for r in self.others.drain(..) {
            r.stop().await;
        }
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        cleanup(&self.config).await;
        // On a Redis Cluster, one command across slots anywhere is a bug in the key map.
        if let Some(cluster) = crate::redis_cluster::shared() {
            assert_eq!(
                hookpost_store::conn::cross_slot_errors(),
                0,
                "a command touched more than one slot (see the error log)"
            );
            assert_eq!(cluster.cross_slot_errors(), 0, "a node answered CROSSSLOT");
        }
    }
}

async fn start(config: &Config, roles: Roles) -> Running {
    // What an operator does once per deployment (`hookpost admin init`).
    hookpost::migrate(config)
        .await
        .expect("the test's database");
    hookpost::init_keyspace(config)
        .await
        .expect("the test's keyspace");
    let http = if roles.ingest {
        Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
    } else {
        None
    };
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = hookpost::start(
        config.clone(),
        roles,
        http,
        Some(ops),
        CancellationToken::new(),
    )
    .await
    .expect("hookpost starts");
    let readiness = running.readiness.clone();
    wait_until("hookpost ready", Duration::from_secs(20), || {
        let r = readiness.clone();
        async move { r.is_ready() }
    })
    .await;
    running
}

/// Removes a prefix's queues, exchanges and keys (for tests that start roles themselves).
pub async fn cleanup_prefix(config: &Config) {
    cleanup(config).await
}

async fn cleanup(config: &Config) {
    // A store of its own: the app's may belong to a runtime that is shutting down.
    if let Ok(store) = hookpost::store(config) {
        let _ = store.delete_everything().await;
    }
    let _ = Topology::for_config(config)
        .tear_down(&amqp_url(), "test-cleanup")
        .await;
    let _ = hookpost_db::migrate::drop_database(&config.database_url).await;
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // A failed test still leaves no litter: stop the roles, then clean up on a
        // runtime of our own (this one may be unwinding).
        for r in self.others.iter().chain(self.running.iter()) {
            r.cancel.cancel();
        }
        let config = self.config.clone();
        let _ = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(cleanup(&config));
            }
        })
        .join();
    }
}
