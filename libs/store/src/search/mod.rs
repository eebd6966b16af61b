//! Search: a parsed query (`portolan_domain::query`) compiled to SQL and run in the tenant's
//! transaction, with keyset paging, sorting, counting and aggregation.
//!
//! Paging is keyset-based on `(sort value, identifier, blueprint)`: a page never skips or
//! repeats an entity that exists throughout the paging, whatever else is written meanwhile.

pub(crate) mod compile;
pub(crate) mod index;

pub use compile::plan_stable;

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use portolan_domain::blueprint::Blueprint;
use portolan_domain::query::{Kind, Meta, Query};
use sea_orm::{ConnectionTrait, FromQueryResult, QueryResult, Statement};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::entities::ReadOptions;
use crate::entities::shape::TextRow;
use crate::models::{blueprint, entity};
use crate::{Backend, StoreError, Tenant};
use compile::{Scope, Sql};

/// Every blueprint of the org, in identifier order (what queries are parsed against).
///
/// Served from memory while the org's blueprint generation (read when the transaction began)
/// is the one they were read at; a transaction that wrote a blueprint reads its own view.
pub async fn blueprints(t: &Tenant) -> Result<Arc<IndexMap<String, Blueprint>>, StoreError> {
    if t.blueprints_touched() {
        return Ok(Arc::new(read_blueprints(t).await?));
    }
    let Some(generation) = t.blueprint_generation().await? else {
        return Ok(Arc::new(read_blueprints(t).await?));
    };
    let cache = &t.store().cache.blueprints;
    if let Some(hit) = cache.get(&t.org())
        && hit.0 == generation
    {
        return Ok(hit.1.clone());
    }
    let read = Arc::new(read_blueprints(t).await?);
    // Read after the generation, by a transaction that wrote none: what was committed at
    // `generation` or later.
    cache.insert(t.org(), Arc::new((generation, read.clone())));
    Ok(read)
}

async fn read_blueprints(t: &Tenant) -> Result<IndexMap<String, Blueprint>, StoreError> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let rows = blueprint::Entity::find()
        .filter(blueprint::Column::OrgId.eq(t.org().0))
        .order_by_asc(blueprint::Column::Identifier)
        .all(t.conn())
        .await?;
    let mut out = IndexMap::with_capacity(rows.len());
    for m in rows {
        let compiled = crate::blueprints::compiled(t, &m)?;
        out.insert(m.identifier.clone(), (*compiled.blueprint).clone());
    }
    Ok(out)
}

/// What a page is sorted by (then by identifier and blueprint, ascending).
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    /// `$identifier`, `$title`, `$createdAt`, ... (not `$team`).
    Meta(Meta),
    /// A string, number or date property.
    Property { key: String, kind: Kind },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

/// The last entity of a page, from which the next page continues.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// The sort value (`null` when the entity has none), when sorted by something else than
    /// the identifier: a string, a number, or microseconds for dates.
    #[serde(default, rename = "v")]
    pub value: Option<Value>,
    #[serde(rename = "i")]
    pub identifier: String,
    #[serde(rename = "b")]
    pub blueprint: String,
}

/// A search.
#[derive(Debug, Clone)]
pub struct SearchRequest<'a> {
    /// The query, bound (`portolan_domain::query::bind`).
    pub query: &'a Query,
    /// A second query every result must also match (a read policy), if any.
    pub filter: Option<&'a Query>,
    pub blueprints: &'a IndexMap<String, Blueprint>,
    /// The candidate blueprints (from the parse).
    pub candidates: &'a [String],
    pub sort: Option<Sort>,
    pub after: Option<Position>,
    /// 1..=1000 entities per page.
    pub limit: u64,
    pub read: &'a ReadOptions,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page {
    /// Port's entity shape, in order.
    pub entities: Vec<Value>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Position>,
}

/// One page of results as JSON text (see [`search_raw`]).
#[derive(Debug)]
pub struct RawPage {
    /// The entities in Port's shape, in order, as the text of a JSON array (UTF-8, as
    /// serde_json writes it): written into one buffer, for the route to send on.
    pub entities: Vec<u8>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Position>,
    /// The blueprints of the page's entities, in order of first appearance.
    pub blueprints: Vec<String>,
}

