//! The overflow queue's second consumer.
//!
//! The overflow queue holds the events of tenants over their share, and is consumed
//! with a quarter of the prefetch, so that the other tenants' events find the worker
//! free (see [`crate::fairness`]). While one tenant is alone at the worker there are no
//! others to keep room for, and that quarter only slows the lone tenant down: beyond
//! its lane, it delivered a quarter slower than it posted. So a second consumer of the
//! overflow queue, on a channel of its own with the rest of the prefetch, consumes
//! while the worker is not crowded and is cancelled as soon as it is. What it took
//! before its cancel is handled and acked on its channel as usual: lapin hands a
//! cancelled consumer's messages out before its stream ends.

use hookpost_broker::consume;
use lapin::options::BasicCancelOptions;
use lapin::{Channel, Connection, Consumer};
use prometheus::IntGauge;

/// The overflow queue's prefetch while others are active: a quarter.
pub fn narrow(prefetch: u16) -> u16 {
    (prefetch / 4).max(1)
}

/// The second consumer's channel, and whether it consumes now.
pub struct Boost {
    ch: Channel,
    queue: String,
    consuming: bool,
    /// `hookpost_overflow_whole_prefetch`, shared by a process's lanes.
    running: IntGauge,
}

impl Boost {
    /// A channel on `conn` for the rest of `prefetch` beyond the overflow's quarter;
    /// `None` when nothing is left (a prefetch of 1).
    pub async fn open(
        conn: &Connection,
        queue: &str,
        prefetch: u16,
        running: IntGauge,
    ) -> lapin::Result<Option<Boost>> {
        let rest = prefetch.saturating_sub(narrow(prefetch));
        if rest == 0 {
            return Ok(None);
        }
        Ok(Some(Boost {
            ch: consume::channel(conn, rest).await?,
            queue: queue.to_owned(),
            consuming: false,
            running,
        }))
    }

    fn tag(&self) -> String {
        format!("{}.boost", self.queue)
    }

    /// Consumes while `alone`, cancels once not: the new consumer when it starts one.
    pub async fn steer(&mut self, alone: bool) -> lapin::Result<Option<Consumer>> {
        match (alone, self.consuming) {
            (true, false) => {
                let consumer = consume::consume(&self.ch, &self.queue, &self.tag()).await?;
                self.consuming = true;
                self.running.inc();
                Ok(Some(consumer))
            }
            (false, true) => {
                self.stop().await?;
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Cancels the consumer if it consumes. It counts as stopped even when the cancel
    /// fails: the channel is then gone, and its consumer with it.
    pub async fn stop(&mut self) -> lapin::Result<()> {
        if !self.consuming {
            return Ok(());
        }
        self.consuming = false;
        self.running.dec();
        self.ch
            .basic_cancel(self.tag().as_str().into(), BasicCancelOptions::default())
            .await
    }
}
