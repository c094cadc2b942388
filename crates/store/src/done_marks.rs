//! The marks that tell a duplicate of a processed event apart, kept small.
//!
//! An event whose deliveries all ended at its first processing (the usual case) leaves
//! Redis nothing but its mark, for the retention: a key of its own cost some 200 bytes
//! an event. Marks are instead 64-bit fingerprints of the event id, spread over
//! [`SETS`] sets per tenant and retention period. A set of up to 512 integers is an
//! *intset* in Redis (`set-max-intset-entries`): 8 bytes a member, so a tenant keeps
//! about 8 million marks a period in that form (more only cost a set's ordinary
//! encoding, some 50 bytes a member, still a quarter of a key).
//!
//! The claim writes the mark (`SADD`, whose answer says whether it was there), so that
//! the record of an event delivered at once has only its state to remove. A mark goes
//! into the period of its time of writing and expires at the end of the next one, so a
//! claim looks in the current period and the one before: every mark is found for at
//! least the retention. A fingerprint found with no state is confirmed against the log
//! before an event is dropped (see the worker's claim), so another claimer's mark or a
//! collision (one in 2^78 for a given pair of ids) never loses an event. A set's expiry
//! is written with the first mark each process puts in it ([`Expiries`]), not with
//! every mark.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Store;

/// Sets a tenant's marks of one period are spread over (a power of two).
pub const SETS: u64 = 16_384;

/// Where a mark lives and what it is: the set's number and the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub set: u64,
    pub member: i64,
}

/// The fingerprint of an event id: two independent 64-bit hashes, one for the member
/// and one for the set. Stable across versions and processes (no seeded hasher), since
/// marks outlive them.
pub fn fingerprint(event_id: &str) -> Fingerprint {
    let member = mix(fnv1a(event_id.as_bytes(), 0xcbf2_9ce4_8422_2325));
    let set = mix(fnv1a(event_id.as_bytes(), 0x6c62_272e_07bb_0142)) & (SETS - 1);
    Fingerprint {
        set,
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

/// An event's mark as a claim or a record sees it now.
pub(crate) struct Mark {
    pub print: Fingerprint,
    /// The current period: where a record writes.
    pub period: u64,
    /// When the current period's marks expire (unix seconds).
    pub expires_at: u64,
}

impl Store {
    pub(crate) fn done_mark(&self, event_id: &str) -> Mark {
        let now = hookpost_core::now_ms().max(0) as u64 / 1000;
        let period = period(now, self.retention_secs);
        Mark {
            print: fingerprint(event_id),
            period,
            expires_at: expires_at(period, self.retention_secs),
        }
    }

    /// The set of `tenant` holding `mark` for the period `back` periods before now's.
    pub(crate) fn done_set(&self, tenant: &str, mark: &Mark, back: u64) -> String {
        let period = mark.period.saturating_sub(back);
        self.keys.done_marks(tenant, period, mark.print.set)
    }
}

/// How long this process trusts an expiry it set: past it, a set's next mark sets it
/// again, so that a set Redis lost and made anew (emptied under a running process) gets
/// its expiry back.
const EXPIRY_TRUSTED: Duration = Duration::from_secs(600);

/// Tenants' periods remembered at once (a bitmap of [`SETS`] bits, 2 KiB, each); past
/// that, all are forgotten, and each set's next mark sets its expiry again.
const PERIODS_REMEMBERED: usize = 512;

/// The sets of done marks whose expiry this process set lately, so that a mark writes
/// `EXPIREAT` with the first mark of its set in a while rather than with every one: one
/// command a delivery fewer. A bit per set, by a 64-bit hash of the tenant and the
/// period; two of one hash would skip an expiry, one chance in 2^64.
#[derive(Default)]
pub(crate) struct Expiries {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    since: Option<Instant>,
    by_period: HashMap<u64, Box<[u64; SETS as usize / 64]>>,
}

impl Expiries {
    /// Whether a mark into set `set` of `tenant`'s `period` should set its expiry; from
    /// now on it counts as set.
    pub fn due(&self, tenant: &str, period: u64, set: u64) -> bool {
        let (h, word, bit) = (
            period_hash(tenant, period),
            set as usize / 64,
            1 << (set % 64),
        );
        let mut t = self.table.lock().expect("not poisoned");
        let stale = t.since.is_none_or(|since| since.elapsed() > EXPIRY_TRUSTED);
        if stale || t.by_period.len() >= PERIODS_REMEMBERED && !t.by_period.contains_key(&h) {
            t.by_period.clear();
            t.since = Some(Instant::now());
        }
        let bits = t
            .by_period
            .entry(h)
            .or_insert_with(|| Box::new([0; SETS as usize / 64]));
        let due = bits[word] & bit == 0;
        bits[word] |= bit;
        due
    }

    /// The write that was to set that expiry failed: the set's next mark sets it.
    pub fn forget(&self, tenant: &str, period: u64, set: u64) {
        let h = period_hash(tenant, period);
        let mut t = self.table.lock().expect("not poisoned");
        if let Some(bits) = t.by_period.get_mut(&h) {
            bits[set as usize / 64] &= !(1 << (set % 64));
        }
    }
}

/// A tenant's period, for [`Expiries`].
fn period_hash(tenant: &str, period: u64) -> u64 {
    let h = fnv1a(tenant.as_bytes(), 0xcbf2_9ce4_8422_2325);
    mix(fnv1a(&period.to_le_bytes(), h))
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

    // Worked out apart from this code (FNV-1a 64 with each basis, then SplitMix64's finaliser).
    const PINNED: (u64, i64) = (1697, 7_502_188_557_767_365_479);

    #[test]
    fn fingerprints_are_stable_and_tell_ids_apart() {
        // Marks outlive a process and an upgrade: pinned values, so that a change of
        // the hash (which would forget every mark kept) fails here.
        let a = fingerprint("evt_1");
        assert_eq!(a, fingerprint("evt_1"));
        assert_eq!((a.set, a.member), PINNED);
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
            per_set[fingerprint(&format!("r{i}")).set as usize] += 1;
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
        assert!(e.due("acme", 3, 17));
        assert!(!e.due("acme", 3, 17), "set already");
        assert!(e.due("acme", 3, 18), "another set");
        e.forget("acme", 3, 18);
        assert!(e.due("acme", 3, 18), "its write failed");
        assert!(!e.due("acme", 3, 17));
        assert!(e.due("acme", 4, 17), "the next period's set");
        assert!(e.due("acmf", 3, 17), "another tenant's set");
    }

    #[test]
    fn too_many_periods_are_forgotten_together() {
        let e = Expiries::default();
        assert!(e.due("t0", 1, 5));
        for n in 1..PERIODS_REMEMBERED {
            assert!(e.due(&format!("t{n}"), 1, 5));
        }
        assert!(!e.due("t0", 1, 5), "all fit");
        assert!(e.due("one more", 1, 5));
        assert!(e.due("t0", 1, 5), "forgotten to make room");
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