/// `WHERE` over `entities e`: the org, the candidate blueprints, the query and the filter.
fn where_clause(
    sql: &mut Sql,
    t: &Tenant,
    req_query: &Query,
    filter: Option<&Query>,
    scope: &Scope<'_>,
) {
    sql.push(" WHERE e.org_id = ").bind(t.org().0);
    if scope.candidates.is_empty() {
        // No blueprint can match (e.g. `$blueprint = a AND $blueprint = b`).
        sql.push(" AND (1=0)");
    } else if scope.candidates.len() == 1 {
        sql.push(" AND e.blueprint = ")
            .bind(scope.candidates[0].as_str());
    } else if scope.candidates.len() < scope.blueprints.len() {
        sql.push(" AND e.blueprint IN (");
        for (i, b) in scope.candidates.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(b.as_str());
        }
        sql.push(")");
    }
    sql.push(" AND ");
    compile::predicate(sql, req_query, scope);
    if let Some(f) = filter {
        sql.push(" AND ");
        compile::predicate(sql, f, scope);
    }
}

/// The SQL expression a page is sorted by, and the type its value is read as.
fn sort_expr(backend: Backend, key: &SortKey) -> (String, SortType) {
    let pg = backend == Backend::Postgres;
    match key {
        SortKey::Meta(Meta::CreatedAt) => ("e.created_at".into(), SortType::Instant),
        SortKey::Meta(Meta::UpdatedAt) => ("e.updated_at".into(), SortType::Instant),
        SortKey::Meta(m) => {
            let col = match m {
                Meta::Title => "e.title",
                Meta::Icon => "e.icon",
                Meta::Blueprint => "e.blueprint",
                Meta::CreatedBy => "e.created_by",
                Meta::UpdatedBy => "e.updated_by",
                Meta::Datasource => "e.datasource",
                _ => "e.identifier",
            };
            if pg && *m != Meta::Identifier {
                (format!("({col} COLLATE \"C\")"), SortType::Text)
            } else {
                (col.into(), SortType::Text)
            }
        }
        SortKey::Property { key, kind } => match kind {
            Kind::Number => {
                if pg {
                    (
                        format!("CAST(e.properties->>'{key}' AS double precision)"),
                        SortType::Number,
                    )
                } else {
                    (
                        format!("CAST(json_extract(e.properties, '$.\"{key}\"') AS REAL)"),
                        SortType::Number,
                    )
                }
            }
            Kind::Date => (
                format!(
                    "(SELECT v.t FROM entity_dates v WHERE v.org_id = e.org_id AND v.blueprint = e.blueprint \
                     AND v.identifier = e.identifier AND v.key = '{key}' LIMIT 1)"
                ),
                SortType::Micros,
            ),
            _ => {
                if pg {
                    (
                        format!("((e.properties->>'{key}') COLLATE \"C\")"),
                        SortType::Text,
                    )
                } else {
                    (
                        format!("json_extract(e.properties, '$.\"{key}\"')"),
                        SortType::Text,
                    )
                }
            }
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SortType {
    Text,
    Number,
    Micros,
    Instant,
}

fn bind_sort_value(sql: &mut Sql, ty: SortType, v: &Value) -> Result<(), StoreError> {
    let bad = || StoreError::invalid("/from", "the cursor does not fit this query's sort");
    match ty {
        SortType::Text => {
            sql.bind(v.as_str().ok_or_else(bad)?.to_owned());
        }
        SortType::Number => {
            sql.bind(v.as_f64().ok_or_else(bad)?);
        }
        SortType::Micros => {
            sql.bind(v.as_i64().ok_or_else(bad)?);
        }
        SortType::Instant => {
            let micros = v.as_i64().ok_or_else(bad)?;
            let dt = chrono::DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
            if sql.pg() {
                sql.bind(dt);
            } else {
                sql.bind(dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false));
            }
        }
    }
    Ok(())
}

/// The sort a page needs besides the identifier order (`None` for `$identifier` ascending,
/// which is that order).
fn effective_sort<'r>(req: &'r SearchRequest<'_>) -> Option<&'r Sort> {
    req.sort
        .as_ref()
        .filter(|s| s.key != SortKey::Meta(Meta::Identifier) || s.descending)
}

/// The statement of one page: `SELECT e.*[, sort_value] FROM entities e WHERE ... ORDER BY
/// ... LIMIT limit + 1`, with the sort expression and its type when sorted by something else
/// than the identifier.
type Sorted = Option<((String, SortType), bool)>;

fn page_sql(t: &Tenant, req: &SearchRequest<'_>) -> Result<(Sql, Sorted, u64), StoreError> {
    let backend = t.store().backend();
    let scope = Scope {
        org: t.org().0,
        blueprints: req.blueprints,
        candidates: req.candidates,
    };
    let single = req.candidates.len() == 1;
    let sort = effective_sort(req);
    let sorted = sort.map(|s| (sort_expr(backend, &s.key), s.descending));

    let mut sql = Sql::new(backend);
    sql.push("SELECT e.*");
    if let Some(((expr, _), _)) = &sorted {
        sql.push(", ").push(expr).push(" AS sort_value");
    }
    sql.push(" FROM entities e");
    where_clause(&mut sql, t, req.query, req.filter, &scope);

    // The keyset: strictly after the last entity of the previous page.
    if let Some(after) = &req.after {
        sql.push(" AND ");
        let tiebreak = |sql: &mut Sql| {
            if single {
                sql.push("e.identifier > ").bind(after.identifier.as_str());
            } else {
                sql.push("(e.identifier > ")
                    .bind(after.identifier.as_str())
                    .push(" OR (e.identifier = ")
                    .bind(after.identifier.as_str())
                    .push(" AND e.blueprint > ")
                    .bind(after.blueprint.as_str())
                    .push("))");
            }
        };
        match &sorted {
            None => tiebreak(&mut sql),
            Some(((expr, ty), desc)) => match &after.value {
                Some(v) if !v.is_null() => {
                    let cmp = if *desc { " < " } else { " > " };
                    sql.push("(").push(expr).push(cmp);
                    bind_sort_value(&mut sql, *ty, v)?;
                    sql.push(" OR (").push(expr).push(" = ");
                    bind_sort_value(&mut sql, *ty, v)?;
                    sql.push(" AND ");
                    tiebreak(&mut sql);
                    sql.push(") OR ").push(expr).push(" IS NULL)");
                }
                _ => {
                    sql.push("(").push(expr).push(" IS NULL AND ");
                    tiebreak(&mut sql);
                    sql.push(")");
                }
            },
        }
    }

    sql.push(" ORDER BY ");
    if let Some(((expr, _), desc)) = &sorted {
        sql.push(expr).push(if *desc {
            " DESC NULLS LAST, "
        } else {
            " ASC NULLS LAST, "
        });
    }
    sql.push("e.identifier");
    if !single {
        sql.push(", e.blueprint");
    }
    let limit = req.limit.clamp(1, 1000);
    sql.push(" LIMIT ").bind((limit + 1) as i64);
    Ok((sql, sorted, limit))
}

/// The plan PostgreSQL chooses for one page of `req` (`EXPLAIN (FORMAT JSON)`; with `analyze`,
/// run, with each node's actual rows), or SQLite's `EXPLAIN QUERY PLAN` rows as
/// `[{"detail": ...}]`: for tests and diagnosis.
pub async fn plan(t: &Tenant, req: &SearchRequest<'_>, analyze: bool) -> Result<Value, StoreError> {
    let (sql, _, _) = page_sql(t, req)?;
    let pg = sql.pg();
    let text = if pg {
        let options = if analyze { "ANALYZE, " } else { "" };
        format!("EXPLAIN ({options}FORMAT JSON) {}", sql.text)
    } else {
        format!("EXPLAIN QUERY PLAN {}", sql.text)
    };
    let rows = t
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            t.conn().get_database_backend(),
            text,
            sql.values,
        ))
        .await?;
    if pg {
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Internal("EXPLAIN returned no row".into()))?;
        return Ok(row.try_get::<Value>("", "QUERY PLAN")?);
    }
    let details = rows
        .iter()
        .map(|r| {
            r.try_get::<String>("", "detail")
                .map(|d| serde_json::json!({ "detail": d }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Array(details))
}

/// Runs a search and renders one page.
pub async fn search(t: &Tenant, req: &SearchRequest<'_>) -> Result<Page, StoreError> {
    t.plan_custom().await?;
    let (rows, next) = page_rows(t, req).await?;
    let entities = render_mixed(t, req.blueprints, models(&rows)?, req.read).await?;
    Ok(Page { entities, next })
}

/// [`search`] answered as JSON text, for a route that sends the page on as it is: without
/// `include`, `exclude` or relation titles each entity is written straight from its row.
///
/// Such a page is its transaction's last statement: when its query is
/// [`compile::plan_stable`], the transaction plans it (and anything after it) once per
/// connection.
pub async fn search_raw(t: &Tenant, req: &SearchRequest<'_>) -> Result<RawPage, StoreError> {
    let plain = req.read.include.is_empty()
        && req.read.exclude.is_empty()
        && !req.read.attach_title_to_relation;
    // A plain page is the transaction's last statement, so the plan mode can change for it
    // (and the transaction may have begun with either, [`crate::Plans`]).
    if plain
        && effective_sort(req).is_none()
        && compile::plan_stable(req.query)
        && req.filter.is_none_or(compile::plan_stable)
    {
        t.plan_generic().await?;
    } else {
        t.plan_custom().await?;
    }
    let (rows, next) = page_rows(t, req).await?;
    let row_blueprints = rows
        .iter()
        .map(|row| row.try_get::<String>("", "blueprint"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut blueprints: Vec<String> = Vec::new();
    for bp in &row_blueprints {
        if !blueprints.contains(bp) {
            blueprints.push(bp.clone());
        }
    }
    let rendered =
        |e: serde_json::Error| StoreError::Internal(format!("cannot render an entity: {e}"));
    // The page is written into one buffer, the JSON array the route sends on.
    let mut out = Vec::new();
    out.push(b'[');
    if plain {
        // Every row of the page has the same columns: found by name once.
        let columns = rows.first().and_then(TextColumns::of);
        for (i, (row, bp_id)) in rows.iter().zip(&row_blueprints).enumerate() {
            let Some(bp) = req.blueprints.get(bp_id) else {
                return Err(vanished(bp_id));
            };
            if i > 0 {
                out.push(b',');
            }
            let from_text = match &columns {
                Some(c) => write_text_row(&mut out, row, c, bp)?,
                None => false,
            };
            if !from_text {
                let m = entity::Model::from_query_result(row, "")?;
                crate::entities::shape::write_entity(&mut out, &m, bp).map_err(rendered)?;
            }
            if i == 0 {
                // The rest of the page is about as long as its first entity each.
                out.reserve(out.len().saturating_mul(rows.len().saturating_sub(1)) + 1);
            }
        }
    } else {
        for (i, v) in render_mixed(t, req.blueprints, models(&rows)?, req.read)
            .await?
            .iter()
            .enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, v).map_err(rendered)?;
        }
    }
    out.push(b']');
    Ok(RawPage {
        entities: out,
        next,
        blueprints,
    })
}

fn vanished(blueprint: &str) -> StoreError {
    StoreError::Internal(format!("blueprint '{blueprint}' vanished during a search"))
}

/// The rows of one page, in order, and where the next page starts.
async fn page_rows(
    t: &Tenant,
    req: &SearchRequest<'_>,
) -> Result<(Vec<QueryResult>, Option<Position>), StoreError> {
    let (sql, sorted, limit) = page_sql(t, req)?;
    let sort = effective_sort(req);
    let mut rows = t
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            t.conn().get_database_backend(),
            sql.text,
            sql.values,
        ))
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = match rows.last() {
        Some(row) if more => Some(Position {
            value: match &sorted {
                None => None,
                Some(((_, ty), _)) => Some(match ty {
                    SortType::Text => row
                        .try_get::<Option<String>>("", "sort_value")?
                        .map_or(Value::Null, Value::String),
                    SortType::Number => row
                        .try_get::<Option<f64>>("", "sort_value")?
                        .map_or(Value::Null, Value::from),
                    SortType::Micros => row
                        .try_get::<Option<i64>>("", "sort_value")?
                        .map_or(Value::Null, Value::from),
                    SortType::Instant => {
                        let column =
                            if matches!(sort.map(|s| &s.key), Some(SortKey::Meta(Meta::CreatedAt)))
                            {
                                "created_at"
                            } else {
                                "updated_at"
                            };
                        let at: chrono::DateTime<chrono::Utc> = row.try_get("", column)?;
                        Value::from(at.timestamp_micros())
                    }
                }),
            },
            identifier: row.try_get("", "identifier")?,
            blueprint: row.try_get("", "blueprint")?,
        }),
        _ => None,
    };
    Ok((rows, next))
}

