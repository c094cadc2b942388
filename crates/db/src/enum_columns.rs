//! Closed sets of words as PostgreSQL keeps them: a delivery's status (`delivery_status`)
//! and an attempt's outcome (`attempt_outcome`) are enums (migration 15), 4 bytes in a
//! row where a word as text took up to 18. SQL still names them by their words
//! (`status = 'delivered'`); Rust binds and reads such a column through [`EnumColumn`].

use std::error::Error;
use std::fmt::Debug;

use bytes::BytesMut;
use hookpost_core::outcome::OutcomeKind;
use hookpost_store::log::Status;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

/// A closed set of words kept as a PostgreSQL enum.
pub trait Label: Copy + Debug + Sync + Sized {
    /// The enum's name in the schema.
    const TYPE: &'static str;
    /// The word of a value, the enum's label.
    fn label(self) -> &'static str;
    /// The value of a label; `None` for another word.
    fn of_label(label: &str) -> Option<Self>;
}

impl Label for Status {
    const TYPE: &'static str = "delivery_status";
    fn label(self) -> &'static str {
        self.as_str()
    }
    fn of_label(label: &str) -> Option<Status> {
        Status::parse(label)
    }
}

impl Label for OutcomeKind {
    const TYPE: &'static str = "attempt_outcome";
    fn label(self) -> &'static str {
        self.as_str()
    }
    fn of_label(label: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|o| o.as_str() == label)
    }
}

/// A value in its enum column; an enum's value goes over the wire as its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumColumn<T>(pub T);

impl<T: Label> ToSql for EnumColumn<T> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.extend_from_slice(self.0.label().as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        ty.name() == T::TYPE
    }

    to_sql_checked!();
}

impl<'a, T: Label> FromSql<'a> for EnumColumn<T> {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<EnumColumn<T>, Box<dyn Error + Sync + Send>> {
        let word = std::str::from_utf8(raw)?;
        let value = T::of_label(word).ok_or_else(|| format!("{} {word:?}", T::TYPE))?;
        Ok(EnumColumn(value))
    }

    fn accepts(ty: &Type) -> bool {
        ty.name() == T::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enum `name`'s labels, as migration 15 creates them.
    fn labels(name: &str) -> Vec<&'static str> {
        let sql = include_str!("migrations/0015_hook_ids_and_enums.sql");
        let start = format!("CREATE TYPE {name} AS ENUM");
        let rest = sql.split(&start).nth(1).unwrap();
        let list = rest.split('(').nth(1).unwrap().split(')').next().unwrap();
        list.split(',')
            .map(|l| l.trim().trim_matches('\''))
            .collect()
    }

    /// Each of `values` is a label of its enum, and reads back as itself; the enum has
    /// no other label.
    fn round_trip<T: Label + PartialEq>(values: &[T]) {
        let labels = labels(T::TYPE);
        for &value in values {
            assert!(labels.contains(&value.label()), "{value:?}");
            let mut wire = BytesMut::new();
            EnumColumn(value).to_sql(&Type::TEXT, &mut wire).unwrap();
            let back = EnumColumn::<T>::from_sql(&Type::TEXT, &wire).unwrap();
            assert_eq!(back.0, value);
        }
        assert_eq!(labels.len(), values.len(), "{labels:?}");
        assert!(EnumColumn::<T>::from_sql(&Type::TEXT, b"sent").is_err());
    }

    #[test]
    fn every_status_is_a_label_of_the_enum_and_back() {
        let all = [
            Status::Pending,
            Status::Retrying,
            Status::Delivered,
            Status::Failed,
            Status::Cancelled,
        ];
        // A status added to the store fails to build here until this list has it, and
        // the test until the schema's enum has it.
        for status in all {
            match status {
                Status::Pending
                | Status::Retrying
                | Status::Delivered
                | Status::Failed
                | Status::Cancelled => {}
            }
        }
        round_trip(&all);
    }

    #[test]
    fn every_outcome_is_a_label_of_the_enum_and_back() {
        round_trip(&OutcomeKind::ALL);
    }
}
