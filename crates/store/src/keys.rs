//! Every Redis key hookpost uses, in one place.
//!
//! Each key carries a hash tag (`{…}`), so that whatever one Lua script or transaction
//! touches lives in one Redis Cluster slot:
//!
//! | key | type | what |
//! | --- | --- | --- |
//! | `P:{meta}:marker` | string | keyspace marker: hookpost's data is here |
//! | `P:{meta}:tenants` | set | tenant ids |
//! | `P:{meta}:queue_shards` | string | the most event queue shards this prefix has had |
//! | `P:{auth}:key:<sha256>` | string | API key hash → `tenant key_id` |
//! | `P:{auth}:fail:<client>` | string | failed authentications of a client address (or IPv6 /64) in the current window (expires) |
//! | `P:{t.T}:tenant` | string | tenant record (JSON) |
//! | `P:{t.T}:keys` | hash | key id → key info (JSON, no key) |
//! | `P:{t.T}:hooks` | hash | hook id → hook (JSON) |
//! | `P:{t.T}:hooks:ver` | string | bumped on every hook change (worker caches) |
//! | `P:{t.T}:evs:<id>` | string | event state: `p:<received_at>:<lease end>` while processed (the end on Redis's clock, 0 when let go), then `done` (or gone, its mark in `done:`) |
//! | `P:{t.T}:done:<period>:<n>` | set | fingerprints of events processed in a retention period, set `n` of the period's count (`done_marks`) |
//! | `P:{t.T}:dsets:<period>` | string | how many sets the period's done marks are spread over (a power of two, from the marks of the period before) |
//! | `P:{t.T}:evl:<id>` | string | event lease as versions before wrote it, beside a state `p:<received_at>`: read only, so that an event an older worker holds is not taken over (expires) |
//! | `P:{t.T}:evt:<id>` | hash | event kept for what waits: type, data, received_at, occurred_at, traceparent |
//! | `P:{t.T}:dlv:<id>` | hash | delivery: status, attempt count, hook snapshot, `blocking` |
//! | `P:{t.T}:evt:<id>:dlvs` | set | the deliveries an event caused |
//! | `P:{t.T}:failing` | hash | hook id → since when all its attempts failed (ms) |
//! | `P:{t.T}:log` | sorted set | delivery ids by creation time |
//! | `P:{t.T}:rate:<hook>` | hash | the hook's rate limit: next conformant time, line |
//! | `P:{t.T}:inflight:<hook>` | sorted set | the hook's requests in flight by lease end |
//! | `P:{t.T}:testrate` | hash | the tenant's test-send rate limit: next conformant time |
//! | `P:{t.T}:intake`, `P:{t.T}:intake:own` | hash, hash | the tenant's intake limit state (as a hook's rate); its own limit (per_second, burst) when set |
//! | `P:{t.T}:lane` | hash | the tenant's fair lane (GCRA over deliveries): next conformant time |
//! | `P:{t.T}:ordq:<hook>:<key>` | sorted set | an ordering key's deliveries (`<dlv>:<evt>`) by acceptance |
//! | `P:{t.T}:ords:<hook>:<key>` | hash | an ordering key's state: seq, cur (holder), owner, lease, blocked |
//! | `P:{t.T}:bl:<hook>` | list | a slow hook's backlog: `<event id> <attempt>`, oldest first |
//! | `P:{t.T}:bls:<hook>` | hash | its state: armed (a drain is on its way), disarms (count) |
//! | `P:{t.T}:bll:<hook>` | string | the token of the drain working through it (expires) |
//! | `P:{t.T}:audit`, `P:{audit}:entries` | sorted set | the audit log of before (now in PostgreSQL): copied over by `hookpost admin migrate`, then no longer written |
//! | `P:{s.H}:session` | string | a console session (JSON) under the SHA-256 `H` of its id, expiring when idle |
//! | `P:{r.N}:due` | sorted set | retry shard N: task JSON by due time (ms) |
//! | `P:{r.N}:claimed` | sorted set | retry shard N: claimed tasks by lease expiry |
//!
//! Event ids are the producers' own and may hold `:`; they go into keys through
//! [`key_part`]. Every other id in a key is generated or checked (tenants) and holds none.
//!
//! A tenant's data shares one slot (`{t.T}`); the retry set is spread over N shards; each
//! console session is a slot of its own (nothing touches two at once).

