//! Entity writes: create, replace (upsert), merge, patch, validation only, with
//! `create_missing_related_entities`, for one entity or a bulk of them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use portolan_domain::Issues;
use portolan_domain::entity::{self as dom, EntityData, EntityInput};
use portolan_domain::event::{Action, Actor, ResourceType};
use portolan_domain::schema::CompiledBlueprint;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Value as SqlValue};
use serde_json::{Value, json};

use super::IN_CHUNK;
use super::shape::{entity_json, model_to_data, relations_json, team_json};
use crate::blueprints::{self, StoredBlueprint};
use crate::events::{self, NewEvent};
use crate::models::{entity, relation};
use crate::search::index;
use crate::sql::insert_rows;
use crate::{Backend, StoreError, Tenant};

/// Port's write modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// No flag: create; 409 if the identifier exists.
    Create,
    /// `upsert=true`: create or replace the whole entity.
    Replace,
    /// `upsert=true&merge=true`: create, or update only what is sent.
    Merge,
    /// `PATCH .../entities/{id}`: update only what is sent; 404 if missing.
    Patch,
}

#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub mode: WriteMode,
    /// `validation_only=true`: validate and report, write nothing.
    pub validation_only: bool,
    /// `create_missing_related_entities=true`: create bare targets for dangling relations.
    pub create_missing_related: bool,
    pub run_id: Option<String>,
}

/// One entity of a request (`index` is its position in a bulk body).
#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub index: usize,
    pub input: EntityInput,
}

#[derive(Debug)]
pub struct Written {
    pub index: usize,
    pub identifier: String,
    pub created: bool,
    pub entity: Value,
}

#[derive(Debug)]
pub struct Failed {
    pub index: usize,
    pub identifier: Option<String>,
    pub error: StoreError,
}

struct Candidate {
    index: usize,
    id: String,
    before: Option<entity::Model>,
    /// `before` as domain data (computed once).
    before_data: Option<EntityData>,
    data: EntityData,
}

