//! `portolan-bench search`: latency of searches through the HTTP API against a realistic
//! multi-tenant catalog, compared with the same queries hand-written in SQL and run straight
//! on PostgreSQL.
//!
//! One database holds the measured organization (`--entities` entities: teams, services,
//! repositories, environments, deployments; see `search/catalog.rs`) and `--other-orgs`
//! organizations of `--other-entities` each, all loaded through the HTTP bulk route (not
//! timed for the report), then `VACUUM ANALYZE`. Seven query shapes (`search/shapes.rs`) run
//! through the API and as raw SQL from `--concurrency` clients; the harness checks that both
//! return the same identifiers (or count) for every parameter set, reports p50/p99 of both
//! and their ratio, and checks the query plans for sequential scans of `entities`.

mod catalog;
mod explain;
mod floor;
mod load;
mod measure;
mod shapes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::env::{Common, Env, admin_connection, http_client};
use crate::probe::{Probe, SpanTotals};
use crate::report::{self, Phase};
use explain::{Capture, Capturing, PlanCheck};
use measure::{Api, Outcome, Raw};
use shapes::{Answer, Shape};

#[derive(clap::Args, Debug, Clone)]
pub struct SearchArgs {
    /// Entities of the measured organization (1% teams, 20% services, 20% repositories, a
    /// few environments, the rest deployments).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(100..=20_000_000))]
    pub entities: u64,
    /// Other organizations in the same database (multi-tenant tables).
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub other_orgs: u64,
    /// Entities of each other organization (same proportions, another seed).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(100..=20_000_000))]
    pub other_entities: u64,
    /// Timed requests per shape, through the API and again as raw SQL (after a warm-up).
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub requests: u64,
    /// Concurrent clients (HTTP clients for the API, pool connections for raw SQL).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: u64,
    /// Entities per bulk request while loading.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub batch: u64,
    /// Bulk requests in flight while loading.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub load_concurrency: u64,
    /// Do not `ANALYZE` while loading. By default each loading step runs in waves of 1, 2,
    /// 4, ... bulk requests with an `ANALYZE` of the catalog's tables after each (a stand-in
    /// for autovacuum, which is off on this server; without statistics loading is quadratic,
    /// see docs/benchmarks.md).
    #[arg(long)]
    pub no_load_analyze: bool,
    /// Seed of the catalog generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Run each raw query in a transaction as the API's tenant role with the org setting
    /// (row-level security applies, as in the API); by default raw SQL runs as the owner, one
    /// statement per query, the org filter written by hand.
    #[arg(long)]
    pub raw_rls: bool,
    /// Measure again on the database of an earlier run kept with `--keep-databases`
    /// (`portolan_bench_<suffix>_search`) instead of creating and loading one: same
    /// `--entities` and `--seed` as that run (checked by the entity count). New migrations are
    /// applied; the database is kept.
    #[arg(long, value_name = "DATABASE")]
    pub reuse_database: Option<String>,
    /// Run only these shapes, by key (`--shapes c,f`); all by default. For profiling one
    /// shape; a report of a subset is not comparable with a full one as a whole.
    #[arg(long, value_delimiter = ',', value_parser = ["a", "b", "c", "d", "e", "f", "g", "h"])]
    pub shapes: Vec<String>,
    /// Also measure the HTTP floor of each shape: a bare HTTP server in this process that
    /// runs the raw SQL and writes the rows as the API's response (`search/floor.rs`), with
    /// the API's clients. Its p50 over the raw SQL's is the lowest API/raw ratio any HTTP API
    /// can reach on this machine for the shape.
    #[arg(long)]
    pub floor: bool,
}

/// One loaded organization.
pub struct LoadLine {
    pub org: String,
    pub entities: usize,
    pub wall: Duration,
}

/// The results of one shape.
pub struct ShapeResult {
    pub key: &'static str,
    pub name: &'static str,
    pub what: String,
    pub answer: Answer,
    /// Rows (or the count) of each parameter set, identical through the API and raw SQL.
    pub sizes: Vec<u64>,
    pub params: Vec<String>,
    pub example_path: String,
    pub example_body: Value,
    pub raw_sql: String,
    pub api: Phase,
    pub raw: Phase,
    /// With `--floor`: the bare HTTP server's phase.
    pub floor: Option<Phase>,
    pub raw_plan: PlanCheck,
    pub api_plan: PlanCheck,
}

