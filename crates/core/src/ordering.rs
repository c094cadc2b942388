//! Ordered delivery, per hook and opt-in: a delivery for an ordering key is not attempted
//! until the one before it (in the order the events were accepted) is delivered or has
//! finally failed. The key is a JSON path into the event's data (`$.ticket.id`), so that
//! order holds per ticket while different tickets go in parallel; without a path, the
//! whole hook is one queue.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::filter::Path;

/// What a finally failed delivery does to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// The next delivery for the key goes.
    Skip,
    /// The key waits until an operator resends the failed delivery or skips it.
    Block,
}

/// A hook's ordering, ready to use.
#[derive(Debug, Clone)]
pub struct Ordering {
    key: Option<Path>,
    pub on_failure: OnFailure,
}

impl Ordering {
    /// From the hook's fields (`ordering`, `ordering_key`, `ordering_on_failure`); `None`
    /// when the hook is not ordered.
    pub fn of(
        mode: Option<&str>,
        key: Option<&str>,
        on_failure: Option<OnFailure>,
    ) -> Result<Option<Ordering>, String> {
        match mode {
            None => Ok(None),
            Some("fifo") => Ok(Some(Ordering {
                key: key
                    .map(|k| Path::parse(k, "ordering_key").map_err(|e| e.to_string()))
                    .transpose()?,
                on_failure: on_failure.unwrap_or(OnFailure::Skip),
            })),
            Some(other) => Err(format!("`{other}` is not an ordering; use \"fifo\"")),
        }
    }

    /// The path of the ordering key, if the hook has one.
    pub fn key(&self) -> Option<&Path> {
        self.key.as_ref()
    }

    /// The ordering key of an event's data, as a bounded id: a hash of the value at the
    /// path (strings as they are, other values as JSON); events without it share one key.
    pub fn key_id(&self, data: &Value) -> String {
        let value = match self.key.as_ref().and_then(|p| p.lookup(data)) {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        hex::encode(&Sha256::digest(value.as_bytes())[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_key_is_the_value_at_the_path() {
        let o = Ordering::of(Some("fifo"), Some("$.ticket.id"), None)
            .unwrap()
            .unwrap();
        assert_eq!(o.on_failure, OnFailure::Skip);
        let a = o.key_id(&json!({"ticket": {"id": 7}}));
        assert_eq!(a, o.key_id(&json!({"ticket": {"id": 7}, "other": 1})));
        assert_ne!(a, o.key_id(&json!({"ticket": {"id": 8}})));
        assert_ne!(a, o.key_id(&json!({"ticket": {"id": "7x"}})));
        assert_eq!(o.key_id(&json!({})), o.key_id(&json!({"ticket": {}})));
        assert_eq!(a.len(), 24);
    }

    #[test]
    fn without_a_path_the_hook_is_one_queue_and_bad_settings_are_refused() {
        let o = Ordering::of(Some("fifo"), None, Some(OnFailure::Block))
            .unwrap()
            .unwrap();
        assert_eq!(o.key_id(&json!({"a": 1})), o.key_id(&json!({"b": 2})));
        assert!(Ordering::of(None, Some("$.a"), None).unwrap().is_none());
        assert!(Ordering::of(Some("lifo"), None, None).is_err());
        assert!(Ordering::of(Some("fifo"), Some("ticket.id"), None).is_err());
    }
}
