//! Write permissions on entities: `register`, `update` (with per-property and per-relation
//! grants) and `unregister`, decided by `portolan_domain::permission` on the stored entity
//! and the request. Also the rule that holds for everyone: an entity's `team` values name
//! existing teams.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use portolan_domain::Issues;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::permission::{
    BlueprintPermissions, Decision, EntityChange, can_register, can_unregister, can_update,
};
use portolan_domain::query::{self, ParseScope, Query};
use portolan_store::Tenant;
use portolan_store::entities::{self, ReadOptions, WriteMode};
use portolan_store::identity::{blueprint_permissions, unknown_teams};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::error::ApiError;

/// An entity write to check: its index in the request, its body (queries resolved) and its
/// identifier (when known before the write).
pub struct PendingWrite<'a> {
    pub index: usize,
    pub body: &'a Value,
    pub identifier: Option<String>,
}

/// The owning teams of a body's `team` (a string, an array or absent).
fn teams_of(v: Option<&Value>) -> Option<Vec<String>> {
    match v {
        None => None,
        Some(Value::Null) => Some(vec![]),
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
        Some(_) => Some(vec![]),
    }
}

/// 422 when a write names teams that do not exist.
pub async fn check_teams(t: &Tenant, body: &Value) -> Result<(), ApiError> {
    let missing = unknown_teams(t, &teams_of(body.get("team")).unwrap_or_default()).await?;
    team_error(body, &missing).map_or(Ok(()), Err)
}

/// The team names among `bodies`' `team` values that are not teams of the org (one query).
pub async fn missing_teams<'b>(
    t: &Tenant,
    bodies: impl Iterator<Item = &'b Value>,
) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = bodies
        .flat_map(|b| teams_of(b.get("team")).unwrap_or_default())
        .collect();
    names.sort();
    names.dedup();
    Ok(unknown_teams(t, &names).await?)
}

