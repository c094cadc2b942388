//! Requests in flight per hook in this worker. A delivery waits briefly for a slot (a
//! fast hook frees one within milliseconds); when none frees up within the wait, the hook
//! is slow: its deliveries are deferred at once for a while, so that a slow or hanging
//! hook holds up neither the other hooks nor the messages that carry their deliveries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tracing::info;

/// How long a hook counts as slow after a wait for one of its slots ran out.
const SLOW_FOR: Duration = Duration::from_secs(10);
/// An answer within this share of the wait for a slot is a fast hook's.
const FAST_SHARE: u32 = 10;

struct HookSlots {
    /// The hook's id, for the log.
    hook: String,
    slots: Arc<Semaphore>,
    size: usize,
    /// Until when (ms) deliveries to this hook do not wait for a slot.
    slow_until: AtomicI64,
    /// Requests the hook has answered so far, and how many it had when its slow spell
    /// began: a hook that answered none since (its requests time out) is still stuck,
    /// and is not waited for again.
    answered: AtomicU64,
    answered_when_slow: AtomicU64,
    /// The spell began with the hook silent (nothing answered during a wait), not merely
    /// full: it may end early, on fast answers.
    silent_spell: AtomicBool,
    /// Fast answers since the spell began.
    fast_in_spell: AtomicUsize,
    /// Deliveries waiting for a slot now.
    waiting: AtomicUsize,
    /// Wakes those waiting when a slow spell begins.
    spell_began: Notify,
}

/// One of a hook's slots, held while a request to it is in flight.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    hook: Arc<HookSlots>,
    /// An answer within this is a fast one.
    fast: Duration,
}

impl Slot {
    /// The request got an answer (any status) after `took`: the hook is not stuck.
    /// True when this answer ended the hook's slow spell early (see
    /// [`HookSlots::answered_fast`]).
    pub fn answered(&self, took: Duration) -> bool {
        self.hook.answered.fetch_add(1, Ordering::Relaxed);
        took < self.fast && self.hook.answered_fast()
    }
}

#[derive(Default)]
pub struct HookLimits {
    hooks: Mutex<HashMap<String, Arc<HookSlots>>>,
}

impl HookLimits {
    /// One of `size` slots at `hook_id`: at once if one is free; else, unless the hook is
    /// slow, within `wait`. `Err(ms)`: defer the delivery until then (the end of the
    /// hook's slow spell).
    pub async fn acquire(&self, hook_id: &str, size: usize, wait: Duration) -> Result<Slot, i64> {
        let hook = self.slots(hook_id, size);
        let slot = |permit| Slot {
            _permit: permit,
            hook: hook.clone(),
            fast: wait / FAST_SHARE,
        };
        let spell = hook.spell();
        // A hook that has answered nothing since its slow spell began gets no new request
        // in the spell, not even on a slot freed by a timeout: it would only hang too.
        if !(spell.slow && spell.stuck) {
            if let Ok(permit) = hook.slots.clone().try_acquire_owned() {
                return Ok(slot(permit));
            }
        }
        if spell.slow {
            return Err(spell.until);
        }
        // Each wait stalls the messages that carry the hook's deliveries: a stuck hook
        // whose spell ended gets another at once.
        if spell.stuck {
            return Err(hook.slow_from_now(spell.answered, true, false));
        }
        hook.wait_for_slot(wait).await.map(slot)
    }

    /// When a delivery to `hook_id` would be deferred at once by [`HookLimits::acquire`]
    /// (slow, and stuck or full): the end of its slow spell. Takes nothing and never
    /// waits, so that a slow hook's deliveries cost next to nothing to put aside.
    pub fn slow_now(&self, hook_id: &str, size: usize) -> Option<i64> {
        let hooks = self.hooks.lock().expect("not poisoned");
        let hook = hooks.get(hook_id).filter(|h| h.size == size)?;
        let spell = hook.spell();
        let full = hook.slots.available_permits() == 0;
        (spell.slow && (spell.stuck || full)).then_some(spell.until)
    }

    /// The hook's slots; new ones when its size changed (permits of the old ones still
    /// held are simply dropped later).
    fn slots(&self, hook_id: &str, size: usize) -> Arc<HookSlots> {
        let mut hooks = self.hooks.lock().expect("not poisoned");
        let entry = hooks
            .entry(hook_id.to_owned())
            .or_insert_with(|| new_slots(hook_id, size));
        if entry.size != size {
            *entry = new_slots(hook_id, size);
        }
        entry.clone()
    }
}