#[derive(Debug, Clone)]
pub struct Keys {
    p: String,
}

/// Keys are joined with `concat` (one allocation of the right size): a delivery builds
/// a dozen, and `format!` costs several times as much.
impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys {
            p: prefix.to_owned(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.p
    }

    pub fn marker(&self) -> String {
        [&self.p, ":{meta}:marker"].concat()
    }
    /// The run id of the Redis server the keyspace was last made whole on.
    pub fn server_seen(&self) -> String {
        [&self.p, ":{meta}:server"].concat()
    }
    pub fn rebuild_lock(&self) -> String {
        [&self.p, ":{meta}:rebuilding"].concat()
    }
    pub fn tenants(&self) -> String {
        [&self.p, ":{meta}:tenants"].concat()
    }
    pub fn queue_shards(&self) -> String {
        [&self.p, ":{meta}:queue_shards"].concat()
    }
    pub fn api_key(&self, key_hash: &str) -> String {
        [&self.p, ":{auth}:key:", key_hash].concat()
    }
    pub fn auth_failures(&self, client: &str) -> String {
        [&self.p, ":{auth}:fail:", client].concat()
    }
    pub fn tenant(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:tenant"].concat()
    }
    pub fn tenant_keys(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:keys"].concat()
    }
    pub fn hooks(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:hooks"].concat()
    }
    pub fn hooks_version(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:hooks:ver"].concat()
    }
    /// The event as kept for what waits for it (its payload and metadata).
    pub fn event(&self, t: &str, event_id: &str) -> String {
        [&self.p, ":{t.", t, "}:evt:", &key_part(event_id)].concat()
    }
    /// The event's state: being processed (since when it was received), or done.
    pub fn event_state(&self, t: &str, event_id: &str) -> String {
        [&self.p, ":{t.", t, "}:evs:", &key_part(event_id)].concat()
    }
    /// One of the sets of the done marks written in a retention period
    /// ([`crate::done_marks`]).
    pub fn done_marks(&self, t: &str, period: u64, set: u64) -> String {
        let mut key = [&self.p, ":{t.", t, "}:done:"].concat();
        push_number(&mut key, period);
        key.push(':');
        push_number(&mut key, set);
        key
    }
    /// How many sets a retention period's done marks are spread over
    /// ([`crate::done_marks`]).
    pub fn done_sets(&self, t: &str, period: u64) -> String {
        let mut key = [&self.p, ":{t.", t, "}:dsets:"].concat();
        push_number(&mut key, period);
        key
    }
    /// The lease of the event's holder as versions before kept it: a key of its own,
    /// whose expiry was the lease's end. Now the lease is in the event's state; this key
    /// is only read, so that an event an older worker holds is not taken over.
    pub fn event_lease(&self, t: &str, event_id: &str) -> String {
        [&self.p, ":{t.", t, "}:evl:", &key_part(event_id)].concat()
    }
    pub fn delivery(&self, t: &str, delivery_id: &str) -> String {
        [&self.p, ":{t.", t, "}:dlv:", delivery_id].concat()
    }
    /// The deliveries an event caused.
    pub fn event_deliveries(&self, t: &str, event_id: &str) -> String {
        [&self.p, ":{t.", t, "}:evt:", &key_part(event_id), ":dlvs"].concat()
    }
    /// Since when every attempt to a hook has failed (ms), absent after a success.
    pub fn hook_failing(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:failing"].concat()
    }
    /// The tenant's test-send rate limit (shared by every ingest).
    pub fn test_send_rate(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:testrate"].concat()
    }
    /// A key of one hook's own state, `what` naming which.
    fn per_hook(&self, t: &str, what: &str, hook_id: &str) -> String {
        let mut key = String::new();
        self.per_hook_into(&mut key, t, what, hook_id);
        key
    }
    /// A per-hook key, written over `key`: a call naming many hooks reuses one buffer.
    fn per_hook_into(&self, key: &mut String, t: &str, what: &str, hook_id: &str) {
        let parts = [&self.p, ":{t.", t, "}:", what, ":", hook_id];
        key.clear();
        key.reserve(parts.iter().map(|p| p.len()).sum());
        for part in parts {
            key.push_str(part);
        }
    }
    pub fn hook_rate(&self, t: &str, hook_id: &str) -> String {
        self.per_hook(t, "rate", hook_id)
    }
    pub fn hook_in_flight(&self, t: &str, hook_id: &str) -> String {
        self.per_hook(t, "inflight", hook_id)
    }
    /// The tenant's intake limit state (GCRA, as [`Keys::hook_rate`]).
    pub fn intake_rate(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:intake"].concat()
    }
    /// The tenant's own intake limit, when an operator set one.
    pub fn intake_own(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:intake:own"].concat()
    }
    /// The tenant's fair lane state (GCRA over deliveries, beside the intake limit).
    pub fn fair_lane(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:lane"].concat()
    }
    pub fn order_queue(&self, t: &str, hook_id: &str, key_id: &str) -> String {
        [&self.p, ":{t.", t, "}:ordq:", hook_id, ":", key_id].concat()
    }
    pub fn order_state(&self, t: &str, hook_id: &str, key_id: &str) -> String {
        [&self.p, ":{t.", t, "}:ords:", hook_id, ":", key_id].concat()
    }
    pub fn backlog(&self, t: &str, hook_id: &str) -> String {
        self.per_hook(t, "bl", hook_id)
    }
    pub fn backlog_state(&self, t: &str, hook_id: &str) -> String {
        self.per_hook(t, "bls", hook_id)
    }
    /// [`Keys::backlog`] and [`Keys::backlog_state`], written over `key`.
    pub fn backlog_into(&self, key: &mut String, t: &str, hook_id: &str) {
        self.per_hook_into(key, t, "bl", hook_id)
    }
    pub fn backlog_state_into(&self, key: &mut String, t: &str, hook_id: &str) {
        self.per_hook_into(key, t, "bls", hook_id)
    }
    pub fn backlog_lock(&self, t: &str, hook_id: &str) -> String {
        self.per_hook(t, "bll", hook_id)
    }
    /// What every key of a tenant starts with (scripts build same-slot keys from it).
    pub fn tenant_prefix(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:"].concat()
    }
    pub fn log(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:log"].concat()
    }
    /// A tenant's audit log.
    pub fn audit(&self, t: &str) -> String {
        [&self.p, ":{t.", t, "}:audit"].concat()
    }
    /// The audit log of every tenant (and of actions on none).
    pub fn audit_all(&self) -> String {
        [&self.p, ":{audit}:entries"].concat()
    }
    /// An unused console portal link, by the hex SHA-256 of its token.
    pub fn portal_link(&self, token_hash: &str) -> String {
        [&self.p, ":{l.", token_hash, "}:portal"].concat()
    }
    /// A console session, by the hex SHA-256 of its id.
    pub fn session(&self, id_hash: &str) -> String {
        [&self.p, ":{s.", id_hash, "}:session"].concat()
    }
    pub fn retries_due(&self, shard: u32) -> String {
        format!("{}:{{r.{shard}}}:due", self.p)
    }
    pub fn retries_claimed(&self, shard: u32) -> String {
        format!("{}:{{r.{shard}}}:claimed", self.p)
    }
    /// Pattern matching every key of this prefix (teardown).
    pub fn all_pattern(&self) -> String {
        [&self.p, ":*"].concat()
    }
}

