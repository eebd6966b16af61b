//! Running the shapes: one call through the API or as raw SQL (with its answer, for the
//! sanity check), and timed runs from concurrent clients.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures::future::try_join_all;
use portolan_migrations::rls::{APP_ROLE, ORG_SETTING};
use reqwest::header::CONTENT_TYPE;
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, TransactionTrait};
use serde_json::Value;
use uuid::Uuid;

use super::shapes::{Answer, Call};

/// The raw SQL's own pool (as large as the API's), planning every statement with its values
/// as the API's tenant transactions do (`plan_cache_mode = force_custom_plan`), without JIT
/// like the API's pool. The store's pool keeps PostgreSQL's default plan cache mode for its
/// own lookups, under which a raw statement would get a generic plan after five runs.
pub async fn raw_pool(url: &str, size: u32) -> anyhow::Result<DatabaseConnection> {
    use sea_orm::sqlx::ConnectOptions as _;
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    let opts = url
        .parse::<PgConnectOptions>()
        .context("invalid benchmark database URL")?
        .options([("plan_cache_mode", "force_custom_plan"), ("jit", "off")])
        .disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(size.max(1))
        .min_connections(1)
        .connect_with(opts)
        .await
        .context("cannot connect the raw SQL pool")?;
    Ok(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
        pool,
    ))
}

/// What a call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ids(Vec<String>),
    Count(u64),
}

impl Outcome {
    /// Rows on the page, or the count.
    pub fn size(&self) -> u64 {
        match self {
            Outcome::Ids(ids) => ids.len() as u64,
            Outcome::Count(n) => *n,
        }
    }
}

/// Where the API is, as whom.
pub struct Api<'a> {
    pub base: &'a str,
    pub token: &'a str,
}

/// How the raw SQL runs.
pub struct Raw<'a> {
    pub conn: &'a DatabaseConnection,
    /// Run each query in a transaction as the API's tenant role for this org (row-level
    /// security applies), like the API's transactions; `None`: as the owner, one statement.
    pub rls: Option<Uuid>,
}

/// Sends one call; answers the time to the full response and, when `parse`, the outcome.
pub async fn api_call(
    client: &reqwest::Client,
    api: &Api<'_>,
    call: &Call,
    answer: Answer,
    parse: bool,
) -> anyhow::Result<(Duration, Option<Outcome>)> {
    let t0 = Instant::now();
    let res = client
        .post(format!("{}{}", api.base, call.path))
        .bearer_auth(api.token)
        .header(CONTENT_TYPE, "application/json")
        .body(call.bytes.clone())
        .send()
        .await
        .with_context(|| format!("request to {} failed", call.path))?;
    let status = res.status();
    let bytes = res
        .bytes()
        .await
        .with_context(|| format!("cannot read the response of {}", call.path))?;
    let elapsed = t0.elapsed();
    if status.as_u16() != 200 {
        let mut body = String::from_utf8_lossy(&bytes).into_owned();
        body.truncate(2_000);
        bail!(
            "POST {} {} ({}): HTTP {status}: {body}",
            call.path,
            call.body,
            call.param
        );
    }
    if !parse {
        return Ok((elapsed, None));
    }
    let body: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("the response of {} is not JSON", call.path))?;
    let outcome = match answer {
        Answer::Page => {
            let items = body["entities"]
                .as_array()
                .with_context(|| format!("the response of {} holds no entities", call.path))?;
            Outcome::Ids(
                items
                    .iter()
                    .map(|e| {
                        e["identifier"]
                            .as_str()
                            .map(str::to_owned)
                            .context("an entity without identifier")
                    })
                    .collect::<anyhow::Result<_>>()?,
            )
        }
        Answer::Count => {
            let n = body["result"]
                .as_f64()
                .with_context(|| format!("the aggregate holds no number: {body}"))?;
            ensure!(
                n >= 0.0 && n.fract() == 0.0,
                "the count is not a whole number: {n}"
            );
            Outcome::Count(n as u64)
        }
    };
    Ok((elapsed, Some(outcome)))
}

fn outcome_of(rows: &[QueryResult], answer: Answer) -> anyhow::Result<Outcome> {
    Ok(match answer {
        Answer::Page => Outcome::Ids(
            rows.iter()
                .map(|r| r.try_get::<String>("", "identifier"))
                .collect::<Result<_, _>>()
                .context("cannot read an identifier")?,
        ),
        Answer::Count => {
            let n: i64 = rows
                .first()
                .context("count returned no row")?
                .try_get("", "n")
                .context("cannot read the count")?;
            Outcome::Count(u64::try_from(n).context("negative count")?)
        }
    })
}

/// Runs one call's SQL; answers its time and outcome.
pub async fn raw_call(
    raw: &Raw<'_>,
    call: &Call,
    answer: Answer,
) -> anyhow::Result<(Duration, Outcome)> {
    let t0 = Instant::now();
    let rows = match raw.rls {
        None => raw
            .conn
            .query_all_raw(call.statement())
            .await
            .with_context(|| format!("raw query failed: {}", call.sql))?,
        Some(org) => {
            let tx = raw.conn.begin().await.context("cannot begin")?;
            tx.execute_unprepared(&format!(
                "SET LOCAL ROLE {APP_ROLE}; SELECT set_config('{ORG_SETTING}', '{org}', true)"
            ))
            .await
            .context("cannot switch to the tenant role")?;
            let rows = tx
                .query_all_raw(call.statement())
                .await
                .with_context(|| format!("raw query failed: {}", call.sql))?;
            tx.commit().await.context("cannot commit")?;
            rows
        }
    };
    let elapsed = t0.elapsed();
    Ok((elapsed, outcome_of(&rows, answer)?))
}

/// `n` requests from `clients` concurrent clients, each taking the next request number from
/// a shared counter; answers the wall time and every request's latency.
pub async fn timed<F, Fut>(
    n: usize,
    clients: usize,
    one: F,
) -> anyhow::Result<(Duration, Vec<Duration>)>
where
    F: Fn(usize, usize) -> Fut,
    Fut: Future<Output = anyhow::Result<Duration>>,
{
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let per_client = try_join_all((0..clients).map(|c| {
        let next = &next;
        let one = &one;
        async move {
            let mut lat = Vec::with_capacity(n / clients.max(1) + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                lat.push(one(c, i).await?);
            }
            anyhow::Ok(lat)
        }
    }))
    .await?;
    Ok((start.elapsed(), per_client.into_iter().flatten().collect()))
}
