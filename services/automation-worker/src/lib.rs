//! The automation worker: it will consume `entity.*`, `run.*`, `timer.*` and `scorecard.*`
//! events from its queue, match automations' triggers and jq conditions, invoke action runs
//! (webhook, GitHub, GitLab, upsert-entity; signed and retried) and fire property timers.
//!
//! Built so far: it connects to the database and the bus, declares its queue on RabbitMQ,
//! runs the store's async job runner (data migrations), serves `GET /healthz` and
//! `GET /readyz`, and shuts down cleanly. It does not consume events yet.

mod health;
mod running;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use portolan_bus::Bus;
use portolan_config::Config;
use portolan_store::Store;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

pub use running::Running;

/// The name this worker's RabbitMQ connection shows.
pub const CONNECTION_NAME: &str = "portolan-automation-worker";

/// The routing-key patterns this worker's queue receives.
pub const BINDINGS: &[&str] = &["entity.#", "run.#", "timer.#", "scorecard.#"];

/// This worker's queue: `<prefix>.automation`.
pub fn queue_name(prefix: &str) -> String {
    format!("{prefix}.automation")
}

/// Runs the worker until `shutdown` fires, then returns once it has stopped.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    start(config, shutdown).await?.wait().await
}

/// Connects to the database and the bus, declares the queue, starts the job runner and
/// serves health on `config.automation_health_addr`. The returned [`Running`] tells the bound
/// address. The database pool and bus connection are the worker's own and are closed on
/// shutdown.
pub async fn start(config: Config, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let store = Store::connect(&config.database_url_or_default(), config.db_max_connections)
        .await
        .context("cannot connect to the database")?;
    let amqp_url = config
        .amqp_url
        .as_ref()
        .map(|url| url.expose_secret().to_owned());
    if amqp_url.is_none() {
        tracing::warn!(
            "no PORTOLAN_AMQP_URL: a stand-alone worker on the in-process bus receives no events \
             (`portolan serve` runs everything in one process)"
        );
    }
    let bus = match portolan_bus::connect_named(
        amqp_url.as_deref(),
        &config.amqp_exchange,
        CONNECTION_NAME,
    )
    .await
    .context("cannot connect to the message broker")
    {
        Ok(bus) => bus,
        Err(error) => {
            let _ = store.close().await;
            return Err(error);
        }
    };
    let owned = running::Owned {
        store: store.clone(),
        bus: bus.clone(),
    };
    match launch(&config, store, bus, Some(owned), shutdown).await {
        Ok(running) => Ok(running),
        Err((error, Some(owned))) => {
            owned.bus.close().await;
            let _ = owned.store.close().await;
            Err(error)
        }
        Err((error, None)) => Err(error),
    }
}

/// Like [`start`], on a database and bus the caller owns (`portolan serve` shares them
/// between the API and the workers); they stay open when the worker stops.
pub async fn start_with(
    config: &Config,
    store: Store,
    bus: Arc<dyn Bus>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    launch(config, store, bus, None, shutdown)
        .await
        .map_err(|(error, _)| error)
}

async fn launch(
    config: &Config,
    store: Store,
    bus: Arc<dyn Bus>,
    owned: Option<running::Owned>,
    shutdown: CancellationToken,
) -> Result<Running, (anyhow::Error, Option<running::Owned>)> {
    let prepared = async {
        store.ping().await.context("the database does not answer")?;
        let queue = queue_name(&config.amqp_queue_prefix);
        bus.declare_queue(&queue, BINDINGS)
            .await
            .with_context(|| format!("cannot declare the queue {queue}"))?;
        let checks = health::Checks {
            store: store.clone(),
            bus: bus.clone(),
        };
        health::serve(
            &config.automation_health_addr,
            checks,
            config.shutdown_timeout_secs,
        )
    }
    .await;
    match prepared {
        Ok((health_addr, server)) => {
            let jobs = tokio::spawn(portolan_store::jobs::run_worker(
                store,
                shutdown.child_token(),
            ));
            tracing::info!(%health_addr, "automation worker started");
            let grace = Duration::from_secs(config.shutdown_timeout_secs);
            Ok(running::spawn(
                running::Parts {
                    health_addr,
                    server,
                    jobs,
                    owned,
                    grace,
                },
                shutdown,
            ))
        }
        Err(error) => Err((error, owned)),
    }
}
