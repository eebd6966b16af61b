//! Newtype identifiers and the identifier rules of Port.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An organization (tenant). Every tenant-owned row carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgId(pub Uuid);

impl OrgId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for OrgId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for OrgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A blueprint identifier that passed [`validate_blueprint_identifier`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlueprintKey(String);

/// An entity's address inside an org: blueprint plus entity identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityKey {
    pub blueprint: String,
    pub identifier: String,
}

impl BlueprintKey {
    /// Parses a blueprint identifier, refusing anything Port would refuse.
    pub fn parse(s: &str) -> Result<Self, String> {
        validate_blueprint_identifier(s).map(|()| Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for BlueprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for BlueprintKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

pub const MAX_BLUEPRINT_IDENTIFIER: usize = 100;
pub const MAX_KEY: usize = 100;
pub const MAX_ENTITY_IDENTIFIER: usize = 1000;

fn is_blueprint_char(c: char) -> bool {
    c.is_alphabetic() || c.is_ascii_digit() || "@_.+:\\/-".contains(c)
}

/// Port: `^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/-]+$`, at most 100 characters.
pub fn validate_blueprint_identifier(s: &str) -> Result<(), String> {
    check_identifier(
        s,
        MAX_BLUEPRINT_IDENTIFIER,
        is_blueprint_char,
        "blueprint identifier",
    )
}

/// Port: entity identifiers follow the blueprint pattern plus `=`, at most 1000 characters.
pub fn validate_entity_identifier(s: &str) -> Result<(), String> {
    check_identifier(
        s,
        MAX_ENTITY_IDENTIFIER,
        |c| is_blueprint_char(c) || c == '=',
        "entity identifier",
    )
}

/// Property, relation and other keys: `^[A-Za-z0-9@_=\-]+$`, at most 100 characters.
pub fn validate_key(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > MAX_KEY {
        return Err(format!("must be at most {MAX_KEY} characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@_=-".contains(c))
    {
        return Err("must match ^[A-Za-z0-9@_=\\-]+$".into());
    }
    Ok(())
}

fn check_identifier(
    s: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
    what: &str,
) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if s.chars().count() > max {
        return Err(format!("{what} must be at most {max} characters"));
    }
    if s == "." || s == ".." {
        return Err(format!("{what} must not be '.' or '..'"));
    }
    if let Some(bad) = s.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "{what} contains a character that is not allowed: {bad:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blueprint_identifiers() {
        for ok in [
            "service",
            "my-service_2",
            "a.b",
            "ns/x:y+z@w",
            "Δοκιμή",
            "a\\b",
        ] {
            assert!(validate_blueprint_identifier(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(101);
        for bad in ["", ".", "..", "a b", "a=b", "a#b", long.as_str()] {
            assert!(validate_blueprint_identifier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn entity_identifiers_allow_equals_and_1000_chars() {
        assert!(validate_entity_identifier("k=v").is_ok());
        assert!(validate_entity_identifier(&"x".repeat(1000)).is_ok());
        assert!(validate_entity_identifier(&"x".repeat(1001)).is_err());
        assert!(validate_entity_identifier("a b").is_err());
    }

    #[test]
    fn keys() {
        assert!(validate_key("port_1-@=").is_ok());
        for bad in ["", "a.b", "a/b", "ü", &"k".repeat(101)] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}
