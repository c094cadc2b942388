//! The event-type catalogue as the API and the console change it: the operator's global
//! types (the admin token alone) and each tenant's own (its key, or the admin token
//! acting for it). The rows and intake's cache of them are `hookpost_db::event_types`'s.

use hookpost_core::hook::check_events;
use hookpost_db::event_types::{self as types, Created, EventType, Refusal, Scope, TypeChange};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fields::{given, present};
use crate::{AppState, ServiceError};

/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION: usize = 1024;
/// Largest schema accepted, in bytes of compact JSON.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// A type as the API shows it.
#[derive(Debug, Serialize)]
pub struct TypeView {
    pub name: String,
    /// `global` (the operator's) or `tenant` (the caller's own).
    pub scope: &'static str,
    pub description: String,
    pub schema: Option<Value>,
    pub deprecated: bool,
    /// A `data` that the schema takes, for documentation.
    pub example: Value,
    pub created_at: String,
    pub updated_at: String,
}

impl TypeView {
    pub fn of(t: &EventType) -> TypeView {
        TypeView {
            name: t.name.clone(),
            scope: if t.tenant.is_some() {
                "tenant"
            } else {
                "global"
            },
            description: t.description.clone(),
            schema: t.schema.clone(),
            deprecated: t.deprecated,
            example: hookpost_core::example::of(t.schema.as_ref()),
            created_at: hookpost_core::rfc3339(t.created_at),
            updated_at: hookpost_core::rfc3339(t.updated_at),
        }
    }
}

/// `POST` and `PATCH` bodies: `name` only when creating (a type is not renamed);
/// `schema: null` clears it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeInput {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "given")]
    pub schema: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub deprecated: Option<bool>,
}

impl TypeInput {
    /// The change it asks for, each field checked.
    fn change(self) -> Result<TypeChange, ServiceError> {
        if let Some(d) = &self.description {
            if d.chars().count() > MAX_DESCRIPTION {
                return Err(ServiceError::invalid(
                    "description",
                    format!("is longer than {MAX_DESCRIPTION} characters"),
                ));
            }
            crate::fields::storable("description", d)?;
        }
        let schema = match self.schema {
            None => None,
            Some(Value::Null) => Some(None),
            Some(s) => {
                let text = serde_json::to_string(&s).unwrap_or_default();
                if text.len() > MAX_SCHEMA_BYTES {
                    return Err(ServiceError::invalid(
                        "schema",
                        format!("is larger than {MAX_SCHEMA_BYTES} bytes"),
                    ));
                }
                // Nor can its jsonb: a schema is stored as one.
                if text.contains("\\u0000") {
                    return Err(ServiceError::invalid("schema", "may not contain U+0000"));
                }
                types::compile(&s).map_err(|e| {
                    ServiceError::BadRequest(
                        "invalid_schema",
                        format!("`schema` is not a JSON Schema this server can use: {e}"),
                    )
                })?;
                Some(Some(s))
            }
        };
        Ok(TypeChange {
            description: self.description,
            schema,
            deprecated: self.deprecated,
        })
    }
}

/// The types `scope` sees, by name.
pub async fn list(state: &AppState, scope: Scope<'_>) -> Result<Vec<TypeView>, ServiceError> {
    let types = state.db.event_types(scope).await?;
    Ok(types.iter().map(TypeView::of).collect())
}

pub async fn get(state: &AppState, scope: Scope<'_>, name: &str) -> Result<TypeView, ServiceError> {
    match state.db.event_type(scope, name).await? {
        Some(t) => Ok(TypeView::of(&t)),
        None => Err(ServiceError::NotFound("event type")),
    }
}