/// Validates every request and writes the valid ones in the caller's transaction, with
/// their events. Failures of single items are returned, not raised: only a failure of the
/// whole request (unknown blueprint, database error) is an `Err`.
#[tracing::instrument(skip_all, fields(org = %t.org(), blueprint, n = reqs.len()), err)]
pub async fn write(
    t: &Tenant,
    blueprint: &str,
    reqs: Vec<WriteRequest>,
    opts: &WriteOptions,
    actor: &Actor,
) -> Result<(Vec<Written>, Vec<Failed>), StoreError> {
    let bp = blueprints::load_locked(t, blueprint, blueprints::Lock::Share).await?;
    let compiled = bp.compiled.clone();
    let mut failed = Vec::new();

    // Identifiers: given or generated; each at most once per request.
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(reqs.len());
    for r in reqs {
        let id = r
            .input
            .identifier
            .clone()
            .unwrap_or_else(dom::generate_identifier);
        if !seen.insert(id.clone()) {
            failed.push(Failed {
                index: r.index,
                identifier: Some(id),
                error: StoreError::invalid("/identifier", "appears more than once in this request"),
            });
            continue;
        }
        items.push((r.index, id, r.input));
    }

    let lock = !opts.validation_only && t.store().backend() == Backend::Postgres;
    let mut ids: Vec<&str> = items.iter().map(|(_, id, _)| id.as_str()).collect();
    ids.sort_unstable();
    let mut existing = fetch(t, blueprint, &ids, lock).await?;

    let mut candidates = Vec::with_capacity(items.len());
    for (index, id, input) in items {
        let before = existing.remove(&id);
        let before_data = before.as_ref().map(model_to_data);
        let data = match (opts.mode, &before_data) {
            (WriteMode::Create, Some(_)) => {
                failed.push(Failed {
                    index,
                    identifier: Some(id.clone()),
                    error: StoreError::AlreadyExists {
                        resource: "entity",
                        identifier: id,
                    },
                });
                continue;
            }
            (WriteMode::Patch, None) => {
                failed.push(Failed {
                    index,
                    identifier: Some(id.clone()),
                    error: StoreError::not_found("entity", id),
                });
                continue;
            }
            (WriteMode::Merge | WriteMode::Patch, Some(b)) => input.merge_onto(b),
            (WriteMode::Merge, None) => {
                let mut d = input.into_data(id.clone());
                compiled.apply_defaults(&mut d.properties);
                d
            }
            _ => {
                // Create and replace describe the whole entity: absent properties take their
                // defaults (so re-sending the same entity is a no-op).
                let mut d = input.into_data(id.clone());
                compiled.apply_defaults(&mut d.properties);
                d
            }
        };
        let issues = dom::validate(&compiled, &data);
        if !issues.is_empty() {
            failed.push(Failed {
                index,
                identifier: Some(id),
                error: StoreError::Invalid(Issues(issues)),
            });
            continue;
        }
        candidates.push(Candidate {
            index,
            id,
            before,
            before_data,
            data,
        });
    }

    // Rows are locked and written in identifier order, so concurrent writers of overlapping
    // sets queue behind each other instead of deadlocking.
    candidates.sort_by(|a, b| a.id.cmp(&b.id));
    let bare = check_relations(
        t,
        &bp,
        &mut candidates,
        &mut failed,
        opts.create_missing_related,
    )
    .await?;

    // Inherited ownership: the teams come from the entity the path leads to.
    if matches!(
        compiled.blueprint.ownership,
        Some(portolan_domain::blueprint::Ownership::Inherited { .. })
    ) {
        let all = crate::search::blueprints(t).await?;
        if let Some(chain) = super::ownership::chain(&compiled.blueprint, &all) {
            let firsts = candidates
                .iter()
                .map(|c| {
                    let first = match c.data.relations.get(&chain[0].0) {
                        Some(dom::RelationValue::One(target)) => Some(target.clone()),
                        _ => None,
                    };
                    (c.id.clone(), first)
                })
                .collect();
            let mut derived = super::ownership::derive(t, &chain, firsts).await?;
            for c in &mut candidates {
                c.data.team = derived.remove(&c.id).unwrap_or_default();
            }
        }
    }

    let now = crate::now_ms();
    let mut owners_changed = Vec::new();
    let mut written = Vec::with_capacity(candidates.len());
    let mut rows = Vec::new();
    let mut new_rows = Vec::new();
    let mut evts = Vec::new();
    let mut edges = Vec::new();
    let mut replaced_sources = Vec::new();
    let mut value_rows = index::Rows::default();
    let mut reindexed = Vec::new();
    for c in candidates {
        if let Some(b) = &c.before
            && b.blueprint_version == bp.model.version
            && c.before_data.as_ref() == Some(&c.data)
        {
            // Nothing changes: no write, no event (re-syncs stay cheap).
            written.push(Written {
                index: c.index,
                identifier: c.id,
                created: false,
                entity: entity_json(b, &compiled.blueprint),
            });
            continue;
        }
        let model = to_model(t, &bp, &c, actor, now);
        let after = entity_json(&model, &compiled.blueprint);
        let before_json = c
            .before
            .as_ref()
            .map(|b| entity_json(b, &compiled.blueprint));
        if !opts.validation_only {
            // Edges are rewritten only when the relations changed: an update of properties
            // alone leaves them be.
            let relations_changed = c
                .before_data
                .as_ref()
                .is_none_or(|b| b.relations != c.data.relations);
            if relations_changed {
                for (rel, val) in &c.data.relations {
                    if let Some(def) = compiled.blueprint.relations.get(rel) {
                        for target in val.targets() {
                            edges.push(edge(
                                t,
                                blueprint,
                                &c.id,
                                rel,
                                &def.target,
                                target,
                                def.required,
                            ));
                        }
                    }
                }
                if c.before.is_some() {
                    replaced_sources.push(c.id.clone());
                }
            }
            if c.before_data
                .as_ref()
                .is_some_and(|b| b.team != c.data.team || relations_changed)
            {
                owners_changed.push(c.id.clone());
            }
            // The search index follows the properties and teams.
            let index_changed = c.before_data.as_ref().is_none_or(|b| {
                b.properties != c.data.properties
                    || b.team != c.data.team
                    || c.before.as_ref().map(|m| m.blueprint_version) != Some(bp.model.version)
            });
            if index_changed {
                index::rows_for(
                    t,
                    &compiled.blueprint,
                    &index::Indexed {
                        identifier: &c.id,
                        properties: &c.data.properties,
                        team: &c.data.team,
                    },
                    &mut value_rows,
                );
                // New entities too: rows left by anything that bypassed the store must not
                // attach to a new entity of the same identifier.
                reindexed.push(c.id.clone());
            }
            evts.push(NewEvent {
                resource_type: ResourceType::Entity,
                action: if c.before.is_some() {
                    Action::Update
                } else {
                    Action::Create
                },
                resource_id: c.id.clone(),
                blueprint: Some(blueprint.to_owned()),
                context: json!({"blueprintIdentifier": blueprint, "entityIdentifier": c.id}),
                before: before_json,
                after: Some(after.clone()),
                run_id: opts.run_id.clone(),
            });
            if opts.mode == WriteMode::Create {
                new_rows.push(entity_row(model));
            } else {
                rows.push(entity_row(model));
            }
        }
        written.push(Written {
            index: c.index,
            identifier: c.id,
            created: c.before.is_none(),
            entity: after,
        });
    }
    if opts.validation_only {
        return Ok((written, failed));
    }

    create_bare(t, bare, actor, opts, now).await?;
    insert_rows(t.conn(), "entities", ENTITY_COLUMNS, new_rows, "").await?;
    insert_rows(t.conn(), "entities", ENTITY_COLUMNS, rows, UPSERT_ENTITY).await?;
    replace_edges(t, blueprint, &replaced_sources, edges).await?;
    let reindexed: Vec<&str> = reindexed.iter().map(String::as_str).collect();
    index::delete(t, blueprint, &reindexed).await?;
    index::insert(t, value_rows).await?;
    events::append(t.conn(), t.org(), actor, evts).await?;
    super::ownership::refresh_inheritors(t, blueprint, owners_changed).await?;
    Ok((written, failed))
}