fn models(rows: &[QueryResult]) -> Result<Vec<entity::Model>, StoreError> {
    rows.iter()
        .map(|row| entity::Model::from_query_result(row, "").map_err(StoreError::from))
        .collect()
}

/// Where the columns [`write_text_row`] reads are in a page's rows (a lookup by name hashes the
/// name: once per page instead of eleven times per row).
struct TextColumns {
    properties: usize,
    relations: usize,
    team: usize,
    identifier: usize,
    title: usize,
    icon: usize,
    blueprint: usize,
    created_at: usize,
    created_by: usize,
    updated_at: usize,
    updated_by: usize,
}

impl TextColumns {
    /// `None` for a row that is not PostgreSQL's, or lacks one of the columns, or has one of
    /// another type than [`write_text_row`] reads it as (checked here once per page, so the
    /// rows are read without checking each value's type).
    fn of(row: &QueryResult) -> Option<TextColumns> {
        use sea_orm::sqlx::postgres::Postgres;
        use sea_orm::sqlx::{Column as _, Row as _, Type};
        let pg = row.try_as_pg_row()?;
        let at = |name: &str, compatible: fn(&sea_orm::sqlx::postgres::PgTypeInfo) -> bool| {
            let c = pg.try_column(name).ok()?;
            compatible(c.type_info()).then_some(c.ordinal())
        };
        let text = <&str as Type<Postgres>>::compatible;
        let instant = <chrono::DateTime<chrono::Utc> as Type<Postgres>>::compatible;
        let json = <sea_orm::sqlx::types::Json<&RawValue> as Type<Postgres>>::compatible;
        Some(TextColumns {
            properties: at("properties", json)?,
            relations: at("relations", json)?,
            team: at("team", json)?,
            identifier: at("identifier", text)?,
            title: at("title", text)?,
            icon: at("icon", text)?,
            blueprint: at("blueprint", text)?,
            created_at: at("created_at", instant)?,
            created_by: at("created_by", text)?,
            updated_at: at("updated_at", instant)?,
            updated_by: at("updated_by", text)?,
        })
    }
}