pub async fn create(
    state: &AppState,
    scope: Scope<'_>,
    mut input: TypeInput,
) -> Result<TypeView, ServiceError> {
    let name = input.name.take().ok_or(ServiceError::missing("name"))?;
    if !is_type_name(&name) {
        return Err(ServiceError::invalid(
            "name",
            "must be `resource.action`: dot-separated parts of letters, digits and `_`, at most 128 bytes",
        ));
    }
    let change = input.change()?;
    let schema = change.schema.flatten();
    let created = state
        .db
        .create_event_type(
            scope,
            &name,
            change.description.as_deref().unwrap_or(""),
            schema.as_ref(),
            change.deprecated.unwrap_or(false),
        )
        .await?;
    match created {
        Created::Done(t) => {
            state.event_types.forget(scope);
            Ok(TypeView::of(&t))
        }
        Created::Exists => Err(ServiceError::Conflict(
            "already_exists",
            format!("an event type `{name}` exists already: change it with PATCH"),
        )),
        Created::Full => Err(ServiceError::Unprocessable(
            "too_many_event_types",
            format!(
                "{} event types are the most one catalogue holds",
                types::MAX_PER_SCOPE
            ),
        )),
    }
}

pub async fn update(
    state: &AppState,
    scope: Scope<'_>,
    name: &str,
    input: TypeInput,
) -> Result<TypeView, ServiceError> {
    if input.name.is_some() {
        return Err(ServiceError::invalid(
            "name",
            "cannot change: make a new type instead",
        ));
    }
    let change = input.change()?;
    match state.db.update_event_type(scope, name, &change).await? {
        Some(t) => {
            state.event_types.forget(scope);
            Ok(TypeView::of(&t))
        }
        None => Err(not_own(state, scope, name).await),
    }
}

pub async fn delete(state: &AppState, scope: Scope<'_>, name: &str) -> Result<(), ServiceError> {
    if state.db.delete_event_type(scope, name).await? {
        state.event_types.forget(scope);
        Ok(())
    } else {
        Err(not_own(state, scope, name).await)
    }
}

/// A name a new type may take: `resource.action` (the form the built-in types have).
fn is_type_name(name: &str) -> bool {
    name.len() <= hookpost_core::event::MAX_NAME_LEN
        && name.contains('.')
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// Why a tenant could not change `name`: a global type is the operator's (403), else 404.
async fn not_own(state: &AppState, scope: Scope<'_>, name: &str) -> ServiceError {
    if let Scope::Tenant(_) = scope {
        if let Ok(Some(t)) = state.db.event_type(Scope::Global, name).await {
            return ServiceError::Forbidden(
                "global_event_type",
                format!(
                    "`{}` is a global type, changed by the operator; create a type of your own \
                     with this name to stand in for it",
                    t.name
                ),
            );
        }
    }
    ServiceError::NotFound("event type")
}

/// The API's error for an event its type refuses (400 naming the failing path).
pub fn refused(tenant: &str, kind: &str, refusal: Refusal) -> ServiceError {
    ServiceError::BadRequest(refusal.reason().as_str(), refusal.message(tenant, kind))
}

/// Hooks may take `*` or the types their tenant knows; the error lists the known ones.
pub async fn check_subscribed(
    state: &AppState,
    tenant: &str,
    events: &[String],
) -> Result<(), ServiceError> {
    check_events(events).map_err(|m| ServiceError::invalid("events", m))?;
    let Some((unknown, catalogue)) = state.event_types.unknown(tenant, events).await? else {
        return Ok(());
    };
    let known = catalogue.names();
    Err(ServiceError::BadRequest(
        "unknown_event_type",
        format!(
            "`events`: `{unknown}` is not a known event type; known: {}",
            known.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::is_type_name;

    #[test]
    fn a_type_is_named_resource_dot_action() {
        for good in [
            "ticket.created",
            "agent_reply.created",
            "a.b.c",
            "v2.order.paid",
        ] {
            assert!(is_type_name(good), "{good}");
        }
        let long = format!("a.{}", "b".repeat(127));
        for bad in [
            "ticket",
            "*",
            "a..b",
            ".a",
            "a.",
            "a b.c",
            "a:b.c",
            "a-b.c",
            long.as_str(),
        ] {
            assert!(!is_type_name(bad), "{bad}");
        }
    }
}
