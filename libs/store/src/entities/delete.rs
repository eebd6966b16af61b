//! Entity deletes: one, or up to 100 all-or-nothing, with Port's dependents rules.
//!
//! Entities holding a *required* relation to a deleted entity block the delete (409
//! `has_dependents`) unless `delete_dependents=true`, which deletes them too, transitively.
//! Optional relations pointing at a deleted entity are cleared on their holders (with an
//! update event each).

use std::collections::{BTreeMap, HashMap, HashSet};

use portolan_domain::event::{Action, Actor, ResourceType};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::IN_CHUNK;
use super::shape::entity_json;
use super::write::{fetch, upsert_rows};
use crate::blueprints;
use crate::events::{self, NewEvent};
use crate::models::{entity, relation};
use crate::{StoreError, Tenant};

/// Most dependents listed in a `has_dependents` error, and most entities one request may
/// delete transitively.
const MAX_LISTED: usize = 100;
const MAX_CASCADE: usize = 100_000;

/// Deletes one entity; returns every deleted entity as (blueprint, identifier).
pub async fn delete(
    t: &Tenant,
    blueprint: &str,
    id: &str,
    delete_dependents: bool,
    actor: &Actor,
) -> Result<Vec<(String, String)>, StoreError> {
    delete_set(
        t,
        blueprint,
        &[id.to_owned()],
        delete_dependents.into(),
        actor,
    )
    .await
}

/// Deletes 1 to 100 entities of one blueprint, all or nothing.
pub async fn bulk_delete(
    t: &Tenant,
    blueprint: &str,
    ids: &[String],
    delete_dependents: bool,
    actor: &Actor,
) -> Result<Vec<(String, String)>, StoreError> {
    delete_set(t, blueprint, ids, delete_dependents.into(), actor).await
}

/// Which dependents a delete takes along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cascade<'a> {
    /// None: required dependents refuse the delete, optional ones are cleared.
    None,
    /// Every dependent, transitively (`delete_dependents=true`).
    All,
    /// Dependents of this blueprint that hold a *required* relation (the delete-all job deletes
    /// them anyway, and they could not be left without their target).
    RequiredWithin(&'a str),
}

impl From<bool> for Cascade<'_> {
    fn from(all: bool) -> Self {
        if all { Cascade::All } else { Cascade::None }
    }
}

pub(crate) async fn delete_set(
    t: &Tenant,
    blueprint: &str,
    ids: &[String],
    cascade: Cascade<'_>,
    actor: &Actor,
) -> Result<Vec<(String, String)>, StoreError> {
    blueprints::load_locked(t, blueprint, blueprints::Lock::Share).await?;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let roots = fetch(
        t,
        blueprint,
        &refs,
        t.store().backend() == crate::Backend::Postgres,
    )
    .await?;
    if let Some(missing) = ids.iter().find(|id| !roots.contains_key(id.as_str())) {
        return Err(StoreError::not_found("entity", missing.clone()));
    }
    let mut set: HashSet<(String, String)> = ids
        .iter()
        .map(|id| (blueprint.to_owned(), id.clone()))
        .collect();
    let mut frontier: Vec<(String, String)> = set.iter().cloned().collect();
    let mut outside: Vec<relation::Model> = Vec::new();
    while !frontier.is_empty() {
        let incoming = incoming_edges(t, &frontier).await?;
        frontier.clear();
        for e in incoming {
            let source = (e.source_blueprint.clone(), e.source_identifier.clone());
            if set.contains(&source) {
                continue;
            }
            let take = match cascade {
                Cascade::All => true,
                Cascade::RequiredWithin(bp) => e.required && source.0 == bp,
                Cascade::None => false,
            };
            if take {
                set.insert(source.clone());
                frontier.push(source);
                if set.len() > MAX_CASCADE {
                    return Err(StoreError::Conflict(format!(
                        "deleting dependents would delete more than {MAX_CASCADE} entities"
                    )));
                }
            } else {
                outside.push(e);
            }
        }
    }
    // Edges found before their source joined the set are not "outside" after all.
    outside.retain(|e| !set.contains(&(e.source_blueprint.clone(), e.source_identifier.clone())));
    let required: Vec<&relation::Model> = outside.iter().filter(|e| e.required).collect();
    if !required.is_empty() {
        let dependents = required
            .iter()
            .take(MAX_LISTED)
            .map(|e| {
                json!({"blueprint": e.source_blueprint, "identifier": e.source_identifier,
                       "relation": e.relation, "target": e.target_identifier})
            })
            .collect();
        return Err(StoreError::HasDependents {
            message: format!(
                "{} entit{} hold a required relation to what is being deleted; delete them first or pass delete_dependents=true",
                required.len(),
                if required.len() == 1 { "y" } else { "ies" }
            ),
            dependents,
        });
    }
    clear_optional(t, &outside, &set, actor).await?;

    // Group the set by blueprint, load the rows (for events), drop edges, delete rows.
    let mut by_bp: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (bp, id) in &set {
        by_bp.entry(bp.clone()).or_default().push(id.clone());
    }
    let mut evts = Vec::new();
    let mut deleted = Vec::new();
    for (bp_id, ids) in &by_bp {
        let bp = blueprints::load(t, bp_id).await?;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let rows = fetch(t, bp_id, &refs, false).await?;
        for chunk in ids.chunks(IN_CHUNK) {
            relation::Entity::delete_many()
                .filter(relation::Column::OrgId.eq(t.org().0))
                .filter(relation::Column::SourceBlueprint.eq(bp_id.as_str()))
                .filter(relation::Column::SourceIdentifier.is_in(chunk.iter().map(String::as_str)))
                .exec(t.conn())
                .await?;
        }
        for id in ids {
            if let Some(m) = rows.get(id) {
                evts.push(NewEvent {
                    resource_type: ResourceType::Entity,
                    action: Action::Delete,
                    resource_id: id.clone(),
                    blueprint: Some(bp_id.clone()),
                    context: json!({"blueprintIdentifier": bp_id, "entityIdentifier": id}),
                    before: Some(entity_json(m, &bp.compiled.blueprint)),
                    after: None,
                    run_id: None,
                });
            }
            deleted.push((bp_id.clone(), id.clone()));
        }
    }
    for (bp_id, ids) in &by_bp {
        // The search index rows go with their entities (no foreign key: see the migration).
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        crate::search::index::delete(t, bp_id, &refs).await?;
        for chunk in ids.chunks(IN_CHUNK) {
            entity::Entity::delete_many()
                .filter(entity::Column::OrgId.eq(t.org().0))
                .filter(entity::Column::Blueprint.eq(bp_id.as_str()))
                .filter(entity::Column::Identifier.is_in(chunk.iter().map(String::as_str)))
                .exec(t.conn())
                .await?;
        }
    }
    events::append(t.conn(), t.org(), actor, evts).await?;
    deleted.sort();
    Ok(deleted)
}

