//! Query plans: `EXPLAIN (FORMAT JSON)` of the hand-written SQL, and of the SQL the API ran.
//!
//! The API's SQL is not visible over HTTP. It is taken from `pg_stat_statements` when the
//! server preloads it; otherwise from `pg_stat_activity`, sampled while the API warms up
//! (which holds at most `track_activity_query_size` bytes of a query: longer texts are cut
//! and cannot be explained). Either way the text has `$n` placeholders and no values, so it is
//! explained as a generic plan (`PREPARE`, then `EXPLAIN EXECUTE` with NULLs under
//! `plan_cache_mode = force_generic_plan`), as the tenant role, like the API's transactions.
//! The API itself plans with the actual values (`force_custom_plan`), so its real plans can
//! only be better informed than the generic one shown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use portolan_migrations::rls::{APP_ROLE, ORG_SETTING};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, QueryResult, Statement,
    TransactionTrait,
};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::measure::Raw;
use super::shapes::Call;

/// What a plan check found.
#[derive(Debug, Clone, Default)]
pub struct PlanCheck {
    /// How the plan was obtained, or why it was not.
    pub source: String,
    /// Distinct plan nodes in pre-order (`Index Scan on entities using entities_pkey`).
    pub nodes: Vec<String>,
    /// `None` when not checked.
    pub seq_scan_on_entities: Option<bool>,
    /// The API's SQL text, when captured.
    pub sql: Option<String>,
}

impl PlanCheck {
    fn skipped(source: impl Into<String>, sql: Option<String>) -> PlanCheck {
        PlanCheck {
            source: source.into(),
            nodes: Vec::new(),
            seq_scan_on_entities: None,
            sql,
        }
    }

    /// `no` / `YES` / `not checked`.
    pub fn verdict(&self) -> &'static str {
        match self.seq_scan_on_entities {
            Some(false) => "no",
            Some(true) => "**YES**",
            None => "not checked",
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "source": self.source,
            "seqScanOnEntities": self.seq_scan_on_entities,
            "nodes": self.nodes,
            "sql": self.sql,
        })
    }
}

fn label(node: &serde_json::Map<String, Value>) -> String {
    let s = |k: &str| node.get(k).and_then(Value::as_str);
    let mut out = s("Node Type").unwrap_or("?").to_owned();
    if let Some(j) = s("Join Type").filter(|j| *j != "Inner") {
        out.push_str(&format!(" ({j})"));
    }
    if let Some(r) = s("Relation Name") {
        out.push_str(&format!(" on {r}"));
    }
    if let Some(i) = s("Index Name") {
        out.push_str(&format!(" using {i}"));
    }
    if let Some(c) = s("CTE Name") {
        out.push_str(&format!(" {c}"));
    }
    out
}

/// Walks a plan tree: distinct node labels in pre-order, and whether `entities` is
/// scanned sequentially.
fn walk(plan: &Value, nodes: &mut Vec<String>, seq: &mut bool) {
    let Some(node) = plan.as_object() else {
        return;
    };
    let l = label(node);
    if node.get("Node Type").and_then(Value::as_str) == Some("Seq Scan")
        && node.get("Relation Name").and_then(Value::as_str) == Some("entities")
    {
        *seq = true;
    }
    if !nodes.contains(&l) {
        nodes.push(l);
    }
    if let Some(children) = node.get("Plans").and_then(Value::as_array) {
        for c in children {
            walk(c, nodes, seq);
        }
    }
}

/// The output of `EXPLAIN (FORMAT JSON)`: `[{"Plan": {...}}]`.
fn plan_of(rows: &[QueryResult]) -> anyhow::Result<Value> {
    let row = rows.first().context("EXPLAIN returned no row")?;
    let v = match row.try_get::<Value>("", "QUERY PLAN") {
        Ok(v) => v,
        Err(_) => {
            let text: String = row
                .try_get("", "QUERY PLAN")
                .context("cannot read the plan")?;
            serde_json::from_str(&text).context("the plan is not JSON")?
        }
    };
    Ok(v)
}

fn summarize(plans: &[Value], source: String, sql: Option<String>) -> PlanCheck {
    let mut nodes = Vec::new();
    let mut seq = false;
    for p in plans {
        if let Some(top) = p.get(0).and_then(|x| x.get("Plan")) {
            walk(top, &mut nodes, &mut seq);
        }
    }
    PlanCheck {
        source,
        nodes,
        seq_scan_on_entities: Some(seq),
        sql,
    }
}

