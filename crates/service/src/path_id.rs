//! Ids taken from a URL path, checked against the form hookpost gives them before they
//! name a store key: an id such as `<delivery>:attempts` would otherwise name another
//! key (and Redis would answer WRONGTYPE). A malformed id names nothing: 404.

use crate::ServiceError;

/// A hook id (`hook_…`).
pub fn hook(id: &str) -> Result<&str, ServiceError> {
    checked(id, hookpost_core::ids::is_generated("hook", id), "hook")
}

/// A delivery id (`dlv_` and 32 hex digits).
pub fn delivery(id: &str) -> Result<&str, ServiceError> {
    checked(id, hookpost_core::delivery::is_delivery_id(id), "delivery")
}

/// An event id: the producer's own (1 to 128 of `A-Z a-z 0-9 _ . : -`), or a generated one.
pub fn event(id: &str) -> Result<&str, ServiceError> {
    checked(id, hookpost_core::event::is_name(id), "event")
}

/// A tenant id (`hookpost_core::event::check_tenant_id`).
pub fn tenant(id: &str) -> Result<&str, ServiceError> {
    checked(
        id,
        hookpost_core::event::check_tenant_id(id).is_ok(),
        "tenant",
    )
}

/// An API key's id (`key_…`).
pub fn key(id: &str) -> Result<&str, ServiceError> {
    checked(id, hookpost_core::ids::is_generated("key", id), "key")
}

fn checked<'a>(id: &'a str, fine: bool, what: &'static str) -> Result<&'a str, ServiceError> {
    if fine {
        Ok(id)
    } else {
        Err(ServiceError::NotFound(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_would_name_other_keys_are_not_found() {
        let dlv = hookpost_core::delivery::delivery_id("acme", "e1", "hook_1");
        assert!(delivery(&dlv).is_ok());
        let hook_id = hookpost_core::ids::ordered_id("hook");
        assert!(hook(&hook_id).is_ok());
        for (result, what) in [
            (delivery(&format!("{dlv}:attempts")), "delivery"),
            (hook(&format!("{hook_id}:rate")), "hook"),
            (hook("x}:hooks"), "hook"),
            (event("e1 x"), "event"),
            (event(&"e".repeat(129)), "event"),
            (tenant("acme}:x"), "tenant"),
            (key("key_1:x"), "key"),
        ] {
            match result {
                Err(ServiceError::NotFound(w)) => assert_eq!(w, what),
                other => panic!("{what}: {other:?}"),
            }
        }
        // Producers' event ids keep their `:` (the store encodes it where it could collide).
        assert!(event("order:42:paid").is_ok());
    }
}
