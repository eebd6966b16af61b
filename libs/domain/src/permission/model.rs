//! Permission documents in Port's wire shape, their defaults, and their validation.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{ADMIN, MEMBER, moderated_blueprint, moderator_role};
use crate::Issues;
use crate::blueprint::Blueprint;
use crate::error::escape_token;
use crate::query::{self, ParseScope};

/// Most entries in one grant's `roles`, `users` or `teams`.
pub const MAX_GRANT_ENTRIES: usize = 500;

/// Who a permission is given to: `{roles, users, teams, ownedByTeam}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Grant {
    pub roles: Vec<String>,
    /// Emails, lower case.
    pub users: Vec<String>,
    /// Team names.
    pub teams: Vec<String>,
    pub owned_by_team: bool,
}

impl Grant {
    pub fn roles(roles: &[&str]) -> Self {
        Grant {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            ..Grant::default()
        }
    }
}

/// A grant with an optional `policy`: a Port query the entity must match (read, execute,
/// approve).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyGrant {
    #[serde(flatten)]
    pub grant: Grant,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
}

/// A blueprint's entity permissions (Port's `{"entities": {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintPermissions {
    pub read: PolicyGrant,
    pub register: Grant,
    pub update: Grant,
    pub unregister: Grant,
    /// Per-property grants that replace `update` for that property.
    #[serde(default)]
    pub update_properties: BTreeMap<String, Grant>,
    /// Per-relation grants that replace `update` for that relation.
    #[serde(default)]
    pub update_relations: BTreeMap<String, Grant>,
}

impl BlueprintPermissions {
    /// What a blueprint starts with: everyone reads; Admin and the blueprint's moderators
    /// write.
    pub fn defaults(blueprint: &str) -> Self {
        let moderator = moderator_role(blueprint);
        let writers = Grant::roles(&[ADMIN, &moderator]);
        BlueprintPermissions {
            read: PolicyGrant {
                grant: Grant::roles(&[ADMIN, MEMBER, &moderator]),
                policy: None,
            },
            register: writers.clone(),
            update: writers.clone(),
            unregister: writers,
            update_properties: BTreeMap::new(),
            update_relations: BTreeMap::new(),
        }
    }

    /// The stored document (`{"entities": ...}`) read back; `None` when it is not one.
    pub fn from_stored(doc: &Value) -> Option<Self> {
        serde_json::from_value(doc.get("entities")?.clone()).ok()
    }

    /// The document to store.
    pub fn to_stored(&self) -> Value {
        json!({ "entities": self })
    }

    /// The effective grant for a property: its own, else `update`.
    pub fn property_grant(&self, key: &str) -> &Grant {
        self.update_properties.get(key).unwrap_or(&self.update)
    }

    /// The effective grant for a relation: its own, else `update`.
    pub fn relation_grant(&self, key: &str) -> &Grant {
        self.update_relations.get(key).unwrap_or(&self.update)
    }

    /// Port's read shape: every property and relation of the blueprint is listed under
    /// `updateProperties` / `updateRelations` with its effective grant.
    pub fn to_port(&self, bp: &Blueprint) -> Value {
        let props: Map<String, Value> = bp
            .properties
            .keys()
            .map(|k| (k.clone(), json!(self.property_grant(k))))
            .collect();
        let rels: Map<String, Value> = bp
            .relations
            .keys()
            .map(|k| (k.clone(), json!(self.relation_grant(k))))
            .collect();
        json!({"entities": {
            "read": self.read,
            "register": self.register,
            "update": self.update,
            "unregister": self.unregister,
            "updateProperties": props,
            "updateRelations": rels,
        }})
    }

    /// Drops per-field grants of properties and relations the blueprint no longer has.
    pub fn prune(&mut self, bp: &Blueprint) {
        self.update_properties
            .retain(|k, _| bp.properties.contains_key(k));
        self.update_relations
            .retain(|k, _| bp.relations.contains_key(k));
    }
}

/// An action's permissions (Port's `{"execute": ..., "approve": ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionPermissions {
    pub execute: PolicyGrant,
    pub approve: PolicyGrant,
}

impl ActionPermissions {
    /// Everyone may execute; Admin (and the moderators of `blueprint`, when the action belongs
    /// to one) approve.
    pub fn defaults(blueprint: Option<&str>) -> Self {
        let mut approvers = vec![ADMIN.to_owned()];
        if let Some(bp) = blueprint {
            approvers.push(moderator_role(bp));
        }
        let mut executors = approvers.clone();
        executors.push(MEMBER.to_owned());
        ActionPermissions {
            execute: PolicyGrant {
                grant: Grant {
                    roles: executors,
                    ..Grant::default()
                },
                policy: None,
            },
            approve: PolicyGrant {
                grant: Grant {
                    roles: approvers,
                    ..Grant::default()
                },
                policy: None,
            },
        }
    }
}