/// Explains the hand-written SQL of every call of a shape (custom plans, with the values),
/// the way the raw baseline runs it.
pub async fn explain_raw(raw: &Raw<'_>, calls: &[Call]) -> anyhow::Result<PlanCheck> {
    let mut plans = Vec::with_capacity(calls.len());
    for c in calls {
        let stmt = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN (FORMAT JSON) {}", c.sql),
            c.values.clone(),
        );
        let rows = match raw.rls {
            None => raw.conn.query_all_raw(stmt).await,
            Some(org) => {
                let tx = raw.conn.begin().await.context("cannot begin")?;
                tx.execute_unprepared(&format!(
                    "SET LOCAL ROLE {APP_ROLE}; SELECT set_config('{ORG_SETTING}', '{org}', true)"
                ))
                .await
                .context("cannot switch to the tenant role")?;
                let rows = tx.query_all_raw(stmt).await;
                let _ = tx.rollback().await;
                rows
            }
        }
        .with_context(|| format!("cannot explain {}", c.sql))?;
        plans.push(plan_of(&rows)?);
    }
    Ok(summarize(
        &plans,
        format!(
            "raw SQL, custom plans of all {} parameter sets",
            calls.len()
        ),
        None,
    ))
}

/// How the API's SQL can be captured on this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// `pg_stat_statements` is preloaded (the extension is created in the benchmark database).
    Statements,
    /// Sample `pg_stat_activity`, whose texts are cut at this many bytes.
    Activity { max_bytes: usize },
}

impl Capture {
    pub fn describe(self) -> String {
        match self {
            Capture::Statements => "pg_stat_statements".into(),
            Capture::Activity { max_bytes } => format!(
                "pg_stat_activity samples (pg_stat_statements is not preloaded; texts longer than {max_bytes} bytes are cut and not explained)"
            ),
        }
    }
}

/// A connection of its own to the benchmark database (for session state: `PREPARE`).
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut opts = sea_orm::ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    Database::connect(opts)
        .await
        .context("cannot connect to the benchmark database")
}

async fn scalar_text(conn: &DatabaseConnection, sql: &str) -> anyhow::Result<Option<String>> {
    let row = conn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .with_context(|| format!("query failed: {sql}"))?;
    Ok(match row {
        Some(r) => r.try_get_by_index::<Option<String>>(0).ok().flatten(),
        None => None,
    })
}

pub async fn capture_mode(conn: &DatabaseConnection) -> anyhow::Result<Capture> {
    let preload = scalar_text(conn, "SELECT current_setting('shared_preload_libraries')")
        .await?
        .unwrap_or_default();
    if preload.contains("pg_stat_statements")
        && conn
            .execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .await
            .is_ok()
        && conn
            .execute_unprepared("SELECT 1 FROM pg_stat_statements LIMIT 1")
            .await
            .is_ok()
    {
        return Ok(Capture::Statements);
    }
    let size = scalar_text(
        conn,
        "SELECT setting FROM pg_settings WHERE name = 'track_activity_query_size'",
    )
    .await?
    .and_then(|s| s.parse::<usize>().ok())
    .unwrap_or(1_024);
    Ok(Capture::Activity { max_bytes: size })
}

/// A capture in progress (around the API's warm-up of one shape).
pub struct Capturing {
    mode: Capture,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    seen: Arc<Mutex<HashMap<String, u64>>>,
}

/// The texts of the API's search statements contain this (the hand-written SQL is not
/// running meanwhile).
const MARK: &str = "%FROM entities e%";

impl Capturing {
    pub async fn start(mode: Capture, url: &str, database: &str) -> anyhow::Result<Capturing> {
        let stop = CancellationToken::new();
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let conn = connect(url).await?;
        let task = match mode {
            Capture::Statements => {
                conn.execute_unprepared("SELECT pg_stat_statements_reset()")
                    .await
                    .context("cannot reset pg_stat_statements")?;
                let _ = conn.close().await;
                None
            }
            Capture::Activity { .. } => {
                let token = stop.clone();
                let seen = seen.clone();
                let stmt = Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT query FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() \
                     AND state = 'active' AND query LIKE $2",
                    [database.into(), MARK.into()],
                );
                Some(tokio::spawn(async move {
                    while !token.is_cancelled() {
                        if let Ok(rows) = conn.query_all_raw(stmt.clone()).await {
                            let mut seen = seen.lock().await;
                            for r in rows {
                                if let Ok(q) = r.try_get::<String>("", "query") {
                                    *seen.entry(q).or_default() += 1;
                                }
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    let _ = conn.close().await;
                }))
            }
        };
        Ok(Capturing {
            mode,
            stop,
            task,
            seen,
        })
    }

    /// Whether a statement was seen yet (always true with `pg_stat_statements`, which sees
    /// every statement).
    pub async fn has_any(&self) -> bool {
        match self.mode {
            Capture::Statements => true,
            Capture::Activity { .. } => !self.seen.lock().await.is_empty(),
        }
    }

    /// The most frequent captured text, and whether it may have been cut.
    pub async fn finish(mut self, url: &str) -> anyhow::Result<Option<(String, bool)>> {
        self.stop.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        match self.mode {
            Capture::Statements => {
                let conn = connect(url).await?;
                let row = conn
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT query FROM pg_stat_statements \
                         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                         AND query LIKE $1 \
                         ORDER BY (query LIKE 'SELECT e.*%' OR query LIKE 'SELECT count(%') DESC, calls DESC LIMIT 1",
                        [MARK.into()],
                    ))
                    .await
                    .context("cannot read pg_stat_statements")?;
                let _ = conn.close().await;
                Ok(row
                    .map(|r| r.try_get::<String>("", "query"))
                    .transpose()
                    .context("cannot read pg_stat_statements")?
                    .map(|q| (q, false)))
            }
            Capture::Activity { max_bytes } => {
                let seen = self.seen.lock().await;
                let main = |q: &str| q.starts_with("SELECT e.*") || q.starts_with("SELECT count(");
                Ok(seen
                    .iter()
                    .max_by(|a, b| {
                        (main(a.0), a.1)
                            .cmp(&(main(b.0), b.1))
                            .then_with(|| b.0.cmp(a.0))
                    })
                    .map(|(q, _)| (q.clone(), q.len() + 1 >= max_bytes)))
            }
        }
    }
}

