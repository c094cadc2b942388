//! The form that creates or edits a hook: URL, event types, body format, description and
//! filter.
//! What it sends goes through the API's own checks (`hookpost_service::hooks::apply`).

use hookpost_core::hook::Format;
use hookpost_core::Hook;
use hookpost_db::event_types::EventType;
use hookpost_service::hooks::HookInput;
use maud::{html, Markup};
use serde_json::Value;

use crate::error::PageError;
use crate::form::Form;
use crate::session::Viewer;

/// The form's fields, from a stored hook or as submitted.
#[derive(Debug, Default, Clone)]
pub struct Values {
    pub url: String,
    pub events: Vec<String>,
    /// A format's name as the select sends it (see [`FORMATS`]).
    pub format: String,
    pub description: String,
    pub filter: String,
}

/// The formats the select offers, with what each sends.
const FORMATS: [(Format, &str, &str); 3] = [
    (Format::Hookpost, "hookpost", "hookpost"),
    (
        Format::Happyfox,
        "happyfox",
        "HappyFox: a new uuid in each request",
    ),
    (
        Format::Tiledesk,
        "tiledesk",
        "Tiledesk: its notification object, x-hook-secret",
    ),
];

impl Values {
    pub fn of(hook: &Hook) -> Values {
        Values {
            url: hook.url.clone(),
            events: hook.events.clone(),
            format: FORMATS
                .iter()
                .find(|(f, _, _)| *f == hook.format)
                .map_or("hookpost", |(_, name, _)| name)
                .to_owned(),
            description: hook.description.clone().unwrap_or_default(),
            filter: hook
                .filter
                .as_ref()
                .and_then(|f| serde_json::to_string_pretty(f).ok())
                .unwrap_or_default(),
        }
    }

    pub fn submitted(form: &Form) -> Values {
        let mut events = form.all("events");
        if events.iter().any(|e| e == "*") {
            events = vec!["*".into()];
        }
        Values {
            url: form.get("url").unwrap_or_default().trim().to_owned(),
            events,
            format: form.get("format").unwrap_or("hookpost").to_owned(),
            description: form
                .get("description")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            filter: form.get("filter").unwrap_or_default().trim().to_owned(),
        }
    }

    /// The API input these values make; a blank filter removes it.
    pub fn input(&self) -> Result<HookInput, PageError> {
        let filter = if self.filter.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&self.filter)
                .map_err(|e| PageError::bad_request(format!("The filter is not JSON: {e}")))?
        };
        if self.events.is_empty() {
            return Err(PageError::bad_request(
                "Choose at least one event type (or all events).",
            ));
        }
        Ok(HookInput {
            url: Some(self.url.clone()),
            events: Some(self.events.clone()),
            format: Some(Value::String(self.format.clone())),
            description: Some(self.description.clone()),
            filter: Some(filter),
            ..HookInput::default()
        })
    }
}

/// The form, posting to `action`.
pub fn render(
    types: &[EventType],
    viewer: &Viewer,
    action: &str,
    values: &Values,
    submit: &str,
) -> Markup {
    let all = values.events.iter().any(|e| e == "*");
    html! {
        form.hook-form method="post" action=(action) {
            (crate::layout::csrf(viewer))
            label for="url" { "URL" }
            input #url type="url" name="url" value=(values.url) required
                placeholder="https://example.com/hooks";
            fieldset.events {
                legend { "Events" }
                label.all {
                    input type="checkbox" name="events" value="*" checked[all] #events-all;
                    " All events, present and future"
                }
                div.event-grid {
                    @for t in types {
                        label title=(t.description) {
                            input type="checkbox" name="events" value=(t.name)
                                checked[!all && values.events.contains(&t.name)];
                            " " code { (t.name) }
                        }
                    }
                }
            }
            label for="format" { "Body format" }
            select #format name="format" {
                @for (_, name, label) in FORMATS {
                    option value=(name) selected[values.format == name] { (label) }
                }
            }
            label for="description" { "Description " span.hint { "(optional)" } }
            input #description type="text" name="description" value=(values.description)
                maxlength="500";
            label for="filter" { "Filter " span.hint { "(optional, JSON smart rule)" } }
            textarea #filter name="filter" rows="3"
                placeholder=r#"{"path": "$.ticket.priority", "op": "eq", "value": "high"}"# {
                (values.filter)
            }
            button type="submit" #save { (submit) }
        }
    }
}