impl ShapeResult {
    pub fn ratio(&self) -> f64 {
        self.api.percentile(50.0).as_secs_f64() / self.raw.percentile(50.0).as_secs_f64().max(1e-9)
    }

    /// The floor's p50 over the raw SQL's (with `--floor`).
    pub fn floor_ratio(&self) -> Option<f64> {
        self.floor.as_ref().map(|f| {
            f.percentile(50.0).as_secs_f64() / self.raw.percentile(50.0).as_secs_f64().max(1e-9)
        })
    }

    fn rows(&self) -> String {
        let n = self.sizes.len().max(1) as f64;
        let mean = self.sizes.iter().sum::<u64>() as f64 / n;
        let min = self.sizes.iter().copied().min().unwrap_or(0);
        let max = self.sizes.iter().copied().max().unwrap_or(0);
        let what = if self.answer == Answer::Count {
            "count "
        } else {
            ""
        };
        if min == max {
            format!("{what}{}", report::thousands(mean))
        } else {
            format!(
                "{what}{} ({}–{})",
                report::thousands(mean),
                report::thousands(min as f64),
                report::thousands(max as f64)
            )
        }
    }
}

pub struct SearchReport {
    pub args: SearchArgs,
    pub pool: u32,
    pub loads: Vec<LoadLine>,
    pub tables: Vec<(String, i64)>,
    pub vacuum: Duration,
    pub capture: String,
    pub shapes: Vec<ShapeResult>,
}

fn usize_of(v: u64) -> anyhow::Result<usize> {
    usize::try_from(v).context("number too large")
}

async fn maintenance(env: &Env) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    // This server runs with autovacuum off: statistics and the visibility map come from here.
    env.store
        .connection()
        .execute_unprepared(&format!(
            "VACUUM {}, blueprints",
            crate::env::ANALYZE_CATALOG
        ))
        .await
        .context("VACUUM ANALYZE failed")?;
    let wall = t0.elapsed();
    let admin = admin_connection(&env.db.url).await?;
    let r = admin.execute_unprepared("CHECKPOINT").await;
    let _ = admin.close().await;
    if let Err(e) = r {
        eprintln!("note: CHECKPOINT failed ({e}); continuing");
    }
    Ok(wall)
}

async fn table_rows(env: &Env) -> anyhow::Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for t in [
        "entities",
        "entity_values",
        "entity_numbers",
        "entity_dates",
        "entity_relations",
    ] {
        out.push((
            t.to_owned(),
            env.scalar_i64(&format!("SELECT count(*) FROM {t}")).await?,
        ));
    }
    Ok(out)
}

/// Asks every parameter set through the API and as raw SQL; both must answer the same.
async fn sanity(
    shape: &Shape,
    client: &reqwest::Client,
    api: &Api<'_>,
    raw: &Raw<'_>,
) -> anyhow::Result<Vec<u64>> {
    let mut sizes = Vec::with_capacity(shape.calls.len());
    for c in &shape.calls {
        let (_, got) = measure::api_call(client, api, c, shape.answer, true).await?;
        let got = got.context("no outcome")?;
        let (_, want) = measure::raw_call(raw, c, shape.answer).await?;
        if got != want {
            let show = |o: &Outcome| match o {
                Outcome::Ids(ids) => format!(
                    "{} rows, first {:?}",
                    ids.len(),
                    ids.iter().take(5).collect::<Vec<_>>()
                ),
                Outcome::Count(n) => format!("count {n}"),
            };
            bail!(
                "shape ({}) {}, parameter {}: the API and the raw SQL disagree: API {}, raw {}\nrequest: {}\nSQL: {}",
                shape.key,
                shape.name,
                c.param,
                show(&got),
                show(&want),
                c.body,
                c.sql
            );
        }
        sizes.push(want.size());
    }
    if sizes.iter().all(|s| *s == 0) {
        bail!(
            "shape ({}) {}: every parameter set matched nothing (the generator or the query is wrong)",
            shape.key,
            shape.name
        );
    }
    Ok(sizes)
}

struct Ctx<'a> {
    common: &'a Common,
    env: &'a Env,
    totals: &'a Arc<SpanTotals>,
    requests: usize,
    warmup: usize,
    conc: usize,
    capture: Capture,
    /// The floor server's base URL (`--floor`).
    floor: Option<&'a str>,
}

async fn probe(cx: &Ctx<'_>) -> anyhow::Result<Probe> {
    Ok(Probe::new(
        admin_connection(&cx.common.admin_url).await?,
        cx.env.db.name.clone(),
        cx.totals.clone(),
    ))
}

