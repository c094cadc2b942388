//! hookpost's integration tests: one binary, real RabbitMQ, Redis and HTTP receivers.
//! Each test runs under its own prefix, so tests run in parallel on shared servers.

/// The `hookpost` CLI (its `main`, built in this package) for scenarios that run roles
/// as child processes.
const HOOKPOST: &str = env!("CARGO_BIN_EXE_hookpost-child");

mod api;
mod backlog;
mod bench_smoke;
mod cluster;
mod console;
mod contract;
mod controls;
mod crashes;
mod database;
mod deploy;
mod durability;
mod event_types;
mod faults;
mod happyfox;
mod hooks_api;
mod input;
mod lanes;
mod log;
mod log_first;
mod openapi;
mod ops;
mod pipeline;
mod portal;
mod producers;
mod quickstart;
mod rabbit_cluster;
mod receivers;
mod retries;
mod sdks;
mod security;
mod shards;
mod supportbee;
mod tiledesk;
mod traces;
