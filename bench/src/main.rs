//! `portolan-bench`: throughput of entity writes through the real HTTP API (in-process, on
//! a free port) against PostgreSQL, compared with raw SQL into the same tables.
//!
//! ```text
//! portolan-bench bulk --entities 100000 --batch 1000 [--concurrency 4] [--profile]
//! portolan-bench single --requests 20000 --concurrency 32
//! portolan-bench search --entities 1000000 [--other-orgs 9 --other-entities 100000]
//! portolan-bench auth --entities 10000 --requests 4000 --concurrency 8
//! ```
//!
//! Every run creates fresh databases named `portolan_bench_<suffix>_<label>` and drops them
//! at the end (also on error and on Ctrl-C). Results go to stdout as markdown (`--json` for
//! JSON); progress goes to stderr. See `docs/benchmarks.md`.

/// mimalloc rather than glibc's allocator: a request allocates many small JSON values on
/// several threads, and glibc's malloc and free took about a fifth of the API's CPU in a
/// search profile (docs/benchmarks.md, "Search").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod auth;
mod bulk;
mod data;
mod env;
mod probe;
mod raw;
mod report;
mod search;
mod single;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use uuid::Uuid;

use crate::env::{Common, Env};

#[derive(Parser, Debug)]
#[command(
    name = "portolan-bench",
    about = "Benchmarks of Portolan's entity write path"
)]
struct Cli {
    /// Admin URL of the PostgreSQL server; benchmark databases are created next to it.
    #[arg(
        long,
        global = true,
        env = "PORTOLAN_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Connection pool size of the store (the API's `db_max_connections`; also the raw
    /// baseline's pool).
    #[arg(long, global = true, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pool: u32,
    /// Keep the benchmark databases (for inspection; drop them by the `portolan_bench_` prefix).
    #[arg(long, global = true)]
    keep_databases: bool,
    /// Print the results as JSON instead of markdown.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Bulk upserts through the HTTP bulk route versus raw multi-row SQL.
    Bulk(bulk::BulkArgs),
    /// Single-entity upserts over HTTP from concurrent clients.
    Single(single::SingleArgs),
    /// Search latency through the HTTP API versus the same queries in raw SQL.
    Search(search::SearchArgs),
    /// Entity reads as Admin and as a Member under read permissions: what authorization adds.
    Auth(auth::AuthArgs),
}

enum Report {
    Bulk(bulk::BulkReport),
    Single(single::SingleReport),
    Search(search::SearchReport),
    Auth(auth::AuthReport),
}

async fn run(cli: &Cli, common: &Common, envs: &mut Vec<Env>) -> anyhow::Result<Report> {
    let totals = probe::init_tracing()?;
    Ok(match &cli.command {
        Command::Bulk(a) => Report::Bulk(bulk::run(common, a, &totals, envs).await?),
        Command::Single(a) => Report::Single(single::run(common, a, &totals, envs).await?),
        Command::Search(a) => Report::Search(search::run(common, a, &totals, envs).await?),
        Command::Auth(a) => Report::Auth(auth::run(common, a, &totals, envs).await?),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let common = Common {
        admin_url: cli.database_url.clone(),
        pool: cli.pool,
        suffix: Uuid::new_v4().simple().to_string()[..12].to_owned(),
    };
    let mut envs = Vec::new();
    let result = tokio::select! {
        r = run(&cli, &common, &mut envs) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    for env in envs {
        if cli.keep_databases || env.db.reused {
            eprintln!("keeping database {}", env.db.url);
            env.stop().await;
        } else {
            eprintln!("dropping database {}...", env.db.name);
            env.teardown().await;
        }
    }
    match result {
        Ok(report) => {
            let text = match (&report, cli.json) {
                (Report::Bulk(r), false) => r.markdown(),
                (Report::Single(r), false) => r.markdown(),
                (Report::Bulk(r), true) => format!("{:#}\n", r.json()),
                (Report::Single(r), true) => format!("{:#}\n", r.json()),
                (Report::Search(r), false) => r.markdown(),
                (Report::Search(r), true) => format!("{:#}\n", r.json()),
                (Report::Auth(r), false) => r.markdown(),
                (Report::Auth(r), true) => format!("{:#}\n", r.json()),
            };
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
