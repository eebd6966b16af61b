//! The decisions: pure functions of the caller, the permission document and the entity.

use serde_json::{Value, json};

use super::Principal;
use super::model::{ActionPermissions, BlueprintPermissions, Grant, PolicyGrant};

/// Allowed, or refused with the reason to show (a 403's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
}

impl Decision {
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// Which entities of a blueprint the caller may read.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadAccess {
    /// All of them.
    All,
    /// Those matching this Port query (with `{context: user | userTeams}` values, to be
    /// parsed against the blueprint and bound to the caller).
    Filter(Value),
    /// None.
    Nothing,
}

/// What an update changes, as the decisions need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityChange {
    /// The stored entity's owning teams.
    pub teams_before: Vec<String>,
    /// The owning teams after the change.
    pub teams_after: Vec<String>,
    /// `title` or `icon` changes.
    pub metadata: bool,
    /// Property keys whose value changes.
    pub properties: Vec<String>,
    /// Relation keys whose value changes.
    pub relations: Vec<String>,
}

/// Admin or moderator of the blueprint: everything, without looking at permissions.
pub fn full_control(p: &Principal, blueprint: &str) -> bool {
    p.moderates(blueprint)
}

/// Does `grant` pass without looking at the entity (roles, users, teams)?
fn passes_unconditionally(grant: &Grant, p: &Principal) -> bool {
    grant.roles.iter().any(|r| p.has_role(r))
        || p.email.as_ref().is_some_and(|e| grant.users.contains(e))
        || grant.teams.iter().any(|t| p.teams.contains(t))
}

/// Does `grant` pass for an entity owned by `owners`?
fn passes(grant: &Grant, p: &Principal, owners: &[String]) -> bool {
    passes_unconditionally(grant, p) || (grant.owned_by_team && p.in_any(owners))
}

fn deny(what: &str, blueprint: &str) -> Decision {
    Decision::Deny(format!(
        "you may not {what} entities of blueprint `{blueprint}`"
    ))
}

/// May `p` create an entity owned by `teams` in `blueprint`?
pub fn can_register(
    p: &Principal,
    perms: &BlueprintPermissions,
    blueprint: &str,
    teams: &[String],
) -> Decision {
    if full_control(p, blueprint) || passes(&perms.register, p, teams) {
        Decision::Allow
    } else {
        deny("register", blueprint)
    }
}

/// May `p` delete an entity owned by `teams` from `blueprint`?
pub fn can_unregister(
    p: &Principal,
    perms: &BlueprintPermissions,
    blueprint: &str,
    teams: &[String],
) -> Decision {
    if full_control(p, blueprint) || passes(&perms.unregister, p, teams) {
        Decision::Allow
    } else {
        deny("unregister", blueprint)
    }
}

/// May `p` make `change` to an entity of `blueprint`? The refusal names the first field
/// refused.
pub fn can_update(
    p: &Principal,
    perms: &BlueprintPermissions,
    blueprint: &str,
    change: &EntityChange,
) -> Decision {
    if full_control(p, blueprint) {
        return Decision::Allow;
    }
    let before = &change.teams_before;
    let refuse = |field: String| {
        Decision::Deny(format!(
            "you may not update {field} of entities of blueprint `{blueprint}`"
        ))
    };
    let team_changed = sorted(&change.teams_before) != sorted(&change.teams_after);
    if (change.metadata || team_changed) && !passes(&perms.update, p, before) {
        return refuse("the title, icon or team".into());
    }
    // Without an unconditional grant, a caller updates through its teams' ownership: it may
    // not hand the entity to, or share it with, a team it is not in.
    let adds_foreign_team = change
        .teams_after
        .iter()
        .any(|t| !change.teams_before.contains(t) && !p.teams.contains(t));
    if team_changed
        && !passes_unconditionally(&perms.update, p)
        && (adds_foreign_team || !passes(&perms.update, p, &change.teams_after))
    {
        return Decision::Deny(format!(
            "you may not give entities of blueprint `{blueprint}` to a team you could not update them in"
        ));
    }
    for key in &change.properties {
        if !passes(perms.property_grant(key), p, before) {
            return refuse(format!("property `{key}`"));
        }
    }
    for key in &change.relations {
        if !passes(perms.relation_grant(key), p, before) {
            return refuse(format!("relation `{key}`"));
        }
    }
    Decision::Allow
}

fn sorted(v: &[String]) -> Vec<&String> {
    let mut s: Vec<&String> = v.iter().collect();
    s.sort();
    s.dedup();
    s
}

/// Which entities of `blueprint` `p` may read: all, those its teams own or its policy
/// matches, or none.
pub fn read_access(p: &Principal, perms: &BlueprintPermissions, blueprint: &str) -> ReadAccess {
    if full_control(p, blueprint) {
        return ReadAccess::All;
    }
    policy_access(&perms.read, p)
}

fn policy_access(g: &PolicyGrant, p: &Principal) -> ReadAccess {
    if passes_unconditionally(&g.grant, p) {
        return ReadAccess::All;
    }
    let mut rules = Vec::new();
    if g.grant.owned_by_team && !p.teams.is_empty() {
        rules.push(json!({"property": "$team", "operator": "containsAny", "value": p.teams}));
    }
    if let Some(policy) = &g.policy {
        // Nested, a query may only hold `combinator` and `rules` (a root may carry more).
        rules.push(json!({"combinator": policy.get("combinator"), "rules": policy.get("rules")}));
    }
    // Always a query (a lone `$team` rule is not one), so it parses like any other.
    if rules.is_empty() {
        ReadAccess::Nothing
    } else {
        ReadAccess::Filter(json!({"combinator": "or", "rules": rules}))
    }
}

/// On which entities `p` may execute an action (of `blueprint`, if the action has one).
/// [`ReadAccess::Filter`] is the policy and team ownership the entity must match.
pub fn can_execute(
    p: &Principal,
    perms: &ActionPermissions,
    blueprint: Option<&str>,
) -> ReadAccess {
    if p.is_admin() || blueprint.is_some_and(|bp| p.moderates(bp)) {
        return ReadAccess::All;
    }
    policy_access(&perms.execute, p)
}

/// May `p` approve runs of an action (of `blueprint`, if any)? Same shape as
/// [`can_execute`]; a user never approves their own run (the caller checks that).
pub fn can_approve(
    p: &Principal,
    perms: &ActionPermissions,
    blueprint: Option<&str>,
) -> ReadAccess {
    if p.is_admin() || blueprint.is_some_and(|bp| p.moderates(bp)) {
        return ReadAccess::All;
    }
    policy_access(&perms.approve, p)
}