/// A `jsonb` column's text as PostgreSQL sent it (`None` if null or not text). Not checked
/// here: [`TextRow::members`] parses it once, where sqlx's `Json` decoding would parse it a
/// first time to check it.
fn jsonb_text(pg: &sea_orm::sqlx::postgres::PgRow, column: usize) -> Option<&str> {
    use sea_orm::sqlx::postgres::PgValueFormat;
    use sea_orm::sqlx::{Row as _, TypeInfo as _, ValueRef as _};
    let value = pg.try_get_raw(column).ok()?;
    let bytes = value.as_bytes().ok()?;
    let text = match value.format() {
        // Binary `jsonb` is a version byte (1) and the text.
        PgValueFormat::Binary if value.type_info().name() == "JSONB" => match bytes {
            [1, rest @ ..] => rest,
            _ => return None,
        },
        _ => bytes,
    };
    std::str::from_utf8(text).ok()
}

/// Appends a PostgreSQL row in Port's shape to `out` without parsing its JSON columns.
/// Answers `false` (having written nothing) when the row is not PostgreSQL's or its
/// `properties` or `relations` are not plain objects: the caller then parses it.
fn write_text_row(
    out: &mut Vec<u8>,
    row: &QueryResult,
    c: &TextColumns,
    bp: &Blueprint,
) -> Result<bool, StoreError> {
    use sea_orm::sqlx::Row as _;
    use sea_orm::sqlx::types::Json;
    let Some(pg) = row.try_as_pg_row() else {
        return Ok(false);
    };
    let bad = |e: sea_orm::sqlx::Error| StoreError::Internal(format!("cannot read a row: {e}"));
    let json = |column: usize| pg.try_get::<Json<&RawValue>, _>(column).map(|j| j.0);
    let (Some(properties), Some(relations)) = (
        jsonb_text(pg, c.properties).and_then(TextRow::members),
        jsonb_text(pg, c.relations).and_then(TextRow::members),
    ) else {
        return Ok(false);
    };
    // The columns' types were checked once for the page (`TextColumns::of`).
    let text = TextRow {
        identifier: pg.try_get_unchecked(c.identifier).map_err(bad)?,
        title: pg.try_get_unchecked(c.title).map_err(bad)?,
        icon: pg.try_get_unchecked(c.icon).map_err(bad)?,
        blueprint: pg.try_get_unchecked(c.blueprint).map_err(bad)?,
        team: json(c.team).map_err(bad)?,
        properties,
        relations,
        created_at: pg.try_get_unchecked(c.created_at).map_err(bad)?,
        created_by: pg.try_get_unchecked(c.created_by).map_err(bad)?,
        updated_at: pg.try_get_unchecked(c.updated_at).map_err(bad)?,
        updated_by: pg.try_get_unchecked(c.updated_by).map_err(bad)?,
    };
    crate::entities::shape::write_text_row(out, &text, bp)
        .map_err(|e| StoreError::Internal(format!("cannot render an entity: {e}")))?;
    Ok(true)
}

