//! Ids as PostgreSQL keeps them: the 128 bits an id of hookpost's own form carries, in a
//! `uuid` column. A delivery's id (`dlv_` and 32 hex digits, migration 14) took 37 bytes
//! as text, a hook's (`hook_` and 26 base32 digits, migration 15) 32, in the row and in
//! each index that holds it; as a `uuid`, 16, compared as bytes, in the order of the
//! text.

use std::{error::Error, marker::PhantomData};

use bytes::BytesMut;
use hookpost_core::{
    delivery::{delivery_id_bits, delivery_id_of},
    ids::{generated_bits, generated_id_of},
};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

use crate::{log::corrupt, Result};

/// How one kind of id reads as its 128 bits and back.
pub trait IdForm {
    /// What the id names, for errors.
    const WHAT: &'static str;
    /// The bits of `id`; `None` unless `id` has the generated form.
    fn bits(id: &str) -> Option<[u8; 16]>;
    /// The id of `bits`.
    fn text(bits: &[u8; 16]) -> String;
}

/// A delivery's id: [`hookpost_core::delivery::delivery_id`]'s form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delivery;

impl IdForm for Delivery {
    const WHAT: &'static str = "delivery id";
    fn bits(id: &str) -> Option<[u8; 16]> {
        delivery_id_bits(id)
    }
    fn text(bits: &[u8; 16]) -> String {
        delivery_id_of(bits)
    }
}

/// A hook's id: `hook_` and [`hookpost_core::ids::ordered_id`]'s form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hook;

impl IdForm for Hook {
    const WHAT: &'static str = "hook id";
    fn bits(id: &str) -> Option<[u8; 16]> {
        generated_bits("hook", id)
    }
    fn text(bits: &[u8; 16]) -> String {
        generated_id_of("hook", bits)
    }
}

/// An id in its binary form; binds and reads as a PostgreSQL `uuid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key<F>([u8; 16], PhantomData<F>);

/// A delivery's id in its column.
pub type DeliveryKey = Key<Delivery>;
/// A hook's id in its column.
pub type HookKey = Key<Hook>;

impl<F: IdForm> Key<F> {
    /// The lowest key, before every other: where a walk of keys in order starts.
    pub const FIRST: Key<F> = Key([0; 16], PhantomData);

    /// The key of `id`; `None` unless `id` has the generated form (no row has another).
    pub fn of(id: &str) -> Option<Key<F>> {
        F::bits(id).map(|bits| Key(bits, PhantomData))
    }

    /// [`Key::of`] for an id that must be of the generated form (one hookpost made, or
    /// checked on its way in): another is an error, not a missing row.
    pub fn of_made(id: &str) -> Result<Key<F>> {
        Key::of(id).ok_or_else(|| corrupt(F::WHAT, id))
    }

    /// The id, as the API shows it.
    pub fn id(&self) -> String {
        F::text(&self.0)
    }
}

impl<F: IdForm + std::fmt::Debug + Sync> ToSql for Key<F> {
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

impl<'a, F: IdForm> FromSql<'a> for Key<F> {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Key<F>, Box<dyn Error + Sync + Send>> {
        Ok(Key(raw.try_into()?, PhantomData))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpost_core::{delivery::delivery_id, ids::ordered_id};

    #[test]
    fn a_generated_id_is_its_key_and_back() {
        let id = delivery_id("acme", "evt_1", "hook_1");
        assert_eq!(DeliveryKey::of(&id).unwrap().id(), id);
        assert_eq!(
            DeliveryKey::of_made(&id).unwrap(),
            DeliveryKey::of(&id).unwrap()
        );
        let hook = ordered_id("hook");
        assert_eq!(HookKey::of_made(&hook).unwrap().id(), hook);
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
        let hook = ordered_id("hook");
        for bad in ["", "hook_1", &hook[1..], &id] {
            assert_eq!(HookKey::of(bad), None, "{bad}");
            assert!(HookKey::of_made(bad).is_err(), "{bad}");
        }
        assert_eq!(HookKey::of(&id), None);
    }
}
