//! The marks that tell a duplicate of a processed event apart, kept small.
//!
//! An event whose deliveries all ended at its first processing (the usual case) leaves
//! Redis nothing but its mark, for the retention: a key of its own cost some 200 bytes
//! an event. Marks are instead 64-bit fingerprints of the event id, spread over sets
//! per tenant and retention period. A set of up to 512 integers is an *intset* in Redis
//! (`set-max-intset-entries`): 8 bytes a member. A set is a key, about 100 bytes more,
//! and a bigger set takes Redis's ordinary encoding, some 75 bytes a member: so how
//! many sets a tenant's period takes ([`sets_for`]) follows the marks its previous
//! period took, about 128 a set, between [`MIN_SETS`] and [`MAX_SETS`]. A tenant's
//! first period (and a period the tenant before had none of) takes [`SETS`], as every
//! period did before the counts followed the marks. The count of a period is a key of
//! its own ([`crate::keys::Keys::done_sets`]), written by the period's first claim
//! (`SET NX`: every process takes the same) and kept as long as its marks.
//!
//! The claim writes the mark (`SADD`, whose answer says whether it was there), so that
//! the record of an event delivered at once has only its state to remove. A mark goes
//! into the period of its time of writing and expires at the end of the next one, so a
//! claim looks in the current period and the one before: every mark is found for at
//! least the retention. A fingerprint found with no state is confirmed against the log
//! before an event is dropped (see the worker's claim), so another claimer's mark or a
//! collision (one in 2^70 or fewer for a given pair of ids, the member's 64 bits and
//! the set's) never loses an event. A set's expiry is written with the first mark each process puts in
//! it ([`Expiries`]), not with every mark.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Store;

/// Sets of a tenant's period when its period before took none: every period's count
/// before the counts followed the marks (a power of two, as every count is).
pub const SETS: u64 = 16_384;
/// The fewest sets of a tenant's period: room for 32,768 marks in intsets, so that a
/// small tenant that grows does not leave them at once.
pub const MIN_SETS: u64 = 64;
/// The most sets of a tenant's period: intsets for about 2 billion marks.
pub const MAX_SETS: u64 = 1 << 22;
/// The marks a set is sized for, a quarter of an intset's 512: a tenant's events may
/// grow fourfold from one period to the next before its sets overflow.
const MARKS_A_SET: u64 = 128;

/// The sets of a tenant's period whose period before took `marks` (an estimate).
pub fn sets_for(marks: u64) -> u64 {
    marks
        .div_ceil(MARKS_A_SET)
        .next_power_of_two()
        .clamp(MIN_SETS, MAX_SETS)
}

/// What a mark is: the hash that picks its set, and the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub spread: u64,
    pub member: i64,
}

impl Fingerprint {
    /// Its set in a period of `sets` sets (a power of two).
    pub fn set(&self, sets: u64) -> u64 {
        self.spread & (sets - 1)
    }
}

/// The fingerprint of an event id: two independent 64-bit hashes, one for the member
/// and one for the set. Stable across versions and processes (no seeded hasher), since
/// marks outlive them.
pub fn fingerprint(event_id: &str) -> Fingerprint {
    let member = mix(fnv1a(event_id.as_bytes(), 0xcbf2_9ce4_8422_2325));
    Fingerprint {
        spread: mix(fnv1a(event_id.as_bytes(), 0x6c62_272e_07bb_0142)),
        member: member as i64,
    }
}

/// The retention period `now_secs` falls in.
pub fn period(now_secs: u64, retention_secs: u64) -> u64 {
    now_secs / retention_secs.max(1)
}

/// When the marks written in `period` expire (unix seconds): at the end of the next
/// period, so each is kept for at least the retention.
pub fn expires_at(period: u64, retention_secs: u64) -> u64 {
    (period + 2) * retention_secs.max(1)
}

/// An event's mark as a claim sees it now.
pub(crate) struct Mark {
    pub print: Fingerprint,
    /// The current period: where a claim writes.
    pub period: u64,
    /// When the current period's marks expire (unix seconds).
    pub expires_at: u64,
    /// The tenant's current period, as this process's tables name it.
    pub at: TenantPeriod,
    /// The set counts of the current period and the one before.
    pub sets: Sets,
    /// Whether this claim wrote the current period's count (undone with the claim of
    /// an unknown tenant).
    pub wrote_count: bool,
}

