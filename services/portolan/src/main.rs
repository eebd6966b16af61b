//! `portolan`: the one binary a newcomer runs.
//!
//! - `portolan serve` runs the API and both workers in one process (embedded defaults when no
//!   `PORTOLAN_DATABASE_URL` / `PORTOLAN_AMQP_URL` / `PORTOLAN_REDIS_URL` is set);
//!   `--api-only` runs just the API (the workers then run as their own services).
//! - `portolan migrate` applies the database migrations and exits.
//! - `portolan openapi` prints the OpenAPI document.
//! - `portolan rotate-secret-keys` re-encrypts every organization secret with the primary key
//!   of `PORTOLAN_SECRETS_KEYS` (after a key rotation) and prints how many it re-encrypted.

/// mimalloc rather than glibc's allocator: a request allocates many small JSON values on
/// several threads, and glibc's malloc and free took about a fifth of the API's CPU in a
/// search profile (docs/benchmarks.md, "Search").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use portolan_config::Config;
use portolan_store::Store;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "portolan",
    version,
    about = "A self-hosted internal developer portal API, wire-compatible with Port"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and both workers (the default command).
    Serve {
        /// Run only the API; the workers run as their own services.
        #[arg(long)]
        api_only: bool,
        /// Do not apply migrations at start (a separate `portolan migrate` step does).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply the database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (the text of openapi/openapi.json).
    Openapi,
    /// Re-encrypt every organization secret sealed with an older key with the primary (first)
    /// key of PORTOLAN_SECRETS_KEYS, then exit. Run after putting a new key first.
    RotateSecretKeys,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve {
        api_only: false,
        no_migrate: false,
    });
    if let Command::Openapi = command {
        print!("{}", portolan_api::openapi_json()?);
        return Ok(());
    }
    let config = Config::load().context("configuration")?;
    // Logs go to stderr: stdout carries the banner (and the first-start secret).
    portolan_runtime::init_tracing(&config, std::io::stderr);
    match command {
        Command::Migrate => {
            let store = connect(&config).await?;
            store.migrate().await.context("migrations")?;
            println!("migrations applied");
            store.close().await?;
            Ok(())
        }
        Command::Serve {
            api_only,
            no_migrate,
        } => serve(config, api_only, no_migrate).await,
        Command::RotateSecretKeys => {
            let keys = portolan_auth::seal::KeyRing::load_or_create(
                config.secrets_keys.as_ref(),
                &config.data_dir,
            )
            .context("organization secrets keys (PORTOLAN_SECRETS_KEYS)")?;
            let store = connect(&config).await?;
            let count = portolan_store::secrets::reseal_all(&store, &keys)
                .await
                .context("re-encrypting organization secrets")?;
            println!(
                "re-encrypted {count} organization secret(s) with key '{}'",
                keys.primary_kid()
            );
            store.close().await?;
            Ok(())
        }
        Command::Openapi => Ok(()),
    }
}

async fn connect(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url_or_default();
    Store::connect(&url, config.db_max_connections)
        .await
        .with_context(|| {
            if config.database_url.is_some() {
                "cannot connect to PORTOLAN_DATABASE_URL".to_owned()
            } else {
                format!("cannot open {}", config.sqlite_url())
            }
        })
}

async fn serve(config: Config, api_only: bool, no_migrate: bool) -> anyhow::Result<()> {
    let store = connect(&config).await?;
    if !no_migrate {
        store.migrate().await.context("migrations")?;
    }
    let created = portolan_api::bootstrap::bootstrap(&store, &config)
        .await
        .context("first-start bootstrap")?;
    let bus = portolan_bus::connect(
        config.amqp_url.as_ref().map(|s| s.expose_secret()),
        &config.amqp_exchange,
    )
    .await
    .context("cannot connect to the message bus (PORTOLAN_AMQP_URL)")?;
    let config = Arc::new(config);
    let api = portolan_api::start(config.clone(), store.clone(), bus.clone()).await?;
    let shutdown = CancellationToken::new();
    let mut workers = Vec::new();
    if !api_only {
        let (c1, c2) = ((*config).clone(), (*config).clone());
        workers.push(tokio::spawn(portolan_ingestion_worker::run(
            c1,
            shutdown.child_token(),
        )));
        workers.push(tokio::spawn(portolan_automation_worker::run(
            c2,
            shutdown.child_token(),
        )));
    }
    print_banner(&config, api.addr, created.as_ref(), api_only);
    let handle = api.server.handle();
    let server = tokio::spawn(api.server);
    portolan_runtime::wait_for_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    handle.stop(true).await;
    shutdown.cancel();
    for w in workers {
        match w.await {
            Ok(Err(e)) => tracing::error!(error = %e, "worker ended with an error"),
            Err(e) => tracing::error!(error = %e, "worker task failed"),
            Ok(Ok(())) => {}
        }
    }
    let _ = server.await;
    bus.close().await;
    store.close().await?;
    tracing::info!("stopped");
    Ok(())
}

fn print_banner(
    config: &Config,
    addr: std::net::SocketAddr,
    created: Option<&portolan_api::bootstrap::Bootstrapped>,
    api_only: bool,
) {
    let base = match &config.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => format!("http://{addr}"),
    };
    println!("Portolan is listening on {base}  (API docs: {base}/docs)");
    if config.database_url.is_none() {
        println!("Embedded mode: data in {}", config.sqlite_url());
    }
    if !api_only {
        println!("Workers: ingestion and automation run in this process");
    }
    match created {
        Some(c) if c.generated => {
            println!();
            println!("First start: created organization 'default' and an admin credential set.");
            println!("Save the secret now: it is shown only this once.");
            println!("  clientId:     {}", c.client_id);
            println!("  clientSecret: {}", c.client_secret.expose_secret());
            println!("Get a token:");
            println!(
                "  curl -s -X POST {base}/v1/auth/access_token -H 'content-type: application/json' -d '{{\"clientId\":\"{}\",\"clientSecret\":\"<clientSecret>\"}}'",
                c.client_id
            );
        }
        Some(c) => {
            println!(
                "First start: created organization 'default' with clientId {} and the secret from PORTOLAN_BOOTSTRAP_CLIENT_SECRET.",
                c.client_id
            );
        }
        None => {
            println!(
                "Log in with the clientId/clientSecret printed on first start: POST {base}/v1/auth/access_token"
            );
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
}
