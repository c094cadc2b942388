//! The built-in event types, each with a one-line description: the events the seed
//! products document (SupportBee, Tiledesk, HappyFox), named `resource.action`, plus any
//! a deployment adds with `HOOKPOST_EVENT_TYPES`. They are seeded as global types (see
//! `hookpost_db::event_types`, where the catalogue lives as data); metrics label events
//! by these names only (anything else is `other`), so label values stay a closed set
//! whatever types tenants define.

/// The built-in types and what they mean.
pub const DEFAULT_TYPES: &[(&str, &str)] = &[
    ("ticket.created", "A ticket was created"),
    ("ticket.updated", "A ticket was edited"),
    (
        "ticket.assigned_to_user",
        "A ticket was assigned to an agent",
    ),
    (
        "ticket.unassigned_from_user",
        "A ticket was unassigned from an agent",
    ),
    ("ticket.assigned_to_team", "A ticket was assigned to a team"),
    (
        "ticket.unassigned_from_team",
        "A ticket was unassigned from a team",
    ),
    ("ticket.answered", "A ticket was marked answered"),
    ("ticket.unanswered", "A ticket was marked unanswered"),
    ("ticket.spammed", "A ticket was marked as spam"),
    ("ticket.unspammed", "A ticket was unmarked as spam"),
    ("ticket.trashed", "A ticket was moved to the trash"),
    ("ticket.untrashed", "A ticket was restored from the trash"),
    ("ticket.archived", "A ticket was archived"),
    ("ticket.unarchived", "A ticket was unarchived"),
    ("ticket.smart_rule", "A smart rule triggered on a ticket"),
    ("customer_reply.created", "A customer replied to a ticket"),
    ("agent_reply.created", "An agent replied to a ticket"),
    ("comment.created", "A comment was added to a ticket"),
    ("request.create", "A chat request was created"),
    ("request.update", "A chat request was updated"),
    ("request.close", "A chat request was closed"),
    ("message.create", "A message was created"),
    ("lead.create", "A lead was created"),
    ("faq.create", "An FAQ was created"),
    ("faq.update", "An FAQ was updated"),
    ("faq.delete", "An FAQ was deleted"),
];

/// The label for event types outside the catalogue.
pub const OTHER: &str = "other";

/// The catalogue in force: the defaults and the configured extras.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    extra: Vec<String>,
}

impl Catalogue {
    pub fn new(extra: Vec<String>) -> Self {
        Catalogue { extra }
    }

    /// The types `HOOKPOST_EVENT_TYPES` adds.
    pub fn extras(&self) -> &[String] {
        &self.extra
    }

    pub fn contains(&self, kind: &str) -> bool {
        DEFAULT_TYPES.iter().any(|(t, _)| *t == kind) || self.extra.iter().any(|t| t == kind)
    }

    /// The metric label for an event type: itself when known, else [`OTHER`].
    pub fn label<'a>(&self, kind: &'a str) -> &'a str {
        if self.contains(kind) {
            kind
        } else {
            OTHER
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_seed_events_and_the_extras() {
        let c = Catalogue::new(vec!["invoice.paid".into()]);
        assert!(
            c.contains("ticket.created") && c.contains("lead.create") && c.contains("invoice.paid")
        );
        assert_eq!(c.label("made.up"), OTHER);
        assert_eq!(c.label("faq.delete"), "faq.delete");
        for (t, d) in DEFAULT_TYPES {
            assert!(t.contains('.') && !d.is_empty());
        }
    }
}
