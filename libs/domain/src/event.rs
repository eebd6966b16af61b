//! The event every mutation appends to the log (audit log + outbox), in Port's shape.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// A sign-in: a token issued for a credential set, a password or an SSO token (or a
    /// refused attempt, with status `FAILURE`).
    Login,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
            Action::Login => "LOGIN",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    Blueprint,
    Entity,
    Migration,
    Credential,
    Organization,
    User,
    Team,
    /// A blueprint's or an action's permissions.
    Permissions,
    /// An organization secret (never its value).
    Secret,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Blueprint => "blueprint",
            ResourceType::Entity => "entity",
            ResourceType::Migration => "migration",
            ResourceType::Credential => "credential",
            ResourceType::Organization => "organization",
            ResourceType::User => "user",
            ResourceType::Team => "team",
            ResourceType::Permissions => "permissions",
            ResourceType::Secret => "secret",
        }
    }

    /// The event `type` string, e.g. `entity.created`.
    pub fn event_type(self, action: Action) -> String {
        let verb = match action {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Delete => "deleted",
            Action::Login => "signed_in",
        };
        format!("{}.{verb}", self.as_str())
    }
}

/// Who did it and how (Port's `trigger`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The credential's clientId or user id.
    pub by: String,
    /// `API`, `UI`, `INTEGRATION`, `SYSTEM`.
    pub origin: String,
    /// The User-Agent of the writer (Port's `$datasource`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasource: Option<String>,
}

impl Actor {
    pub fn system() -> Self {
        Actor {
            by: "portolan".into(),
            origin: "SYSTEM".into(),
            datasource: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types() {
        assert_eq!(
            ResourceType::Entity.event_type(Action::Create),
            "entity.created"
        );
        assert_eq!(
            ResourceType::Blueprint.event_type(Action::Update),
            "blueprint.updated"
        );
        assert_eq!(
            ResourceType::Migration.event_type(Action::Delete),
            "migration.deleted"
        );
        assert_eq!(Action::Delete.as_str(), "DELETE");
        assert_eq!(ResourceType::Credential.as_str(), "credential");
    }

    #[test]
    fn serde_names_match_as_str() {
        for a in [Action::Create, Action::Update, Action::Delete] {
            assert_eq!(
                serde_json::to_value(a).ok(),
                Some(serde_json::Value::String(a.as_str().into()))
            );
        }
        for r in [
            ResourceType::Blueprint,
            ResourceType::Entity,
            ResourceType::Migration,
            ResourceType::Credential,
            ResourceType::Organization,
        ] {
            assert_eq!(
                serde_json::to_value(r).ok(),
                Some(serde_json::Value::String(r.as_str().into()))
            );
        }
        let actor = Actor::system();
        assert_eq!(
            serde_json::to_value(&actor).ok(),
            Some(serde_json::json!({"by": "portolan", "origin": "SYSTEM"}))
        );
    }
}
