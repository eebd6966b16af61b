//! Schema evolution: applying a new definition (PUT, PATCH, renames) to a blueprint and to
//! every entity stored under it, in one transaction, or refusing it when it would leave an
//! entity invalid.

use std::sync::Arc;

use chrono::Utc;
use portolan_domain::Issue;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::entity::{self as dom, EntityData, RelationValue};
use portolan_domain::event::{Action, Actor, ResourceType};
use portolan_domain::schema::CompiledBlueprint;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};

use super::{StoredBlueprint, blueprint_json};
use crate::entities::model_to_data;
use crate::error::Impact;
use crate::events::{self, NewEvent};
use crate::models::{blueprint, entity, relation};
use crate::{StoreError, Tenant};

/// Offenders listed in an impact report.
const MAX_LISTED: usize = 100;
/// Entities read per round while scanning a blueprint.
const SCAN_BATCH: u64 = 1_000;

pub(crate) enum Rename {
    None,
    Property { from: String, to: String },
    Relation { from: String, to: String },
}

/// The result of a definition change (or of its dry run).
#[derive(Debug, Clone)]
pub struct UpdateOutcome {
    /// The blueprint as it is (or, for a dry run, would be) after the change.
    pub blueprint: Value,
    pub impact: Impact,
    pub dry_run: bool,
}

pub(crate) async fn apply(
    t: &Tenant,
    current: StoredBlueprint,
    new: Blueprint,
    rename: Rename,
    dry_run: bool,
    actor: &Actor,
) -> Result<UpdateOutcome, StoreError> {
    let old = current.compiled.blueprint.clone();
    let version = current.model.version + 1;
    let new = Arc::new(new);
    let compiled = CompiledBlueprint::compile(new.clone(), version)?;
    let renamed = |k: &str, is_prop: bool| -> String {
        match &rename {
            Rename::Property { from, to } if is_prop && k == from => to.clone(),
            Rename::Relation { from, to } if !is_prop && k == from => to.clone(),
            _ => k.to_owned(),
        }
    };
    let mut impact = Impact {
        removed_properties: old
            .properties
            .keys()
            .filter(|k| !new.properties.contains_key(&renamed(k, true)))
            .cloned()
            .collect(),
        removed_relations: old
            .relations
            .keys()
            .filter(|k| !new.relations.contains_key(&renamed(k, false)))
            .cloned()
            .collect(),
        ..Impact::default()
    };

    // Scan every entity: transform it to the new definition and validate it.
    let mut changed: Vec<entity::Model> = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let mut q = entity::Entity::find()
            .filter(entity::Column::OrgId.eq(t.org().0))
            .filter(entity::Column::Blueprint.eq(old.identifier.as_str()));
        if let Some(l) = &last {
            q = q.filter(entity::Column::Identifier.gt(l.as_str()));
        }
        let rows = q
            .order_by_asc(entity::Column::Identifier)
            .limit(SCAN_BATCH)
            .all(t.conn())
            .await?;
        let Some(tail) = rows.last() else { break };
        last = Some(tail.identifier.clone());
        for m in rows {
            impact.entities_checked += 1;
            let before = model_to_data(&m);
            let (after, mut issues) = transform(&before, &old, &new, &rename);
            issues.extend(dom::validate(&compiled, &after));
            if !issues.is_empty() {
                impact.invalid_count += 1;
                if impact.invalid_entities.len() < MAX_LISTED {
                    impact
                        .invalid_entities
                        .push(json!({"identifier": m.identifier, "errors": issues}));
                }
                continue;
            }
            if after != before {
                let mut row = m.clone();
                row.properties = Value::Object(after.properties.clone());
                row.relations = crate::entities::shape::relations_json(&after.relations);
                row.blueprint_version = version;
                changed.push(row);
            }
        }
    }

    let now = Utc::now();
    let new_model = blueprint::Model {
        definition: new.to_json().to_string(),
        version,
        updated_at: now,
        updated_by: actor.by.clone(),
        ..current.model.clone()
    };
    let outcome = UpdateOutcome {
        blueprint: blueprint_json(&new_model)?,
        impact,
        dry_run,
    };
    if outcome.impact.invalid_count > 0 && !dry_run {
        return Err(StoreError::WouldInvalidate {
            message: format!(
                "the change would make {} of {} entities of '{}' invalid; fix them first, or see the impact with ?dry_run=true",
                outcome.impact.invalid_count, outcome.impact.entities_checked, old.identifier
            ),
            impact: Box::new(outcome.impact),
        });
    }
    if dry_run {
        return Ok(outcome);
    }

    t.touch_blueprints();
    blueprint::Entity::update_many()
        .col_expr(
            blueprint::Column::Definition,
            Expr::value(new_model.definition.clone()),
        )
        .col_expr(blueprint::Column::Version, Expr::value(version))
        .col_expr(blueprint::Column::UpdatedAt, Expr::value(now))
        .col_expr(blueprint::Column::UpdatedBy, Expr::value(actor.by.clone()))
        .filter(blueprint::Column::OrgId.eq(t.org().0))
        .filter(blueprint::Column::Identifier.eq(old.identifier.as_str()))
        .exec(t.conn())
        .await?;
    // The search index: rebuilt when any property's indexed kind changed (renames, removals,
    // type or format changes), else kept for the entities whose values moved.
    let kinds = |b: &Blueprint| -> Vec<(String, Option<portolan_domain::query::Kind>)> {
        b.properties
            .iter()
            .map(|(k, d)| (k.clone(), portolan_domain::query::index::kind_of(d)))
            .collect()
    };
    let reindex_all = kinds(&old) != kinds(&new);
    let changed_for_index = if reindex_all {
        Vec::new()
    } else {
        changed.clone()
    };
    crate::entities::write::upsert_rows(t, changed).await?;
    if reindex_all {
        crate::search::index::rebuild(t, &new).await?;
    } else {
        crate::search::index::write_models(t, &new, &changed_for_index, true).await?;
    }
    entity::Entity::update_many()
        .col_expr(entity::Column::BlueprintVersion, Expr::value(version))
        .filter(entity::Column::OrgId.eq(t.org().0))
        .filter(entity::Column::Blueprint.eq(old.identifier.as_str()))
        .exec(t.conn())
        .await?;
    update_edges(t, &old, &new, &rename).await?;
    events::append(
        t.conn(),
        t.org(),
        actor,
        vec![NewEvent {
            resource_type: ResourceType::Blueprint,
            action: Action::Update,
            resource_id: old.identifier.clone(),
            blueprint: Some(old.identifier.clone()),
            context: json!({"blueprintIdentifier": old.identifier}),
            before: Some(blueprint_json(&current.model)?),
            after: Some(outcome.blueprint.clone()),
            run_id: None,
        }],
    )
    .await?;
    Ok(outcome)
}