async fn run_shape(
    cx: &Ctx<'_>,
    shape: &Shape,
    api: &Api<'_>,
    raw: &Raw<'_>,
) -> anyhow::Result<ShapeResult> {
    let clients = (0..cx.conc)
        .map(|_| http_client(1))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let clients = &clients;
    let sizes = sanity(shape, &clients[0], api, raw).await?;
    let calls = &shape.calls;
    let pick = |i: usize| &calls[i % calls.len()];

    // API: warm-up (the API's statement is captured meanwhile), then the timed run.
    let api_one = |c: usize, i: usize| async move {
        Ok(
            measure::api_call(&clients[c], api, pick(i), shape.answer, false)
                .await?
                .0,
        )
    };
    let capturing = Capturing::start(cx.capture, &cx.env.db.url, &cx.env.db.name).await?;
    let mut warm = measure::timed(cx.warmup, cx.conc, api_one).await;
    // A fast statement is rarely seen active: warm up longer (up to 10 s) until one is.
    let deadline = Instant::now() + Duration::from_secs(10);
    while warm.is_ok() && !capturing.has_any().await && Instant::now() < deadline {
        warm = measure::timed(cx.warmup, cx.conc, api_one).await;
    }
    let captured = capturing.finish(&cx.env.db.url).await;
    warm?;
    let captured = captured?;
    let p = probe(cx).await?;
    let before = p.snapshot().await;
    let (wall, lat) = measure::timed(cx.requests, cx.conc, api_one).await?;
    let usage = p.since(&before).await;
    let api_phase = Phase::new(shape.name, "API", cx.requests, cx.conc, wall, lat, usage);

    // Raw SQL: warm-up, then the timed run.
    measure::timed(cx.warmup, cx.conc, |_, i| async move {
        Ok(measure::raw_call(raw, pick(i), shape.answer).await?.0)
    })
    .await?;
    let before = p.snapshot().await;
    let (wall, lat) = measure::timed(cx.requests, cx.conc, |_, i| async move {
        Ok(measure::raw_call(raw, pick(i), shape.answer).await?.0)
    })
    .await?;
    let usage = p.since(&before).await;
    let raw_phase = Phase::new(
        shape.name,
        "raw SQL",
        cx.requests,
        cx.conc,
        wall,
        lat,
        usage,
    );

    let floor_phase = match cx.floor {
        None => None,
        Some(base) => Some(floor_phase(cx, shape, &clients[..], base, raw, &p).await?),
    };

    let raw_plan = explain::explain_raw(raw, calls).await?;
    let api_plan = explain::explain_api(&cx.env.db.url, cx.env.org, captured, cx.capture).await;
    for (side, plan) in [("raw SQL", &raw_plan), ("API", &api_plan)] {
        if plan.seq_scan_on_entities == Some(true) {
            eprintln!(
                "WARNING: shape ({}) {}: the {side} plan scans `entities` sequentially: {}",
                shape.key,
                shape.name,
                plan.nodes.join(", ")
            );
        }
    }
    let first = &calls[0];
    Ok(ShapeResult {
        key: shape.key,
        name: shape.name,
        what: shape.what.clone(),
        answer: shape.answer,
        sizes,
        params: calls.iter().map(|c| c.param.clone()).collect(),
        example_path: first.path.clone(),
        example_body: first.body.clone(),
        raw_sql: first.sql.clone(),
        api: api_phase,
        raw: raw_phase,
        floor: floor_phase,
        raw_plan,
        api_plan,
    })
}

/// The floor's phase of a shape: each call checked against the raw SQL's answer, a warm-up,
/// then the timed run with the API's clients.
async fn floor_phase(
    cx: &Ctx<'_>,
    shape: &Shape,
    clients: &[reqwest::Client],
    base: &str,
    raw: &Raw<'_>,
    p: &Probe,
) -> anyhow::Result<Phase> {
    let api = Api { base, token: "" };
    let api = &api;
    for i in 0..shape.calls.len() {
        let c = floor::call_of(shape, i);
        let (_, got) = measure::api_call(&clients[0], api, &c, shape.answer, true).await?;
        let (_, want) = measure::raw_call(raw, &c, shape.answer).await?;
        anyhow::ensure!(
            got.as_ref() == Some(&want),
            "shape ({}), parameter {}: the floor and the raw SQL disagree",
            shape.key,
            c.param
        );
    }
    let calls: Vec<_> = (0..shape.calls.len())
        .map(|i| floor::call_of(shape, i))
        .collect();
    let calls = &calls;
    let one = |c: usize, i: usize| async move {
        Ok(measure::api_call(
            &clients[c],
            api,
            &calls[i % calls.len()],
            shape.answer,
            false,
        )
        .await?
        .0)
    };
    measure::timed(cx.warmup, cx.conc, one).await?;
    let before = p.snapshot().await;
    let (wall, lat) = measure::timed(cx.requests, cx.conc, one).await?;
    let usage = p.since(&before).await;
    Ok(Phase::new(
        shape.name,
        "HTTP floor",
        cx.requests,
        cx.conc,
        wall,
        lat,
        usage,
    ))
}

