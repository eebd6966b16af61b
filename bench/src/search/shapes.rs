//! The seven query shapes: for each, a few parameter sets, the HTTP request the API gets and
//! the SQL a competent engineer would write by hand against the schema for the same answer
//! (same rows, same order, same page size).
//!
//! Every hand-written query is a single statement with the org as `$1` and the values bound;
//! blueprint, property and relation names are literals (they are part of the query's shape).

use anyhow::Context;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value as SqlValue};
use serde_json::{Value, json};
use uuid::Uuid;

use super::catalog::{self, Catalog, DAY_MICROS, END_MICROS, SPAN_MICROS, rfc3339};
use super::load::Org;
use crate::env::Env;

/// The API's default page size (no `limit` is sent), and the raw queries' `LIMIT`.
pub const PAGE: usize = 200;
/// Most distinct parameter sets per shape (requests cycle through them).
const MAX_PARAMS: usize = 16;

/// What a shape answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A page of entities (compared by identifier, in order).
    Page,
    /// A number (`/v1/entities/aggregate`, `func: count`).
    Count,
}

/// One concrete query: the HTTP request and the hand-written SQL.
#[derive(Clone)]
pub struct Call {
    /// What varies between the calls of a shape (for messages).
    pub param: String,
    pub path: String,
    pub body: Value,
    pub bytes: Vec<u8>,
    pub sql: String,
    pub values: Vec<SqlValue>,
}

impl Call {
    pub fn statement(&self) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, self.sql.clone(), self.values.clone())
    }
}

pub struct Shape {
    /// `a`..`g`.
    pub key: &'static str,
    pub name: &'static str,
    /// One line: what is asked.
    pub what: String,
    pub answer: Answer,
    pub calls: Vec<Call>,
}

fn call(param: String, path: String, body: Value, sql: &str, values: Vec<SqlValue>) -> Call {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Call {
        param,
        path,
        body,
        bytes,
        sql: sql.to_owned(),
        values,
    }
}

fn search_path(bp: &str) -> String {
    format!("/v1/blueprints/{bp}/entities/search")
}

fn query(rules: Value) -> Value {
    json!({"query": {"combinator": "and", "rules": rules}})
}

/// `value LIKE` pattern for a prefix (`%`, `_` and `\` escaped; `\` is LIKE's default escape).
fn like_prefix(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 1);
    for c in p.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The entities of a blueprint with an indexed value; `EXISTS` on index table `table`
/// (`entity_values` for strings, `entity_dates` for dates: a semi-join the planner can drive
/// from either side).
fn exists_value_sql(table: &str, bp: &str, key: &str, cond: &str) -> String {
    format!(
        "SELECT e.* FROM entities e \
         WHERE e.org_id = $1 AND e.blueprint = '{bp}' \
         AND EXISTS (SELECT 1 FROM {table} v WHERE v.org_id = e.org_id AND v.blueprint = e.blueprint \
         AND v.identifier = e.identifier AND v.key = '{key}' AND {cond}) \
         ORDER BY e.identifier LIMIT {PAGE}"
    )
}

/// Evenly spread picks of at most `MAX_PARAMS` of `0..n`.
fn spread(n: usize) -> Vec<usize> {
    let k = n.min(MAX_PARAMS);
    let mut out: Vec<usize> = (0..k).map(|i| i * n / k.max(1)).collect();
    out.dedup();
    out
}

fn equality(org: Uuid) -> Shape {
    let sql = exists_value_sql("entity_values", catalog::SERVICE, "language", "v.s = $2");
    let calls = catalog::LANGUAGES
        .iter()
        .map(|lang| {
            call(
                (*lang).to_owned(),
                search_path(catalog::SERVICE),
                query(json!([{"property": "language", "operator": "=", "value": lang}])),
                &sql,
                vec![org.into(), (*lang).into()],
            )
        })
        .collect();
    Shape {
        key: "a",
        name: "equality",
        what: "services with `language = X` (10 languages)".into(),
        answer: Answer::Page,
        calls,
    }
}