/// The highest `$n` placeholder in a statement.
fn placeholders(sql: &str) -> usize {
    let b = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let mut j = i + 1;
            let mut n = 0usize;
            while j < b.len() && b[j].is_ascii_digit() {
                n = n
                    .saturating_mul(10)
                    .saturating_add(usize::from(b[j] - b'0'));
                j += 1;
            }
            max = max.max(n);
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    max
}

/// Explains a captured API statement as a generic plan, as the tenant role of `org`.
pub async fn explain_api(
    url: &str,
    org: Uuid,
    captured: Option<(String, bool)>,
    mode: Capture,
) -> PlanCheck {
    let Some((sql, cut)) = captured else {
        return PlanCheck::skipped(
            format!(
                "not checked: no API statement captured from {}",
                match mode {
                    Capture::Statements => "pg_stat_statements",
                    Capture::Activity { .. } => "pg_stat_activity",
                }
            ),
            None,
        );
    };
    if cut {
        return PlanCheck::skipped(
            "not checked: the statement is longer than track_activity_query_size (cut in pg_stat_activity)",
            Some(sql),
        );
    }
    let result = async {
        let conn = connect(url).await?;
        let tx = conn.begin().await.context("cannot begin")?;
        tx.execute_unprepared(&format!(
            "SET LOCAL ROLE {APP_ROLE}; SELECT set_config('{ORG_SETTING}', '{org}', true); \
             SET LOCAL plan_cache_mode = force_generic_plan"
        ))
        .await
        .context("cannot switch to the tenant role")?;
        tx.execute_unprepared(&format!("PREPARE portolan_bench_api AS {sql}"))
            .await
            .context("cannot prepare the captured statement")?;
        let args = vec!["NULL"; placeholders(&sql)].join(", ");
        let exec = if args.is_empty() {
            "EXPLAIN (FORMAT JSON) EXECUTE portolan_bench_api".to_owned()
        } else {
            format!("EXPLAIN (FORMAT JSON) EXECUTE portolan_bench_api({args})")
        };
        let rows = tx
            .query_all_raw(Statement::from_string(DbBackend::Postgres, exec))
            .await
            .context("cannot explain the captured statement")?;
        let _ = tx.rollback().await;
        let _ = conn.close().await;
        plan_of(&rows)
    }
    .await;
    let source = match mode {
        Capture::Statements => "API SQL from pg_stat_statements, generic plan",
        Capture::Activity { .. } => "API SQL from pg_stat_activity, generic plan",
    };
    match result {
        Ok(plan) => summarize(&[plan], source.into(), Some(sql)),
        Err(e) => PlanCheck::skipped(format!("not checked: {e:#}"), Some(sql)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_placeholders() {
        assert_eq!(placeholders("SELECT 1"), 0);
        assert_eq!(placeholders("a = $1 AND b IN ($2, $13) LIMIT $3"), 13);
        assert_eq!(placeholders("x = '$' AND y = $2"), 2);
    }

    #[test]
    fn finds_seq_scans() {
        let plan = json!([{"Plan": {"Node Type": "Limit", "Plans": [
            {"Node Type": "Nested Loop", "Join Type": "Semi", "Plans": [
                {"Node Type": "Index Scan", "Relation Name": "entities", "Index Name": "entities_pkey"},
                {"Node Type": "Seq Scan", "Relation Name": "entity_values"}
            ]}
        ]}}]);
        let c = summarize(std::slice::from_ref(&plan), "t".into(), None);
        assert_eq!(c.seq_scan_on_entities, Some(false));
        assert_eq!(
            c.nodes,
            [
                "Limit",
                "Nested Loop (Semi)",
                "Index Scan on entities using entities_pkey",
                "Seq Scan on entity_values"
            ]
        );
        let seq = json!([{"Plan": {"Node Type": "Seq Scan", "Relation Name": "entities"}}]);
        assert_eq!(
            summarize(&[plan, seq], "t".into(), None).seq_scan_on_entities,
            Some(true)
        );
    }
}