/// The 422 for a body naming any of the `missing` teams.
pub fn team_error(body: &Value, missing: &[String]) -> Option<ApiError> {
    let named: Vec<String> = teams_of(body.get("team"))
        .unwrap_or_default()
        .into_iter()
        .filter(|t| missing.contains(t))
        .collect();
    if named.is_empty() {
        return None;
    }
    let mut issues = Issues::default();
    issues.push(
        "/team",
        format!(
            "no team named {} (create it with POST /v1/teams)",
            named
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    Some(ApiError::Invalid(issues))
}

/// The keys of `given` whose value differs from `before` (a missing key counts as `null`);
/// with `replace`, also the keys of `before` that `given` drops.
fn changed_keys(before: Option<&Value>, given: Option<&Value>, replace: bool) -> Vec<String> {
    let empty = Map::new();
    let before = before.and_then(Value::as_object).unwrap_or(&empty);
    let given_map = given.and_then(Value::as_object);
    let mut out = Vec::new();
    if let Some(g) = given_map {
        for (k, v) in g {
            let old = before.get(k).unwrap_or(&Value::Null);
            if old != v {
                out.push(k.clone());
            }
        }
    }
    if replace {
        for (k, v) in before {
            let dropped = given_map.is_none_or(|g| !g.contains_key(k));
            if dropped && !v.is_null() && !out.contains(k) {
                out.push(k.clone());
            }
        }
    }
    out
}

fn change_of(before: &Value, body: &Value, mode: WriteMode) -> EntityChange {
    let replace = mode == WriteMode::Replace;
    let teams_before = teams_of(before.get("team")).unwrap_or_default();
    let teams_after = match teams_of(body.get("team")) {
        Some(t) => t,
        None if replace => vec![],
        None => teams_before.clone(),
    };
    let meta_changed = |key: &str| match body.get(key) {
        Some(v) => before.get(key).unwrap_or(&Value::Null) != v,
        None => replace && !before.get(key).unwrap_or(&Value::Null).is_null(),
    };
    EntityChange {
        teams_before,
        teams_after,
        metadata: meta_changed("title") || meta_changed("icon"),
        properties: changed_keys(before.get("properties"), body.get("properties"), replace),
        relations: changed_keys(before.get("relations"), body.get("relations"), replace),
    }
}

/// Which of `writes` the caller may make; the others come back as 403 errors with their
/// index (404 for an entity the caller may not read: a write never confirms that such an
/// entity exists). Admins and the blueprint's moderators skip the per-entity checks. The
/// stored entities, and which of them the caller may read, are looked up in one search each
/// per 1,000 identifiers, not per entity.
pub async fn check_writes<'a>(
    t: &Tenant,
    caller: &Caller,
    blueprint: &str,
    mode: WriteMode,
    writes: Vec<PendingWrite<'a>>,
) -> Result<
    (
        Vec<PendingWrite<'a>>,
        Vec<(usize, Option<String>, ApiError)>,
    ),
    ApiError,
> {
    if caller.principal.moderates(blueprint) {
        return Ok((writes, vec![]));
    }
    let perms = blueprint_permissions(t, blueprint).await?;
    let blueprints = portolan_store::search::blueprints(t).await?;
    let mut ids: Vec<String> = writes.iter().filter_map(|w| w.identifier.clone()).collect();
    ids.sort();
    ids.dedup();
    let stored = stored_entities(t, &blueprints, blueprint, &ids, None).await?;
    let existing: Vec<String> = stored.keys().cloned().collect();
    let scope = crate::access::read_scope(t, caller, &blueprints, &[blueprint.to_owned()]).await?;
    let readable: HashSet<String> = match (&scope.filter, scope.is_empty()) {
        (_, true) => HashSet::new(),
        (None, false) => existing.iter().cloned().collect(),
        (Some(filter), false) => {
            stored_entities(t, &blueprints, blueprint, &existing, Some(filter))
                .await?
                .into_keys()
                .collect()
        }
    };
    let mut allowed = Vec::new();
    let mut refused = Vec::new();
    for w in writes {
        let before = w.identifier.as_ref().and_then(|id| stored.get(id));
        let verdict = match (before, &w.identifier) {
            (Some(_), Some(id)) if !readable.contains(id) => {
                Err(portolan_store::StoreError::not_found("entity", id.as_str()).into())
            }
            _ => decide(caller, &perms, blueprint, mode, &w, before),
        };
        match verdict {
            Ok(()) => allowed.push(w),
            Err(e) => refused.push((w.index, w.identifier.clone(), e)),
        }
    }
    Ok((allowed, refused))
}

/// The stored entities of `blueprint` among `ids` (matching `filter` when given), by
/// identifier, in Port's read shape.
async fn stored_entities(
    t: &Tenant,
    blueprints: &IndexMap<String, Blueprint>,
    blueprint: &str,
    ids: &[String],
    filter: Option<&Query>,
) -> Result<HashMap<String, Value>, ApiError> {
    let mut out = HashMap::new();
    let candidates = [blueprint.to_owned()];
    for chunk in ids.chunks(1000) {
        let raw = json!({"combinator": "and", "rules": [
            {"property": "$identifier", "operator": "in", "value": chunk}]});
        let parsed = query::parse(
            &raw,
            &ParseScope {
                blueprints,
                blueprint: Some(blueprint),
                pointer: "",
            },
        )?;
        let page = portolan_store::search::search(
            t,
            &portolan_store::search::SearchRequest {
                query: &parsed.query,
                filter,
                blueprints,
                candidates: &candidates,
                sort: None,
                after: None,
                limit: 1000,
                read: &ReadOptions::default(),
            },
        )
        .await?;
        for e in page.entities {
            if let Some(id) = e.get("identifier").and_then(Value::as_str) {
                out.insert(id.to_owned(), e);
            }
        }
    }
    Ok(out)
}

/// The decision for one write, given the stored entity (if any).
fn decide(
    caller: &Caller,
    perms: &BlueprintPermissions,
    blueprint: &str,
    mode: WriteMode,
    w: &PendingWrite<'_>,
    before: Option<&Value>,
) -> Result<(), ApiError> {
    let decision = match before {
        None => can_register(
            &caller.principal,
            perms,
            blueprint,
            &teams_of(w.body.get("team")).unwrap_or_default(),
        ),
        // A plain create of an existing identifier fails with 409 in the store; judge it
        // as the registration it is.
        Some(_) if mode == WriteMode::Create => can_register(
            &caller.principal,
            perms,
            blueprint,
            &teams_of(w.body.get("team")).unwrap_or_default(),
        ),
        Some(before) => {
            let mut change = change_of(before, w.body, mode);
            // A write that changes nothing still touches the entity (and a write the store
            // sees differently would change it): it needs the `update` grant at least.
            if !change.metadata
                && change.properties.is_empty()
                && change.relations.is_empty()
                && change.teams_before == change.teams_after
            {
                change.metadata = true;
            }
            can_update(&caller.principal, perms, blueprint, &change)
        }
    };
    match decision {
        Decision::Allow => Ok(()),
        Decision::Deny(message) => Err(ApiError::Forbidden(message)),
    }
}

/// May the caller delete entity `identifier` of `blueprint`? 404 when it does not exist.
pub async fn check_unregister(
    t: &Tenant,
    caller: &Caller,
    blueprint: &str,
    identifier: &str,
) -> Result<(), ApiError> {
    if caller.principal.moderates(blueprint) {
        return Ok(());
    }
    let before = entities::get(t, blueprint, identifier, &ReadOptions::default()).await?;
    let blueprints = portolan_store::search::blueprints(t).await?;
    if !crate::access::can_read_entity(t, caller, &blueprints, blueprint, identifier).await? {
        return Err(portolan_store::StoreError::not_found("entity", identifier).into());
    }
    let perms = blueprint_permissions(t, blueprint).await?;
    match can_unregister(
        &caller.principal,
        &perms,
        blueprint,
        &teams_of(before.get("team")).unwrap_or_default(),
    ) {
        Decision::Allow => Ok(()),
        Decision::Deny(m) => Err(ApiError::Forbidden(m)),
    }
}