/// The set counts of a tenant's current period and the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sets {
    pub now: u64,
    pub before: u64,
}

/// A tenant's period, by a 64-bit hash of both: what [`SetCounts`] and [`Expiries`]
/// remember a period's sets by (two of one hash would share them, one chance in 2^64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TenantPeriod(u64);

impl TenantPeriod {
    pub fn of(tenant: &str, period: u64) -> TenantPeriod {
        let h = fnv1a(tenant.as_bytes(), 0xcbf2_9ce4_8422_2325);
        TenantPeriod(mix(fnv1a(&period.to_le_bytes(), h)))
    }
}

impl Store {
    /// `event_id`'s mark among `tenant`'s now.
    pub(crate) async fn done_mark(&self, tenant: &str, event_id: &str) -> crate::Result<Mark> {
        let now = hookpost_core::now_ms().max(0) as u64 / 1000;
        let period = period(now, self.retention_secs);
        let expires_at = expires_at(period, self.retention_secs);
        let at = TenantPeriod::of(tenant, period);
        let (sets, wrote_count) = self.done_sets(tenant, period, at, expires_at).await?;
        Ok(Mark {
            print: fingerprint(event_id),
            period,
            expires_at,
            at,
            sets,
            wrote_count,
        })
    }

    /// The set of `tenant` holding `mark` in the current period (`back` 0) or the one
    /// before (1).
    pub(crate) fn done_set(&self, tenant: &str, mark: &Mark, back: u64) -> String {
        let (period, sets) = match back {
            0 => (mark.period, mark.sets.now),
            _ => (mark.period.saturating_sub(1), mark.sets.before),
        };
        self.keys.done_marks(tenant, period, mark.print.set(sets))
    }

    /// The set counts of `tenant`'s `period` and the one before, as this process
    /// remembers them, else as Redis has them; the period's count is written (to
    /// `expires_at`, with its marks) by the first claim that finds none, from an
    /// estimate of the marks of the period before; whether this call wrote it.
    async fn done_sets(
        &self,
        tenant: &str,
        period: u64,
        at: TenantPeriod,
        expires_at: u64,
    ) -> crate::Result<(Sets, bool)> {
        if let Some(sets) = self.set_counts.get(at) {
            return Ok((sets, false));
        }
        let before_period = period.saturating_sub(1);
        let (now_key, before_key) = (
            self.keys.done_sets(tenant, period),
            self.keys.done_sets(tenant, before_period),
        );
        let (now, before): (Option<u64>, Option<u64>) = redis::pipe()
            .get(&now_key)
            .get(&before_key)
            .query_async(&mut self.conn())
            .await?;
        let (now, written) = match now {
            Some(now) => (now, false),
            None => {
                let wanted = match before {
                    Some(sets) => sets_for(self.marks_in(tenant, before_period, sets).await?),
                    None => SETS,
                };
                let was: Option<u64> = redis::cmd("SET")
                    .arg(&now_key)
                    .arg(wanted)
                    .arg("NX")
                    .arg("GET")
                    .arg("EXAT")
                    .arg(expires_at)
                    .query_async(&mut self.conn())
                    .await?;
                (was.unwrap_or(wanted), was.is_none())
            }
        };
        let before = before.unwrap_or(SETS);
        for count in [now, before] {
            if !count.is_power_of_two() || count > MAX_SETS {
                return Err(crate::corrupt("done-mark set count", count.to_string()));
            }
        }
        let sets = Sets { now, before };
        self.set_counts.keep(at, sets);
        Ok((sets, written))
    }

    /// About how many marks `tenant`'s `period` of `sets` sets holds: a sample of its
    /// sets' sizes (16 spread evenly, or all), scaled up.
    async fn marks_in(&self, tenant: &str, period: u64, sets: u64) -> crate::Result<u64> {
        let sample = sets.min(16);
        let step = sets / sample;
        let mut pipe = redis::pipe();
        for n in 0..sample {
            pipe.scard(self.keys.done_marks(tenant, period, n * step));
        }
        let sizes: Vec<u64> = pipe.query_async(&mut self.conn()).await?;
        Ok(sizes.iter().sum::<u64>() * step)
    }

    /// Forgets what this process remembers of the done marks' sets (their counts, the
    /// expiries it set): Redis came back empty.
    pub(crate) fn forget_done_sets(&self) {
        self.set_counts.clear();
        self.expiries.clear();
    }

