//! `portolan-bench single`: single-entity upserts (`POST .../entities?upsert=true`) from N
//! concurrent clients: a pass of distinct new identifiers (create), then the same
//! identifiers again with changed values (update).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::future::try_join_all;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::data;
use crate::env::{Common, Env, admin_connection, http_client};
use crate::probe::{Probe, SpanTotals};
use crate::report::{self, Phase};

#[derive(clap::Args, Debug, Clone)]
pub struct SingleArgs {
    /// Requests per pass (each a distinct identifier).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub requests: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1_024))]
    pub concurrency: u64,
    /// Teams (targets of the required `owner` relation), created before timing.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub teams: u64,
    /// Domains (targets of the `domain` relation), created before timing.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub domains: u64,
}

const PASSES: [(&str, u16); 2] = [("1 (create)", 201), ("2 (update)", 200)];

async fn pass(
    common: &Common,
    env: &Env,
    totals: &Arc<SpanTotals>,
    a: &SingleArgs,
    rev: usize,
    name: &str,
    expect: u16,
) -> anyhow::Result<Phase> {
    let n = usize::try_from(a.requests)?;
    let conc = usize::try_from(a.concurrency)?;
    let teams = usize::try_from(a.teams)?;
    let domains = usize::try_from(a.domains)?;
    let url = env.url("/v1/blueprints/service/entities?upsert=true");
    // One client (connection pool) per benchmark client: 32 independent keep-alive connections.
    let clients = (0..conc)
        .map(|_| http_client(1))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let probe = Probe::new(
        admin_connection(&common.admin_url).await?,
        env.db.name.clone(),
        totals.clone(),
    );
    let before = probe.snapshot().await;
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let per_client = try_join_all(clients.iter().map(|client| {
        let url = &url;
        let next = &next;
        async move {
            let mut lat = Vec::with_capacity(n / conc + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let row = data::service_row("one", i, rev, teams, domains);
                let body = serde_json::to_vec(&row.api_json()).context("cannot encode")?;
                let t0 = Instant::now();
                let res = client
                    .post(url)
                    .bearer_auth(&env.token)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
                    .with_context(|| format!("request {i} failed"))?;
                let status = res.status();
                let text = res
                    .bytes()
                    .await
                    .with_context(|| format!("cannot read the response to request {i}"))?;
                lat.push(t0.elapsed());
                if status.as_u16() != expect {
                    let mut body = String::from_utf8_lossy(&text).into_owned();
                    body.truncate(2_000);
                    bail!("request {i}: expected HTTP {expect}, got {status}: {body}");
                }
            }
            anyhow::Ok(lat)
        }
    }))
    .await?;
    let wall = start.elapsed();
    let usage = probe.since(&before).await;
    let latencies: Vec<Duration> = per_client.into_iter().flatten().collect();
    Ok(Phase::new(
        name,
        "API single upsert",
        n,
        conc,
        wall,
        latencies,
        usage,
    ))
}

pub struct SingleReport {
    pub args: SingleArgs,
    pub pool: u32,
    pub phases: Vec<Phase>,
}

pub async fn run(
    common: &Common,
    a: &SingleArgs,
    totals: &Arc<SpanTotals>,
    envs: &mut Vec<Env>,
) -> anyhow::Result<SingleReport> {
    eprintln!("setting up the database...");
    let teams = usize::try_from(a.teams)?;
    let domains = usize::try_from(a.domains)?;
    envs.push(Env::setup(common, "single", 1_000, teams, domains).await?);
    let env = &envs[0];
    let mut phases = Vec::new();
    for (rev, (name, expect)) in PASSES.iter().enumerate() {
        eprintln!("pass {name}...");
        let p = pass(common, env, totals, a, rev, name, *expect).await?;
        eprintln!("  {} requests/s", report::thousands(p.request_rate()));
        phases.push(p);
    }
    let n = i64::try_from(a.requests)?;
    let stored = env
        .scalar_i64("SELECT count(*) FROM entities WHERE blueprint = 'service'")
        .await?;
    anyhow::ensure!(
        stored == n,
        "{stored} service entities stored, expected {n}"
    );
    Ok(SingleReport {
        args: a.clone(),
        pool: common.pool,
        phases,
    })
}

impl SingleReport {
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## Single-entity upserts: {} requests per pass, {} concurrent clients\n\n\
             `POST /v1/blueprints/service/entities?upsert=true`, one entity (10 properties, 2 relations) per request, \
             store pool {} connections.\n\n\
             | pass | requests | wall (s) | requests/s | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | bench process CPU (s) | PG backend CPU (s) |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            report::thousands(self.args.requests as f64),
            self.args.concurrency,
            self.pool
        );
        for p in &self.phases {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                p.pass,
                report::thousands(p.requests as f64),
                report::secs(p.wall),
                report::thousands(p.request_rate()),
                report::ms(p.percentile(50.0)),
                report::ms(p.percentile(90.0)),
                report::ms(p.percentile(99.0)),
                report::ms(p.max()),
                report::opt_secs(p.usage.this_cpu),
                report::opt_secs(p.usage.pg_cpu),
            ));
        }
        let phases: Vec<&Phase> = self.phases.iter().collect();
        out.push_str("\nInside the store's `entities::write()` (sums over concurrent calls):\n\n");
        out.push_str(&report::span_table(&phases));
        out
    }

    pub fn json(&self) -> Value {
        json!({
            "benchmark": "single",
            "requests": self.args.requests,
            "concurrency": self.args.concurrency,
            "pool": self.pool,
            "phases": self.phases.iter().map(Phase::to_json).collect::<Vec<_>>(),
        })
    }
}
