//! A submitted form (`application/x-www-form-urlencoded`), read by field name; a name
//! may repeat (checkboxes).

/// The largest form body read.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// `Debug` shows field names only: forms carry API keys, the admin token and secrets.
#[derive(Default)]
pub struct Form(Vec<(String, String)>);

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn repeated_fields_and_blanks() {
        let f = super::Form::parse(b"events=a&events=b&url=+http%3A%2F%2Fx+&d=");
        assert_eq!(f.all("events"), ["a", "b"]);
        assert_eq!(f.text("url"), Some("http://x"));
        assert_eq!(f.text("d"), None);
        assert_eq!(f.get("nope"), None);
    }

    #[test]
    fn debug_shows_names_but_no_value() {
        let f = super::Form::parse(b"key=hp_live_s3cr3t&secret=whsec_x");
        let shown = format!("{f:?}");
        assert!(shown.contains("key") && !shown.contains("s3cr3t") && !shown.contains("whsec_x"));
    }
}
