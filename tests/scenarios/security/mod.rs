//! Issue-22 attack scenarios: each test makes one attack against a running hookpost and
//! shows it refused. One file per area.

mod audit;
mod auth;
mod egress;
mod fairness;
mod filters;
mod http;
mod secrets;
