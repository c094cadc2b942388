//! Event types as data: the deployment's global types (the operator's, stored as tenant
//! `''`) and each tenant's own, each with a description, an optional JSON Schema for
//! `data` and a deprecated flag. A tenant sees the global types and its own; one of its
//! own with a global type's name stands in for that type, for it alone.
//!
//! Intake asks [`KnownTypes`], a per-process cache of each tenant's catalogue with the
//! schemas compiled: read at most once a second, and once more before a type is refused
//! as unknown when the last read is over 100 ms old. A change made through one process
//! holds there at once; on other processes, a new type within 100 ms and any other
//! change within a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hookpost_core::catalogue::DEFAULT_TYPES;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use tracing::warn;

use crate::time::to_ms;
use crate::{Db, DbError, Result};

/// The migration that makes the table; the built-in types are seeded with it.
pub(crate) const SEEDED_IN: i32 = 4;

/// The tenant id under which the global types are stored.
const GLOBAL: &str = "";

/// How many types one scope (a tenant, or the global set) may hold.
pub const MAX_PER_SCOPE: i64 = 1000;

/// Whose types: the deployment's global ones, or one tenant's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Global,
    Tenant(&'a str),
}

impl Scope<'_> {
    fn key(&self) -> &str {
        match self {
            Scope::Global => GLOBAL,
            Scope::Tenant(t) => t,
        }
    }
}

/// A stored type.
#[derive(Debug, Clone, PartialEq)]
pub struct EventType {
    /// `None` for a global type.
    pub tenant: Option<String>,
    pub name: String,
    pub description: String,
    /// A JSON Schema that every event's `data` of this type must match.
    pub schema: Option<Value>,
    pub deprecated: bool,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
}

/// A change to a type: each field given is set (`schema: Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct TypeChange {
    pub description: Option<String>,
    pub schema: Option<Option<Value>>,
    pub deprecated: Option<bool>,
}

const COLUMNS: &str = "tenant_id, name, description, schema, deprecated, created_at, updated_at";

fn from_row(r: &Row) -> EventType {
    let tenant: String = r.get(0);
    EventType {
        tenant: (tenant != GLOBAL).then_some(tenant),
        name: r.get(1),
        description: r.get(2),
        schema: r.get(3),
        deprecated: r.get(4),
        created_at: to_ms(r.get::<_, SystemTime>(5)),
        updated_at: to_ms(r.get::<_, SystemTime>(6)),
    }
}

/// Seeds the built-in help-desk types as global types.
pub(crate) async fn seed(tx: &tokio_postgres::Transaction<'_>) -> Result<()> {
    let (names, descriptions): (Vec<&str>, Vec<&str>) = DEFAULT_TYPES.iter().copied().unzip();
    tx.execute(
        "INSERT INTO event_types (tenant_id, name, description) \
         SELECT '', n, d FROM unnest($1::text[], $2::text[]) AS t(n, d) ON CONFLICT DO NOTHING",
        &[&names, &descriptions],
    )
    .await?;
    Ok(())
}

/// Stores `HOOKPOST_EVENT_TYPES`'s types as global types where none of their names is
/// stored yet: from then on they are data like the rest (the API changes or deletes them).
pub async fn add_configured(db: &Db, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    db.client()
        .await?
        .execute(
            "INSERT INTO event_types (tenant_id, name, description) \
             SELECT '', n, 'Defined by HOOKPOST_EVENT_TYPES' FROM unnest($1::text[]) AS t(n) \
             ON CONFLICT DO NOTHING",
            &[&names],
        )
        .await?;
    Ok(())
}

/// Compiles a schema as given to the API: `Err` says why it is not one.
pub fn compile(schema: &Value) -> std::result::Result<jsonschema::Validator, String> {
    if !schema.is_object() && !schema.is_boolean() {
        return Err("a JSON Schema is an object or a boolean".into());
    }
    jsonschema::validator_for(schema).map_err(|e| e.to_string())
}

