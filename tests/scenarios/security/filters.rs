//! Security scenarios: filters.
