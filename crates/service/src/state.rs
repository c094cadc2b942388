//! What one ingest process holds, shared by the API's handlers and the console's pages.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use hookpost_broker::{Publisher, Topology};
use hookpost_core::labels::{Lane, Role};
use hookpost_core::Config;
use hookpost_ops::{Metrics, Readiness, RoleChecks};
use hookpost_store::Store;

use crate::{auth, ordering, test_send, throttle};

pub struct AppState {
    pub config: Config,
    /// The admin token, as an HMAC under the server key.
    pub admin: auth::AdminToken,
    /// Failed authentications per client address.
    pub throttle: throttle::Throttle,
    pub store: Store,
    /// PostgreSQL: the delivery log's reads.
    pub db: hookpost_db::Db,
    pub publisher: Publisher,
    /// Publishes what goes beyond a tenant's fair lane, on a connection of its own:
    /// RabbitMQ's flow control holds back a whole connection while one of its queues
    /// lags, and a flood's overflow must not hold back the other tenants' lane.
    pub overflow: Publisher,
    /// Publishes light tenants' events to the light queue, on a connection of its own for
    /// the same reason.
    pub light: Publisher,
    /// For test sends: the same client and egress rules as the workers'.
    pub sender: hookpost_delivery::Sender,
    pub metrics: Arc<Metrics>,
    pub readiness: Readiness,
    /// `ingest.broker`, `ingest.redis`, `ingest.keyspace`, kept by the probe.
    pub checks: RoleChecks,
    /// Whether Redis held the keyspace marker at the last look.
    pub keyspace_ok: AtomicBool,
    pub ordered_hooks: ordering::OrderedHooks,
    /// Each tenant's intake tokens leased to this process.
    pub intake: crate::intake::Leases,
    /// Which tenants are light, as this process sees them.
    pub light_tenants: crate::light::LightTenants,
    /// Each tenant's event types as intake checks them.
    pub event_types: hookpost_db::event_types::KnownTypes,
    /// Test sends running now (their in-process caps).
    pub test_sends: test_send::Running,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// The API's state; `sender` is the process's one HTTP client (for test sends).
    pub fn new(
        config: Config,
        store: Store,
        db: hookpost_db::Db,
        sender: hookpost_delivery::Sender,
        metrics: Arc<Metrics>,
        readiness: Readiness,
    ) -> SharedState {
        let publisher = |name: &str| {
            Publisher::new(
                &config.amqp_url,
                name,
                Topology::for_config(&config),
                config.connect_timeout,
            )
            .with_window(config.publish_window)
            .with_reconnect_hook(metrics.reconnect_counter(Role::Ingest))
        };
        let (publisher, overflow, light) = (
            publisher("hookpost-ingest"),
            publisher("hookpost-ingest-overflow"),
            publisher("hookpost-ingest-light"),
        );
        let event_types = hookpost_db::event_types::KnownTypes::new(db.clone(), &config);
        let intake = crate::intake::Leases::new(&config, &metrics.intake_asks);
        let light_tenants = crate::light::LightTenants::new(config.light_rate, config.light_burst);
        Arc::new(AppState {
            checks: RoleChecks::new(Role::Ingest, &readiness, &metrics),
            sender,
            admin: auth::AdminToken::new(&config),
            throttle: throttle::Throttle::new(&config),
            config,
            store,
            event_types,
            db,
            publisher,
            overflow,
            light,
            metrics,
            readiness,
            keyspace_ok: AtomicBool::new(true),
            ordered_hooks: ordering::OrderedHooks::default(),
            intake,
            light_tenants,
            test_sends: test_send::Running::default(),
        })
    }

    /// The publisher of the events that take `lane`.
    pub fn publisher_of(&self, lane: Lane) -> &Publisher {
        match lane {
            Lane::Fair => &self.publisher,
            Lane::Light => &self.light,
            Lane::Overflow => &self.overflow,
        }
    }
}
