//! Messages hookpost puts on its own queue (`{prefix}.deliveries`), typed and versioned.
//! Events from producers are not tasks: they arrive as the plain JSON the README's "Events" describes.

use serde::{Deserialize, Serialize};

/// The version this build writes; readers refuse others (they are dead-lettered).
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    /// Make attempt `attempt` of one delivery.
    Attempt(AttemptTask),
    /// Look at an event again whose first processing another worker held; process what
    /// it left undone if that worker is gone.
    Resume(ResumeTask),
    /// Work through a slow hook's backlog (one task per hook, however long the backlog).
    Drain(DrainTask),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptTask {
    pub tenant: String,
    pub event_id: String,
    pub hook_id: String,
    pub delivery_id: String,
    pub attempt: u32,
    /// A resend asked for by a person: made even when the delivery already ended.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resend: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeTask {
    pub tenant: String,
    pub event_id: String,
}

/// The same JSON for every drain of a hook, so that the retry set holds at most one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainTask {
    pub tenant: String,
    pub hook_id: String,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    #[serde(flatten)]
    task: Task,
}

impl Task {
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            v: u32,
            #[serde(flatten)]
            task: &'a Task,
        }
        serde_json::to_string(&Out {
            v: VERSION,
            task: self,
        })
        .expect("a task always serialises")
    }

    pub fn from_json(bytes: &[u8]) -> Result<Task, String> {
        let env: Envelope =
            serde_json::from_slice(bytes).map_err(|e| format!("not a task: {e}"))?;
        if env.v != VERSION {
            return Err(format!("task version {} is not {VERSION}", env.v));
        }
        // The log keeps a delivery id as its 128 bits: no other form can be written.
        if let Task::Attempt(a) = &env.task {
            if !crate::delivery::is_delivery_id(&a.delivery_id) {
                return Err(format!("`{}` is not a delivery id", a.delivery_id));
            }
        }
        Ok(env.task)
    }

    pub fn tenant(&self) -> &str {
        match self {
            Task::Attempt(a) => &a.tenant,
            Task::Resume(r) => &r.tenant,
            Task::Drain(d) => &d.tenant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_version() {
        let t = Task::Attempt(AttemptTask {
            tenant: "t".into(),
            event_id: "e".into(),
            hook_id: "h".into(),
            delivery_id: crate::delivery::delivery_id("t", "e", "h"),
            attempt: 2,
            resend: false,
        });
        let json = t.to_json();
        assert!(json.starts_with(r#"{"v":1,"kind":"attempt""#), "{json}");
        assert_eq!(Task::from_json(json.as_bytes()).unwrap(), t);
    }

    #[test]
    fn a_hooks_drain_task_is_always_the_same_member() {
        let drain = |hook: &str| {
            Task::Drain(DrainTask {
                tenant: "t".into(),
                hook_id: hook.into(),
            })
            .to_json()
        };
        assert_eq!(
            drain("h1"),
            r#"{"v":1,"kind":"drain","tenant":"t","hook_id":"h1"}"#
        );
        assert_ne!(drain("h1"), drain("h2"));
    }

    #[test]
    fn refuses_other_versions_and_shapes() {
        assert!(
            Task::from_json(br#"{"v":2,"kind":"resume","tenant":"t","event_id":"e"}"#).is_err()
        );
        assert!(Task::from_json(br#"{"v":1,"kind":"nope"}"#).is_err());
        assert!(Task::from_json(b"[]").is_err());
        let attempt = |id: &str| {
            format!(
                r#"{{"v":1,"kind":"attempt","tenant":"t","event_id":"e","hook_id":"h","delivery_id":"{id}","attempt":2}}"#
            )
        };
        let made = crate::delivery::delivery_id("t", "e", "h");
        assert!(Task::from_json(attempt(&made).as_bytes()).is_ok());
        for bad in ["d", "dlv_x", &made.to_uppercase()] {
            assert!(Task::from_json(attempt(bad).as_bytes()).is_err(), "{bad}");
        }
    }
}
