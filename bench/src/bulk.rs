//! `portolan-bench bulk`: N service entities through `POST .../entities/bulk?upsert=true`,
//! versus the same rows written with raw multi-row SQL, each into its own fresh database.
//! Pass 1 creates (INSERT path), pass 2 re-sends the same identifiers with changed values
//! (UPDATE path).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use futures::stream::{self, StreamExt, TryStreamExt};
use portolan_store::Store;
use reqwest::header::CONTENT_TYPE;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::data::{self, Row};
use crate::env::{Common, Env, admin_connection};
use crate::probe::{Probe, SpanTotals};
use crate::raw::RawWriter;
use crate::report::{self, Phase};

#[derive(clap::Args, Debug, Clone)]
pub struct BulkArgs {
    /// Service entities to write per pass.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub entities: u64,
    /// Entities per bulk request / per raw transaction.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=4_000))]
    pub batch: u64,
    /// Batches in flight at once (the same for the API and the raw baseline).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub concurrency: u64,
    /// Teams (targets of the required `owner` relation), created before timing.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub teams: u64,
    /// Domains (targets of the `domain` relation), created before timing.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub domains: u64,
    /// Run the raw baseline as the database owner, bypassing row-level security (by default
    /// it runs as the API's tenant role, like the API's transactions).
    #[arg(long)]
    pub raw_no_rls: bool,
    /// Also run the profiling phases: `validation_only=true` API passes (everything but the
    /// writes) and a raw baseline that also appends the event rows, in a third database.
    #[arg(long)]
    pub profile: bool,
    /// Skip the raw baseline (API numbers only).
    #[arg(long)]
    pub skip_raw: bool,
    /// Run `ANALYZE entities, entity_relations` before every timed pass and every N seconds
    /// during it: a stand-in for autovacuum's auto-analyze (0: never, as on a server with
    /// autovacuum off).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub analyze_secs: u64,
}

/// Everything a pass needs besides its own parameters.
struct Sizes {
    common: Common,
    totals: Arc<SpanTotals>,
    n: usize,
    batch: usize,
    conc: usize,
    teams: usize,
    domains: usize,
    analyze_secs: u64,
}

impl Sizes {
    fn of(a: &BulkArgs, common: &Common, totals: &Arc<SpanTotals>) -> anyhow::Result<Sizes> {
        let z = |v: u64| usize::try_from(v).context("number too large");
        Ok(Sizes {
            common: common.clone(),
            totals: totals.clone(),
            n: z(a.entities)?,
            batch: z(a.batch)?,
            conc: z(a.concurrency)?,
            teams: z(a.teams)?,
            domains: z(a.domains)?,
            analyze_secs: a.analyze_secs,
        })
    }

    fn batches(&self) -> usize {
        self.n.div_ceil(self.batch)
    }

    fn rows(&self, b: usize, rev: usize) -> Vec<Row> {
        let start = b * self.batch;
        let end = (start + self.batch).min(self.n);
        (start..end)
            .map(|i| data::service_row("svc", i, rev, self.teams, self.domains))
            .collect()
    }
}

const PASS_NAMES: [&str; 2] = ["1 (insert)", "2 (update)"];

