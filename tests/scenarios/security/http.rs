//! Security scenarios: http.
