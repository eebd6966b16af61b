//! A worker described by a [`WorkerSpec`], and how one starts: connect to the database and
//! the bus, declare its queue, serve health, start its background task.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use portolan_bus::Bus;
use portolan_config::{Config, ENV_PREFIX};
use portolan_store::Store;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::health::{Check, serve_health};
use crate::process::{init_tracing, wait_for_signal};
use crate::running::{self, Owned, Parts, Running};

/// What makes one worker different from another; the rest of its life is this crate's.
#[derive(Debug)]
pub struct WorkerSpec {
    /// How logs and errors name it: `"ingestion worker"`.
    pub name: &'static str,
    /// The name of its binary and of its RabbitMQ connection: `"portolan-ingestion-worker"`.
    pub connection_name: &'static str,
    /// Its queue's name for a queue prefix (`<prefix>.ingest`).
    pub queue_name: fn(&str) -> String,
    /// The routing-key patterns its queue receives.
    pub bindings: &'static [&'static str],
    /// The setting that says where it serves `/healthz` and `/readyz`.
    pub health_addr: HealthAddr,
    /// Work it runs beside the health server from start to shutdown, if any.
    pub background: Option<Background>,
}

/// A task a worker runs on its store from start to shutdown (the automation worker's job
/// runner). It must return soon after its token fires: it gets the shutdown grace
/// (`shutdown_timeout_secs`), then it is aborted.
#[derive(Debug)]
pub struct Background {
    /// How logs name it: `"job runner"`.
    pub name: &'static str,
    pub run: fn(Store, CancellationToken) -> BoxFuture<'static, ()>,
}

/// Which setting says where a worker serves health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthAddr {
    /// `ingestion_health_addr`.
    Ingestion,
    /// `automation_health_addr`.
    Automation,
}

impl HealthAddr {
    /// The setting's key: `ingestion_health_addr`.
    pub fn key(self) -> &'static str {
        match self {
            HealthAddr::Ingestion => "ingestion_health_addr",
            HealthAddr::Automation => "automation_health_addr",
        }
    }

    /// The environment variable that sets it: `PORTOLAN_INGESTION_HEALTH_ADDR`.
    pub fn env_var(self) -> String {
        format!("{ENV_PREFIX}{}", self.key().to_ascii_uppercase())
    }

    pub fn get(self, config: &Config) -> &str {
        match self {
            HealthAddr::Ingestion => &config.ingestion_health_addr,
            HealthAddr::Automation => &config.automation_health_addr,
        }
    }

    pub fn get_mut(self, config: &mut Config) -> &mut String {
        match self {
            HealthAddr::Ingestion => &mut config.ingestion_health_addr,
            HealthAddr::Automation => &mut config.automation_health_addr,
        }
    }
}

impl WorkerSpec {
    /// This worker's queue under `config.amqp_queue_prefix`.
    pub fn queue(&self, config: &Config) -> String {
        (self.queue_name)(&config.amqp_queue_prefix)
    }

    /// Runs the worker until `shutdown` fires, then returns once it has stopped.
    pub async fn run(&self, config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.start(config, shutdown).await?.wait().await
    }

    /// Connects to the database and the bus, declares the queue, serves health on the
    /// worker's address setting and starts its background task. The returned [`Running`]
    /// tells the bound address. The database pool and bus connection are the worker's own
    /// and are closed on shutdown.
    pub async fn start(
        &self,
        config: Config,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Running> {
        self.open(config, shutdown).instrument(self.span()).await
    }

    /// Like [`WorkerSpec::start`], on a database and bus the caller owns (`portolan serve`
    /// shares them between the API and the workers); they stay open when the worker stops.
    pub async fn start_with(
        &self,
        config: &Config,
        store: Store,
        bus: Arc<dyn Bus>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Running> {
        self.launch(config, store, bus, None, shutdown)
            .instrument(self.span())
            .await
    }

    /// The worker's log lines (its own and its tasks') carry this span: `worker{name=…}`.
    fn span(&self) -> tracing::Span {
        tracing::info_span!("worker", name = self.name)
    }

    /// Connects to the database and the bus the worker owns, then launches it.
    async fn open(&self, config: Config, shutdown: CancellationToken) -> anyhow::Result<Running> {
        let store = Store::connect(&config.database_url_or_default(), config.db_max_connections)
            .await
            .context("cannot connect to the database")?;
        let amqp_url = config
            .amqp_url
            .as_ref()
            .map(|url| url.expose_secret().to_owned());
        if amqp_url.is_none() {
            tracing::warn!(
                "no PORTOLAN_AMQP_URL: a stand-alone worker on the in-process bus receives no \
                 events (`portolan serve` runs everything in one process)"
            );
        }
        let bus = match portolan_bus::connect_named(
            amqp_url.as_deref(),
            &config.amqp_exchange,
            self.connection_name,
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
        let owned = Owned {
            store: store.clone(),
            bus: bus.clone(),
        };
        self.launch(&config, store, bus, Some(owned), shutdown)
            .await
    }

    /// The whole `main` of the worker's own binary: loads the configuration (`PORTOLAN_*`),
    /// logs to stdout, runs until SIGINT or SIGTERM and exits with success once it stopped
    /// cleanly.
    pub async fn main(&self) -> ExitCode {
        let config = match Config::load() {
            Ok(config) => config,
            Err(error) => {
                eprintln!("{}: {error}", self.connection_name);
                return ExitCode::FAILURE;
            }
        };
        init_tracing(&config, std::io::stdout);
        let shutdown = CancellationToken::new();
        let signalled = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            signalled.cancel();
        });
        match self.run(config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "{} failed", self.name);
                ExitCode::FAILURE
            }
        }
    }

    /// Checks the database, declares the queue, binds the health server and starts the
    /// background task; on failure closes `owned`.
    async fn launch(
        &self,
        config: &Config,
        store: Store,
        bus: Arc<dyn Bus>,
        owned: Option<Owned>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Running> {
        let prepared = async {
            store.ping().await.context("the database does not answer")?;
            let queue = self.queue(config);
            bus.declare_queue(&queue, self.bindings)
                .await
                .with_context(|| format!("cannot declare the queue {queue}"))?;
            let checks = vec![Check::database(store.clone()), Check::bus(bus.clone())];
            serve_health(
                self.health_addr.get(config),
                checks,
                config.shutdown_timeout_secs,
            )
        }
        .await;
        let (health_addr, server) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                if let Some(owned) = owned {
                    owned.close().await;
                }
                return Err(error);
            }
        };
        let background = self.background.as_ref().map(|background| {
            let stop = shutdown.child_token();
            running::Background {
                name: background.name,
                task: tokio::spawn((background.run)(store, stop.clone()).in_current_span()),
                stop,
                grace: Duration::from_secs(config.shutdown_timeout_secs),
            }
        });
        tracing::info!(%health_addr, "{} started", self.name);
        let parts = Parts {
            name: self.name,
            health_addr,
            server,
            background,
            owned,
        };
        Ok(running::spawn(parts, shutdown))
    }
}