/// Checks that every relation target exists in the org (or is written by this same
/// request), failing the items that point nowhere; with `create_missing`, returns the bare
/// entities to create instead.
async fn check_relations(
    t: &Tenant,
    bp: &StoredBlueprint,
    candidates: &mut Vec<Candidate>,
    failed: &mut Vec<Failed>,
    create_missing: bool,
) -> Result<Vec<(Arc<CompiledBlueprint>, String)>, StoreError> {
    let rels = &bp.compiled.blueprint.relations;
    let mut needed: HashMap<String, BTreeSet<String>> = HashMap::new();
    for c in candidates.iter() {
        for (rel, val) in &c.data.relations {
            if let Some(def) = rels.get(rel) {
                needed
                    .entry(def.target.clone())
                    .or_default()
                    .extend(val.targets().iter().cloned());
            }
        }
    }
    let mut found: HashSet<(String, String)> = HashSet::new();
    for (target_bp, ids) in &needed {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        for id in existing_ids(t, target_bp, &ids).await? {
            found.insert((target_bp.clone(), id));
        }
    }
    let mut bare_targets: HashMap<String, Arc<CompiledBlueprint>> = HashMap::new();
    let mut bare: Vec<(Arc<CompiledBlueprint>, String)> = Vec::new();
    let mut bare_seen: HashSet<(String, String)> = HashSet::new();
    // Items that point at another item of this request which failed must fail too; repeat
    // until nothing changes.
    loop {
        let in_batch: HashSet<&str> = candidates.iter().map(|c| c.id.as_str()).collect();
        let mut failing: Vec<(usize, Issues)> = Vec::new();
        let mut to_create: Vec<(String, String)> = Vec::new();
        for (pos, c) in candidates.iter().enumerate() {
            let mut issues = Issues::default();
            for (rel, val) in &c.data.relations {
                let Some(def) = rels.get(rel) else { continue };
                for target in val.targets() {
                    let exists = found.contains(&(def.target.clone(), target.clone()))
                        || (def.target == bp.model.identifier
                            && in_batch.contains(target.as_str()));
                    if exists {
                        continue;
                    }
                    if create_missing {
                        to_create.push((def.target.clone(), target.clone()));
                    } else {
                        issues.push(
                            format!("/relations/{}", portolan_domain::error::escape_token(rel)),
                            format!(
                                "target entity '{target}' of blueprint '{}' was not found",
                                def.target
                            ),
                        );
                    }
                }
            }
            if !issues.is_empty() {
                failing.push((pos, issues));
            }
        }
        if create_missing {
            for (target_bp, id) in to_create {
                if !bare_seen.insert((target_bp.clone(), id.clone())) {
                    continue;
                }
                let compiled = match bare_targets.get(&target_bp) {
                    Some(c) => c.clone(),
                    None => {
                        let c = blueprints::load_locked(t, &target_bp, blueprints::Lock::Share)
                            .await?
                            .compiled;
                        bare_targets.insert(target_bp.clone(), c.clone());
                        c
                    }
                };
                bare.push((compiled, id));
            }
            // A bare entity must itself be valid (e.g. no required properties).
            for (compiled, id) in &bare {
                let mut data = EntityData {
                    identifier: id.clone(),
                    ..Default::default()
                };
                compiled.apply_defaults(&mut data.properties);
                let issues = dom::validate(compiled, &data);
                if !issues.is_empty() {
                    let target_bp = compiled.blueprint.identifier.clone();
                    for (pos, c) in candidates.iter().enumerate() {
                        let hits = c.data.relations.iter().any(|(rel, val)| {
                            rels.get(rel).is_some_and(|d| d.target == target_bp)
                                && val.targets().contains(id)
                        });
                        if hits {
                            let mut is = Issues::default();
                            is.push(
                                "/relations",
                                format!(
                                    "cannot create missing related entity '{id}' of blueprint '{target_bp}': {}",
                                    Issues(issues.clone()).summary()
                                ),
                            );
                            failing.push((pos, is));
                        }
                    }
                }
            }
        }
        if failing.is_empty() {
            break;
        }
        failing.sort_by_key(|(pos, _)| std::cmp::Reverse(*pos));
        failing.dedup_by_key(|(pos, _)| *pos);
        for (pos, issues) in failing {
            let c = candidates.remove(pos);
            failed.push(Failed {
                index: c.index,
                identifier: Some(c.id),
                error: StoreError::Invalid(issues),
            });
        }
        bare.clear();
        bare_seen.clear();
    }
    Ok(bare)
}

