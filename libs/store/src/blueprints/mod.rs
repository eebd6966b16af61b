//! Blueprints: CRUD, renames, counts, and schema evolution that never leaves a stored entity
//! invalid (a change that would is refused with the offenders; `dry_run` reports the impact).

mod evolve;

use std::sync::Arc;

use chrono::Utc;
use portolan_domain::Issues;
use portolan_domain::blueprint::{Blueprint, Ownership, merge_patch};
use portolan_domain::event::{Action, Actor, ResourceType};
use portolan_domain::schema::CompiledBlueprint;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::{Value, json};

pub use evolve::UpdateOutcome;

use crate::error::Impact;
use crate::events::{self, NewEvent};
use crate::models::{blueprint, entity};
use crate::{StoreError, Tenant};

/// A stored blueprint with its compiled validator (cached per version).
#[derive(Clone)]
pub struct StoredBlueprint {
    pub model: blueprint::Model,
    pub compiled: Arc<CompiledBlueprint>,
}

/// How a load locks the blueprint row until the transaction ends (PostgreSQL; SQLite runs one
/// writer at a time anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// A plain read.
    None,
    /// Entity writes: many may validate against the definition at once, but it cannot change
    /// under them.
    Share,
    /// Definition changes: one at a time, and no entity write in between.
    Update,
}

/// Loads a blueprint of the tenant's org, or `NotFound`.
pub async fn load(t: &Tenant, identifier: &str) -> Result<StoredBlueprint, StoreError> {
    load_locked(t, identifier, Lock::None).await
}

/// Loads a blueprint and locks its row as `lock` says.
pub async fn load_locked(
    t: &Tenant,
    identifier: &str,
    lock: Lock,
) -> Result<StoredBlueprint, StoreError> {
    let mut q = blueprint::Entity::find()
        .filter(blueprint::Column::OrgId.eq(t.org().0))
        .filter(blueprint::Column::Identifier.eq(identifier));
    if t.store().backend() == crate::Backend::Postgres {
        q = match lock {
            Lock::None => q,
            Lock::Share => q.lock_shared(),
            Lock::Update => q.lock_exclusive(),
        };
    }
    let model = q
        .one(t.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("blueprint", identifier))?;
    let compiled = compiled(t, &model)?;
    Ok(StoredBlueprint { model, compiled })
}

pub(crate) fn compiled(
    t: &Tenant,
    model: &blueprint::Model,
) -> Result<Arc<CompiledBlueprint>, StoreError> {
    let key = (t.org(), model.identifier.clone(), model.version);
    let cache = &t.store().cache.compiled;
    if let Some(hit) = cache.get(&key)
        && hit.0 == model.definition
    {
        return Ok(hit.1.clone());
    }
    let bp = Blueprint::parse(&model.definition_json()?).map_err(|e| {
        StoreError::Internal(format!(
            "stored blueprint '{}' does not parse: {e}",
            model.identifier
        ))
    })?;
    let compiled = CompiledBlueprint::compile(Arc::new(bp), model.version)
        .map(Arc::new)
        .map_err(|e| {
            StoreError::Internal(format!(
                "stored blueprint '{}' does not compile: {e}",
                model.identifier
            ))
        })?;
    cache.insert(key, Arc::new((model.definition.clone(), compiled.clone())));
    Ok(compiled)
}