fn within(org: Uuid) -> Shape {
    let sets: [&[&str]; 4] = [
        &["failed", "rolled_back"],
        &["cancelled", "failed", "rolled_back"],
        &["running", "cancelled"],
        &["rolled_back", "cancelled", "running"],
    ];
    let calls = sets
        .iter()
        .map(|set| {
            let list: Vec<String> = (0..set.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = exists_value_sql(
                "entity_values",
                catalog::DEPLOYMENT,
                "status",
                &format!("v.s IN ({})", list.join(", ")),
            );
            let mut values: Vec<SqlValue> = vec![org.into()];
            values.extend(set.iter().map(|s| SqlValue::from(*s)));
            call(
                set.join("|"),
                search_path(catalog::DEPLOYMENT),
                query(json!([{"property": "status", "operator": "in", "value": set}])),
                &sql,
                values,
            )
        })
        .collect();
    Shape {
        key: "b",
        name: "in",
        what: "deployments with `status in [2-3 values]`".into(),
        answer: Answer::Page,
        calls,
    }
}

fn begins_with(org: Uuid, c: &Catalog) -> Shape {
    let sql = exists_value_sql("entity_values", catalog::SERVICE, "repoUrl", "v.s LIKE $2");
    let calls = spread(c.sizes.teams)
        .into_iter()
        .map(|t| {
            let prefix = format!("https://git.example.com/{}/", Catalog::team_id(t));
            call(
                prefix.clone(),
                search_path(catalog::SERVICE),
                query(json!([{"property": "repoUrl", "operator": "beginsWith", "value": prefix}])),
                &sql,
                vec![org.into(), like_prefix(&prefix).into()],
            )
        })
        .collect();
    Shape {
        key: "c",
        name: "beginsWith",
        what: "services whose `repoUrl` begins with a team's URL prefix".into(),
        answer: Answer::Page,
        calls,
    }
}

fn date_range(org: Uuid) -> Shape {
    let sql = exists_value_sql(
        "entity_dates",
        catalog::DEPLOYMENT,
        "startedAt",
        "v.t >= $2 AND v.t <= $3",
    );
    // Twelve 30-day windows spread over the two generated years.
    let calls = (0..12i64)
        .map(|k| {
            let from = END_MICROS - SPAN_MICROS + k * 60 * DAY_MICROS + 7 * DAY_MICROS;
            let to = from + 30 * DAY_MICROS;
            call(
                rfc3339(from),
                search_path(catalog::DEPLOYMENT),
                query(json!([{"property": "startedAt", "operator": "between",
                    "value": {"from": rfc3339(from), "to": rfc3339(to)}}])),
                &sql,
                vec![org.into(), from.into(), to.into()],
            )
        })
        .collect();
    Shape {
        key: "d",
        name: "date range",
        what: "deployments with `startedAt between` a 30-day window".into(),
        answer: Answer::Page,
        calls,
    }
}

fn count(org: Uuid) -> Shape {
    // One row per (entity, scalar key) in the index: counting the index rows is counting the
    // entities (an index-only scan).
    let sql = "SELECT count(*) AS n FROM entity_values v \
               WHERE v.org_id = $1 AND v.blueprint = 'deployment' AND v.key = 'status' AND v.s = $2";
    let body = json!({"func": "count", "query": {"combinator": "and", "rules": [
        {"property": "$blueprint", "operator": "=", "value": catalog::DEPLOYMENT},
        {"property": "status", "operator": "=", "value": "failed"}
    ]}});
    Shape {
        key: "e",
        name: "count",
        what: "count of deployments with `status = failed` (`/v1/entities/aggregate`)".into(),
        answer: Answer::Count,
        calls: vec![call(
            "failed".into(),
            "/v1/entities/aggregate".into(),
            body,
            sql,
            vec![org.into(), "failed".into()],
        )],
    }
}

/// Services no service depends on (so `relatedTo` downstream of one reaches its deployments
/// and its repository and nothing else), spread over the ranking by number of deployments.
async fn leaf_services(env: &Env, org: Uuid) -> anyhow::Result<Vec<String>> {
    let rows = env
        .store
        .connection()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT r.target_identifier AS id, count(*) AS n FROM entity_relations r \
             WHERE r.org_id = $1 AND r.target_blueprint = 'service' AND r.relation = 'service' \
             AND r.source_blueprint = 'deployment' AND NOT EXISTS (SELECT 1 FROM entity_relations d \
               WHERE d.org_id = r.org_id AND d.target_blueprint = 'service' \
               AND d.target_identifier = r.target_identifier AND d.relation = 'dependsOn') \
             GROUP BY r.target_identifier ORDER BY n DESC, id",
            [org.into()],
        ))
        .await
        .context("cannot rank the services by deployments")?;
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "id"))
        .collect::<Result<_, _>>()
        .context("cannot read the service ranking")?;
    Ok(spread(ids.len())
        .into_iter()
        .map(|i| ids[i].clone())
        .collect())
}

fn related_to(org: Uuid, services: Vec<String>) -> Shape {
    let sql = format!(
        "SELECT e.* FROM entity_relations r \
         JOIN entities e ON e.org_id = r.org_id AND e.blueprint = r.source_blueprint AND e.identifier = r.source_identifier \
         WHERE r.org_id = $1 AND r.target_blueprint = 'service' AND r.target_identifier = $2 \
         AND r.relation = 'service' AND r.source_blueprint = 'deployment' \
         ORDER BY e.identifier LIMIT {PAGE}"
    );
    let calls = services
        .into_iter()
        .map(|s| {
            call(
                s.clone(),
                search_path(catalog::DEPLOYMENT),
                query(
                    json!([{"operator": "relatedTo", "blueprint": catalog::SERVICE,
                    "value": s, "direction": "downstream"}]),
                ),
                &sql,
                vec![org.into(), s.into()],
            )
        })
        .collect();
    Shape {
        key: "f",
        name: "relatedTo",
        what: "deployments `relatedTo` a service, downstream (services nothing depends on)".into(),
        answer: Answer::Page,
        calls,
    }
}