async fn create_bare(
    t: &Tenant,
    bare: Vec<(Arc<CompiledBlueprint>, String)>,
    actor: &Actor,
    opts: &WriteOptions,
    now: chrono::DateTime<Utc>,
) -> Result<(), StoreError> {
    if bare.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::new();
    let mut evts = Vec::new();
    // Bare entities with default values get index rows, derived from what was stored.
    let mut with_defaults: HashMap<String, (Arc<CompiledBlueprint>, Vec<String>)> = HashMap::new();
    for (compiled, id) in bare {
        let mut properties = serde_json::Map::new();
        compiled.apply_defaults(&mut properties);
        if !properties.is_empty() {
            with_defaults
                .entry(compiled.blueprint.identifier.clone())
                .or_insert_with(|| (compiled.clone(), Vec::new()))
                .1
                .push(id.clone());
        }
        let model = entity::Model {
            org_id: t.org().0,
            blueprint: compiled.blueprint.identifier.clone(),
            identifier: id.clone(),
            title: None,
            icon: None,
            team: json!([]),
            properties: Value::Object(properties),
            relations: json!({}),
            blueprint_version: compiled.version,
            created_at: now,
            updated_at: now,
            created_by: actor.by.clone(),
            updated_by: actor.by.clone(),
            datasource: actor.datasource.clone(),
        };
        evts.push(NewEvent {
            resource_type: ResourceType::Entity,
            action: Action::Create,
            resource_id: id.clone(),
            blueprint: Some(model.blueprint.clone()),
            context: json!({"blueprintIdentifier": model.blueprint, "entityIdentifier": id}),
            before: None,
            after: Some(entity_json(&model, &compiled.blueprint)),
            run_id: opts.run_id.clone(),
        });
        rows.push(entity_row(model));
    }
    insert_rows(
        t.conn(),
        "entities",
        ENTITY_COLUMNS,
        rows,
        "ON CONFLICT (org_id, blueprint, identifier) DO NOTHING",
    )
    .await?;
    for (blueprint, (compiled, ids)) in with_defaults {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let stored: Vec<entity::Model> = fetch(t, &blueprint, &ids, false)
            .await?
            .into_values()
            .collect();
        index::write_models(t, &compiled.blueprint, &stored, true).await?;
    }
    events::append(t.conn(), t.org(), actor, evts).await
}

fn to_model(
    t: &Tenant,
    bp: &StoredBlueprint,
    c: &Candidate,
    actor: &Actor,
    now: chrono::DateTime<Utc>,
) -> entity::Model {
    entity::Model {
        org_id: t.org().0,
        blueprint: bp.model.identifier.clone(),
        identifier: c.id.clone(),
        title: c.data.title.clone(),
        icon: c.data.icon.clone(),
        team: team_json(&c.data.team),
        properties: Value::Object(c.data.properties.clone()),
        relations: relations_json(&c.data.relations),
        blueprint_version: bp.model.version,
        created_at: c.before.as_ref().map_or(now, |b| b.created_at),
        updated_at: now,
        created_by: c
            .before
            .as_ref()
            .map_or_else(|| actor.by.clone(), |b| b.created_by.clone()),
        updated_by: actor.by.clone(),
        datasource: actor.datasource.clone(),
    }
}