/// Renders rows of several blueprints in order (one batch per blueprint).
async fn render_mixed(
    t: &Tenant,
    blueprints: &IndexMap<String, Blueprint>,
    models: Vec<entity::Model>,
    opts: &ReadOptions,
) -> Result<Vec<Value>, StoreError> {
    let n = models.len();
    let mut groups: HashMap<String, Vec<(usize, entity::Model)>> = HashMap::new();
    for (i, m) in models.into_iter().enumerate() {
        groups.entry(m.blueprint.clone()).or_default().push((i, m));
    }
    let mut out: Vec<Option<Value>> = vec![None; n];
    for (bp_id, items) in groups {
        let Some(bp) = blueprints.get(&bp_id) else {
            return Err(vanished(&bp_id));
        };
        let (idx, rows): (Vec<usize>, Vec<entity::Model>) = items.into_iter().unzip();
        let rendered = crate::entities::render(t, bp, rows, opts).await?;
        for (i, v) in idx.into_iter().zip(rendered) {
            out[i] = Some(v);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// How many entities match.
pub async fn count(
    t: &Tenant,
    query: &Query,
    filter: Option<&Query>,
    blueprints: &IndexMap<String, Blueprint>,
    candidates: &[String],
) -> Result<u64, StoreError> {
    let backend = t.store().backend();
    let scope = Scope {
        org: t.org().0,
        blueprints,
        candidates,
    };
    let mut sql = Sql::new(backend);
    if filter.is_some() || !compile::index_only_count(&mut sql, query, &scope) {
        sql.push("SELECT count(*) AS n FROM entities e");
        where_clause(&mut sql, t, query, filter, &scope);
    }
    let row = t
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            t.conn().get_database_backend(),
            sql.text,
            sql.values,
        ))
        .await?
        .ok_or_else(|| StoreError::Internal("count returned no row".into()))?;
    let n: i64 = row.try_get("", "n")?;
    Ok(n.max(0) as u64)
}

/// The identifiers (and blueprints) of the first `max` matches, in identifier order: the
/// lookups of queries in writes.
pub async fn identifiers(
    t: &Tenant,
    query: &Query,
    blueprints: &IndexMap<String, Blueprint>,
    candidates: &[String],
    max: u64,
) -> Result<Vec<String>, StoreError> {
    let backend = t.store().backend();
    let scope = Scope {
        org: t.org().0,
        blueprints,
        candidates,
    };
    let mut sql = Sql::new(backend);
    sql.push("SELECT e.identifier FROM entities e");
    where_clause(&mut sql, t, query, None, &scope);
    sql.push(" ORDER BY e.identifier LIMIT ").bind(max as i64);
    let rows = t
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            t.conn().get_database_backend(),
            sql.text,
            sql.values,
        ))
        .await?;
    rows.iter()
        .map(|r| {
            r.try_get::<String>("", "identifier")
                .map_err(StoreError::from)
        })
        .collect()
}

