//! Keeps `entity_values` (the search index) in step with the entities, in the same
//! transaction as every entity write.

use portolan_domain::blueprint::Blueprint;
use portolan_domain::query::index_rows;
use sea_orm::{ConnectionTrait, Statement, Value as SqlValue};
use serde_json::{Map, Value};

use super::compile::Sql;
use crate::entities::IN_CHUNK;
use crate::models::entity;
use crate::sql::insert_rows;
use crate::{StoreError, Tenant};

const COLUMNS: &[&str] = &[
    "org_id",
    "blueprint",
    "identifier",
    "key",
    "s",
    "n",
    "t",
    "long",
];

/// The index content of one entity.
pub(crate) struct Indexed<'a> {
    pub identifier: &'a str,
    pub properties: &'a Map<String, Value>,
    pub team: &'a [String],
}

/// Writes the index rows of `entities` (all of blueprint `bp`). With `replace`, their
/// existing rows are deleted first (updates); new entities have none.
pub(crate) async fn write(
    t: &Tenant,
    bp: &Blueprint,
    entities: &[Indexed<'_>],
    replace: bool,
) -> Result<(), StoreError> {
    if entities.is_empty() {
        return Ok(());
    }
    if replace {
        let ids: Vec<&str> = entities.iter().map(|e| e.identifier).collect();
        delete(t, &bp.identifier, &ids).await?;
    }
    let mut rows: Vec<Vec<SqlValue>> = Vec::new();
    for e in entities {
        rows_for(t, bp, e, &mut rows);
    }
    insert(t, rows).await
}

/// Appends the index rows of `e` (as values of the `entity_values` columns) to `out`.
pub(crate) fn rows_for(t: &Tenant, bp: &Blueprint, e: &Indexed<'_>, out: &mut Vec<Vec<SqlValue>>) {
    let org = t.org().0;
    for r in index_rows(bp, e.properties, e.team) {
        out.push(vec![
            org.into(),
            bp.identifier.as_str().into(),
            e.identifier.into(),
            r.key.into(),
            r.s.into(),
            r.n.into(),
            r.t.into(),
            r.long.into(),
        ]);
    }
}

/// Inserts rows made by [`rows_for`].
pub(crate) async fn insert(t: &Tenant, rows: Vec<Vec<SqlValue>>) -> Result<(), StoreError> {
    insert_rows(t.conn(), "entity_values", COLUMNS, rows, "").await
}

/// Writes the index rows of stored models (one blueprint).
pub(crate) async fn write_models(
    t: &Tenant,
    bp: &Blueprint,
    models: &[entity::Model],
    replace: bool,
) -> Result<(), StoreError> {
    let empty = Map::new();
    let teams: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            m.team
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    let entities: Vec<Indexed<'_>> = models
        .iter()
        .zip(&teams)
        .map(|(m, team)| Indexed {
            identifier: &m.identifier,
            properties: m.properties.as_object().unwrap_or(&empty),
            team,
        })
        .collect();
    write(t, bp, &entities, replace).await
}

/// Deletes the index rows of `ids` (of `blueprint`).
pub(crate) async fn delete(t: &Tenant, blueprint: &str, ids: &[&str]) -> Result<(), StoreError> {
    for chunk in ids.chunks(IN_CHUNK) {
        let mut sql = Sql::new(t.store().backend());
        sql.push("DELETE FROM entity_values WHERE org_id = ")
            .bind(t.org().0)
            .push(" AND blueprint = ")
            .bind(blueprint)
            .push(" AND identifier IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(*id);
        }
        sql.push(")");
        execute(t, sql).await?;
    }
    Ok(())
}

async fn execute(t: &Tenant, sql: Sql) -> Result<(), StoreError> {
    t.conn()
        .execute_raw(Statement::from_sql_and_values(
            t.conn().get_database_backend(),
            sql.text,
            sql.values,
        ))
        .await?;
    Ok(())
}

/// Rebuilds the index of every entity of `bp` (after a change of property types).
pub(crate) async fn rebuild(t: &Tenant, bp: &Blueprint) -> Result<(), StoreError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut sql = Sql::new(t.store().backend());
    sql.push("DELETE FROM entity_values WHERE org_id = ")
        .bind(t.org().0)
        .push(" AND blueprint = ")
        .bind(bp.identifier.as_str());
    execute(t, sql).await?;
    let mut last: Option<String> = None;
    loop {
        let mut q = entity::Entity::find()
            .filter(entity::Column::OrgId.eq(t.org().0))
            .filter(entity::Column::Blueprint.eq(bp.identifier.as_str()));
        if let Some(l) = &last {
            q = q.filter(entity::Column::Identifier.gt(l.as_str()));
        }
        let rows = q
            .order_by_asc(entity::Column::Identifier)
            .limit(IN_CHUNK as u64)
            .all(t.conn())
            .await?;
        let Some(tail) = rows.last() else { break };
        last = Some(tail.identifier.clone());
        write_models(t, bp, &rows, false).await?;
    }
    Ok(())
}