/// A hook's slow spell as it stands now.
struct Spell {
    /// When it ends (ms); 0 if the hook never had one.
    until: i64,
    /// It lasts still.
    slow: bool,
    /// The hook has answered nothing since it began.
    stuck: bool,
    /// Requests the hook has answered so far.
    answered: u64,
}

impl HookSlots {
    fn spell(&self) -> Spell {
        let until = self.slow_until.load(Ordering::Relaxed);
        let answered = self.answered.load(Ordering::Relaxed);
        Spell {
            until,
            slow: until > hookpost_core::now_ms(),
            stuck: until > 0 && answered == self.answered_when_slow.load(Ordering::Relaxed),
            answered,
        }
    }

    /// Starts a slow spell, with `answered` requests answered so far; its end (ms).
    /// `silent`: the hook answered nothing while a delivery waited for it. `say`: log
    /// it, unless a spell is in force already (the deliveries let go with the first);
    /// a stuck hook's spell renewed as the last ends is not said again.
    fn slow_from_now(&self, answered: u64, silent: bool, say: bool) -> i64 {
        let now = hookpost_core::now_ms();
        let until = now + SLOW_FOR.as_millis() as i64;
        self.answered_when_slow.store(answered, Ordering::Relaxed);
        self.silent_spell.store(silent, Ordering::Relaxed);
        self.fast_in_spell.store(0, Ordering::Relaxed);
        let before = self.slow_until.swap(until, Ordering::Relaxed);
        self.spell_began.notify_waiters();
        if say && before <= now {
            let why = match silent {
                true => "it answered nothing while a delivery waited for a slot",
                false => "none of its slots freed within the wait",
            };
            info!(hook = %self.hook, why, slow_for_s = SLOW_FOR.as_secs(), "a hook is slow: its deliveries go to its backlog instead of waiting for it");
        }
        until
    }

    /// A fast answer; true when it ended the spell. A spell that began with the hook
    /// silent ends once the hook answered as many requests fast as it has slots: the
    /// silence was a pause (a receiver's garbage collection, a deploy), and the hook
    /// keeps up again, so its deliveries need not go through its backlog for the rest
    /// of the spell. A spell that began with the hook answering, just not soon enough to
    /// free a slot within the wait, lasts: that hook is busy, however fast each answer,
    /// and waiting for it would hold the messages behind its deliveries.
    fn answered_fast(&self) -> bool {
        let until = self.slow_until.load(Ordering::Relaxed);
        if until <= hookpost_core::now_ms() || !self.silent_spell.load(Ordering::Relaxed) {
            return false;
        }
        if self.fast_in_spell.fetch_add(1, Ordering::Relaxed) + 1 < self.size {
            return false;
        }
        // Unless another spell began, or another answer ended this one, meanwhile.
        let now = hookpost_core::now_ms();
        let ended =
            self.slow_until
                .compare_exchange(until, now, Ordering::Relaxed, Ordering::Relaxed);
        if ended.is_ok() {
            info!(hook = %self.hook, "a slow hook answers fast again: it is waited for, and its backlog is delivered now");
        }
        ended.is_ok()
    }

    /// A slot within `wait`, or the end of the slow spell that begins. A delivery with
    /// more deliveries ahead of it than the hook has slots gives up sooner when the hook
    /// has answered nothing meanwhile (with so many ahead and none of them served, its
    /// turn could not come within the wait), and at once when a spell begins while it
    /// waits. So when a hook starts to hang, most of the deliveries queued for it (each
    /// holding its message) are let go after a fraction of the wait, not all of it; those
    /// at the head of the queue still wait it out, as they would be served first.
    async fn wait_for_slot(self: &Arc<Self>, wait: Duration) -> Result<OwnedSemaphorePermit, i64> {
        let ahead = self.waiting.fetch_add(1, Ordering::Relaxed);
        let _left = Leave(&self.waiting);
        let answered = self.answered.load(Ordering::Relaxed);
        let start = Instant::now();
        let end = start + wait;
        let far_back = ahead > self.size;
        let mut give_up = match far_back {
            true => start + (wait.mul_f64(self.size as f64 / ahead as f64)).max(wait / 5),
            false => end,
        };
        let acquire = self.slots.clone().acquire_owned();
        tokio::pin!(acquire);
        loop {
            let spell_began = self.spell_began.notified();
            tokio::select! {
                permit = &mut acquire => {
                    return permit.map_err(|_| self.slow_from_now(answered, false, true));
                }
                _ = spell_began => {
                    let spell = self.spell();
                    if spell.slow && far_back {
                        return Err(spell.until);
                    }
                }
                _ = tokio::time::sleep_until(give_up) => {
                    let now_answered = self.answered.load(Ordering::Relaxed);
                    if give_up >= end || now_answered == answered {
                        let silent = now_answered == answered;
                        return Err(self.slow_from_now(now_answered, silent, true));
                    }
                    // The hook answered: this delivery waits the whole wait after all.
                    give_up = end;
                }
            }
        }
    }
}