fn edge(
    t: &Tenant,
    source_bp: &str,
    source: &str,
    rel: &str,
    target_bp: &str,
    target: &str,
    required: bool,
) -> Vec<SqlValue> {
    vec![
        t.org().0.into(),
        source_bp.into(),
        source.into(),
        rel.into(),
        target_bp.into(),
        target.into(),
        required.into(),
    ]
}

const EDGE_COLUMNS: &[&str] = &[
    "org_id",
    "source_blueprint",
    "source_identifier",
    "relation",
    "target_blueprint",
    "target_identifier",
    "required",
];

pub(crate) const ENTITY_COLUMNS: &[&str] = &[
    "org_id",
    "blueprint",
    "identifier",
    "title",
    "icon",
    "team",
    "properties",
    "relations",
    "blueprint_version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "datasource",
];

pub(crate) const UPSERT_ENTITY: &str = "ON CONFLICT (org_id, blueprint, identifier) DO UPDATE SET \
    title = excluded.title, icon = excluded.icon, team = excluded.team, \
    properties = excluded.properties, relations = excluded.relations, \
    blueprint_version = excluded.blueprint_version, updated_at = excluded.updated_at, \
    updated_by = excluded.updated_by, datasource = excluded.datasource";

/// Writes whole rows over the stored ones (one statement per 2,000 rows).
pub(crate) async fn upsert_rows(t: &Tenant, rows: Vec<entity::Model>) -> Result<(), StoreError> {
    let rows = rows.into_iter().map(entity_row).collect();
    insert_rows(t.conn(), "entities", ENTITY_COLUMNS, rows, UPSERT_ENTITY).await
}

/// An entity as the values of [`ENTITY_COLUMNS`].
pub(crate) fn entity_row(m: entity::Model) -> Vec<SqlValue> {
    vec![
        m.org_id.into(),
        m.blueprint.into(),
        m.identifier.into(),
        m.title.into(),
        m.icon.into(),
        m.team.into(),
        m.properties.into(),
        m.relations.into(),
        m.blueprint_version.into(),
        m.created_at.into(),
        m.updated_at.into(),
        m.created_by.into(),
        m.updated_by.into(),
        m.datasource.into(),
    ]
}

/// Replaces the outgoing edges of `sources` (entities that existed) and inserts `edges`.
pub(crate) async fn replace_edges(
    t: &Tenant,
    blueprint: &str,
    sources: &[String],
    edges: Vec<Vec<SqlValue>>,
) -> Result<(), StoreError> {
    for chunk in sources.chunks(IN_CHUNK) {
        relation::Entity::delete_many()
            .filter(relation::Column::OrgId.eq(t.org().0))
            .filter(relation::Column::SourceBlueprint.eq(blueprint))
            .filter(relation::Column::SourceIdentifier.is_in(chunk.iter().map(String::as_str)))
            .exec(t.conn())
            .await?;
    }
    insert_rows(
        t.conn(),
        "entity_relations",
        EDGE_COLUMNS,
        edges,
        "ON CONFLICT (org_id, source_blueprint, source_identifier, relation, target_identifier) DO NOTHING",
    )
    .await
}

/// The stored rows among `ids` (locked for update on PostgreSQL when `lock`).
pub(crate) async fn fetch(
    t: &Tenant,
    blueprint: &str,
    ids: &[&str],
    lock: bool,
) -> Result<HashMap<String, entity::Model>, StoreError> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let mut q = entity::Entity::find()
            .filter(entity::Column::OrgId.eq(t.org().0))
            .filter(entity::Column::Blueprint.eq(blueprint))
            .filter(entity::Column::Identifier.is_in(chunk.iter().copied()));
        if lock {
            q = q.order_by_asc(entity::Column::Identifier).lock_exclusive();
        }
        for m in q.all(t.conn()).await? {
            out.insert(m.identifier.clone(), m);
        }
    }
    Ok(out)
}

/// Which of `ids` exist in `blueprint`.
pub(crate) async fn existing_ids(
    t: &Tenant,
    blueprint: &str,
    ids: &[&str],
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let rows: Vec<String> = entity::Entity::find()
            .select_only()
            .column(entity::Column::Identifier)
            .filter(entity::Column::OrgId.eq(t.org().0))
            .filter(entity::Column::Blueprint.eq(blueprint))
            .filter(entity::Column::Identifier.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(t.conn())
            .await?;
        out.extend(rows);
    }
    Ok(out)
}
