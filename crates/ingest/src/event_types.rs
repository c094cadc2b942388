//! `/v1/event-types`: the catalogue. The admin token alone reads and changes the global
//! types; a tenant's key (or the admin token acting for it) reads the global types and
//! its own, and changes its own. Each handler is a call of `hookpost_service::event_types`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use hookpost_db::event_types::Scope;
use hookpost_service::event_types::{self, TypeInput, TypeView};
use hookpost_service::{auth, SharedState};
use serde_json::{json, Value};

use crate::body;
use crate::error::HttpError;

/// Whose types a request acts on.
pub enum Catalogue {
    Global,
    Tenant(String),
}

impl Catalogue {
    fn scope(&self) -> Scope<'_> {
        match self {
            Catalogue::Global => Scope::Global,
            Catalogue::Tenant(t) => Scope::Tenant(t),
        }
    }
}

impl FromRequestParts<SharedState> for Catalogue {
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let acting_for = parts.headers.contains_key(auth::ACT_FOR);
        if !acting_for && auth::admin(state, &parts.headers).is_ok() {
            return Ok(Catalogue::Global);
        }
        Ok(Catalogue::Tenant(
            auth::tenant(state, &parts.headers).await?,
        ))
    }
}

pub async fn list(
    State(state): State<SharedState>,
    who: Catalogue,
) -> Result<Json<Value>, HttpError> {
    let types = event_types::list(&state, who.scope()).await?;
    Ok(Json(json!({ "event_types": types })))
}

pub async fn get(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    who: Catalogue,
) -> Result<Json<TypeView>, HttpError> {
    Ok(Json(event_types::get(&state, who.scope(), &name).await?))
}

pub async fn create(
    State(state): State<SharedState>,
    who: Catalogue,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<TypeView>), HttpError> {
    let input: TypeInput = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    let created = event_types::create(&state, who.scope(), input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn patch(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    who: Catalogue,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<TypeView>, HttpError> {
    let input: TypeInput = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    Ok(Json(
        event_types::update(&state, who.scope(), &name, input).await?,
    ))
}

pub async fn delete(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    who: Catalogue,
) -> Result<StatusCode, HttpError> {
    event_types::delete(&state, who.scope(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