/// Users and teams a permission document names: the caller checks they exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// (JSON pointer, email)
    pub users: Vec<(String, String)>,
    /// (JSON pointer, team name)
    pub teams: Vec<(String, String)>,
}

/// Applies a `PATCH /v1/blueprints/{bp}/permissions` body to `current`: every grant that is
/// present replaces the members it names (`roles`, `users`, `teams`, `ownedByTeam`, `policy`);
/// `updateProperties` / `updateRelations` entries replace that field's grant, and `null`
/// removes it (the field falls back to `update`). Roles must be `Admin`, `Member` or the
/// moderator role of an existing blueprint; a policy is a query over this blueprint.
pub fn parse_blueprint_patch(
    current: &BlueprintPermissions,
    body: &Value,
    bp: &Blueprint,
    blueprints: &IndexMap<String, Blueprint>,
) -> Result<(BlueprintPermissions, References), Issues> {
    let mut issues = Issues::default();
    let mut refs = References::default();
    let mut next = current.clone();
    let Some(root) = body.as_object() else {
        issues.push("", "the body must be an object: {\"entities\": {...}}");
        return Err(issues);
    };
    for key in root.keys().filter(|k| k.as_str() != "entities") {
        issues.push(
            format!("/{}", escape_token(key)),
            "unknown member (only `entities`)",
        );
    }
    let Some(entities) = root.get("entities") else {
        issues.push("/entities", "`entities` is required");
        return Err(issues);
    };
    let Some(entities) = entities.as_object() else {
        issues.push("/entities", "must be an object");
        return Err(issues);
    };
    let roles_ok = |role: &str| {
        role == ADMIN
            || role == MEMBER
            || moderated_blueprint(role).is_some_and(|b| blueprints.contains_key(b))
    };
    let mut ctx = GrantCtx {
        issues: &mut issues,
        refs: &mut refs,
        roles_ok: &roles_ok,
    };
    for (key, value) in entities {
        let pointer = format!("/entities/{}", escape_token(key));
        match key.as_str() {
            "read" => {
                let mut g = next.read.clone();
                if ctx.apply(&mut g.grant, value, &pointer, &["policy"]) {
                    if let Some(policy) = value.get("policy") {
                        g.policy = parse_policy(policy, bp, blueprints, &pointer, ctx.issues);
                    }
                    next.read = g;
                }
            }
            "register" => {
                ctx.apply(&mut next.register, value, &pointer, &[]);
            }
            "update" => {
                ctx.apply(&mut next.update, value, &pointer, &[]);
            }
            "unregister" => {
                ctx.apply(&mut next.unregister, value, &pointer, &[]);
            }
            "updateProperties" | "updateRelations" => {
                let props = key == "updateProperties";
                let Some(map) = value.as_object() else {
                    ctx.issues.push(pointer, "must be an object");
                    continue;
                };
                for (field, grant) in map {
                    let fp = format!("{pointer}/{}", escape_token(field));
                    let known = if props {
                        bp.properties.contains_key(field)
                    } else {
                        bp.relations.contains_key(field)
                    };
                    if !known {
                        let what = if props { "property" } else { "relation" };
                        ctx.issues.push(
                            fp,
                            format!("blueprint `{}` has no {what} `{field}`", bp.identifier),
                        );
                        continue;
                    }
                    let target = if props {
                        &mut next.update_properties
                    } else {
                        &mut next.update_relations
                    };
                    if grant.is_null() {
                        target.remove(field);
                        continue;
                    }
                    let mut g = target
                        .get(field)
                        .cloned()
                        .unwrap_or_else(|| current.update.clone());
                    if ctx.apply(&mut g, grant, &fp, &[]) {
                        target.insert(field.clone(), g);
                    }
                }
            }
            _ => ctx.issues.push(
                pointer,
                "unknown permission (read, register, update, unregister, updateProperties, updateRelations)",
            ),
        }
    }
    issues.into_result((next, refs))
}

/// Applies a `PATCH /v1/actions/{id}/permissions` body (`execute`, `approve`) to `current`.
/// Policies must be Port queries; they are checked in full where the action's blueprint is
/// known (`bp`).
pub fn parse_action_patch(
    current: &ActionPermissions,
    body: &Value,
    bp: Option<&Blueprint>,
    blueprints: &IndexMap<String, Blueprint>,
) -> Result<(ActionPermissions, References), Issues> {
    let mut issues = Issues::default();
    let mut refs = References::default();
    let mut next = current.clone();
    let Some(root) = body.as_object() else {
        issues.push(
            "",
            "the body must be an object: {\"execute\": ..., \"approve\": ...}",
        );
        return Err(issues);
    };
    let roles_ok = |role: &str| {
        role == ADMIN
            || role == MEMBER
            || moderated_blueprint(role).is_some_and(|b| blueprints.contains_key(b))
    };
    let mut ctx = GrantCtx {
        issues: &mut issues,
        refs: &mut refs,
        roles_ok: &roles_ok,
    };
    for (key, value) in root {
        let pointer = format!("/{}", escape_token(key));
        let target = match key.as_str() {
            "execute" => &mut next.execute,
            "approve" => &mut next.approve,
            _ => {
                ctx.issues
                    .push(pointer, "unknown permission (execute, approve)");
                continue;
            }
        };
        let mut g = target.clone();
        if ctx.apply(&mut g.grant, value, &pointer, &["policy"]) {
            if let Some(policy) = value.get("policy") {
                g.policy = match bp {
                    Some(bp) => parse_policy(policy, bp, blueprints, &pointer, ctx.issues),
                    None if policy.is_null() => None,
                    None if query::is_query(policy) => Some(policy.clone()),
                    None => {
                        ctx.issues.push(
                            format!("{pointer}/policy"),
                            "must be a query: {\"combinator\": \"and\" | \"or\", \"rules\": [...]}",
                        );
                        None
                    }
                };
            }
            *target = g;
        }
    }
    issues.into_result((next, refs))
}

