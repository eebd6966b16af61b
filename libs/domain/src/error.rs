//! Validation failures, each with the JSON pointer of the offending value.

use serde::Serialize;

/// One failure: where (a JSON pointer into the request body) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Issue {
    /// JSON pointer (RFC 6901) to the offending value in the request body, e.g. `/properties/port`.
    pub pointer: String,
    /// Human-readable reason.
    pub message: String,
}

impl Issue {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// A non-empty list of failures, returned by every `parse`/`validate` function of this crate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Issues(pub Vec<Issue>);

impl Issues {
    pub fn push(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.0.push(Issue::new(pointer, message));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(value)` when no issue was recorded, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Issues> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
    /// One-line summary for the `message` of an error body.
    pub fn summary(&self) -> String {
        match self.0.as_slice() {
            [] => "invalid".to_owned(),
            [one] => format!("{}: {}", display_pointer(&one.pointer), one.message),
            [first, rest @ ..] => format!(
                "{}: {} (and {} more)",
                display_pointer(&first.pointer),
                first.message,
                rest.len()
            ),
        }
    }
}

fn display_pointer(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

impl std::fmt::Display for Issues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for Issues {}

/// Escapes one reference token of a JSON pointer (RFC 6901: `~` -> `~0`, `/` -> `~1`).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_tokens() {
        for (raw, escaped) in [
            ("a", "a"),
            ("a/b", "a~1b"),
            ("a~b", "a~0b"),
            ("~/", "~0~1"),
            ("", ""),
        ] {
            assert_eq!(escape_token(raw), escaped, "{raw}");
        }
    }

    #[test]
    fn summaries() {
        let mut issues = Issues::default();
        assert!(issues.is_empty());
        assert_eq!(issues.summary(), "invalid");
        issues.push("", "must be an object");
        assert_eq!(issues.to_string(), "/: must be an object");
        issues.push("/title", "too long");
        issues.push("/team", "too many");
        assert_eq!(issues.summary(), "/: must be an object (and 2 more)");
        assert!(!issues.is_empty());
    }

    #[test]
    fn into_result() {
        assert_eq!(Issues::default().into_result(5), Ok(5));
        let mut issues = Issues::default();
        issues.push("/x", "bad");
        assert_eq!(issues.clone().into_result(5), Err(issues));
    }
}