/// (f) again, against the raw SQL one writes for Port's `relatedTo` without knowing how deep
/// the catalog goes: a cycle-safe recursive walk over every relation (the API's query is such
/// a walk too, as the operator means any depth). On the benchmark's leaf services both walks
/// stop after one hop; (f)'s raw SQL is that one hop only.
fn related_to_walk(org: Uuid, services: Vec<String>) -> Shape {
    let sql = format!(
        "WITH RECURSIVE w(bp, id) AS ( \
           SELECT r.source_blueprint, r.source_identifier FROM entity_relations r \
           WHERE r.org_id = $1 AND r.target_blueprint = 'service' AND r.target_identifier = $2 \
           UNION \
           SELECT r.source_blueprint, r.source_identifier FROM entity_relations r \
           JOIN w ON r.target_blueprint = w.bp AND r.target_identifier = w.id WHERE r.org_id = $1) \
         SELECT e.* FROM w JOIN entities e ON e.org_id = $1 AND e.blueprint = w.bp AND e.identifier = w.id \
         WHERE w.bp = 'deployment' ORDER BY e.identifier LIMIT {PAGE}"
    );
    let mut shape = related_to(org, services);
    for c in &mut shape.calls {
        c.sql = sql.clone();
    }
    Shape {
        key: "h",
        name: "relatedTo (raw: walk)",
        what: "(f), with raw SQL walking every relation at any depth as `relatedTo` does".into(),
        ..shape
    }
}

fn match_any(org: Uuid, c: &Catalog) -> Shape {
    // From the team back to its services, the services depending on them, their deployments.
    let sql = format!(
        "SELECT e.* FROM entities e \
         WHERE e.org_id = $1 AND e.blueprint = 'deployment' AND e.identifier IN ( \
           SELECT d.source_identifier FROM entity_relations o \
           JOIN entity_relations s ON s.org_id = o.org_id AND s.target_blueprint = 'service' \
             AND s.target_identifier = o.source_identifier AND s.relation = 'dependsOn' AND s.source_blueprint = 'service' \
           JOIN entity_relations d ON d.org_id = s.org_id AND d.target_blueprint = 'service' \
             AND d.target_identifier = s.source_identifier AND d.relation = 'service' AND d.source_blueprint = 'deployment' \
           WHERE o.org_id = $1 AND o.target_blueprint = 'team' AND o.target_identifier = $2 \
             AND o.relation = 'team' AND o.source_blueprint = 'service') \
         ORDER BY e.identifier LIMIT {PAGE}"
    );
    // Teams that own a platform service (the targets of `dependsOn`).
    let mut teams: Vec<usize> = Vec::new();
    for p in spread(c.sizes.platform) {
        let t = c.team_of_service(p);
        if !teams.contains(&t) {
            teams.push(t);
        }
    }
    let calls = teams
        .into_iter()
        .map(|t| {
            let team = Catalog::team_id(t);
            call(
                team.clone(),
                search_path(catalog::DEPLOYMENT),
                query(
                    json!([{"property": {"path": ["service", "dependsOn", "team"]},
                    "operator": "matchAny", "value": team}]),
                ),
                &sql,
                vec![org.into(), team.into()],
            )
        })
        .collect();
    Shape {
        key: "g",
        name: "matchAny (3 hops)",
        what: "deployments whose path `service > dependsOn > team` reaches a team".into(),
        answer: Answer::Page,
        calls,
    }
}

/// Every shape, with its parameters for organization `org`.
pub async fn build(env: &Env, org: &Org) -> anyhow::Result<Vec<Shape>> {
    let id = org.id;
    let leaves = leaf_services(env, id).await?;
    anyhow::ensure!(
        !leaves.is_empty(),
        "no service with deployments that no service depends on"
    );
    Ok(vec![
        equality(id),
        within(id),
        begins_with(id, &org.catalog),
        date_range(id),
        count(id),
        related_to(id, leaves.clone()),
        match_any(id, &org.catalog),
        related_to_walk(id, leaves),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads() {
        assert_eq!(spread(3), vec![0, 1, 2]);
        assert_eq!(spread(0), Vec::<usize>::new());
        let s = spread(1_000);
        assert_eq!(s.len(), 16);
        assert_eq!(s[0], 0);
        assert!(s.iter().all(|i| *i < 1_000));
    }

    #[test]
    fn like_prefixes() {
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(like_prefix("https://x/"), "https://x/%");
    }
}