struct GrantCtx<'a> {
    issues: &'a mut Issues,
    refs: &'a mut References,
    roles_ok: &'a dyn Fn(&str) -> bool,
}

impl GrantCtx<'_> {
    /// Applies the members of `value` to `grant`. False (with issues) when `value` is not a
    /// grant object.
    fn apply(&mut self, grant: &mut Grant, value: &Value, pointer: &str, extra: &[&str]) -> bool {
        let Some(obj) = value.as_object() else {
            self.issues.push(
                pointer,
                "must be an object: {roles, users, teams, ownedByTeam}",
            );
            return false;
        };
        let before = self.issues.0.len();
        for (member, v) in obj {
            let mp = format!("{pointer}/{}", escape_token(member));
            match member.as_str() {
                "roles" => {
                    if let Some(list) = self.strings(v, &mp) {
                        for (i, role) in &list {
                            if !(self.roles_ok)(role) {
                                self.issues.push(
                                    format!("{mp}/{i}"),
                                    format!("unknown role `{role}` (Admin, Member or <blueprint>-moderator of an existing blueprint)"),
                                );
                            }
                        }
                        grant.roles = list.into_iter().map(|(_, role)| role).collect();
                    }
                }
                "users" => {
                    if let Some(list) = self.strings(v, &mp) {
                        // Emails are compared lower case: duplicates only then show.
                        let mut users: Vec<String> = Vec::with_capacity(list.len());
                        for (i, email) in list {
                            let email = email.to_lowercase();
                            if !users.contains(&email) {
                                self.refs.users.push((format!("{mp}/{i}"), email.clone()));
                                users.push(email);
                            }
                        }
                        grant.users = users;
                    }
                }
                "teams" => {
                    if let Some(list) = self.strings(v, &mp) {
                        for (i, team) in &list {
                            self.refs.teams.push((format!("{mp}/{i}"), team.clone()));
                        }
                        grant.teams = list.into_iter().map(|(_, team)| team).collect();
                    }
                }
                "ownedByTeam" => match v.as_bool() {
                    Some(b) => grant.owned_by_team = b,
                    None => self.issues.push(mp, "must be a boolean"),
                },
                m if extra.contains(&m) => {}
                _ => self.issues.push(
                    mp,
                    format!(
                        "unknown member (roles, users, teams, ownedByTeam{})",
                        extra.iter().map(|e| format!(", {e}")).collect::<String>()
                    ),
                ),
            }
        }
        self.issues.0.len() == before
    }

    /// The distinct strings of `v`, each with its index in `v` (for pointers).
    fn strings(&mut self, v: &Value, pointer: &str) -> Option<Vec<(usize, String)>> {
        let Some(items) = v.as_array() else {
            self.issues.push(pointer, "must be an array of strings");
            return None;
        };
        if items.len() > MAX_GRANT_ENTRIES {
            self.issues.push(
                pointer,
                format!("at most {MAX_GRANT_ENTRIES} entries, got {}", items.len()),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) if !s.is_empty() && s.len() <= 254 => {
                    if !out.iter().any(|(_, o)| o == s) {
                        out.push((i, s.to_owned()));
                    }
                }
                _ => self.issues.push(
                    format!("{pointer}/{i}"),
                    "must be a non-empty string of at most 254 characters",
                ),
            }
        }
        Some(out)
    }
}

/// A policy: `null` removes it, else a query over `bp` (checked by the query parser).
fn parse_policy(
    policy: &Value,
    bp: &Blueprint,
    blueprints: &IndexMap<String, Blueprint>,
    pointer: &str,
    issues: &mut Issues,
) -> Option<Value> {
    if policy.is_null() {
        return None;
    }
    let pointer = format!("{pointer}/policy");
    let scope = ParseScope {
        blueprints,
        blueprint: Some(&bp.identifier),
        pointer: &pointer,
    };
    match query::parse(policy, &scope) {
        Ok(_) => Some(policy.clone()),
        Err(found) => {
            issues.0.extend(found.0);
            None
        }
    }
}