impl Db {
    /// The types `scope` sees, by name: the global ones, and for a tenant its own too.
    pub async fn event_types(&self, scope: Scope<'_>) -> Result<Vec<EventType>> {
        let client = self.client().await?;
        let sql = format!("SELECT {COLUMNS} FROM event_types WHERE tenant_id = $1");
        // One tenant a query: the global set and the tenant's own are read apart.
        let (global, own) = match scope {
            Scope::Global => (client.query(&sql, &[&GLOBAL]).await?, Vec::new()),
            Scope::Tenant(t) => {
                let (global, own) = (&[&GLOBAL as &(dyn ToSql + Sync)], &[&t as _]);
                tokio::try_join!(client.query(&sql, global), client.query(&sql, own))?
            }
        };
        // A tenant's own comes after the global one of its name, and stands in for it.
        let by_name: std::collections::BTreeMap<String, EventType> = global
            .iter()
            .chain(&own)
            .map(from_row)
            .map(|t| (t.name.clone(), t))
            .collect();
        Ok(by_name.into_values().collect())
    }

    /// One type as `scope` sees it: a tenant's own, else the global one.
    pub async fn event_type(&self, scope: Scope<'_>, name: &str) -> Result<Option<EventType>> {
        let client = self.client().await?;
        let sql = format!("SELECT {COLUMNS} FROM event_types WHERE tenant_id = $1 AND name = $2");
        if let Scope::Tenant(t) = scope {
            if let Some(row) = client.query_opt(&sql, &[&t, &name]).await? {
                return Ok(Some(from_row(&row)));
            }
        }
        Ok(client
            .query_opt(&sql, &[&GLOBAL, &name])
            .await?
            .as_ref()
            .map(from_row))
    }

    /// Stores a new type in `scope`: `Created::Exists` when the scope has one of that
    /// name, `Created::Full` when it holds [`MAX_PER_SCOPE`] already.
    pub async fn create_event_type(
        &self,
        scope: Scope<'_>,
        name: &str,
        description: &str,
        schema: Option<&Value>,
        deprecated: bool,
    ) -> Result<Created> {
        let client = self.client().await?;
        let held: i64 = client
            .query_one(
                "SELECT count(*) FROM event_types WHERE tenant_id = $1",
                &[&scope.key()],
            )
            .await?
            .get(0);
        if held >= MAX_PER_SCOPE {
            return Ok(Created::Full);
        }
        let row = client
            .query_opt(
                &format!(
                    "INSERT INTO event_types (tenant_id, name, description, schema, deprecated) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
                ),
                &[&scope.key(), &name, &description, &schema, &deprecated],
            )
            .await?;
        Ok(row.map_or(Created::Exists, |r| Created::Done(from_row(&r))))
    }

    /// Changes a type of `scope` itself (a tenant cannot change a global type this way);
    /// `None` when it has none of that name.
    pub async fn update_event_type(
        &self,
        scope: Scope<'_>,
        name: &str,
        change: &TypeChange,
    ) -> Result<Option<EventType>> {
        let set_schema = change.schema.is_some();
        let schema = change.schema.clone().flatten();
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "UPDATE event_types SET description = coalesce($3, description), \
                     schema = CASE WHEN $4 THEN $5 ELSE schema END, \
                     deprecated = coalesce($6, deprecated), updated_at = now() \
                     WHERE tenant_id = $1 AND name = $2 RETURNING {COLUMNS}"
                ),
                &[
                    &scope.key(),
                    &name,
                    &change.description,
                    &set_schema,
                    &schema,
                    &change.deprecated,
                ],
            )
            .await?;
        Ok(row.as_ref().map(from_row))
    }

    /// Deletes a type of `scope` itself; `false` when it has none of that name.
    pub async fn delete_event_type(&self, scope: Scope<'_>, name: &str) -> Result<bool> {
        Ok(self
            .client()
            .await?
            .execute(
                "DELETE FROM event_types WHERE tenant_id = $1 AND name = $2",
                &[&scope.key(), &name],
            )
            .await?
            == 1)
    }
}

