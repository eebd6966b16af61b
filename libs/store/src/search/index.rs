//! Keeps the search index in step with the entities, in the same transaction as every entity
//! write. The index is three tables, one per value type (migration 8): `entity_values`
//! (strings), `entity_numbers` and `entity_dates`.

use portolan_domain::blueprint::Blueprint;
use portolan_domain::query::index_rows;
use sea_orm::{ConnectionTrait, Statement, Value as SqlValue};
use serde_json::{Map, Value};

use super::compile::Sql;
use crate::entities::IN_CHUNK;
use crate::models::entity;
use crate::sql::insert_rows;
use crate::{StoreError, Tenant};

/// The index tables, and the columns each one is written with.
const STRINGS: (&str, &[&str]) = (
    "entity_values",
    &["org_id", "blueprint", "identifier", "key", "s", "long"],
);
const NUMBERS: (&str, &[&str]) = (
    "entity_numbers",
    &["org_id", "blueprint", "identifier", "key", "n"],
);
const DATES: (&str, &[&str]) = (
    "entity_dates",
    &["org_id", "blueprint", "identifier", "key", "t"],
);
/// Every index table.
pub(crate) const TABLES: [&str; 3] = [STRINGS.0, NUMBERS.0, DATES.0];

/// Index rows to insert, by table (values of that table's columns).
#[derive(Default)]
pub(crate) struct Rows {
    strings: Vec<Vec<SqlValue>>,
    numbers: Vec<Vec<SqlValue>>,
    dates: Vec<Vec<SqlValue>>,
}

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
    let mut rows = Rows::default();
    for e in entities {
        rows_for(t, bp, e, &mut rows);
    }
    insert(t, rows).await
}

/// Appends the index rows of `e` to `out`, each to its type's table.
pub(crate) fn rows_for(t: &Tenant, bp: &Blueprint, e: &Indexed<'_>, out: &mut Rows) {
    let org = t.org().0;
    for r in index_rows(bp, e.properties, e.team) {
        let mut row: Vec<SqlValue> = vec![
            org.into(),
            bp.identifier.as_str().into(),
            e.identifier.into(),
            r.key.into(),
        ];
        // An index row holds exactly one of the three (`IndexRow`).
        if let Some(n) = r.n {
            row.push(n.into());
            out.numbers.push(row);
        } else if let Some(t) = r.t {
            row.push(t.into());
            out.dates.push(row);
        } else if let Some(s) = r.s {
            row.push(s.into());
            row.push(r.long.into());
            out.strings.push(row);
        }
    }
}

/// Inserts rows made by [`rows_for`].
pub(crate) async fn insert(t: &Tenant, rows: Rows) -> Result<(), StoreError> {
    for ((table, columns), rows) in [
        (STRINGS, rows.strings),
        (NUMBERS, rows.numbers),
        (DATES, rows.dates),
    ] {
        insert_rows(t.conn(), table, columns, rows, "").await?;
    }
    Ok(())
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
        delete_rows(t, blueprint, Some(chunk)).await?;
    }
    Ok(())
}

/// Deletes, from every index table, the rows of `blueprint`: of the entities `ids`, or all.
async fn delete_rows(t: &Tenant, blueprint: &str, ids: Option<&[&str]>) -> Result<(), StoreError> {
    for table in TABLES {
        let mut sql = Sql::new(t.store().backend());
        sql.push("DELETE FROM ")
            .push(table)
            .push(" WHERE org_id = ")
            .bind(t.org().0)
            .push(" AND blueprint = ")
            .bind(blueprint);
        if let Some(ids) = ids {
            sql.push(" AND identifier IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(*id);
            }
            sql.push(")");
        }
        t.conn()
            .execute_raw(Statement::from_sql_and_values(
                t.conn().get_database_backend(),
                sql.text,
                sql.values,
            ))
            .await?;
    }
    Ok(())
}

/// Rebuilds the index of every entity of `bp` (after a change of property types).
pub(crate) async fn rebuild(t: &Tenant, bp: &Blueprint) -> Result<(), StoreError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    delete_rows(t, &bp.identifier, None).await?;
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
