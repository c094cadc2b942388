//! Which hooks' failing streaks this process ended lately. A delivered attempt ends its
//! hook's streak (`HDEL` on the tenant's failing hash); at a steady rate to one hook,
//! that is one command a delivery to clear a field that is almost never there. Each
//! process clears a hook at most once a [`WINDOW`] instead, unless it recorded a failure
//! of that hook since: a streak another process started is then ended at most a
//! `WINDOW` late, against a disable span of hours or days.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(1);

/// Entries past which the old ones are dropped: one per hook delivered to lately.
const PRUNE_ABOVE: usize = 4096;

#[derive(Default)]
pub struct Cleared {
    at: Mutex<HashMap<(String, String), Instant>>,
}

impl Cleared {
    /// The hooks of `tenant`, among `delivered`, whose streak this process should end
    /// now; they count as ended from now on.
    pub fn due<'a>(&self, tenant: &str, delivered: &[&'a str]) -> Vec<&'a str> {
        let now = Instant::now();
        let mut at = self.at.lock().expect("not poisoned");
        if at.len() > PRUNE_ABOVE {
            at.retain(|_, when| now.duration_since(*when) < WINDOW);
        }
        delivered
            .iter()
            .copied()
            .filter(|hook| {
                let key = (tenant.to_owned(), (*hook).to_owned());
                match at.get(&key) {
                    Some(when) if now.duration_since(*when) < WINDOW => false,
                    _ => {
                        at.insert(key, now);
                        true
                    }
                }
            })
            .collect()
    }

    /// This process recorded a failure of `hook`, or could not end its streak: its next
    /// success ends the streak.
    pub fn forget(&self, tenant: &str, hook: &str) {
        let mut at = self.at.lock().expect("not poisoned");
        at.remove(&(tenant.to_owned(), hook.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_is_cleared_once_a_window_unless_it_failed_meanwhile() {
        let c = Cleared::default();
        assert_eq!(c.due("t", &["h1", "h2"]), ["h1", "h2"]);
        assert!(c.due("t", &["h1", "h2"]).is_empty(), "within the window");
        assert_eq!(c.due("u", &["h1"]), ["h1"], "another tenant's hook");
        c.forget("t", "h1");
        assert_eq!(c.due("t", &["h1", "h2"]), ["h1"]);
    }
}