/// What [`Db::create_event_type`] did.
#[derive(Debug)]
pub enum Created {
    Done(EventType),
    Exists,
    Full,
}

/// Why an event's type refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a type the tenant knows.
    Unknown,
    /// `data` does not match the type's schema: where (a JSON Pointer into `data`) and why.
    Invalid { path: String, message: String },
}

impl Refusal {
    /// The API's error code and the dead letter's reason.
    pub fn reason(&self) -> hookpost_core::labels::DeadLetterReason {
        use hookpost_core::labels::DeadLetterReason;
        match self {
            Refusal::Unknown => DeadLetterReason::UnknownEventType,
            Refusal::Invalid { .. } => DeadLetterReason::InvalidData,
        }
    }

    /// Why, for the API's error and the dead letter alike.
    pub fn message(&self, tenant: &str, kind: &str) -> String {
        match self {
            Refusal::Unknown => format!(
                "`{kind}` is not an event type of tenant `{tenant}` (see GET /v1/event-types)"
            ),
            Refusal::Invalid { path, message } => {
                format!("`data{path}` does not match the schema of `{kind}`: {message}")
            }
        }
    }
}

/// How long a tenant's catalogue is used before it is read again: a schema changed or a
/// type deleted holds on other processes at most this much later.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// A type the cached catalogue lacks makes it read again when it is older than this.
const RECHECK_AFTER: Duration = Duration::from_millis(100);

/// A type as intake checks it.
struct Compiled {
    /// Which stored row this came from: a reread reuses what did not change.
    global: bool,
    updated_at: i64,
    schema: Option<jsonschema::Validator>,
}

/// A tenant's catalogue as intake checks it.
pub struct Known {
    types: HashMap<String, Arc<Compiled>>,
    accept_unknown: bool,
}

impl Known {
    /// Whether an event of type `kind` with `data` may be accepted.
    pub fn check(&self, kind: &str, data: &RawValue) -> std::result::Result<(), Refusal> {
        let Some(compiled) = self.types.get(kind) else {
            return match self.accept_unknown {
                true => Ok(()),
                false => Err(Refusal::Unknown),
            };
        };
        let Some(schema) = &compiled.schema else {
            return Ok(());
        };
        let data: Value = serde_json::from_str(data.get()).map_err(|e| Refusal::Invalid {
            path: String::new(),
            message: e.to_string(),
        })?;
        schema.validate(&data).map_err(|e| Refusal::Invalid {
            path: e.instance_path().to_string(),
            message: e.to_string(),
        })
    }

    /// The names the tenant knows, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.types.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Whether the tenant knows `kind` (or any type is accepted).
    pub fn contains(&self, kind: &str) -> bool {
        self.accept_unknown || self.types.contains_key(kind)
    }
}

/// Each tenant's catalogue as last read, and the gate its reads pass one at a time.
#[derive(Default)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<String, Entry>>,
    reading: Mutex<HashMap<String, Arc<Gate>>>,
}

/// A tenant's reads, one at a time; when the last one failed, when and why.
type Gate = tokio::sync::Mutex<Option<(Instant, String)>>;

impl Cache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().expect("not poisoned")
    }

    /// The gate `tenant`'s reads pass: kept once made (one small lock a tenant, as the
    /// catalogue itself is kept).
    fn gate(&self, tenant: &str) -> Arc<Gate> {
        let mut gates = self.reading.lock().expect("not poisoned");
        match gates.get(tenant) {
            Some(g) => g.clone(),
            None => gates.entry(tenant.to_owned()).or_default().clone(),
        }
    }
}

