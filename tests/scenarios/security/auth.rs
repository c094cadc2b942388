//! Security scenarios: auth.
