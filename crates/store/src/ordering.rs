//! Ordered delivery's state: per hook and ordering key, a queue of deliveries in the
//! order their events were accepted, and which one holds the key. All of it is in the
//! tenant's slot.

use std::time::Duration;

use hookpost_core::task::{AttemptTask, Task};

use crate::retries::Due;
use crate::{corrupt, Result, Store, StoreError};

/// One delivery of an ordered hook, as the queues know it.
#[derive(Debug, Clone)]
pub struct Ordered<'a> {
    pub hook_id: &'a str,
    /// The ordering key's id (`Ordering::key_id`).
    pub key_id: &'a str,
    pub delivery_id: &'a str,
    pub event_id: &'a str,
}

impl Ordered<'_> {
    /// How its key's queue names it: `<delivery id>:<event id>`.
    pub fn member(&self) -> String {
        format!("{}:{}", self.delivery_id, self.event_id)
    }
}

/// The delivery and event ids of a key's member ([`Ordered::member`]).
pub fn split_member(member: &str) -> Option<(&str, &str)> {
    member.split_once(':')
}

/// The task that sends for the delivery `member` of `hook_id` now: its key's turn has
/// come.
pub fn turn_task(tenant: &str, hook_id: &str, member: &str) -> Option<Due> {
    let (delivery_id, event_id) = split_member(member)?;
    Some(Due {
        at_ms: hookpost_core::now_ms(),
        task: Task::Attempt(AttemptTask {
            tenant: tenant.to_owned(),
            event_id: event_id.to_owned(),
            hook_id: hook_id.to_owned(),
            delivery_id: delivery_id.to_owned(),
            attempt: 1,
            resend: false,
        }),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// Attempt it now; this handler holds the key until it lets go.
    Go,
    /// An earlier delivery for the key has not ended. When nobody holds the key, the
    /// member whose turn it is (send for it: its hand-over may have been lost).
    Wait(Option<String>),
    /// The key's holder (this member) has not ended as far as Redis knows, though nobody
    /// attempts it and Redis holds nothing of it: its end may be only in the log.
    Unsure(String),
    /// Another handler is attempting this very delivery; its hold lasts this long yet.
    Busy(Duration),
    /// An earlier delivery failed and its hook blocks on failure.
    Blocked,
    /// This delivery already ended (a late look at it): nothing to do.
    Ended,
}

/// How a handler lets go of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// The delivery keeps the key (a retry or a deferral follows).
    Retry,
    /// The delivery ended: the next one's turn.
    Done,
    /// The delivery failed for good and its hook blocks.
    Block,
}

impl Store {
    /// Registers deliveries in their keys' queues, in the order given; refused
    /// ([`StoreError::Rebuilding`]) while Redis, back empty, has not had the tenant's
    /// hooks put back: the rebuild lines up the deliveries that waited first.
    pub async fn order_register(&self, tenant: &str, deliveries: &[Ordered<'_>]) -> Result<()> {
        self.register_ordered(tenant, deliveries, true).await
    }

    /// A rebuild's own registrations, before it puts the hooks back.
    pub async fn order_register_rebuilt(
        &self,
        tenant: &str,
        deliveries: &[Ordered<'_>],
    ) -> Result<()> {
        self.register_ordered(tenant, deliveries, false).await
    }

    async fn register_ordered(
        &self,
        tenant: &str,
        deliveries: &[Ordered<'_>],
        guarded: bool,
    ) -> Result<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut call = self.scripts.order_register.prepare_invoke();
        call.key(self.keys.hooks(tenant))
            .arg(self.retention_secs)
            .arg(if guarded { "1" } else { "0" });
        for d in deliveries {
            call.key(self.keys.order_queue(tenant, d.hook_id, d.key_id))
                .key(self.keys.order_state(tenant, d.hook_id, d.key_id))
                .arg(d.member());
        }
        let registered: i64 = call.invoke_async(&mut self.conn()).await?;
        if registered < 0 {
            return Err(StoreError::Rebuilding);
        }
        Ok(())
    }

    /// Makes registered `d` hold its key, blocked: what a failed delivery of a hook that
    /// blocks on failure left, given back after Redis came back empty.
    pub async fn order_block(&self, tenant: &str, d: &Ordered<'_>) -> Result<()> {
        let (state, dkey) = (
            self.keys.order_state(tenant, d.hook_id, d.key_id),
            self.keys.delivery(tenant, d.delivery_id),
        );
        let ttl = self.retention_secs as i64;
        let () = redis::pipe()
            .atomic()
            .hset_multiple(&state, &[("cur", d.member().as_str()), ("blocked", "1")])
            .ignore()
            .expire(&state, ttl)
            .ignore()
            .hset(&dkey, "blocking", "1")
            .ignore()
            .expire(&dkey, ttl)
            .ignore()
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Takes registrations back (their events were not accepted after all).
    pub async fn order_unregister(&self, tenant: &str, deliveries: &[Ordered<'_>]) -> Result<()> {
        let mut pipe = redis::pipe();
        for d in deliveries {
            pipe.zrem(
                self.keys.order_queue(tenant, d.hook_id, d.key_id),
                d.member(),
            )
            .ignore();
        }
        let _: () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Whether `d` may be attempted now by the handler `token`, which then holds it for
    /// `lease` unless it lets go first.
    pub async fn order_turn(
        &self,
        tenant: &str,
        d: &Ordered<'_>,
        token: &str,
        lease: Duration,
    ) -> Result<Turn> {
        let answer: Vec<String> = self
            .scripts
            .order_turn
            .key(self.keys.order_queue(tenant, d.hook_id, d.key_id))
            .key(self.keys.order_state(tenant, d.hook_id, d.key_id))
            .arg(d.member())
            .arg(token)
            .arg(lease.as_millis() as u64)
            .arg(self.retention_secs)
            .arg(self.keys.tenant_prefix(tenant))
            .invoke_async(&mut self.conn())
            .await?;
        let mut answer = answer.into_iter();
        Ok(match answer.next().as_deref() {
            Some("go") => Turn::Go,
            Some("wait") => Turn::Wait(answer.next()),
            Some("unsure") => match answer.next() {
                Some(cur) => Turn::Unsure(cur),
                None => return Err(corrupt("order turn", "unsure without the key's holder")),
            },
            Some("busy") => match answer.next().and_then(|ms| ms.parse().ok()) {
                Some(ms) => Turn::Busy(Duration::from_millis(ms)),
                None => return Err(corrupt("order turn", "busy without its hold's end")),
            },
            Some("blocked") => Turn::Blocked,
            Some("ended") => Turn::Ended,
            other => return Err(corrupt("order turn", format!("{other:?}"))),
        })
    }

    /// Lets go of `d`'s key; the member whose turn it is now, if that changed.
    pub async fn order_release(
        &self,
        tenant: &str,
        d: &Ordered<'_>,
        how: Release,
        token: &str,
    ) -> Result<Option<String>> {
        let how = match how {
            Release::Retry => "retry",
            Release::Done => "done",
            Release::Block => "block",
        };
        let next: String = self
            .scripts
            .order_finish
            .key(self.keys.order_queue(tenant, d.hook_id, d.key_id))
            .key(self.keys.order_state(tenant, d.hook_id, d.key_id))
            .key(self.keys.delivery(tenant, d.delivery_id))
            .arg(d.member())
            .arg(how)
            .arg(token)
            .arg(self.keys.tenant_prefix(tenant))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(Some(next).filter(|n| !n.is_empty()))
    }
}