pub(crate) struct Entry {
    /// When its read began.
    at: Instant,
    known: Arc<Known>,
    /// Since when a caller has been reading it again: the others go on with this copy
    /// meanwhile, so that a busy tenant's requests do not all queue for the database
    /// when it turns stale. A reader that never came back (its request was dropped) is
    /// taken over after [`FRESH_FOR`].
    refreshing: Option<Instant>,
}

/// Each tenant's catalogue, read from PostgreSQL and kept for [`FRESH_FOR`], in the
/// cache its [`Db`] handle shares with its clones.
pub struct KnownTypes {
    db: Db,
    accept_unknown: bool,
    read: Arc<Cache>,
}

impl KnownTypes {
    pub fn new(db: Db, config: &hookpost_core::Config) -> KnownTypes {
        KnownTypes {
            read: db.types.clone(),
            db,
            accept_unknown: config.accept_unknown_event_types,
        }
    }

    /// Whether `tenant` may send an event of type `kind` with `data`: the outer error is
    /// PostgreSQL's, the inner one the refusal.
    pub async fn check(
        &self,
        tenant: &str,
        kind: &str,
        data: &RawValue,
    ) -> Result<std::result::Result<(), Refusal>> {
        let (age, known) = self.of(tenant).await?;
        match known.check(kind, data) {
            Err(Refusal::Unknown) if age > RECHECK_AFTER => {
                Ok(self.reread(tenant).await?.check(kind, data))
            }
            checked => Ok(checked),
        }
    }

    /// The first of `kinds` that `tenant` does not know, with the catalogue it was looked
    /// up in; `None` when it knows them all.
    pub async fn unknown<'k>(
        &self,
        tenant: &str,
        kinds: &'k [String],
    ) -> Result<Option<(&'k str, Arc<Known>)>> {
        let first = |known: &Known| {
            kinds
                .iter()
                .find(|k| *k != "*" && !known.contains(k))
                .map(String::as_str)
        };
        let (age, mut known) = self.of(tenant).await?;
        if first(&known).is_some() && age > RECHECK_AFTER {
            known = self.reread(tenant).await?;
        }
        Ok(first(&known).map(|kind| (kind, known)))
    }

    /// Drops what is cached for `scope` (every tenant's, for the global set): this
    /// process's next check reads it again.
    pub fn forget(&self, scope: Scope<'_>) {
        let mut read = self.read.entries();
        match scope {
            Scope::Global => read.clear(),
            Scope::Tenant(t) => {
                read.remove(t);
            }
        }
    }

    async fn of(&self, tenant: &str) -> Result<(Duration, Arc<Known>)> {
        let stale = match self.read.entries().get_mut(tenant) {
            Some(e)
                if e.at.elapsed() < FRESH_FOR
                    || e.refreshing
                        .is_some_and(|since| since.elapsed() < FRESH_FOR) =>
            {
                return Ok((e.at.elapsed(), e.known.clone()));
            }
            Some(e) => {
                e.refreshing = Some(Instant::now());
                Some((e.at.elapsed(), e.known.clone()))
            }
            None => None,
        };
        match (self.reread(tenant).await, stale) {
            (Ok(known), _) => Ok((Duration::ZERO, known)),
            (Err(e), None) => Err(e),
            // The database is out of reach: the last copy serves, and the next caller
            // tries again.
            (Err(e), Some(last)) => {
                warn!(tenant, error = %e, "could not read the event types again; the last copy serves");
                if let Some(e) = self.read.entries().get_mut(tenant) {
                    e.refreshing = None;
                }
                Ok(last)
            }
        }
    }

    /// Reads `tenant`'s catalogue again, one caller at a time. A caller that waited for
    /// another's read takes it when that read began after it asked, or when it had no
    /// copy at all: so however many ask at once, PostgreSQL is read once or twice, not
    /// once each (as it was, for every message of a tenant this process had not seen
    /// yet: a prefetch's worth of queries after a restart). Such a read that failed
    /// fails its waiters too, so that an outage is not waited out once per caller.
    async fn reread(&self, tenant: &str) -> Result<Arc<Known>> {
        // Boxed, as rare (once a second a tenant): every event's check would otherwise
        // make room for a read in its state.
        Box::pin(self.read_again(tenant)).await
    }

    async fn read_again(&self, tenant: &str) -> Result<Arc<Known>> {
        let asked = Instant::now();
        let had = self.read.entries().contains_key(tenant);
        let gate = self.read.gate(tenant);
        let mut failed = gate.lock().await;
        if let Some((at, why)) = &*failed {
            if *at >= asked {
                return Err(DbError::Shared(why.clone()));
            }
        }
        let before = self
            .read
            .entries()
            .get(tenant)
            .map(|e| (e.at, e.known.clone()));
        if let Some((at, known)) = &before {
            if !had || *at >= asked {
                return Ok(known.clone());
            }
        }
        let before = before.map(|(_, known)| known);
        // What it reads is as of now: a type stored later is not in it.
        let began = Instant::now();
        let stored = match self.db.event_types(Scope::Tenant(tenant)).await {
            Ok(stored) => stored,
            Err(e) => {
                *failed = Some((Instant::now(), e.to_string()));
                return Err(e);
            }
        };
        let mut types = HashMap::with_capacity(stored.len());
        for t in stored {
            let global = t.tenant.is_none();
            let same = before
                .as_ref()
                .and_then(|k| k.types.get(&t.name))
                .filter(|c| c.global == global && c.updated_at == t.updated_at)
                .cloned();
            let compiled = same.unwrap_or_else(|| Arc::new(Compiled::of(tenant, &t)));
            types.insert(t.name, compiled);
        }
        let known = Arc::new(Known {
            types,
            accept_unknown: self.accept_unknown,
        });
        let entry = Entry {
            at: began,
            known: known.clone(),
            refreshing: None,
        };
        self.read.entries().insert(tenant.to_owned(), entry);
        Ok(known)
    }
}