/// Aggregation functions of `POST /v1/entities/aggregate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Count,
    Sum,
    Min,
    Max,
    Average,
    Median,
}

/// `func` over number property `property` (ignored for `Count`) of the matching entities.
/// `None` when no entity has a value (except for `Count`, and `Sum`, which is 0).
pub async fn aggregate(
    t: &Tenant,
    query: &Query,
    filter: Option<&Query>,
    blueprints: &IndexMap<String, Blueprint>,
    candidates: &[String],
    func: Func,
    property: Option<&str>,
) -> Result<Option<f64>, StoreError> {
    if func == Func::Count {
        return Ok(Some(
            count(t, query, filter, blueprints, candidates).await? as f64,
        ));
    }
    let Some(key) = property else {
        return Err(StoreError::invalid(
            "/property",
            "this function needs a number property",
        ));
    };
    let backend = t.store().backend();
    let scope = Scope {
        org: t.org().0,
        blueprints,
        candidates,
    };
    let agg = match func {
        Func::Sum => "sum(v.n)",
        Func::Min => "min(v.n)",
        Func::Max => "max(v.n)",
        Func::Average => "avg(v.n)",
        Func::Median | Func::Count => "NULL",
    };
    let mut sql = Sql::new(backend);
    let median = func == Func::Median;
    if median {
        sql.push("SELECT v.n AS x FROM entities e JOIN entity_numbers v ON v.org_id = e.org_id AND v.blueprint = e.blueprint AND v.identifier = e.identifier AND v.key = ").bind(key);
    } else {
        sql.push("SELECT CAST(").push(agg).push(" AS double precision) AS x FROM entities e JOIN entity_numbers v ON v.org_id = e.org_id AND v.blueprint = e.blueprint AND v.identifier = e.identifier AND v.key = ").bind(key);
    }
    if backend == Backend::Sqlite {
        sql.text = sql.text.replace("AS double precision", "AS REAL");
    }
    where_clause(&mut sql, t, query, filter, &scope);
    if median {
        sql.push(" ORDER BY v.n");
    }
    let rows = t
        .conn()
        .query_all_raw(Statement::from_sql_and_values(
            t.conn().get_database_backend(),
            sql.text,
            sql.values,
        ))
        .await?;
    let xs: Vec<f64> = rows
        .iter()
        .map(|r| r.try_get::<Option<f64>>("", "x"))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    Ok(match func {
        Func::Median => median_of(&xs),
        Func::Sum => Some(xs.first().copied().unwrap_or(0.0)),
        _ => xs.first().copied(),
    })
}

