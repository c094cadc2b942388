//! Security scenarios: fairness.