impl Compiled {
    fn of(tenant: &str, t: &EventType) -> Compiled {
        // Checked when it was stored; one that no longer compiles (a newer validator)
        // checks nothing rather than refusing every event of its type.
        let schema = t.schema.as_ref().and_then(|s| {
            compile(s)
                .inspect_err(|e| warn!(tenant, r#type = %t.name, error = %e, "a stored event type's schema does not compile; its events go unchecked"))
                .ok()
        });
        Compiled {
            global: t.tenant.is_none(),
            updated_at: t.updated_at,
            schema,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn known(types: Vec<(&str, Option<Value>)>, accept_unknown: bool) -> Known {
        let types = types
            .into_iter()
            .map(|(name, schema)| {
                let schema = schema.map(|s| compile(&s).unwrap());
                let c = Compiled {
                    global: false,
                    updated_at: 0,
                    schema,
                };
                (name.to_owned(), Arc::new(c))
            })
            .collect();
        Known {
            types,
            accept_unknown,
        }
    }

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    #[tokio::test]
    async fn a_tenants_catalogue_is_read_once_however_many_of_its_events_ask_at_once() {
        let histogram = |name: &str| {
            prometheus::Histogram::with_opts(prometheus::HistogramOpts::new(name, name)).unwrap()
        };
        // Every read takes a connection of the pool, and each taking is counted.
        let taken = histogram("pool_wait");
        let metrics = crate::DbMetrics {
            batch_size: histogram("batch_size"),
            commit_seconds: histogram("commit"),
            pool_wait_seconds: taken.clone(),
            groups_again: prometheus::IntCounter::new("again", "again").unwrap(),
        };
        let (db, _scratch) = crate::scratch::for_test("types", |_| {}, Some(metrics)).await;
        let config = hookpost_core::Config::default();
        let types = Arc::new(KnownTypes::new(db, &config));
        let all_at_once = |kind: &'static str| {
            let mut checks = tokio::task::JoinSet::new();
            for _ in 0..64 {
                let types = types.clone();
                checks.spawn(async move {
                    let data = raw(json!({}));
                    types.check("acme", kind, &data).await.unwrap()
                });
            }
            checks.join_all()
        };
        let known = DEFAULT_TYPES[0].0;
        let first = all_at_once(known).await;
        assert!(first.iter().all(|r| r.is_ok()), "{first:?}");
        assert_eq!(taken.get_sample_count(), 1, "the first sight reads it once");

        // A type it lacks makes it read again (a type may have just been stored): once
        // for those that asked before the first of these reads began, and at most once
        // more for the others.
        tokio::time::sleep(RECHECK_AFTER).await;
        let unknown = all_at_once("no.such.type").await;
        assert!(unknown.iter().all(|r| matches!(r, Err(Refusal::Unknown))));
        let reads = taken.get_sample_count() - 1;
        assert!((1..=2).contains(&reads), "{reads} reads");
    }

    #[tokio::test]
    async fn a_failed_read_fails_those_that_waited_for_it_without_reading_again() {
        // A server that takes connections and closes them: every read fails.
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("postgres://postgres@{}/none", server.local_addr().unwrap());
        let tried = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counting = tried.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = server.accept().await {
                counting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                drop(conn);
            }
        });
        let config = hookpost_core::Config::default();
        let options = crate::DbOptions {
            url,
            ..crate::DbOptions::of(&config)
        };
        let db = Db::connect(&options, None).unwrap();
        let types = Arc::new(KnownTypes::new(db, &config));
        let mut checks = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let types = types.clone();
            checks.spawn(async move { types.check("acme", "x", &raw(json!({}))).await.is_err() });
        }
        assert!(checks.join_all().await.into_iter().all(|failed| failed));
        assert_eq!(tried.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[test]
    fn a_schema_refuses_data_naming_the_path_and_an_unknown_type_is_refused_unless_allowed() {
        let schema = json!({
            "type": "object",
            "required": ["amount"],
            "properties": {"amount": {"type": "integer", "minimum": 0},
                           "lines": {"type": "array", "items": {"type": "string"}}}
        });
        let k = known(
            vec![("invoice.paid", Some(schema)), ("ticket.created", None)],
            false,
        );
        assert_eq!(k.check("invoice.paid", &raw(json!({"amount": 5}))), Ok(()));
        assert_eq!(k.check("ticket.created", &raw(json!([1, 2]))), Ok(()));
        let Err(Refusal::Invalid { path, message }) = k.check(
            "invoice.paid",
            &raw(json!({"amount": 1, "lines": ["a", 2]})),
        ) else {
            panic!("a number among strings passed")
        };
        assert_eq!(path, "/lines/1");
        assert!(message.contains("string"), "{message}");
        assert!(matches!(
            k.check("invoice.paid", &raw(json!({}))),
            Err(Refusal::Invalid { .. })
        ));
        assert_eq!(k.check("made.up", &raw(json!({}))), Err(Refusal::Unknown));
        assert!(!k.contains("made.up") && k.contains("ticket.created"));
        let open = known(vec![], true);
        assert_eq!(open.check("made.up", &raw(json!({}))), Ok(()));
    }

    #[test]
    fn only_a_schema_that_compiles_and_resolves_nothing_outside_is_taken() {
        assert!(compile(&json!({"type": "object"})).is_ok());
        assert!(compile(&json!(true)).is_ok());
        assert!(compile(&json!("object")).is_err());
        assert!(compile(&json!({"type": "no-such-type"})).is_err());
        assert!(compile(&json!({"$ref": "https://example.com/s.json"})).is_err());
        assert!(compile(&json!({"$ref": "file:///etc/passwd"})).is_err());
    }
}
