//! Who is calling, as extractors: [`Tenant`] for a tenant's routes (its API key, or the
//! admin token acting for one), [`Admin`] for the operators' routes. The checks
//! themselves are `hookpost_service::auth`'s.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use hookpost_service::{auth, SharedState};

use crate::error::HttpError;

/// The tenant a request acts for; 401 without a key that names one.
pub struct Tenant(pub String);

impl FromRequestParts<SharedState> for Tenant {
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Tenant(auth::tenant(state, &parts.headers).await?))
    }
}

/// A request made with the admin token; 401 otherwise.
pub struct Admin;

impl FromRequestParts<SharedState> for Admin {
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        auth::admin(state, &parts.headers)?;
        Ok(Admin)
    }
}