fn ts(t: &chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Port's blueprint shape: the definition plus its metadata.
pub fn blueprint_json(m: &blueprint::Model) -> Result<Value, StoreError> {
    let mut v = m.definition_json()?;
    if let Some(o) = v.as_object_mut() {
        o.insert("createdAt".into(), json!(ts(&m.created_at)));
        o.insert("createdBy".into(), json!(m.created_by));
        o.insert("updatedAt".into(), json!(ts(&m.updated_at)));
        o.insert("updatedBy".into(), json!(m.updated_by));
    }
    Ok(v)
}

pub async fn list(t: &Tenant) -> Result<Vec<Value>, StoreError> {
    let rows = blueprint::Entity::find()
        .filter(blueprint::Column::OrgId.eq(t.org().0))
        .order_by_asc(blueprint::Column::Identifier)
        .all(t.conn())
        .await?;
    rows.iter().map(blueprint_json).collect()
}

pub async fn get(t: &Tenant, identifier: &str) -> Result<Value, StoreError> {
    blueprint_json(&load(t, identifier).await?.model)
}

/// Checks what the store knows and the domain cannot: relation targets exist in the org
/// (or are the blueprint itself), and an inherited ownership path walks real relations.
async fn check_references(t: &Tenant, bp: &Blueprint) -> Result<(), StoreError> {
    let mut issues = Issues::default();
    let mut targets: std::collections::HashMap<String, Option<Blueprint>> = Default::default();
    for (key, rel) in &bp.relations {
        if rel.target == bp.identifier {
            continue;
        }
        if !targets.contains_key(&rel.target) {
            let found = match load(t, &rel.target).await {
                Ok(s) => Some((*s.compiled.blueprint).clone()),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            targets.insert(rel.target.clone(), found);
        }
        if targets.get(&rel.target).is_some_and(Option::is_none) {
            issues.push(
                format!(
                    "/relations/{}/target",
                    portolan_domain::error::escape_token(key)
                ),
                format!("target blueprint '{}' does not exist", rel.target),
            );
        }
    }
    if let Some(Ownership::Inherited { path }) = &bp.ownership {
        let mut current = bp.clone();
        for (i, seg) in path.split('.').enumerate() {
            let Some(rel) = current.relations.get(seg) else {
                issues.push(
                    "/ownership/path",
                    format!(
                        "segment {} ('{seg}') is not a relation of '{}'",
                        i + 1,
                        current.identifier
                    ),
                );
                break;
            };
            if rel.many {
                issues.push("/ownership/path", format!("relation '{seg}' is many: ownership can only be inherited through single relations"));
                break;
            }
            if rel.target == current.identifier {
                continue;
            }
            match load(t, &rel.target).await {
                Ok(s) => current = (*s.compiled.blueprint).clone(),
                Err(StoreError::NotFound { .. }) => break, // reported above
                Err(e) => return Err(e),
            }
        }
    }
    issues.into_result(()).map_err(StoreError::Invalid)
}

fn parse(body: &Value) -> Result<Blueprint, StoreError> {
    let bp = Blueprint::parse(body)?;
    // Compiling catches what parsing cannot (e.g. a pattern the validator refuses).
    CompiledBlueprint::compile(Arc::new(bp.clone()), 0)?;
    Ok(bp)
}

/// Creates a blueprint (201). With `dry_run`, validates and writes nothing.
pub async fn create(
    t: &Tenant,
    body: &Value,
    dry_run: bool,
    actor: &Actor,
) -> Result<Value, StoreError> {
    let bp = parse(body)?;
    check_references(t, &bp).await?;
    let exists = blueprint::Entity::find()
        .filter(blueprint::Column::OrgId.eq(t.org().0))
        .filter(blueprint::Column::Identifier.eq(bp.identifier.as_str()))
        .count(t.conn())
        .await?
        > 0;
    if exists {
        return Err(StoreError::AlreadyExists {
            resource: "blueprint",
            identifier: bp.identifier,
        });
    }
    let now = Utc::now();
    let model = blueprint::Model {
        org_id: t.org().0,
        identifier: bp.identifier.clone(),
        version: 1,
        definition: bp.to_json().to_string(),
        created_at: now,
        updated_at: now,
        created_by: actor.by.clone(),
        updated_by: actor.by.clone(),
    };
    let out = blueprint_json(&model)?;
    if dry_run {
        return Ok(out);
    }
    t.touch_blueprints();
    blueprint::ActiveModel {
        org_id: Set(model.org_id),
        identifier: Set(model.identifier.clone()),
        version: Set(model.version),
        definition: Set(model.definition.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        created_by: Set(model.created_by.clone()),
        updated_by: Set(model.updated_by.clone()),
    }
    .insert(t.conn())
    .await?;
    events::append(
        t.conn(),
        t.org(),
        actor,
        vec![NewEvent {
            resource_type: ResourceType::Blueprint,
            action: Action::Create,
            resource_id: bp.identifier.clone(),
            blueprint: Some(bp.identifier.clone()),
            context: json!({"blueprintIdentifier": bp.identifier}),
            before: None,
            after: Some(out.clone()),
            run_id: None,
        }],
    )
    .await?;
    Ok(out)
}

/// `PUT`: replaces the definition.
pub async fn replace(
    t: &Tenant,
    identifier: &str,
    body: &Value,
    dry_run: bool,
    actor: &Actor,
) -> Result<UpdateOutcome, StoreError> {
    let current = load_locked(t, identifier, Lock::Update).await?;
    let mut body = body.clone();
    if let Some(o) = body.as_object_mut() {
        match o.get("identifier") {
            None => {
                o.insert("identifier".into(), json!(identifier));
            }
            Some(Value::String(s)) if s == identifier => {}
            Some(_) => {
                return Err(StoreError::invalid(
                    "/identifier",
                    "a blueprint's identifier cannot change (it must equal the one in the path)",
                ));
            }
        }
    }
    let new = parse(&body)?;
    check_references(t, &new).await?;
    evolve::apply(t, current, new, evolve::Rename::None, dry_run, actor).await
}

/// `PATCH`: merges the body onto the stored definition (RFC 7396), then as `PUT`.
pub async fn patch(
    t: &Tenant,
    identifier: &str,
    body: &Value,
    dry_run: bool,
    actor: &Actor,
) -> Result<UpdateOutcome, StoreError> {
    if !body.is_object() {
        return Err(StoreError::invalid("", "the body must be a JSON object"));
    }
    let current = load_locked(t, identifier, Lock::Update).await?;
    let mut merged = current.model.definition_json()?;
    merge_patch(&mut merged, body);
    replace(t, identifier, &merged, dry_run, actor).await
}

/// Deletes a blueprint that holds no entities and that no other blueprint relates to.
pub async fn delete(t: &Tenant, identifier: &str, actor: &Actor) -> Result<(), StoreError> {
    let current = load_locked(t, identifier, Lock::Update).await?;
    let n = entity::Entity::find()
        .filter(entity::Column::OrgId.eq(t.org().0))
        .filter(entity::Column::Blueprint.eq(identifier))
        .count(t.conn())
        .await?;
    if n > 0 {
        return Err(StoreError::HasDependents {
            message: format!(
                "blueprint '{identifier}' still holds {n} entities: delete them first (DELETE /v1/blueprints/{identifier}/all-entities)"
            ),
            dependents: vec![json!({"entities": n})],
        });
    }
    let others = blueprint::Entity::find()
        .filter(blueprint::Column::OrgId.eq(t.org().0))
        .filter(blueprint::Column::Identifier.ne(identifier))
        .all(t.conn())
        .await?;
    let mut dependents = Vec::new();
    for o in &others {
        if let Some(rels) = o
            .definition_json()?
            .get("relations")
            .and_then(Value::as_object)
        {
            for (key, rel) in rels {
                if rel.get("target").and_then(Value::as_str) == Some(identifier) {
                    dependents.push(json!({"blueprint": o.identifier, "relation": key}));
                }
            }
        }
    }
    if !dependents.is_empty() {
        return Err(StoreError::HasDependents {
            message: format!(
                "other blueprints have relations to '{identifier}': remove those relations first"
            ),
            dependents,
        });
    }
    t.touch_blueprints();
    blueprint::Entity::delete_many()
        .filter(blueprint::Column::OrgId.eq(t.org().0))
        .filter(blueprint::Column::Identifier.eq(identifier))
        .exec(t.conn())
        .await?;
    crate::identity::drop_blueprint_permissions(t, identifier).await?;
    events::append(
        t.conn(),
        t.org(),
        actor,
        vec![NewEvent {
            resource_type: ResourceType::Blueprint,
            action: Action::Delete,
            resource_id: identifier.to_owned(),
            blueprint: Some(identifier.to_owned()),
            context: json!({"blueprintIdentifier": identifier}),
            before: Some(blueprint_json(&current.model)?),
            after: None,
            run_id: None,
        }],
    )
    .await
}

/// Which member of a blueprint a rename moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// A property: every entity's value moves with it.
    Property,
    /// A relation: every entity's value and edge moves with it.
    Relation,
}

/// Renames a property or a relation of a blueprint, moving every entity's values (and edges).
pub async fn rename(
    t: &Tenant,
    identifier: &str,
    member: Member,
    from: &str,
    to: &str,
    dry_run: bool,
    actor: &Actor,
) -> Result<UpdateOutcome, StoreError> {
    let (from, to) = (from.to_owned(), to.to_owned());
    let rename = match member {
        Member::Property => evolve::Rename::Property { from, to },
        Member::Relation => evolve::Rename::Relation { from, to },
    };
    rename_member(t, identifier, rename, dry_run, actor).await
}

/// Renames a property; every entity's value moves with it.
pub async fn rename_property(
    t: &Tenant,
    identifier: &str,
    from: &str,
    to: &str,
    dry_run: bool,
    actor: &Actor,
) -> Result<UpdateOutcome, StoreError> {
    rename(t, identifier, Member::Property, from, to, dry_run, actor).await
}

/// Renames a relation; every entity's value and edge moves with it.
pub async fn rename_relation(
    t: &Tenant,
    identifier: &str,
    from: &str,
    to: &str,
    dry_run: bool,
    actor: &Actor,
) -> Result<UpdateOutcome, StoreError> {
    rename(t, identifier, Member::Relation, from, to, dry_run, actor).await
}

fn rename_key<V: Clone>(
    map: &indexmap::IndexMap<String, V>,
    from: &str,
    to: &str,
) -> indexmap::IndexMap<String, V> {
    map.iter()
        .map(|(k, v)| (if k == from { to.to_owned() } else { k.clone() }, v.clone()))
        .collect()
}

async fn rename_member(
    t: &Tenant,
    identifier: &str,
    rename: evolve::Rename,
    dry_run: bool,
    actor: &Actor,
) -> Result<UpdateOutcome, StoreError> {
    let current = load_locked(t, identifier, Lock::Update).await?;
    let bp = &current.compiled.blueprint;
    let (resource, pointer, from, to, exists) = match &rename {
        evolve::Rename::Property { from, to } => (
            "property",
            "/newPropertyName",
            from,
            to,
            bp.properties.contains_key(from),
        ),
        evolve::Rename::Relation { from, to } => (
            "relation",
            "/newRelationIdentifier",
            from,
            to,
            bp.relations.contains_key(from),
        ),
        evolve::Rename::None => return Err(StoreError::Internal("rename without a member".into())),
    };
    if !exists {
        return Err(StoreError::not_found(resource, from.as_str()));
    }
    portolan_domain::ids::validate_key(to).map_err(|m| StoreError::invalid(pointer, m))?;
    if bp.properties.contains_key(to) || bp.relations.contains_key(to) {
        return Err(StoreError::AlreadyExists {
            resource,
            identifier: to.clone(),
        });
    }
    let mut new = (**bp).clone();
    match &rename {
        evolve::Rename::Property { .. } => {
            new.properties = rename_key(&bp.properties, from, to);
            for r in &mut new.required {
                if r == from {
                    r.clone_from(to);
                }
            }
        }
        _ => {
            new.relations = rename_key(&bp.relations, from, to);
            if let Some(Ownership::Inherited { path }) = &mut new.ownership {
                let segs: Vec<&str> = path.split('.').collect();
                if segs.first() == Some(&from.as_str()) {
                    *path = std::iter::once(to.as_str())
                        .chain(segs.into_iter().skip(1))
                        .collect::<Vec<_>>()
                        .join(".");
                }
            }
        }
    }
    evolve::apply(t, current, new, rename, dry_run, actor).await
}

/// The impact report of a change, re-exported for the API's OpenAPI schema.
pub type ChangeImpact = Impact;