/// While alive, runs `ANALYZE` on the catalog tables of one database every few seconds.
struct Analyzer {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

const ANALYZE_SQL: &str = "ANALYZE entities, entity_relations";

async fn analyze(store: &Store) {
    if let Err(e) = store.connection().execute_unprepared(ANALYZE_SQL).await {
        eprintln!("note: ANALYZE failed ({e}); continuing");
    }
}

impl Analyzer {
    /// Analyzes once now (untimed), then every `secs` seconds in the background.
    async fn start(env: &Env, secs: u64) -> Analyzer {
        let stop = CancellationToken::new();
        if secs == 0 {
            return Analyzer { stop, task: None };
        }
        analyze(&env.store).await;
        let store = env.store.clone();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(secs)) => analyze(&store).await,
                }
            }
        });
        Analyzer {
            stop,
            task: Some(task),
        }
    }

    async fn finish(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Asks for a checkpoint so one phase's dirty pages are not flushed during the next.
async fn checkpoint(common: &Common) {
    let result = async {
        let admin = admin_connection(&common.admin_url).await?;
        let r = admin.execute_unprepared("CHECKPOINT").await;
        let _ = admin.close().await;
        r?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        eprintln!("note: CHECKPOINT failed ({e:#}); continuing");
    }
}

async fn probe_for(common: &Common, env: &Env, totals: &Arc<SpanTotals>) -> anyhow::Result<Probe> {
    Ok(Probe::new(
        admin_connection(&common.admin_url).await?,
        env.db.name.clone(),
        totals.clone(),
    ))
}

/// One pass through the HTTP bulk route.
async fn api_pass(
    s: &Sizes,
    env: &Env,
    rev: usize,
    validation_only: bool,
    expect_created: bool,
    pass: &str,
) -> anyhow::Result<Phase> {
    let path = if validation_only {
        "/v1/blueprints/service/entities/bulk?upsert=true&validation_only=true"
    } else {
        "/v1/blueprints/service/entities/bulk?upsert=true"
    };
    let url = env.url(path);
    let analyzer = Analyzer::start(env, s.analyze_secs).await;
    checkpoint(&s.common).await;
    let probe = probe_for(&s.common, env, &s.totals).await?;
    let before = probe.snapshot().await;
    let start = Instant::now();
    let latencies: anyhow::Result<Vec<Duration>> = stream::iter(0..s.batches())
        .map(|b| {
            let url = url.clone();
            async move {
                let rows = s.rows(b, rev);
                let body = json!({"entities": rows.iter().map(Row::api_json).collect::<Vec<_>>()});
                let bytes = serde_json::to_vec(&body).context("cannot encode a batch")?;
                let t0 = Instant::now();
                let res = env
                    .http
                    .post(&url)
                    .bearer_auth(&env.token)
                    .header(CONTENT_TYPE, "application/json")
                    .body(bytes)
                    .send()
                    .await
                    .with_context(|| format!("bulk request {b} failed"))?;
                let status = res.status();
                let text = res
                    .bytes()
                    .await
                    .with_context(|| format!("cannot read the response to bulk request {b}"))?;
                let elapsed = t0.elapsed();
                if status.as_u16() != 200 {
                    let mut body = String::from_utf8_lossy(&text).into_owned();
                    body.truncate(2_000);
                    bail!("bulk request {b}: HTTP {status}: {body}");
                }
                let reply: Value = serde_json::from_slice(&text)
                    .with_context(|| format!("bulk request {b}: the response is not JSON"))?;
                let items = reply["entities"].as_array().map_or(&[][..], Vec::as_slice);
                ensure!(
                    items.len() == rows.len(),
                    "bulk request {b}: {} of {} entities acknowledged",
                    items.len(),
                    rows.len()
                );
                ensure!(
                    items
                        .iter()
                        .all(|i| i["created"].as_bool() == Some(expect_created)),
                    "bulk request {b}: expected created={expect_created} for every entity"
                );
                Ok(elapsed)
            }
        })
        .buffer_unordered(s.conc)
        .try_collect()
        .await;
    let wall = start.elapsed();
    let usage = probe.since(&before).await;
    analyzer.finish().await;
    let latencies = latencies?;
    let label = if validation_only {
        "API validation_only"
    } else {
        "API bulk"
    };
    Ok(Phase::new(pass, label, s.n, s.conc, wall, latencies, usage))
}

/// One pass of the raw SQL baseline.
async fn raw_pass(
    s: &Sizes,
    env: &Env,
    writer: &RawWriter,
    rev: usize,
    pass: &str,
    label: &str,
) -> anyhow::Result<Phase> {
    let analyzer = Analyzer::start(env, s.analyze_secs).await;
    checkpoint(&s.common).await;
    let probe = probe_for(&s.common, env, &s.totals).await?;
    let before = probe.snapshot().await;
    let start = Instant::now();
    let latencies: anyhow::Result<Vec<Duration>> = stream::iter(0..s.batches())
        .map(|b| async move {
            let rows = s.rows(b, rev);
            let prev = (writer.events && rev > 0).then(|| s.rows(b, rev - 1));
            let t0 = Instant::now();
            writer
                .write_batch(&rows, prev.as_deref())
                .await
                .with_context(|| format!("raw batch {b}"))?;
            anyhow::Ok(t0.elapsed())
        })
        .buffer_unordered(s.conc)
        .try_collect()
        .await;
    let wall = start.elapsed();
    let usage = probe.since(&before).await;
    analyzer.finish().await;
    Ok(Phase::new(
        pass, label, s.n, s.conc, wall, latencies?, usage,
    ))
}

/// Digests of the stored service rows and edges, to check that both paths wrote the same.
async fn digest(env: &Env) -> anyhow::Result<(String, String)> {
    use sea_orm::{DbBackend, Statement};
    let q = |sql: &str| Statement::from_string(DbBackend::Postgres, sql.to_owned());
    let conn = env.store.connection();
    let rows = conn
        .query_one_raw(q(
            "SELECT md5(string_agg(identifier || '|' || coalesce(title, '') || '|' || team::text || '|' \
             || properties::text || '|' || relations::text || '|' || blueprint_version::text, ',' ORDER BY identifier)) AS d \
             FROM entities WHERE blueprint = 'service'",
        ))
        .await
        .context("cannot digest entities")?
        .context("no digest row")?
        .try_get::<Option<String>>("", "d")
        .context("cannot read the digest")?
        .unwrap_or_default();
    let edges = conn
        .query_one_raw(q(
            "SELECT md5(string_agg(source_identifier || '|' || relation || '|' || target_blueprint || '|' \
             || target_identifier || '|' || required::text, ',' ORDER BY source_identifier, relation, target_identifier)) AS d \
             FROM entity_relations WHERE source_blueprint = 'service'",
        ))
        .await
        .context("cannot digest relations")?
        .context("no digest row")?
        .try_get::<Option<String>>("", "d")
        .context("cannot read the digest")?
        .unwrap_or_default();
    Ok((rows, edges))
}

async fn check_counts(env: &Env, n: usize, events: Option<usize>) -> anyhow::Result<()> {
    let n = i64::try_from(n)?;
    let entities = env
        .scalar_i64("SELECT count(*) FROM entities WHERE blueprint = 'service'")
        .await?;
    ensure!(
        entities == n,
        "{}: {entities} service entities stored, expected {n}",
        env.db.name
    );
    let edges = env
        .scalar_i64("SELECT count(*) FROM entity_relations WHERE source_blueprint = 'service'")
        .await?;
    ensure!(
        edges == 2 * n,
        "{}: {edges} edges stored, expected {}",
        env.db.name,
        2 * n
    );
    if let Some(e) = events {
        let e = i64::try_from(e)?;
        let got = env
            .scalar_i64("SELECT count(*) FROM events WHERE blueprint = 'service' AND resource_type = 'entity'")
            .await?;
        ensure!(
            got == e,
            "{}: {got} entity events stored, expected {e}",
            env.db.name
        );
    }
    Ok(())
}

/// Access counters of one table (`pg_stat_user_tables`), summed over the whole run.
pub struct TableCounters {
    pub database: String,
    pub table: String,
    pub seq_scan: i64,
    pub seq_tup_read: i64,
    pub idx_scan: i64,
    pub idx_tup_fetch: i64,
}

async fn table_counters(env: &Env, label: &str) -> anyhow::Result<Vec<TableCounters>> {
    use sea_orm::{DbBackend, Statement};
    let rows = env
        .store
        .connection()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT relname::text AS t, coalesce(seq_scan, 0) AS ss, \
             coalesce(seq_tup_read, 0) AS str, coalesce(idx_scan, 0) AS isc, coalesce(idx_tup_fetch, 0) AS itf \
             FROM pg_stat_user_tables WHERE relname IN ('entities', 'entity_relations', 'events') ORDER BY relname"
                .to_owned(),
        ))
        .await
        .context("cannot read pg_stat_user_tables")?;
    rows.iter()
        .map(|r| {
            Ok(TableCounters {
                database: label.to_owned(),
                table: r.try_get("", "t")?,
                seq_scan: r.try_get("", "ss")?,
                seq_tup_read: r.try_get("", "str")?,
                idx_scan: r.try_get("", "isc")?,
                idx_tup_fetch: r.try_get("", "itf")?,
            })
        })
        .collect::<Result<_, sea_orm::DbErr>>()
        .context("cannot read pg_stat_user_tables")
}