/// Edges pointing at any of `targets`.
pub(crate) async fn incoming_edges(
    t: &Tenant,
    targets: &[(String, String)],
) -> Result<Vec<relation::Model>, StoreError> {
    let mut by_bp: HashMap<&str, Vec<&str>> = HashMap::new();
    for (bp, id) in targets {
        by_bp.entry(bp.as_str()).or_default().push(id.as_str());
    }
    let mut out = Vec::new();
    for (bp, ids) in by_bp {
        for chunk in ids.chunks(IN_CHUNK) {
            out.extend(
                relation::Entity::find()
                    .filter(relation::Column::OrgId.eq(t.org().0))
                    .filter(relation::Column::TargetBlueprint.eq(bp))
                    .filter(relation::Column::TargetIdentifier.is_in(chunk.iter().copied()))
                    .all(t.conn())
                    .await?,
            );
        }
    }
    Ok(out)
}

/// Removes deleted targets from the optional relations of entities that stay.
pub(crate) async fn clear_optional(
    t: &Tenant,
    edges: &[relation::Model],
    deleted: &HashSet<(String, String)>,
    actor: &Actor,
) -> Result<(), StoreError> {
    // Holders grouped by blueprint: one blueprint load, one fetch, one edge delete per target
    // blueprint and one upsert per group, however many holders there are.
    let mut by_bp: BTreeMap<&str, BTreeMap<&str, Vec<&relation::Model>>> = BTreeMap::new();
    for e in edges {
        by_bp
            .entry(e.source_blueprint.as_str())
            .or_default()
            .entry(e.source_identifier.as_str())
            .or_default()
            .push(e);
    }
    let now = crate::now_ms();
    let mut evts = Vec::new();
    for (bp_id, holders) in by_bp {
        let bp = blueprints::load_locked(t, bp_id, blueprints::Lock::Share).await?;
        let ids: Vec<&str> = holders.keys().copied().collect();
        let rows = fetch(t, bp_id, &ids, false).await?;
        let mut changed = Vec::with_capacity(rows.len());
        for (id, es) in &holders {
            let Some(before) = rows.get(*id) else {
                continue;
            };
            let mut after = before.clone();
            if let Some(rels) = after.relations.as_object_mut() {
                for e in es {
                    let gone = |v: &Value| {
                        v.as_str().is_some_and(|s| {
                            s == e.target_identifier
                                && deleted.contains(&(e.target_blueprint.clone(), s.to_owned()))
                        })
                    };
                    let remove_key = match rels.get_mut(&e.relation) {
                        Some(Value::Array(a)) => {
                            a.retain(|v| !gone(v));
                            false
                        }
                        Some(v) => gone(v),
                        None => false,
                    };
                    if remove_key {
                        rels.remove(&e.relation);
                    }
                }
            }
            after.updated_at = now;
            after.updated_by.clone_from(&actor.by);
            evts.push(NewEvent {
                resource_type: ResourceType::Entity,
                action: Action::Update,
                resource_id: (*id).to_owned(),
                blueprint: Some(bp_id.to_owned()),
                context: json!({"blueprintIdentifier": bp_id, "entityIdentifier": id}),
                before: Some(entity_json(before, &bp.compiled.blueprint)),
                after: Some(entity_json(&after, &bp.compiled.blueprint)),
                run_id: None,
            });
            changed.push(after);
        }
        // Every edge from these holders into the deleted set goes.
        let mut targets: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for es in holders.values() {
            for e in es {
                targets
                    .entry(e.target_blueprint.as_str())
                    .or_default()
                    .push(e.target_identifier.as_str());
            }
        }
        for (target_bp, mut target_ids) in targets {
            target_ids.sort_unstable();
            target_ids.dedup();
            for sources in ids.chunks(IN_CHUNK) {
                for chunk in target_ids.chunks(IN_CHUNK) {
                    relation::Entity::delete_many()
                        .filter(relation::Column::OrgId.eq(t.org().0))
                        .filter(relation::Column::SourceBlueprint.eq(bp_id))
                        .filter(relation::Column::SourceIdentifier.is_in(sources.iter().copied()))
                        .filter(relation::Column::TargetBlueprint.eq(target_bp))
                        .filter(relation::Column::TargetIdentifier.is_in(chunk.iter().copied()))
                        .exec(t.conn())
                        .await?;
                }
            }
        }
        let holders: Vec<String> = changed.iter().map(|m| m.identifier.clone()).collect();
        upsert_rows(t, changed).await?;
        super::ownership::refresh_after_relations_changed(t, bp_id, holders).await?;
    }
    events::append(t.conn(), t.org(), actor, evts).await
}

