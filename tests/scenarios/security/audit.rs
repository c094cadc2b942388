//! Security scenarios: audit.
