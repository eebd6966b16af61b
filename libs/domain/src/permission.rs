//! Port's permission model as pure functions: who the caller is ([`Principal`]), what a
//! blueprint's entity permissions and an action's permissions say ([`BlueprintPermissions`],
//! [`ActionPermissions`]), and the decisions over them.
//!
//! The rules, in one place:
//! - `Admin` may do everything in its org; `<blueprint>-moderator` may do everything to that
//!   blueprint and its entities (and manage its permissions).
//! - A [`Grant`] passes when the caller holds one of its `roles`, is one of its `users` (by
//!   email), is in one of its `teams`, or, with `ownedByTeam`, is in a team that owns the entity.
//! - Reading entities: everything when the read grant passes without looking at the entity
//!   (roles, users, teams); otherwise a filter query: the entities owned by the caller's teams
//!   (`ownedByTeam`) or matching the read `policy`, ORed; otherwise nothing.
//! - Updating: metadata (`title`, `icon`, `team`) needs `update`; a property or relation needs
//!   its `updateProperties` / `updateRelations` grant when one is set for it, else `update`.
//!   A change of `team` must pass for the teams before and after, and a caller whose grant
//!   comes only from its teams' ownership may not add a team it is not in (nobody hands an
//!   entity to, or shares it with, another team through their own team's ownership).
//! - Registering needs `register`, with ownership judged on the new entity's teams;
//!   unregistering needs `unregister`, judged on the stored entity's teams.

mod decide;
mod model;

#[cfg(test)]
mod tests;

pub use decide::{
    Decision, EntityChange, ReadAccess, can_approve, can_execute, can_register, can_unregister,
    can_update, full_control, read_access,
};
pub use model::{
    ActionPermissions, BlueprintPermissions, Grant, PolicyGrant, References, parse_action_patch,
    parse_blueprint_patch,
};

use serde::Serialize;

/// The `Admin` role: everything in the org.
pub const ADMIN: &str = "Admin";
/// The `Member` role: reads by default, writes only where a permission says so.
pub const MEMBER: &str = "Member";

/// The moderator role of a blueprint: `<blueprint>-moderator`.
pub fn moderator_role(blueprint: &str) -> String {
    format!("{blueprint}-moderator")
}

/// The blueprint a role moderates, if it is a moderator role.
pub fn moderated_blueprint(role: &str) -> Option<&str> {
    role.strip_suffix("-moderator").filter(|bp| !bp.is_empty())
}

/// What kind of caller a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A person (password, SSO or their personal credentials).
    User,
    /// An org credential set (`/v1/apps`): a machine.
    App,
}

/// The authenticated caller, as the decisions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// The user's id or the credential set's client id.
    pub id: String,
    /// The user's email (lower case); `None` for an app.
    pub email: Option<String>,
    pub roles: Vec<String>,
    /// Names of the teams the user is in (apps are in none).
    pub teams: Vec<String>,
}

impl Principal {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
    pub fn is_admin(&self) -> bool {
        self.has_role(ADMIN)
    }
    /// Admin, or moderator of `blueprint`.
    pub fn moderates(&self, blueprint: &str) -> bool {
        self.is_admin()
            || self
                .roles
                .iter()
                .any(|r| moderated_blueprint(r) == Some(blueprint))
    }
    /// In at least one of `teams`.
    pub fn in_any(&self, teams: &[String]) -> bool {
        teams.iter().any(|t| self.teams.contains(t))
    }
}
