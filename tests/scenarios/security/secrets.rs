//! Security scenarios: secrets.
