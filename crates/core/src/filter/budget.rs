//! The work budget of filter evaluation: one per event, shared by all of the event's
//! hooks, so that no event costs more than a bounded amount of CPU however large it is
//! and however many hooks and conditions its tenant has.
//!
//! Units count the work itself (filter nodes visited, object probes, array elements and
//! bytes compared), not time: the same event against the same hooks is decided the same
//! way on every run, so ingest and the worker agree on ordered hooks and a take-over
//! redoes exactly the first handler's choice. A unit is about a nanosecond of CPU: the
//! weights below come from `cargo run --release -p hookpost-core --example filter_cost`
//! (worst cases of 1 MiB events), rounded up.

/// The default budget of one event (`HOOKPOST_FILTER_BUDGET`): about 2 ms of CPU.
pub const DEFAULT_UNITS: u64 = 2_000_000;

/// What is left of one event's budget. Once it runs out it stays out: every evaluation
/// after that fails closed.
#[derive(Debug, Clone)]
pub struct Budget {
    left: u64,
    exhausted: bool,
}

impl Budget {
    pub fn new(units: u64) -> Budget {
        Budget {
            left: units,
            exhausted: false,
        }
    }

    /// Whether an evaluation ran out of units (and failed closed).
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Units not spent yet.
    pub fn left(&self) -> u64 {
        self.left
    }

    /// Takes `units` before the work they pay for; `None` when fewer are left, so that
    /// `?` ends the evaluation.
    pub(super) fn spend(&mut self, units: u64) -> Option<()> {
        match self.left.checked_sub(units) {
            Some(left) if !self.exhausted => {
                self.left = left;
                Some(())
            }
            _ => {
                self.exhausted = true;
                self.left = 0;
                None
            }
        }
    }
}

/// Visiting one filter node (a combinator or a condition).
pub(super) const NODE: u64 = 4;

/// Looking a key up in an object of `len` entries: a walk down a B-tree, whose cache
/// misses dominate in a large object (about 350 ns in one of 65,000 keys).
pub(super) fn probe(len: usize) -> u64 {
    4 + 16 * u64::from(usize::BITS - len.leading_zeros())
}

/// One step of a path through the selected parts (a small map or an array).
pub(super) const STEP: u64 = 16;

/// The pass that selects what the filters read from `bytes` of raw data: it skips or
/// copies every byte once, whatever the paths.
pub(super) fn pass(bytes: usize) -> u64 {
    bytes as u64
}

/// Reading one element of an array `contains` searches from its raw text...
pub(super) const ELEMENT: u64 = 16;

/// ...and its `bytes` (a container is skipped over, a scalar parsed).
pub(super) fn read(bytes: usize) -> u64 {
    bytes as u64
}

/// Taking an array element by index.
pub(super) const INDEX: u64 = 2;

/// Comparing two scalars: strings of the same length are compared byte by byte.
pub(super) fn compare(a: &serde_json::Value, b: &serde_json::Value) -> u64 {
    use serde_json::Value::String;
    match (a, b) {
        (String(x), String(y)) => 3 + x.len().min(y.len()) as u64 / 16,
        _ => 3,
    }
}

/// Searching `haystack` bytes for a substring (the two-way search's worst case, a long
/// needle that almost matches everywhere, takes about 1.3 ns a byte).
pub(super) fn search(haystack: usize, needle: usize) -> u64 {
    3 + (haystack + needle) as u64 * 5 / 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_past_the_end_exhausts_the_budget_for_good() {
        let mut b = Budget::new(10);
        assert_eq!(b.spend(4), Some(()));
        assert_eq!(b.left(), 6);
        assert!(!b.exhausted());
        assert_eq!(b.spend(7), None);
        assert!(b.exhausted());
        // Nothing more is paid for, even work that would fit in what was left.
        assert_eq!(b.spend(0), None);
        assert_eq!(b.left(), 0);
    }
}
