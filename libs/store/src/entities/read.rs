//! Entity reads with Port's `include`, `exclude` and `attach_title_to_relation`.

use std::collections::{BTreeSet, HashMap};

use portolan_domain::blueprint::Blueprint;
use portolan_domain::projection::project;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};

use super::IN_CHUNK;
use super::shape::entity_json;
use crate::blueprints;
use crate::models::entity;
use crate::{StoreError, Tenant};

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Relation values become `{identifier, title}` objects.
    pub attach_title_to_relation: bool,
}

/// One entity in Port's shape.
pub async fn get(
    t: &Tenant,
    blueprint: &str,
    id: &str,
    opts: &ReadOptions,
) -> Result<Value, StoreError> {
    let bp = blueprints::load(t, blueprint).await?;
    let m = entity::Entity::find()
        .filter(entity::Column::OrgId.eq(t.org().0))
        .filter(entity::Column::Blueprint.eq(blueprint))
        .filter(entity::Column::Identifier.eq(id))
        .one(t.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("entity", id))?;
    let mut out = render(t, &bp.compiled.blueprint, vec![m], opts).await?;
    out.pop()
        .ok_or_else(|| StoreError::Internal("rendered no entity".into()))
}

/// Every entity of the blueprint, ordered by identifier.
pub async fn list(
    t: &Tenant,
    blueprint: &str,
    opts: &ReadOptions,
) -> Result<Vec<Value>, StoreError> {
    let bp = blueprints::load(t, blueprint).await?;
    let rows = entity::Entity::find()
        .filter(entity::Column::OrgId.eq(t.org().0))
        .filter(entity::Column::Blueprint.eq(blueprint))
        .order_by_asc(entity::Column::Identifier)
        .all(t.conn())
        .await?;
    render(t, &bp.compiled.blueprint, rows, opts).await
}

/// How many entities the blueprint holds.
pub async fn count(t: &Tenant, blueprint: &str) -> Result<u64, StoreError> {
    blueprints::load(t, blueprint).await?;
    Ok(entity::Entity::find()
        .filter(entity::Column::OrgId.eq(t.org().0))
        .filter(entity::Column::Blueprint.eq(blueprint))
        .count(t.conn())
        .await?)
}

pub(crate) async fn render(
    t: &Tenant,
    bp: &Blueprint,
    rows: Vec<entity::Model>,
    opts: &ReadOptions,
) -> Result<Vec<Value>, StoreError> {
    let titles = if opts.attach_title_to_relation {
        related_titles(t, bp, &rows).await?
    } else {
        HashMap::new()
    };
    let mut out = Vec::with_capacity(rows.len());
    for m in &rows {
        let mut v = entity_json(m, bp);
        if opts.attach_title_to_relation {
            attach_titles(&mut v, bp, &titles);
        }
        if !opts.include.is_empty() || !opts.exclude.is_empty() {
            project(&mut v, &opts.include, &opts.exclude);
        }
        out.push(v);
    }
    Ok(out)
}

type Titles = HashMap<(String, String), Option<String>>;

async fn related_titles(
    t: &Tenant,
    bp: &Blueprint,
    rows: &[entity::Model],
) -> Result<Titles, StoreError> {
    let mut wanted: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for m in rows {
        let Some(rels) = m.relations.as_object() else {
            continue;
        };
        for (key, v) in rels {
            let Some(def) = bp.relations.get(key) else {
                continue;
            };
            let ids: Vec<&str> = match v {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            wanted
                .entry(def.target.as_str())
                .or_default()
                .extend(ids.into_iter().map(str::to_owned));
        }
    }
    let mut titles = HashMap::new();
    for (target, ids) in wanted {
        let ids: Vec<String> = ids.into_iter().collect();
        for chunk in ids.chunks(IN_CHUNK) {
            let found: Vec<(String, Option<String>)> = entity::Entity::find()
                .select_only()
                .column(entity::Column::Identifier)
                .column(entity::Column::Title)
                .filter(entity::Column::OrgId.eq(t.org().0))
                .filter(entity::Column::Blueprint.eq(target))
                .filter(entity::Column::Identifier.is_in(chunk.iter().map(String::as_str)))
                .into_tuple()
                .all(t.conn())
                .await?;
            for (id, title) in found {
                titles.insert((target.to_owned(), id), title);
            }
        }
    }
    Ok(titles)
}

fn attach_titles(v: &mut Value, bp: &Blueprint, titles: &Titles) {
    let Some(rels) = v.get_mut("relations").and_then(Value::as_object_mut) else {
        return;
    };
    for (key, val) in rels.iter_mut() {
        let Some(def) = bp.relations.get(key) else {
            continue;
        };
        let with_title = |id: &str| {
            let title = titles
                .get(&(def.target.clone(), id.to_owned()))
                .cloned()
                .flatten();
            json!({"identifier": id, "title": title})
        };
        let replaced = match &*val {
            Value::String(s) => with_title(s),
            Value::Array(a) => {
                Value::Array(a.iter().filter_map(Value::as_str).map(with_title).collect())
            }
            other => other.clone(),
        };
        *val = replaced;
    }
}