pub async fn run(
    common: &Common,
    a: &SearchArgs,
    totals: &Arc<SpanTotals>,
    envs: &mut Vec<Env>,
) -> anyhow::Result<SearchReport> {
    let n = usize_of(a.entities)?;
    let batch = usize_of(a.batch)?;
    let load_conc = usize_of(a.load_concurrency)?;
    let mut orgs = Vec::new();
    if let Some(name) = &a.reuse_database {
        eprintln!("reusing database {name}...");
        envs.push(Env::reuse(common, name, "search", batch).await?);
        orgs.push(load::existing_main(&envs[0], a.seed, n));
    } else {
        eprintln!("setting up the database...");
        envs.push(Env::setup(common, "search", batch, 1, 1).await?);
        let env = &envs[0];
        orgs.push(load::prepare_main(env, a.seed, n).await?);
        for k in 1..=usize_of(a.other_orgs)? {
            orgs.push(load::create_other(env, k, a.seed, usize_of(a.other_entities)?).await?);
        }
    }
    let env = &envs[0];
    let mut loads = Vec::new();
    let t0 = Instant::now();
    // A reused database is loaded already: only the measured organization is regenerated
    // (deterministically, for the shapes' parameters), not sent again.
    let to_load = if a.reuse_database.is_some() {
        &orgs[..0]
    } else {
        &orgs[..]
    };
    for org in to_load {
        eprintln!(
            "loading organization {} ({} entities) through the bulk route...",
            org.name,
            report::thousands(org.catalog.sizes.total() as f64)
        );
        let l = load::load(env, org, batch, load_conc, !a.no_load_analyze).await?;
        eprintln!(
            "  {:.1} s, {} entities/s",
            l.wall.as_secs_f64(),
            report::thousands(l.rate())
        );
        loads.push(LoadLine {
            org: org.name.clone(),
            entities: l.entities,
            wall: l.wall,
        });
    }
    let total: usize = loads.iter().map(|l| l.entities).sum();
    let wall = t0.elapsed();
    if to_load.is_empty() {
        eprintln!("VACUUM ANALYZE...");
    } else {
        eprintln!(
            "loaded {} entities in {:.1} s ({} entities/s); VACUUM ANALYZE...",
            report::thousands(total as f64),
            wall.as_secs_f64(),
            report::thousands(total as f64 / wall.as_secs_f64().max(1e-9))
        );
    }
    let vacuum = maintenance(env).await?;
    let tables = table_rows(env).await?;
    let main = &orgs[0];
    let expected = i64::try_from(main.catalog.sizes.total())?;
    let stored = env
        .scalar_i64(&format!(
            "SELECT count(*) FROM entities WHERE org_id = '{}'",
            main.id
        ))
        .await?;
    anyhow::ensure!(
        stored == expected,
        "the measured organization holds {stored} entities, expected {expected}"
    );

    let mut shapes = shapes::build(env, main).await?;
    if !a.shapes.is_empty() {
        shapes.retain(|s| a.shapes.iter().any(|k| k.as_str() == s.key));
    }
    let raw_pool = measure::raw_pool(&env.db.url, common.pool).await?;
    let conn = &raw_pool;
    let capture_conn = explain::connect(&env.db.url).await?;
    let capture = explain::capture_mode(&capture_conn).await?;
    let _ = capture_conn.close().await;
    eprintln!(
        "API statements for EXPLAIN come from {}",
        capture.describe()
    );
    let requests = usize_of(a.requests)?;
    let conc = usize_of(a.concurrency)?;
    let floor_server = match a.floor {
        true => Some(floor::start(&env.db.url, common.pool, &shapes).await?),
        false => None,
    };
    let cx = Ctx {
        floor: floor_server.as_ref().map(|f| f.base.as_str()),
        common,
        env,
        totals,
        requests,
        warmup: (requests / 10).max(50),
        conc,
        capture,
    };
    let api = Api {
        base: &env.base,
        token: &main.token,
    };
    let raw = Raw {
        conn,
        rls: a.raw_rls.then_some(main.id),
    };
    let mut results = Vec::with_capacity(shapes.len());
    for shape in &shapes {
        eprintln!(
            "shape ({}) {}: {} parameter set(s), {} requests each way...",
            shape.key,
            shape.name,
            shape.calls.len(),
            report::thousands(requests as f64)
        );
        let r = run_shape(&cx, shape, &api, &raw).await?;
        eprintln!(
            "  API p50 {} ms, raw p50 {} ms, ratio {:.1}{}",
            report::ms(r.api.percentile(50.0)),
            report::ms(r.raw.percentile(50.0)),
            r.ratio(),
            match (&r.floor, r.floor_ratio()) {
                (Some(f), Some(x)) => format!(
                    "; HTTP floor p50 {} ms, floor/raw {x:.2}",
                    report::ms(f.percentile(50.0))
                ),
                _ => String::new(),
            }
        );
        results.push(r);
    }
    if let Some(f) = floor_server {
        f.stop().await;
    }
    Ok(SearchReport {
        args: a.clone(),
        pool: common.pool,
        loads,
        tables,
        vacuum,
        capture: capture.describe(),
        shapes: results,
    })
}

