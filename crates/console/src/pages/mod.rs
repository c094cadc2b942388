//! The console's pages, one module per subject.

pub mod delivery;
pub mod event_types;
pub mod events;
pub mod hook_form;
pub mod hooks;
pub mod log;
pub mod operator;

use axum::response::{IntoResponse, Redirect, Response};

use crate::error::PageError;
use crate::form::Form;

/// An id from a path, checked against the form hookpost gives it (`path_id::hook`, say)
/// before it names a store key: anything else names nothing.
pub fn checked_id(
    id: &str,
    check: fn(&str) -> Result<&str, hookpost_service::ServiceError>,
) -> Result<&str, PageError> {
    use hookpost_service::ServiceError;
    match check(id) {
        Ok(_) => Ok(id),
        Err(ServiceError::NotFound(what)) => Err(PageError::not_found(what)),
        Err(_) => Err(PageError::not_found("page")),
    }
}

/// The tenant whose data the page shows: the signed-in tenant, or the one an operator
/// picked.
pub fn tenant_in_view(viewer: &crate::session::Viewer) -> Result<&str, PageError> {
    viewer
        .scope()
        .ok_or_else(|| PageError::bad_request("Pick a tenant on the operator page first."))
}

/// Records what an operator (a session opened with the admin token) does for a tenant,
/// before it is done; a tenant's own actions are not audited. Refused when the entry
/// cannot be written.
pub async fn audit_operator(
    state: &hookpost_service::AppState,
    viewer: &crate::session::Viewer,
    headers: &axum::http::HeaderMap,
    action: &str,
    tenant: &str,
    target: Option<&str>,
) -> Result<(), PageError> {
    if !viewer.is_admin() {
        return Ok(());
    }
    let mut entry = hookpost_db::audit::AuditEntry::now("operator", action, Some(tenant));
    entry.target = target.map(str::to_owned);
    hookpost_service::audit::record(state, entry, headers, viewer.client.clone()).await?;
    Ok(())
}

/// A query string, read like a form.
pub fn query(raw: Option<String>) -> Form {
    Form::parse(raw.unwrap_or_default().as_bytes())
}

/// After a change, the page to show (303, so a reload does not post again).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// What a `?done=` after a redirect says. Only fixed texts: nothing from the URL is
/// shown but a number.
pub fn done_message(q: &Form) -> Option<String> {
    let n = q.get("n").and_then(|n| n.parse::<u64>().ok());
    Some(match q.get("done")? {
        "created" => "Hook created.".into(),
        "saved" => "Hook saved.".into(),
        "activated" => "Hook activated.".into(),
        "deactivated" => "Hook deactivated: nothing more is sent to it.".into(),
        "deleted" => "Hook deleted.".into(),
        "resent" => format!("Resent: attempt {} is queued.", n?),
        "queued" => match n? {
            1 => "1 failed delivery queued to be sent again.".into(),
            n => format!("{n} failed deliveries queued to be sent again."),
        },
        _ => return None,
    })
}