/// Keeps the relation edges in step: renamed relations, dropped relations, required flags.
async fn update_edges(
    t: &Tenant,
    old: &Blueprint,
    new: &Blueprint,
    rename: &Rename,
) -> Result<(), StoreError> {
    let scope = |q: sea_orm::UpdateMany<relation::Entity>| {
        q.filter(relation::Column::OrgId.eq(t.org().0))
            .filter(relation::Column::SourceBlueprint.eq(old.identifier.as_str()))
    };
    if let Rename::Relation { from, to } = rename {
        scope(relation::Entity::update_many())
            .col_expr(relation::Column::Relation, Expr::value(to.clone()))
            .filter(relation::Column::Relation.eq(from.as_str()))
            .exec(t.conn())
            .await?;
    }
    for key in old.relations.keys() {
        let key_now = match rename {
            Rename::Relation { from, to } if key == from => to,
            _ => key,
        };
        match new.relations.get(key_now) {
            None => {
                relation::Entity::delete_many()
                    .filter(relation::Column::OrgId.eq(t.org().0))
                    .filter(relation::Column::SourceBlueprint.eq(old.identifier.as_str()))
                    .filter(relation::Column::Relation.eq(key_now.as_str()))
                    .exec(t.conn())
                    .await?;
            }
            Some(def)
                if old
                    .relations
                    .get(key)
                    .is_some_and(|o| o.required != def.required) =>
            {
                scope(relation::Entity::update_many())
                    .col_expr(relation::Column::Required, Expr::value(def.required))
                    .filter(relation::Column::Relation.eq(key_now.as_str()))
                    .exec(t.conn())
                    .await?;
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// An entity as it becomes under the new definition, plus what cannot be carried over.
fn transform(
    d: &EntityData,
    old: &Blueprint,
    new: &Blueprint,
    rename: &Rename,
) -> (EntityData, Vec<Issue>) {
    let mut out = d.clone();
    let mut issues = Vec::new();
    match rename {
        Rename::Property { from, to } => {
            if let Some(v) = out.properties.remove(from) {
                out.properties.insert(to.clone(), v);
            }
        }
        Rename::Relation { from, to } => {
            if let Some(v) = out.relations.shift_remove(from) {
                out.relations.insert(to.clone(), v);
            }
        }
        Rename::None => {}
    }
    out.properties.retain(|k, _| new.properties.contains_key(k));
    out.relations.retain(|k, _| new.relations.contains_key(k));
    let old_name = |k: &str| -> String {
        match rename {
            Rename::Relation { from, to } if k == to => from.clone(),
            _ => k.to_owned(),
        }
    };
    let keys: Vec<String> = out.relations.keys().cloned().collect();
    for key in keys {
        let Some(def) = new.relations.get(&key) else {
            continue;
        };
        let pointer = format!("/relations/{}", portolan_domain::error::escape_token(&key));
        if let Some(before) = old.relations.get(&old_name(&key))
            && before.target != def.target
            && out
                .relations
                .get(&key)
                .is_some_and(|v| !v.targets().is_empty())
        {
            issues.push(Issue::new(
                &pointer,
                format!(
                    "relation target changes from '{}' to '{}' while this entity has a value",
                    before.target, def.target
                ),
            ));
            continue;
        }
        let Some(v) = out.relations.get_mut(&key) else {
            continue;
        };
        match (def.many, v.clone()) {
            (true, RelationValue::One(x)) => *v = RelationValue::Many(vec![x]),
            (false, RelationValue::Many(xs)) if xs.is_empty() => {
                out.relations.shift_remove(&key);
            }
            (false, RelationValue::Many(mut xs)) if xs.len() == 1 => {
                *v = RelationValue::One(xs.remove(0))
            }
            (false, RelationValue::Many(xs)) => issues.push(Issue::new(
                &pointer,
                format!("holds {} targets but the relation becomes single", xs.len()),
            )),
            _ => {}
        }
    }
    (out, issues)
}