pub struct BulkReport {
    pub args: BulkArgs,
    pub pool: u32,
    pub phases: Vec<Phase>,
    pub same_rows: Option<bool>,
    pub counters: Vec<TableCounters>,
}

pub async fn run(
    common: &Common,
    a: &BulkArgs,
    totals: &Arc<SpanTotals>,
    envs: &mut Vec<Env>,
) -> anyhow::Result<BulkReport> {
    let s = Sizes::of(a, common, totals)?;
    let mut phases = Vec::new();

    eprintln!("setting up the API database...");
    envs.push(Env::setup(common, "api", s.batch, s.teams, s.domains).await?);
    if !a.skip_raw {
        eprintln!("setting up the raw baseline database...");
        envs.push(Env::setup(common, "raw", s.batch, s.teams, s.domains).await?);
    }
    if a.profile && !a.skip_raw {
        eprintln!("setting up the raw+events database...");
        envs.push(Env::setup(common, "rawev", s.batch, s.teams, s.domains).await?);
    }
    let api = &envs[0];

    if a.profile {
        eprintln!("API validation_only pass (create-shaped)...");
        phases.push(api_pass(&s, api, 0, true, true, "0 (validate, create-shaped)").await?);
    }
    for (rev, pass) in PASS_NAMES.iter().enumerate() {
        eprintln!("API pass {pass}...");
        let p = api_pass(&s, api, rev, false, rev == 0, pass).await?;
        eprintln!("  {} entities/s", report::thousands(p.rate()));
        phases.push(p);
    }
    if a.profile {
        eprintln!("API validation_only pass (update-shaped)...");
        phases.push(api_pass(&s, api, 2, true, false, "3 (validate, update-shaped)").await?);
    }
    check_counts(api, s.n, Some(2 * s.n)).await?;

    let mut same_rows = None;
    if let Some(raw_env) = envs.get(1) {
        let writer = RawWriter {
            store: raw_env.store.clone(),
            org: raw_env.org,
            by: raw_env.client_id.clone(),
            version: raw_env.service_version,
            rls: !a.raw_no_rls,
            events: false,
        };
        let label = if a.raw_no_rls {
            "raw SQL (no RLS)"
        } else {
            "raw SQL"
        };
        for (rev, pass) in PASS_NAMES.iter().enumerate() {
            eprintln!("raw pass {pass}...");
            let p = raw_pass(&s, raw_env, &writer, rev, pass, label).await?;
            eprintln!("  {} rows/s", report::thousands(p.rate()));
            phases.push(p);
        }
        check_counts(raw_env, s.n, None).await?;
        same_rows = Some(digest(api).await? == digest(raw_env).await?);
        if same_rows == Some(false) {
            eprintln!("warning: the API and the raw baseline stored different rows");
        }
    }
    if let Some(ev_env) = envs.get(2) {
        let writer = RawWriter {
            store: ev_env.store.clone(),
            org: ev_env.org,
            by: ev_env.client_id.clone(),
            version: ev_env.service_version,
            rls: !a.raw_no_rls,
            events: true,
        };
        for (rev, pass) in PASS_NAMES.iter().enumerate() {
            eprintln!("raw+events pass {pass}...");
            let p = raw_pass(&s, ev_env, &writer, rev, pass, "raw SQL + events").await?;
            eprintln!("  {} rows/s", report::thousands(p.rate()));
            phases.push(p);
        }
        check_counts(ev_env, s.n, Some(2 * s.n)).await?;
    }
    let mut counters = Vec::new();
    if a.profile {
        // Idle backends flush their table statistics within 10 s.
        eprintln!("waiting for PostgreSQL to flush table statistics...");
        tokio::time::sleep(Duration::from_secs(11)).await;
        for (env, label) in envs.iter().zip(["API", "raw", "raw+events"]) {
            counters.extend(table_counters(env, label).await?);
        }
    }
    Ok(BulkReport {
        args: a.clone(),
        pool: common.pool,
        phases,
        same_rows,
        counters,
    })
}

