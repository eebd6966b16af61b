//! The ingestion worker: it will consume webhook deliveries (`ingest.delivery` events) from
//! its queue, verify and de-duplicate them, run each integration's jq mappings and upsert or
//! delete entities through the store.
//!
//! Built so far is only its frame: it connects to the database and the bus, declares its
//! queue on RabbitMQ, serves `GET /healthz` and `GET /readyz`, and shuts down cleanly. It
//! does not consume deliveries yet. The frame is `portolan-runtime`'s; this crate says what
//! is the ingestion worker's own ([`SPEC`]).

use std::sync::Arc;

use portolan_bus::Bus;
use portolan_config::Config;
use portolan_runtime::{HealthAddr, WorkerSpec};
use portolan_store::Store;
use tokio_util::sync::CancellationToken;

pub use portolan_runtime::Running;

/// The name this worker's RabbitMQ connection shows.
pub const CONNECTION_NAME: &str = "portolan-ingestion-worker";

/// The routing keys this worker's queue receives.
pub const BINDINGS: &[&str] = &["ingest.delivery"];

/// This worker's queue: `<prefix>.ingest`.
pub fn queue_name(prefix: &str) -> String {
    format!("{prefix}.ingest")
}

/// The ingestion worker as `portolan-runtime` runs it: health on `ingestion_health_addr`, no
/// background task.
pub static SPEC: WorkerSpec = WorkerSpec {
    name: "ingestion worker",
    connection_name: CONNECTION_NAME,
    queue_name,
    bindings: BINDINGS,
    health_addr: HealthAddr::Ingestion,
    background: None,
};

/// Runs the worker until `shutdown` fires, then returns once it has stopped.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    SPEC.run(config, shutdown).await
}

/// Connects to the database and the bus, declares the queue and starts serving health on
/// `config.ingestion_health_addr`. The returned [`Running`] tells the bound address. The
/// database pool and bus connection are the worker's own and are closed on shutdown.
pub async fn start(config: Config, shutdown: CancellationToken) -> anyhow::Result<Running> {
    SPEC.start(config, shutdown).await
}

/// Like [`start`], on a database and bus the caller owns (`portolan serve` shares them
/// between the API and the workers); they stay open when the worker stops.
pub async fn start_with(
    config: &Config,
    store: Store,
    bus: Arc<dyn Bus>,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    SPEC.start_with(config, store, bus, shutdown).await
}
