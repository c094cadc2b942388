//! A delivery id as PostgreSQL keeps it: the 128 bits after `dlv_`, a `uuid` column
//! (migration 14). As text it took 37 bytes in the row and in each of the five indexes
//! that hold it; as a `uuid`, 16, compared as bytes.

use std::error::Error;

use bytes::BytesMut;
use hookpost_core::delivery::{delivery_id_bits, delivery_id_of};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

use crate::{log::corrupt, Result};

/// A delivery's id in its binary form; binds and reads as a PostgreSQL `uuid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryKey([u8; 16]);

impl DeliveryKey {
    /// The lowest key, before every delivery's: where a walk of keys in order starts.
    pub const FIRST: DeliveryKey = DeliveryKey([0; 16]);

    /// The key of `id`; `None` unless `id` has the generated form (no row has another).
    pub fn of(id: &str) -> Option<DeliveryKey> {
        delivery_id_bits(id).map(DeliveryKey)
    }

    /// [`DeliveryKey::of`] for an id that must be of the generated form (one hookpost
    /// made, or checked on its way in): another is an error, not a missing row.
    pub fn of_made(id: &str) -> Result<DeliveryKey> {
        DeliveryKey::of(id).ok_or_else(|| corrupt("delivery id", id))
    }

    /// The id, as the API shows it.
    pub fn id(&self) -> String {
        delivery_id_of(&self.0)
    }
}

impl ToSql for DeliveryKey {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for DeliveryKey {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<DeliveryKey, Box<dyn Error + Sync + Send>> {
        Ok(DeliveryKey(raw.try_into()?))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpost_core::delivery::delivery_id;

    #[test]
    fn a_generated_id_is_its_key_and_back() {
        let id = delivery_id("acme", "evt_1", "hook_1");
        assert_eq!(DeliveryKey::of(&id).unwrap().id(), id);
        assert_eq!(
            DeliveryKey::of_made(&id).unwrap(),
            DeliveryKey::of(&id).unwrap()
        );
    }

    #[test]
    fn only_the_generated_form_has_a_key() {
        let id = delivery_id("acme", "evt_1", "hook_1");
        for bad in [
            "",
            "dlv_",
            "dlv_x",
            &id.to_uppercase(),
            &id[..35],
            &format!("{id}0"),
        ] {
            assert_eq!(DeliveryKey::of(bad), None, "{bad}");
            assert!(DeliveryKey::of_made(bad).is_err(), "{bad}");
        }
    }
}