    /// Forgets the count of a tenant's period (the claim that wrote it was undone).
    pub(crate) fn forget_done_set_count(&self, at: TenantPeriod) {
        self.set_counts.forget(at);
    }
}

/// The set counts of the tenants' current periods this process read, so that a claim
/// reads them once in a while.
#[derive(Default)]
pub(crate) struct SetCounts {
    by_period: Mutex<HashMap<TenantPeriod, (Sets, Instant)>>,
}

/// Tenants' periods whose counts are remembered at once; past that, all are forgotten.
const COUNTS_REMEMBERED: usize = 4096;
/// How long a count read is trusted: one written anew after Redis came back empty
/// unseen by this process (no claim of it met the keyspace's absence) is read again.
const COUNT_TRUSTED: Duration = Duration::from_secs(600);

impl SetCounts {
    fn get(&self, at: TenantPeriod) -> Option<Sets> {
        let counts = self.by_period.lock().expect("not poisoned");
        let (sets, read) = counts.get(&at)?;
        (read.elapsed() < COUNT_TRUSTED).then_some(*sets)
    }

    fn keep(&self, at: TenantPeriod, sets: Sets) {
        let mut counts = self.by_period.lock().expect("not poisoned");
        if counts.len() >= COUNTS_REMEMBERED {
            counts.clear();
        }
        counts.insert(at, (sets, Instant::now()));
    }

    fn forget(&self, at: TenantPeriod) {
        let mut counts = self.by_period.lock().expect("not poisoned");
        counts.remove(&at);
    }

    fn clear(&self) {
        self.by_period.lock().expect("not poisoned").clear();
    }
}

/// How long this process trusts an expiry it set: past it, a set's next mark sets it
/// again. A backstop: the expiries are forgotten at once when Redis is found empty
/// ([`Store::forget_done_sets`]), so that a set Redis lost and made anew gets its
/// expiry back; a period of many sets would otherwise write many expiries again.
const EXPIRY_TRUSTED: Duration = Duration::from_secs(6 * 3600);

/// The bitmap words remembered at once (8 MiB), a bit a set; past that, all are
/// forgotten, and each set's next mark sets its expiry again.
const WORDS_REMEMBERED: usize = 1 << 20;

/// The sets of done marks whose expiry this process set lately, so that a mark writes
/// `EXPIREAT` with the first mark of its set in a while rather than with every one: one
/// command a delivery fewer. A bit per set of each tenant's period.
#[derive(Default)]
pub(crate) struct Expiries {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    since: Option<Instant>,
    words: usize,
    by_period: HashMap<TenantPeriod, Vec<u64>>,
}

impl Expiries {
    /// Whether a mark into set `set` of a tenant's period `at` should set its expiry;
    /// from now on it counts as set.
    pub fn due(&self, at: TenantPeriod, set: u64) -> bool {
        let (word, bit) = (set as usize / 64, 1 << (set % 64));
        let mut t = self.table.lock().expect("not poisoned");
        let stale = t.since.is_none_or(|since| since.elapsed() > EXPIRY_TRUSTED);
        let had = t.by_period.get(&at).map_or(0, Vec::len);
        if stale || t.words + (word + 1).saturating_sub(had) > WORDS_REMEMBERED {
            *t = Table {
                since: Some(Instant::now()),
                ..Table::default()
            };
        }
        let t = &mut *t;
        let bits = t.by_period.entry(at).or_default();
        if bits.len() <= word {
            t.words += word + 1 - bits.len();
            bits.resize(word + 1, 0);
        }
        let due = bits[word] & bit == 0;
        bits[word] |= bit;
        due
    }

    /// The write that was to set that expiry failed: the set's next mark sets it.
    pub fn forget(&self, at: TenantPeriod, set: u64) {
        let mut t = self.table.lock().expect("not poisoned");
        if let Some(word) = t
            .by_period
            .get_mut(&at)
            .and_then(|b| b.get_mut(set as usize / 64))
        {
            *word &= !(1 << (set % 64));
        }
    }

    /// Forgets every expiry set: each set's next mark sets it again.
    pub fn clear(&self) {
        *self.table.lock().expect("not poisoned") = Table::default();
    }
}

