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

/// By tenant, then hook: looked up by `&str`, so that a delivery allocates nothing
/// unless its hook is cleared now.
#[derive(Default)]
pub struct Cleared {
    at: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_tenant: HashMap<String, HashMap<String, Instant>>,
    len: usize,
}

impl Cleared {
    /// The hooks of `tenant`, among `delivered`, whose streak this process should end
    /// now; they count as ended from now on.
    pub fn due<'a>(&self, tenant: &str, delivered: &[&'a str]) -> Vec<&'a str> {
        let now = Instant::now();
        let mut at = self.at.lock().expect("not poisoned");
        if at.len > PRUNE_ABOVE {
            at.by_tenant.retain(|_, hooks| {
                hooks.retain(|_, when| now.duration_since(*when) < WINDOW);
                !hooks.is_empty()
            });
            at.len = at.by_tenant.values().map(HashMap::len).sum();
        }
        let recent = |at: &Entries, hook: &str| {
            let when = at.by_tenant.get(tenant).and_then(|hooks| hooks.get(hook));
            when.is_some_and(|when| now.duration_since(*when) < WINDOW)
        };
        let mut due = Vec::new();
        for &hook in delivered {
            if recent(&at, hook) {
                continue;
            }
            let hooks = match at.by_tenant.get_mut(tenant) {
                Some(hooks) => hooks,
                None => at.by_tenant.entry(tenant.to_owned()).or_default(),
            };
            if hooks.insert(hook.to_owned(), now).is_none() {
                at.len += 1;
            }
            due.push(hook);
        }
        due
    }

    /// This process recorded a failure of `hook`, or could not end its streak: its next
    /// success ends the streak.
    pub fn forget(&self, tenant: &str, hook: &str) {
        let mut at = self.at.lock().expect("not poisoned");
        let removed = (at.by_tenant.get_mut(tenant)).and_then(|hooks| hooks.remove(hook));
        if removed.is_some() {
            at.len -= 1;
        }
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