/// Counts a waiting delivery out when it stops waiting, however it stops.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn new_slots(hook_id: &str, size: usize) -> Arc<HookSlots> {
    Arc::new(HookSlots {
        hook: hook_id.to_owned(),
        slots: Arc::new(Semaphore::new(size)),
        size,
        slow_until: AtomicI64::new(0),
        answered: AtomicU64::new(0),
        answered_when_slow: AtomicU64::new(0),
        silent_spell: AtomicBool::new(false),
        fast_in_spell: AtomicUsize::new(0),
        waiting: AtomicUsize::new(0),
        spell_began: Notify::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::task::JoinHandle;

    const WAIT: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn limits_each_hook_on_its_own() {
        let l = HookLimits::default();
        let a1 = l.acquire("a", 2, WAIT).await;
        let a2 = l.acquire("a", 2, WAIT).await;
        assert!(a1.is_ok() && a2.is_ok());
        assert!(l.acquire("b", 2, WAIT).await.is_ok());
        assert!(l.acquire("a", 2, WAIT).await.is_err(), "full");
    }

    #[tokio::test]
    async fn a_slot_freed_within_the_wait_is_taken() {
        let l = Arc::new(HookLimits::default());
        let held = l.acquire("a", 1, WAIT).await.unwrap();
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { l.acquire("a", 1, Duration::from_secs(5)).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn a_new_size_takes_effect() {
        let l = HookLimits::default();
        let _held = l.acquire("a", 1, WAIT).await.unwrap();
        assert!(l.acquire("a", 2, WAIT).await.is_ok(), "resized to 2");
    }

    #[tokio::test]
    async fn a_hook_that_stays_full_is_slow_and_not_waited_for() {
        let l = HookLimits::default();
        let _held = l.acquire("a", 1, WAIT).await.unwrap();
        assert!(
            l.acquire("a", 1, WAIT).await.is_err(),
            "waited, then gave up"
        );
        let started = std::time::Instant::now();
        assert!(l.acquire("a", 1, Duration::from_secs(5)).await.is_err());
        assert!(
            started.elapsed() < Duration::from_millis(20),
            "slow: no wait at all"
        );
    }

    #[tokio::test]
    async fn slow_now_says_what_acquire_would_without_taking_a_slot() {
        let l = HookLimits::default();
        assert_eq!(l.slow_now("a", 2), None, "unknown hook");
        let held = l.acquire("a", 2, WAIT).await.unwrap();
        let _held2 = l.acquire("a", 2, WAIT).await.unwrap();
        assert_eq!(l.slow_now("a", 2), None, "full, but not slow yet");
        let until = l.acquire("a", 2, WAIT).await.err().expect("slow");
        assert_eq!(l.slow_now("a", 2), Some(until), "slow and full");
        assert_eq!(l.slow_now("a", 3), None, "another size is another hook");
        held.answered(WAIT);
        drop(held);
        assert_eq!(l.slow_now("a", 2), None, "alive, with a free slot");
        assert!(l.acquire("a", 2, WAIT).await.is_ok(), "and acquire agrees");
    }

    #[tokio::test]
    async fn a_hook_silent_for_a_pause_is_fast_again_after_a_round_of_fast_answers() {
        let l = HookLimits::default();
        let (a1, a2) = (l.acquire("a", 2, WAIT).await, l.acquire("a", 2, WAIT).await);
        let (a1, a2) = (a1.unwrap(), a2.unwrap());
        let until = l.acquire("a", 2, WAIT).await.err().expect("silent: slow");
        assert_eq!(l.slow_now("a", 2), Some(until), "slow and full");
        // Slow answers are no sign of speed; one fast answer is not a round of them.
        a1.answered(WAIT);
        a2.answered(WAIT / FAST_SHARE);
        assert!(!a1.answered(Duration::ZERO));
        assert_eq!(l.slow_now("a", 2), Some(until), "still slow");
        assert!(a2.answered(Duration::ZERO), "this answer ended the spell");
        assert_eq!(l.slow_now("a", 2), None, "fast again, though full");
        assert!(!a1.answered(Duration::ZERO), "ended once");
        let started = std::time::Instant::now();
        assert!(l.acquire("a", 2, WAIT).await.is_err());
        assert!(started.elapsed() >= WAIT, "waited for a slot again");
    }

    #[tokio::test]
    async fn a_hook_too_busy_to_free_a_slot_within_the_wait_stays_slow_however_fast_it_answers() {
        let l = Arc::new(HookLimits::default());
        let held = l.acquire("a", 1, WAIT).await.unwrap();
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { l.acquire("a", 1, WAIT).await })
        };
        tokio::time::sleep(WAIT / 5).await;
        held.answered(Duration::ZERO); // answering, but its slot stays taken
        let until = waiter.await.unwrap().err().expect("busy: slow");
        held.answered(Duration::ZERO);
        held.answered(Duration::ZERO);
        assert_eq!(l.slow_now("a", 1), Some(until), "the spell lasts");
    }

    /// `n` deliveries queued one after another for hook `a` (1 slot, taken): whether
    /// each was deferred, and after how long.
    async fn crowd(
        l: &Arc<HookLimits>,
        n: usize,
        wait: Duration,
    ) -> Vec<JoinHandle<(bool, Duration)>> {
        let mut queued = Vec::new();
        for _ in 0..n {
            let l = l.clone();
            queued.push(tokio::spawn(async move {
                let started = std::time::Instant::now();
                (l.acquire("a", 1, wait).await.is_err(), started.elapsed())
            }));
            tokio::time::sleep(Duration::from_millis(2)).await; // in this order
        }
        queued
    }

    #[tokio::test]
    async fn a_crowd_waiting_on_a_hook_that_answers_nothing_gives_up_early() {
        let l = Arc::new(HookLimits::default());
        let _held = l.acquire("a", 1, WAIT).await.unwrap();
        let wait = Duration::from_secs(2);
        let mut waited = Vec::new();
        for queued in crowd(&l, 10, wait).await {
            let (deferred, after) = queued.await.unwrap();
            assert!(deferred);
            waited.push(after);
        }
        // The head of the queue (as many as the slots, and one more) waits it out.
        assert!(waited[..2].iter().all(|&w| w >= wait), "{waited:?}");
        let rest = &waited[2..];
        assert!(
            rest.iter().all(|&w| w < wait / 2),
            "let go early: {waited:?}"
        );
        assert!(
            rest.iter().any(|&w| w >= wait / 5),
            "not at once: {waited:?}"
        );
    }

    #[tokio::test]
    async fn a_crowd_waits_the_whole_wait_on_a_hook_that_answers() {
        let l = Arc::new(HookLimits::default());
        let held = l.acquire("a", 1, WAIT).await.unwrap();
        let wait = Duration::from_millis(600);
        let queued = crowd(&l, 10, wait).await;
        held.answered(WAIT); // alive, if slow: its slot stays taken
        for waiter in queued {
            let (deferred, after) = waiter.await.unwrap();
            assert!(deferred && after >= wait / 2, "waited: {after:?}");
        }
    }

    #[tokio::test]
    async fn a_slow_hook_that_answered_nothing_is_not_waited_for_again() {
        let l = HookLimits::default();
        let held = l.acquire("a", 1, WAIT).await.unwrap();
        assert!(l.acquire("a", 1, WAIT).await.is_err(), "slow");
        let hook = l.slots("a", 1);
        let spell_over = || hook.slow_until.store(1, Ordering::Relaxed);
        spell_over();
        let started = std::time::Instant::now();
        assert!(l.acquire("a", 1, Duration::from_secs(5)).await.is_err());
        assert!(
            started.elapsed() < Duration::from_millis(20),
            "still stuck: another spell at once"
        );
        // A request that timed out is no sign of life: its freed slot is not used in the
        // spell; one answered is.
        drop(held);
        assert!(l.acquire("a", 1, WAIT).await.is_err(), "free, but stuck");
        spell_over();
        let held = l.acquire("a", 1, WAIT).await.unwrap();
        let started = std::time::Instant::now();
        assert!(l.acquire("a", 1, WAIT).await.is_err());
        assert!(started.elapsed() < Duration::from_millis(20), "still stuck");
        held.answered(WAIT);
        drop(held);
        let _again = l.acquire("a", 1, WAIT).await.unwrap();
        spell_over();
        let started = std::time::Instant::now();
        assert!(l.acquire("a", 1, WAIT).await.is_err());
        assert!(
            started.elapsed() >= WAIT,
            "waited, since the hook made progress"
        );
    }
}