impl BulkReport {
    fn find(&self, pass: &str, path_prefix: &str) -> Option<&Phase> {
        self.phases
            .iter()
            .find(|p| p.pass == pass && p.path.starts_with(path_prefix))
    }

    fn ratios(&self) -> Vec<(&'static str, f64, f64, f64)> {
        PASS_NAMES
            .iter()
            .filter_map(|pass| {
                let api = self.find(pass, "API bulk")?;
                let raw = self.phases.iter().find(|p| {
                    p.pass == *pass && p.path.starts_with("raw SQL") && !p.path.contains("events")
                })?;
                Some((*pass, api.rate(), raw.rate(), api.rate() / raw.rate()))
            })
            .collect()
    }

    pub fn markdown(&self) -> String {
        let a = &self.args;
        let mut out = format!(
            "## Bulk upsert: {} `service` entities (10 properties, 2 relations each)\n\n\
             Batches of {} entities, {} batches in flight, store pool {} connections, {}.\n\n\
             | pass | path | entities | wall (s) | entities/s | batch p50 (ms) | batch p99 (ms) | bench process CPU (s) | PG backend CPU (s) |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
            report::thousands(a.entities as f64),
            a.batch,
            a.concurrency,
            self.pool,
            if a.analyze_secs == 0 {
                "no ANALYZE during the run".to_owned()
            } else {
                format!(
                    "ANALYZE before each pass and every {} s during it",
                    a.analyze_secs
                )
            }
        );
        for p in &self.phases {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                p.pass,
                p.path,
                report::thousands(p.items as f64),
                report::secs(p.wall),
                report::thousands(p.rate()),
                report::ms(p.percentile(50.0)),
                report::ms(p.percentile(99.0)),
                report::opt_secs(p.usage.this_cpu),
                report::opt_secs(p.usage.pg_cpu),
            ));
        }
        let ratios = self.ratios();
        if !ratios.is_empty() {
            out.push_str(
                "\n| pass | API entities/s | raw rows/s | API/raw | target ≥ 0.5 |\n|---|---:|---:|---:|:---:|\n",
            );
            for (pass, api, raw, r) in ratios {
                out.push_str(&format!(
                    "| {pass} | {} | {} | {r:.2} | {} |\n",
                    report::thousands(api),
                    report::thousands(raw),
                    if r >= 0.5 { "met" } else { "missed" }
                ));
            }
        }
        if let Some(same) = self.same_rows {
            out.push_str(&format!(
                "\nStored rows and edges identical in both databases (md5 over properties, relations, title, edges): {}\n",
                if same { "yes" } else { "NO" }
            ));
        }
        let api_phases: Vec<&Phase> = self
            .phases
            .iter()
            .filter(|p| p.path.starts_with("API"))
            .collect();
        out.push_str("\nInside the store's `entities::write()` (API phases; sums over concurrent calls):\n\n");
        out.push_str(&report::span_table(&api_phases));
        if self.counters.is_empty() {
            return out;
        }
        out.push_str(
            "\nTable access counters over the whole run (`pg_stat_user_tables`; includes setup):\n\n\
             | database | table | seq scans | rows read by seq scans | index scans | rows fetched by index scans |\n\
             |---|---|---:|---:|---:|---:|\n",
        );
        for c in &self.counters {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                c.database,
                c.table,
                report::thousands(c.seq_scan as f64),
                report::thousands(c.seq_tup_read as f64),
                report::thousands(c.idx_scan as f64),
                report::thousands(c.idx_tup_fetch as f64),
            ));
        }
        out
    }

    pub fn json(&self) -> Value {
        let a = &self.args;
        json!({
            "benchmark": "bulk",
            "entities": a.entities,
            "batch": a.batch,
            "concurrency": a.concurrency,
            "pool": self.pool,
            "rawRowLevelSecurity": !a.raw_no_rls,
            "phases": self.phases.iter().map(Phase::to_json).collect::<Vec<_>>(),
            "ratios": self.ratios().iter().map(|(pass, api, raw, r)| json!({
                "pass": pass, "apiEntitiesPerSecond": api, "rawRowsPerSecond": raw, "apiOverRaw": r,
            })).collect::<Vec<_>>(),
            "sameRows": self.same_rows,
            "analyzeEverySeconds": a.analyze_secs,
            "tableCounters": self.counters.iter().map(|c| json!({
                "database": c.database, "table": c.table,
                "seqScan": c.seq_scan, "seqTupRead": c.seq_tup_read,
                "idxScan": c.idx_scan, "idxTupFetch": c.idx_tup_fetch,
            })).collect::<Vec<_>>(),
        })
    }
}
