//! Security scenarios: egress.