impl SearchReport {
    pub fn markdown(&self) -> String {
        let a = &self.args;
        let others = match &a.reuse_database {
            Some(db) => format!("other organizations as loaded into `{db}` by an earlier run"),
            None => format!(
                "{} other organizations of {}",
                a.other_orgs,
                report::thousands(a.other_entities as f64)
            ),
        };
        let mut out = format!(
            "## Search: {} entities in the measured organization, {others}\n\n\
             {} timed requests per shape and path after a warm-up, {} concurrent clients, store pool {} connections; \
             raw SQL {}. Table rows: {}.\n\n\
             | shape | API p50 (ms) | API p99 (ms) | raw p50 (ms) | raw p99 (ms) | API/raw p50 | rows returned | Seq Scan on entities (raw / API) |\n\
             |---|---:|---:|---:|---:|---:|---:|---|\n",
            report::thousands(a.entities as f64),
            report::thousands(a.requests as f64),
            a.concurrency,
            self.pool,
            if a.raw_rls {
                "in a transaction as the tenant role (row-level security)"
            } else {
                "as the owner, one statement per query"
            },
            self.tables
                .iter()
                .map(|(t, n)| format!("`{t}` {}", report::thousands(*n as f64)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for s in &self.shapes {
            out.push_str(&format!(
                "| ({}) {} | {} | {} | {} | {} | {:.1} | {} | {} / {} |\n",
                s.key,
                s.name,
                report::ms(s.api.percentile(50.0)),
                report::ms(s.api.percentile(99.0)),
                report::ms(s.raw.percentile(50.0)),
                report::ms(s.raw.percentile(99.0)),
                s.ratio(),
                s.rows(),
                s.raw_plan.verdict(),
                s.api_plan.verdict(),
            ));
        }
        out.push_str(
            "\nCPU per request (ms: CPU time used during the timed phase divided by its requests): this process \
             (the HTTP clients and the in-process API; for raw SQL the tasks and the driver) and the \
             PostgreSQL backends of the measured database.\n\n\
             | shape | API: process | API: PostgreSQL | raw: process | raw: PostgreSQL |\n|---|---:|---:|---:|---:|\n",
        );
        // CPU ms per request of a phase (`n/a` when it was not measured).
        let per = |p: &Phase, cpu: Option<f64>| {
            cpu.map_or_else(
                || "n/a".to_owned(),
                |c| format!("{:.2}", c * 1_000.0 / p.requests.max(1) as f64),
            )
        };
        for s in &self.shapes {
            out.push_str(&format!(
                "| ({}) {} | {} | {} | {} | {} |\n",
                s.key,
                s.name,
                per(&s.api, s.api.usage.this_cpu),
                per(&s.api, s.api.usage.pg_cpu),
                per(&s.raw, s.raw.usage.this_cpu),
                per(&s.raw, s.raw.usage.pg_cpu),
            ));
        }
        if self.shapes.iter().any(|s| s.floor.is_some()) {
            out.push_str(
                "\nHTTP floor (`--floor`, `search/floor.rs`): a bare HTTP server in this process runs the raw SQL \
                 and writes its rows as the API's response, for the API's clients; no authentication, tenant \
                 transaction, query compiling or middleware. It returned the raw SQL's answer for every parameter set.\n\n\
                 | shape | floor p50 (ms) | floor p99 (ms) | floor/raw p50 | API/floor p50 | floor: process CPU (ms) | floor: PostgreSQL CPU (ms) |\n\
                 |---|---:|---:|---:|---:|---:|---:|\n",
            );
            for s in &self.shapes {
                let Some(f) = &s.floor else { continue };
                out.push_str(&format!(
                    "| ({}) {} | {} | {} | {:.2} | {:.2} | {} | {} |\n",
                    s.key,
                    s.name,
                    report::ms(f.percentile(50.0)),
                    report::ms(f.percentile(99.0)),
                    s.floor_ratio().unwrap_or(f64::NAN),
                    s.api.percentile(50.0).as_secs_f64()
                        / f.percentile(50.0).as_secs_f64().max(1e-9),
                    per(f, f.usage.this_cpu),
                    per(f, f.usage.pg_cpu),
                ));
            }
        }
        out.push_str(&format!(
            "\nThe API and the raw SQL returned the same identifiers (or count) for every parameter set of every shape.\n\n\
             Plans (`EXPLAIN (FORMAT JSON)`). API statements from {}.\n\n\
             | shape | raw SQL plan nodes | API plan nodes |\n|---|---|---|\n",
            self.capture
        ));
        for s in &self.shapes {
            let nodes = |p: &PlanCheck| {
                if p.nodes.is_empty() {
                    p.source.clone()
                } else {
                    p.nodes.join(", ")
                }
            };
            out.push_str(&format!(
                "| ({}) {} | {} | {} |\n",
                s.key,
                s.name,
                nodes(&s.raw_plan),
                nodes(&s.api_plan)
            ));
        }
        out.push_str("\nShapes:\n\n");
        for s in &self.shapes {
            out.push_str(&format!(
                "- ({}) {}: {}. {} parameter set(s), the first: `POST {}` `{}`\n",
                s.key,
                s.name,
                s.what,
                s.params.len(),
                s.example_path,
                s.example_body
            ));
        }
        if let Some(db) = &a.reuse_database {
            out.push_str(&format!(
                "\nNot loaded: measured on `{db}`, loaded by an earlier run.\n"
            ));
        } else {
            out.push_str("\nLoading (HTTP bulk route, not part of the results):\n\n| organization | entities | wall (s) | entities/s |\n|---|---:|---:|---:|\n");
        }
        for l in &self.loads {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                l.org,
                report::thousands(l.entities as f64),
                report::secs(l.wall),
                report::thousands(l.entities as f64 / l.wall.as_secs_f64().max(1e-9))
            ));
        }
        out.push_str(&format!(
            "\n`VACUUM ANALYZE` after loading: {} s.\n",
            report::secs(self.vacuum)
        ));
        out
    }

    pub fn json(&self) -> Value {
        let a = &self.args;
        json!({
            "benchmark": "search",
            "entities": a.entities,
            "otherOrgs": a.other_orgs,
            "otherEntities": a.other_entities,
            "requests": a.requests,
            "concurrency": a.concurrency,
            "pool": self.pool,
            "seed": a.seed,
            "rawRowLevelSecurity": a.raw_rls,
            "tables": self.tables.iter().map(|(t, n)| (t.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "vacuumSeconds": self.vacuum.as_secs_f64(),
            "apiStatementsFrom": self.capture,
            "load": self.loads.iter().map(|l| json!({
                "organization": l.org, "entities": l.entities, "wallSeconds": l.wall.as_secs_f64(),
                "entitiesPerSecond": l.entities as f64 / l.wall.as_secs_f64().max(1e-9),
            })).collect::<Vec<_>>(),
            "shapes": self.shapes.iter().map(|s| json!({
                "key": s.key,
                "name": s.name,
                "what": s.what,
                "parameters": s.params,
                "rows": s.sizes,
                "request": {"path": s.example_path, "body": s.example_body},
                "rawSql": s.raw_sql,
                "api": s.api.to_json(),
                "raw": s.raw.to_json(),
                "floor": s.floor.as_ref().map(Phase::to_json),
                "floorOverRawP50": s.floor_ratio(),
                "apiOverRawP50": s.ratio(),
                "plans": {"raw": s.raw_plan.to_json(), "api": s.api_plan.to_json()},
            })).collect::<Vec<_>>(),
        })
    }
}