/// Removes, from `rows` of `bp`, the values of relations `keys` (which target `bp` itself) that
/// point at entities that no longer exist; writes each changed row with an update event.
pub(crate) async fn drop_missing_targets(
    t: &Tenant,
    bp: &blueprints::StoredBlueprint,
    keys: &[&String],
    rows: Vec<entity::Model>,
    actor: &Actor,
) -> Result<(), StoreError> {
    let blueprint = bp.model.identifier.as_str();
    let mut wanted: Vec<String> = Vec::new();
    for m in &rows {
        for k in keys {
            match m.relations.get(k.as_str()) {
                Some(Value::String(s)) => wanted.push(s.clone()),
                Some(Value::Array(a)) => {
                    wanted.extend(a.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                _ => {}
            }
        }
    }
    wanted.sort();
    wanted.dedup();
    let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let alive: HashSet<String> = super::write::existing_ids(t, blueprint, &refs)
        .await?
        .into_iter()
        .collect();
    let now = crate::now_ms();
    let mut evts = Vec::new();
    let mut updated = Vec::new();
    for before in rows {
        let mut after = before.clone();
        let mut changed = false;
        if let Some(rels) = after.relations.as_object_mut() {
            for k in keys {
                let remove = match rels.get_mut(k.as_str()) {
                    Some(Value::Array(a)) => {
                        let n = a.len();
                        a.retain(|v| v.as_str().is_some_and(|s| alive.contains(s)));
                        changed |= a.len() != n;
                        false
                    }
                    Some(Value::String(s)) => !alive.contains(s.as_str()),
                    _ => false,
                };
                if remove {
                    rels.remove(k.as_str());
                    changed = true;
                }
            }
        }
        if !changed {
            continue;
        }
        after.updated_at = now;
        after.updated_by.clone_from(&actor.by);
        evts.push(NewEvent {
            resource_type: ResourceType::Entity,
            action: Action::Update,
            resource_id: after.identifier.clone(),
            blueprint: Some(blueprint.to_owned()),
            context: json!({"blueprintIdentifier": blueprint, "entityIdentifier": after.identifier}),
            before: Some(entity_json(&before, &bp.compiled.blueprint)),
            after: Some(entity_json(&after, &bp.compiled.blueprint)),
            run_id: None,
        });
        updated.push(after);
    }
    upsert_rows(t, updated).await?;
    events::append(t.conn(), t.org(), actor, evts).await
}