fn median_of(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use portolan_test_support::{TestDatabase, fresh_postgres};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    use super::{TextColumns, write_text_row};
    use crate::Store;

    /// When the rows below were written.
    const NOW: &str = "'2026-01-01T00:00:00Z'";

    /// A migrated PostgreSQL database on one connection (so every transaction runs in one
    /// session), holding the org `org` (an SQL literal) with a `service` blueprint row, and
    /// `rows` (SQL statements) after them.
    async fn one_org(org: &str, rows: &str) -> (TestDatabase, Store) {
        let db = fresh_postgres().await;
        let store = Store::connect(&db.url, 1).await.unwrap();
        store.migrate().await.unwrap();
        store
            .connection()
            .execute_unprepared(&format!(
                "INSERT INTO organizations (id, name, status, created_at) VALUES ({org}, 'acme', 'active', {NOW});
                 INSERT INTO blueprints (org_id, identifier, version, definition, created_at, updated_at,
                                         created_by, updated_by)
                 VALUES ({org}, 'service', 1, '{{}}', {NOW}, {NOW}, 'me', 'me');
                 {rows}"
            ))
            .await
            .unwrap();
        (db, store)
    }

    /// A PostgreSQL entity row is written from its columns' text: the columns are found by
    /// name once, and the properties' values come out as PostgreSQL printed them.
    #[tokio::test]
    async fn an_entity_row_is_written_from_its_text() {
        let org = "'0198f0c2-0000-7000-8000-000000000001'";
        let now = NOW;
        let (_db, store) = one_org(
            org,
            &format!(
                "INSERT INTO entities (org_id, blueprint, identifier, title, team, properties, relations,
                                       blueprint_version, created_at, updated_at, created_by, updated_by)
                 VALUES ({org}, 'service', 'api', 'API', '[]', '{{\"ports\": [80, 443]}}', '{{}}', 1,
                         {now}, {now}, 'me', 'me');"
            ),
        )
        .await;
        let rows = store
            .connection()
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT e.* FROM entities e",
            ))
            .await
            .unwrap();
        let columns = TextColumns::of(&rows[0]).expect("every column found");
        // A column of another type than it is read as: the row is not read from its text.
        let other = store
            .connection()
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT e.*, e.created::text AS created_at FROM (SELECT org_id, blueprint, \
                   identifier, title, icon, team, properties, relations, updated_at, created_by, \
                   updated_by, created_at AS created FROM entities) e",
            ))
            .await
            .unwrap();
        assert!(TextColumns::of(&other[0]).is_none());
        let bp = portolan_domain::blueprint::Blueprint::parse(&serde_json::json!({
            "identifier": "service", "title": "Service",
            "schema": {"properties": {"ports": {"type": "array"}}},
        }))
        .unwrap();
        let mut out = b"[".to_vec();
        assert!(
            write_text_row(&mut out, &rows[0], &columns, &bp).unwrap(),
            "written from the row's text"
        );
        // Appended to what the buffer held.
        let text = String::from_utf8(out).unwrap();
        let text = text.strip_prefix('[').expect("appended");
        assert!(text.contains("\"ports\":[80, 443]"), "{text}");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["identifier"], "api");
        assert_eq!(v["title"], "API");
        assert_eq!(v["properties"]["ports"], serde_json::json!([80, 443]));
    }

    /// How often the session planned the page statement holding `marker`: (generic, custom).
    async fn plans_of(t: &crate::Tenant, marker: &str) -> (i64, i64) {
        let row = t
            .conn()
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT coalesce(sum(generic_plans), 0)::int8 AS g, \
                        coalesce(sum(custom_plans), 0)::int8 AS c \
                 FROM pg_prepared_statements \
                 WHERE statement LIKE 'SELECT e.* FROM entities e%' AND strpos(statement, $1) > 0",
                [marker.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        (row.try_get("", "g").unwrap(), row.try_get("", "c").unwrap())
    }

    /// A page that walks relations from a named entity is planned once per connection (the
    /// plan for its values would be the same plan); a page over a property value is planned
    /// with its value every time. Both find what they should.
    #[tokio::test]
    async fn a_walk_is_planned_once_and_a_value_rule_with_its_value() {
        use portolan_domain::OrgId;
        use portolan_domain::query::{Direction, Field, Kind, Node, Op, Operand, Query, Rule};

        let org_id = uuid::Uuid::parse_str("0198f0c2-0000-7000-8000-000000000002").unwrap();
        let org = format!("'{org_id}'");
        let now = NOW;
        let entity = |id: &str, lang: &str| {
            format!(
                "INSERT INTO entities (org_id, blueprint, identifier, title, team, properties,
                   relations, blueprint_version, created_at, updated_at, created_by, updated_by)
                 VALUES ({org}, 'service', '{id}', '{id}', '[]', '{{\"language\": \"{lang}\"}}',
                   '{{}}', 1, {now}, {now}, 'me', 'me');
                 INSERT INTO entity_values (org_id, blueprint, identifier, key, s)
                 VALUES ({org}, 'service', '{id}', 'language', '{lang}');"
            )
        };
        // One connection: every transaction below runs in the same session.
        let (_db, store) = one_org(
            &org,
            &format!(
                "{} {} {}
                 INSERT INTO entity_relations (org_id, source_blueprint, source_identifier, relation,
                                               target_blueprint, target_identifier, required)
                 VALUES ({org}, 'service', 'web', 'dependsOn', 'service', 'api', false),
                        ({org}, 'service', 'api', 'dependsOn', 'service', 'db', false);",
                entity("web", "go"),
                entity("api", "go"),
                entity("db", "rust"),
            ),
        )
        .await;
        let bp = portolan_domain::blueprint::Blueprint::parse(&serde_json::json!({
            "identifier": "service", "title": "Service",
            "schema": {"properties": {"language": {"type": "string"}}},
            "relations": {"dependsOn": {"target": "service", "many": true, "required": false}},
        }))
        .unwrap();
        let blueprints: indexmap::IndexMap<String, _> = [("service".to_owned(), bp)].into();
        let candidates = vec!["service".to_owned()];
        let read = crate::entities::ReadOptions::default();
        let query = |rule: Rule| Query {
            combinator: portolan_domain::query::Combinator::And,
            rules: vec![Node::Rule(rule)],
        };
        let page = async |q: &Query| {
            let t = store.tenant(OrgId(org_id)).await.unwrap();
            let req = super::SearchRequest {
                query: q,
                filter: None,
                blueprints: &blueprints,
                candidates: &candidates,
                sort: None,
                after: None,
                limit: 50,
                read: &read,
            };
            let found = super::search_raw(&t, &req).await.unwrap();
            let page: Vec<serde_json::Value> = serde_json::from_slice(&found.entities).unwrap();
            let ids: Vec<String> = page
                .iter()
                .map(|v| v["identifier"].as_str().unwrap().to_owned())
                .collect();
            (t, ids)
        };

        let walk = query(Rule::RelatedTo {
            blueprint: "service".into(),
            ids: vec!["db".into()],
            direction: Some(Direction::Downstream),
            required: None,
        });
        for _ in 0..3 {
            let (t, ids) = page(&walk).await;
            assert_eq!(ids, ["api", "web"]);
            let (generic, custom) = plans_of(&t, "RECURSIVE").await;
            assert!(generic >= 1, "the walk was not planned generically");
            assert_eq!(custom, 0, "the walk was planned with its values");
        }

        let go = query(Rule::Compare {
            field: Field::Property {
                key: "language".into(),
                kind: Kind::String,
            },
            op: Op::Eq,
            value: Operand::One(portolan_domain::query::Scalar::Str("go".into())),
            negate: false,
        });
        for n in 1..=3 {
            let (t, ids) = page(&go).await;
            assert_eq!(ids, ["api", "web"]);
            assert_eq!(
                plans_of(&t, "entity_values").await,
                (0, n),
                "a value rule is planned with its value on every execution"
            );
            // The walk's mode does not leak into a later transaction.
            let mode = t
                .conn()
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SHOW plan_cache_mode",
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                mode.try_get::<String>("", "plan_cache_mode").unwrap(),
                "force_custom_plan"
            );
        }
    }
}