/// What an event id's keys may add after it (`evt:<id>:dlvs`).
const EVENT_KEY_SUFFIXES: [&str; 1] = [":dlvs"];

/// A producer-chosen event id as it appears inside a key. Event ids may hold `:`, the
/// keys' separator, so an id ending in a suffix of another event's key (`x:dlvs`) would
/// name that key; such an id has its `:` written `%3A`. Event ids never hold `%`, so no
/// two ids share a key, and every other id (every generated one, and producers' ids such
/// as `order:42`) keeps the key it always had: nothing stored moves on an upgrade.
/// `order_common.lua` encodes the same way.
pub fn key_part(event_id: &str) -> std::borrow::Cow<'_, str> {
    if EVENT_KEY_SUFFIXES.iter().any(|s| event_id.ends_with(s)) {
        event_id.replace(':', "%3A").into()
    } else {
        event_id.into()
    }
}

/// Appends `n` in decimal, without `format!` (see [`Keys`]).
fn push_number(key: &mut String, n: u64) {
    key.push_str(itoa::Buffer::new().format(n));
}

/// The retry shard of a delivery: FNV-1a of its id, so every task of one delivery lands
/// in the same shard.
pub fn shard_of(id: &str, shards: u32) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for b in id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % shards.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_done_mark_sets_key_spells_its_period_and_number() {
        let k = Keys::new("P");
        assert_eq!(k.done_marks("acme", 0, 0), "P:{t.acme}:done:0:0");
        assert_eq!(
            k.done_marks("acme", u64::MAX, 16_383),
            "P:{t.acme}:done:18446744073709551615:16383"
        );
        assert_eq!(k.done_sets("acme", 2_900), "P:{t.acme}:dsets:2900");
    }

    /// The hash tag of a key: what Redis Cluster hashes.
    fn tag(key: &str) -> &str {
        let open = key.find('{').unwrap();
        let close = open + key[open..].find('}').unwrap();
        &key[open + 1..close]
    }

    #[test]
    fn a_tenants_keys_share_one_slot() {
        let k = Keys::new("hp");
        let t = "acme";
        let all = [
            k.tenant(t),
            k.tenant_keys(t),
            k.hooks(t),
            k.hooks_version(t),
            k.event(t, "e1"),
            k.event_state(t, "e1"),
            k.event_lease(t, "e1"),
            k.done_marks(t, 2_900, 16_383),
            k.done_sets(t, 2_900),
            k.delivery(t, "d1"),
            k.event_deliveries(t, "e1"),
            k.hook_failing(t),
            k.log(t),
            k.backlog(t, "h1"),
            k.backlog_state(t, "h1"),
            k.backlog_lock(t, "h1"),
            k.audit(t),
            k.intake_rate(t),
            k.intake_own(t),
            k.fair_lane(t),
        ];
        for key in &all {
            assert_eq!(tag(key), "t.acme", "{key}");
            assert!(key.starts_with("hp:"));
        }
        assert_eq!(tag(&k.retries_due(3)), tag(&k.retries_claimed(3)));
        assert_eq!(tag(&k.session("ab12")), "s.ab12");
    }

    #[test]
    fn event_ids_with_colons_cannot_name_another_events_keys() {
        let k = Keys::new("hp");
        // Before encoding, event `e1:dlvs` was the set of event `e1`'s deliveries.
        assert_ne!(k.event("acme", "e1:dlvs"), k.event_deliveries("acme", "e1"));
        assert_eq!(k.event("acme", "e1:dlvs"), "hp:{t.acme}:evt:e1%3Adlvs");
        // Every other id keeps its keys.
        assert_eq!(k.event("acme", "order:42"), "hp:{t.acme}:evt:order:42");
        assert_eq!(k.event("acme", "evt_1.x-y"), "hp:{t.acme}:evt:evt_1.x-y");
        let ids = [
            "a:b",
            "a:b:dlvs",
            "a",
            "a:",
            ":a",
            "a::b",
            "a:dlvs",
            "dlvs",
            ":dlvs",
            "a:dlvs:dlvs",
        ];
        let keys: std::collections::HashSet<String> = ids
            .iter()
            .flat_map(|id| [k.event("t", id), k.event_deliveries("t", id)])
            .collect();
        assert_eq!(keys.len(), ids.len() * 2);
    }

    #[test]
    fn shards_spread_and_stay_in_range() {
        let mut seen = [0u32; 4];
        for i in 0..1000 {
            seen[shard_of(&format!("dlv_{i}"), 4) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
        assert_eq!(shard_of("x", 1), 0);
    }
}
