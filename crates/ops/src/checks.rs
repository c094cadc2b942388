//! The readiness checks every role reports the same way: its broker, Redis, and
//! hookpost's keyspace marker in Redis (`{role}.broker`, `{role}.redis`, `{role}.keyspace`;
//! a worker's second lane reports `worker2.broker` and so on).

use std::fmt::Display;

use hookpost_core::labels::Role;
use prometheus::IntCounter;

use crate::{Metrics, Readiness};

/// What every role says (log, `/readyz`, the API's 503) while the marker is missing.
pub const KEYSPACE_MISSING: &str = "Redis does not hold hookpost's keyspace marker (restarted empty, flushed, or the wrong database); a scheduler puts back what PostgreSQL holds within seconds (so does `hookpost admin init`): is one running?";

/// One role's three checks, failing ("starting") until the role first reports them.
#[derive(Clone)]
pub struct RoleChecks {
    readiness: Readiness,
    redis_errors: IntCounter,
    broker: String,
    redis: String,
    keyspace: String,
}

impl RoleChecks {
    pub fn new(role: Role, readiness: &Readiness, metrics: &Metrics) -> RoleChecks {
        Self::of_lane(role, 0, readiness, metrics)
    }

    /// The checks of lane `lane` (from 0) of a role that runs several in one process,
    /// each with connections of its own: one that cannot reach its broker or Redis
    /// makes the process not ready, whatever the others say.
    pub fn of_lane(
        role: Role,
        lane: usize,
        readiness: &Readiness,
        metrics: &Metrics,
    ) -> RoleChecks {
        let prefix = match lane {
            0 => role.as_str().to_owned(),
            n => format!("{}{}", role.as_str(), n + 1),
        };
        let name = |check: &str| format!("{prefix}.{check}");
        let checks = RoleChecks {
            readiness: readiness.clone(),
            redis_errors: metrics.redis_errors.with_label_values(&[role.as_str()]),
            broker: name("broker"),
            redis: name("redis"),
            keyspace: name("keyspace"),
        };
        readiness.expect(&[&checks.broker, &checks.redis, &checks.keyspace]);
        checks
    }

    /// Reports whether the broker can take (or give) messages now.
    pub fn broker<E: Display>(&self, probed: Result<(), E>) {
        match probed {
            Ok(()) => self.readiness.ok(&self.broker),
            Err(e) => self.readiness.fail(&self.broker, e.to_string()),
        }
    }

    /// Reports a Redis call's outcome; a failure is counted as a Redis error.
    pub fn redis<E: Display>(&self, answered: Result<(), E>) {
        match answered {
            Ok(()) => self.readiness.ok(&self.redis),
            Err(e) => {
                self.redis_errors.inc();
                self.readiness.fail(&self.redis, e.to_string());
            }
        }
    }

    /// Reports a probe of the keyspace marker; the marker's presence, or `None` when Redis
    /// did not answer (counted as a Redis error).
    pub fn keyspace<E: Display>(&self, probed: Result<bool, E>) -> Option<bool> {
        let present = probed.as_ref().ok().copied();
        self.redis(probed.map(|_| ()));
        match present {
            Some(true) => self.readiness.ok(&self.keyspace),
            Some(false) => self.readiness.fail(&self.keyspace, KEYSPACE_MISSING),
            None => {}
        }
        present
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_is_ready_once_broker_redis_and_keyspace_all_answered() {
        let (readiness, metrics) = (Readiness::default(), Metrics::new());
        let checks = RoleChecks::new(Role::Scheduler, &readiness, &metrics);
        assert!(!readiness.is_ready(), "not ready before the first report");
        checks.broker(Ok::<_, String>(()));
        assert_eq!(checks.keyspace(Ok::<_, String>(true)), Some(true));
        assert!(readiness.is_ready());

        assert_eq!(checks.keyspace(Ok::<_, String>(false)), Some(false));
        assert_eq!(
            readiness.problems(),
            vec![("scheduler.keyspace".into(), KEYSPACE_MISSING.into())]
        );
        assert_eq!(checks.keyspace(Err("refused")), None);
        assert_eq!(
            metrics.redis_errors.with_label_values(&["scheduler"]).get(),
            1
        );
        checks.broker(Err("gone"));
        let failing: Vec<String> = readiness.problems().into_iter().map(|p| p.0).collect();
        assert_eq!(
            failing,
            ["scheduler.broker", "scheduler.keyspace", "scheduler.redis"]
        );
    }

    #[test]
    fn each_lane_reports_its_own_checks() {
        let (readiness, metrics) = (Readiness::default(), Metrics::new());
        let first = RoleChecks::of_lane(Role::Worker, 0, &readiness, &metrics);
        let second = RoleChecks::of_lane(Role::Worker, 1, &readiness, &metrics);
        for lane in [&first, &second] {
            lane.broker(Ok::<_, String>(()));
            lane.keyspace(Ok::<_, String>(true));
        }
        assert!(readiness.is_ready());
        // The first lane's answer does not hide the second's failure.
        second.redis(Err("refused"));
        first.redis(Ok::<_, String>(()));
        let failing: Vec<String> = readiness.problems().into_iter().map(|p| p.0).collect();
        assert_eq!(failing, ["worker2.redis"]);
        // Counted under the role, whichever lane failed.
        assert_eq!(metrics.redis_errors.with_label_values(&["worker"]).get(), 1);
    }
}
