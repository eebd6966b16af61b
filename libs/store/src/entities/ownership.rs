//! Inherited ownership: an entity of a blueprint with `ownership: {type: "Inherited", path:
//! "rel1.rel2"}` is owned by the teams of the entity its single relations lead to. The teams
//! are derived when the entity is written (a `team` sent with it is replaced) and stored like
//! any team, so reads, searches (`$team`) and permissions (`ownedByTeam`) see them with no
//! extra work. When an entity on such a path changes its teams or relations, the entities that
//! inherit through it are re-derived in the same transaction.

use std::collections::HashMap;

use indexmap::IndexMap;
use portolan_domain::blueprint::{Blueprint, Ownership};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;

use super::IN_CHUNK;
use super::write::fetch;
use crate::models::{entity, relation};
use crate::search::index;
use crate::{StoreError, Tenant};

/// How deep re-derivation follows inheritance chains (an inheriting blueprint that is itself
/// on another's path).
const MAX_CASCADE: usize = 5;

/// The (relation, target blueprint) steps of `bp`'s inherited ownership path, if it has one.
pub(crate) fn chain(
    bp: &Blueprint,
    all: &IndexMap<String, Blueprint>,
) -> Option<Vec<(String, String)>> {
    let Some(Ownership::Inherited { path }) = &bp.ownership else {
        return None;
    };
    let mut out = Vec::new();
    let mut current = bp;
    for seg in path.split('.') {
        let def = current.relations.get(seg)?;
        out.push((seg.to_owned(), def.target.clone()));
        current = all.get(&def.target)?;
    }
    Some(out)
}

fn single_target(relations: &Value, rel: &str) -> Option<String> {
    relations
        .get(rel)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn teams_of(m: &entity::Model) -> Vec<String> {
    m.team
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The derived teams of entities given by the target of their first relation on `chain`
/// (`None`: no target): the teams of the entity at the end of the path, or none when the
/// path breaks.
pub(crate) async fn derive(
    t: &Tenant,
    chain: &[(String, String)],
    firsts: HashMap<String, Option<String>>,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    // entity id -> id of the entity reached so far (at the current step's target blueprint)
    let mut reached = firsts;
    for (step, (_, target)) in chain.iter().enumerate() {
        let mut ids: Vec<&str> = reached.values().flatten().map(String::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        let models = fetch(t, target, &ids, false).await?;
        let last = step + 1 == chain.len();
        if last {
            return Ok(reached
                .into_iter()
                .map(|(id, at)| {
                    let teams = at
                        .and_then(|a| models.get(&a))
                        .map(teams_of)
                        .unwrap_or_default();
                    (id, teams)
                })
                .collect());
        }
        let next_rel = &chain[step + 1].0;
        reached = reached
            .into_iter()
            .map(|(id, at)| {
                let next = at
                    .and_then(|a| models.get(&a))
                    .and_then(|m| single_target(&m.relations, next_rel));
                (id, next)
            })
            .collect();
    }
    Ok(reached.into_keys().map(|id| (id, Vec::new())).collect())
}

/// Re-derives the teams of every entity that inherits its ownership through the entities
/// `changed` of `blueprint` (whose teams or relations changed), and through those in turn.
pub(crate) async fn refresh_inheritors(
    t: &Tenant,
    blueprint: &str,
    changed: Vec<String>,
) -> Result<(), StoreError> {
    if changed.is_empty() {
        return Ok(());
    }
    let all = crate::search::blueprints(t).await?;
    if !all
        .values()
        .any(|b| matches!(b.ownership, Some(Ownership::Inherited { .. })))
    {
        return Ok(());
    }
    let mut work = vec![(blueprint.to_owned(), changed, 0usize)];
    while let Some((bp_id, ids, depth)) = work.pop() {
        if depth >= MAX_CASCADE || ids.is_empty() {
            continue;
        }
        for (heir_id, heir) in all.iter() {
            let Some(chain) = chain(heir, &all) else {
                continue;
            };
            for k in (0..chain.len()).filter(|k| chain[*k].1 == bp_id) {
                // Walk back from the changed entities (at step k's target) to the heirs.
                let mut at = ids.clone();
                for j in (0..=k).rev() {
                    let source_bp = if j == 0 {
                        heir_id.as_str()
                    } else {
                        chain[j - 1].1.as_str()
                    };
                    at = sources(t, source_bp, &chain[j].0, &at).await?;
                    if at.is_empty() {
                        break;
                    }
                }
                let moved = rederive(t, heir, &chain, &at).await?;
                if !moved.is_empty() {
                    work.push((heir_id.clone(), moved, depth + 1));
                }
            }
        }
    }
    Ok(())
}

/// After the relations of `ids` of `blueprint` changed outside a write (a deleted target
/// cleared from optional relations): re-derives their own teams when `blueprint` inherits its
/// ownership, then those of the entities inheriting through them.
pub(crate) async fn refresh_after_relations_changed(
    t: &Tenant,
    blueprint: &str,
    ids: Vec<String>,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let all = crate::search::blueprints(t).await?;
    if let Some(bp) = all.get(blueprint)
        && let Some(chain) = chain(bp, &all)
    {
        rederive(t, bp, &chain, &ids).await?;
    }
    refresh_inheritors(t, blueprint, ids).await
}

/// Identifiers of `source_bp` entities whose relation `rel` points at one of `targets`.
async fn sources(
    t: &Tenant,
    source_bp: &str,
    rel: &str,
    targets: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for chunk in targets.chunks(IN_CHUNK) {
        let rows: Vec<String> = relation::Entity::find()
            .select_only()
            .column(relation::Column::SourceIdentifier)
            .filter(relation::Column::OrgId.eq(t.org().0))
            .filter(relation::Column::SourceBlueprint.eq(source_bp))
            .filter(relation::Column::Relation.eq(rel))
            .filter(relation::Column::TargetIdentifier.is_in(chunk.iter().map(String::as_str)))
            .into_tuple()
            .all(t.conn())
            .await?;
        out.extend(rows);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Re-derives the teams of `ids` of `heir`, storing and re-indexing those that change;
/// returns them.
async fn rederive(
    t: &Tenant,
    heir: &Blueprint,
    chain: &[(String, String)],
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let models = fetch(t, &heir.identifier, &refs, false).await?;
    let firsts = models
        .values()
        .map(|m| {
            (
                m.identifier.clone(),
                single_target(&m.relations, &chain[0].0),
            )
        })
        .collect();
    let derived = derive(t, chain, firsts).await?;
    let mut moved = Vec::new();
    let mut rows = index::Rows::default();
    for (id, teams) in derived {
        let Some(m) = models.get(&id) else { continue };
        if teams_of(m) == teams {
            continue;
        }
        entity::Entity::update_many()
            .col_expr(
                entity::Column::Team,
                sea_orm::sea_query::Expr::value(serde_json::json!(teams)),
            )
            .filter(entity::Column::OrgId.eq(t.org().0))
            .filter(entity::Column::Blueprint.eq(heir.identifier.as_str()))
            .filter(entity::Column::Identifier.eq(id.as_str()))
            .exec(t.conn())
            .await?;
        let props = m.properties.as_object().cloned().unwrap_or_default();
        index::rows_for(
            t,
            heir,
            &index::Indexed {
                identifier: &id,
                properties: &props,
                team: &teams,
            },
            &mut rows,
        );
        moved.push(id);
    }
    let refs: Vec<&str> = moved.iter().map(String::as_str).collect();
    index::delete(t, &heir.identifier, &refs).await?;
    index::insert(t, rows).await?;
    Ok(moved)
}