fn fnv1a(bytes: &[u8], basis: u64) -> u64 {
    let mut h = basis;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's finaliser: FNV's low bits are weak on short, similar ids.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tenant: &str, period: u64) -> TenantPeriod {
        TenantPeriod::of(tenant, period)
    }

    // Worked out apart from this code (FNV-1a 64 with each basis, then SplitMix64's finaliser).
    const PINNED: (u64, i64) = (1697, 7_502_188_557_767_365_479);

    #[test]
    fn fingerprints_are_stable_and_tell_ids_apart() {
        // Marks outlive a process and an upgrade: pinned values, so that a change of
        // the hash (which would forget every mark kept) fails here.
        let a = fingerprint("evt_1");
        assert_eq!(a, fingerprint("evt_1"));
        assert_eq!((a.set(SETS), a.member), PINNED);
        assert_ne!(a.member, fingerprint("evt_2").member);
        let members: std::collections::HashSet<i64> = (0..100_000)
            .map(|i| fingerprint(&format!("evt_{i}")).member)
            .collect();
        assert_eq!(members.len(), 100_000);
    }

    #[test]
    fn similar_ids_spread_evenly_over_the_sets() {
        let n = SETS as usize * 16;
        let mut per_set = vec![0u32; SETS as usize];
        for i in 0..n {
            per_set[fingerprint(&format!("r{i}")).set(SETS) as usize] += 1;
        }
        // 16 a set on average; an even spread keeps every set far under 512 (an
        // intset's limit) where a skewed one would not.
        let most = *per_set.iter().max().unwrap();
        let empty = per_set.iter().filter(|&&c| c == 0).count();
        assert!(most < 45, "{most}");
        assert!(empty < 10, "{empty}");
    }

    #[test]
    fn a_sets_expiry_is_due_once_unless_its_write_failed() {
        let e = Expiries::default();
        assert!(e.due(at("acme", 3), 17));
        assert!(!e.due(at("acme", 3), 17), "set already");
        assert!(e.due(at("acme", 3), 18), "another set");
        e.forget(at("acme", 3), 18);
        assert!(e.due(at("acme", 3), 18), "its write failed");
        assert!(!e.due(at("acme", 3), 17));
        assert!(e.due(at("acme", 4), 17), "the next period's set");
        assert!(e.due(at("acmf", 3), 17), "another tenant's set");
    }

    #[test]
    fn too_many_sets_are_forgotten_together() {
        let e = Expiries::default();
        // Four periods of a quarter of what is remembered each fill it.
        let last = (WORDS_REMEMBERED as u64 / 4) * 64 - 1;
        for n in 0..4 {
            assert!(e.due(at(&format!("t{n}"), 1), last));
        }
        assert!(!e.due(at("t0", 1), last), "all fit");
        assert!(e.due(at("t0", 1), 5), "another set, within what t0 has");
        assert!(!e.due(at("t1", 1), last), "nothing forgotten");
        assert!(e.due(at("one more", 1), last));
        assert!(e.due(at("t0", 1), last), "forgotten to make room");
    }

    #[test]
    fn expiries_are_forgotten_when_redis_came_back_empty() {
        let e = Expiries::default();
        assert!(e.due(at("acme", 3), 17));
        e.clear();
        assert!(e.due(at("acme", 3), 17));
    }

    #[test]
    fn a_periods_sets_follow_the_marks_of_the_period_before() {
        assert_eq!(sets_for(0), MIN_SETS);
        assert_eq!(sets_for(64 * 128), MIN_SETS);
        assert_eq!(sets_for(64 * 128 + 1), 128);
        // A million marks: 7,813 sets of 128 at most, so 8,192.
        assert_eq!(sets_for(1_000_000), 8_192);
        assert_eq!(sets_for(u64::MAX / 2), MAX_SETS);
        for marks in [1, 10_000, 3_000_000, 1 << 40] {
            let sets = sets_for(marks);
            assert!(sets.is_power_of_two());
            assert!(marks / sets <= MARKS_A_SET || sets == MAX_SETS);
        }
    }

    #[test]
    fn every_mark_outlives_the_retention_and_is_in_one_of_two_periods() {
        let r = 7 * 86_400;
        for written in [0, 1, r - 1, r, 5 * r + 123] {
            let p = period(written, r);
            assert!(expires_at(p, r) >= written + r);
            // A claim up to the retention later looks in its period and the one before.
            for later in [written, written + r / 2, written + r] {
                let now = period(later, r);
                assert!(now == p || now == p + 1);
            }
        }
    }
}
