//! The automation worker: it will consume `entity.*`, `run.*`, `timer.*` and `scorecard.*`
//! events from its queue, match automations' triggers and jq conditions, invoke action runs
//! (webhook, GitHub, GitLab, upsert-entity; signed and retried) and fire property timers.
//!
//! Built so far: it connects to the database and the bus, declares its queue on RabbitMQ,
//! runs the store's async job runner (data migrations), serves `GET /healthz` and
//! `GET /readyz`, and shuts down cleanly. It does not consume events yet. The frame is
//! `portolan-runtime`'s; this crate says what is the automation worker's own ([`SPEC`]).

use std::sync::Arc;

use portolan_bus::Bus;
use portolan_config::Config;
use portolan_runtime::{Background, HealthAddr, WorkerSpec};
use portolan_store::Store;
use tokio_util::sync::CancellationToken;

pub use portolan_runtime::Running;

/// The name this worker's RabbitMQ connection shows.
pub const CONNECTION_NAME: &str = "portolan-automation-worker";

/// The routing-key patterns this worker's queue receives.
pub const BINDINGS: &[&str] = &["entity.#", "run.#", "timer.#", "scorecard.#"];

/// This worker's queue: `<prefix>.automation`.
pub fn queue_name(prefix: &str) -> String {
    format!("{prefix}.automation")
}

/// The automation worker as `portolan-runtime` runs it: health on `automation_health_addr`,
/// and the store's job runner beside it until shutdown (given the shutdown grace to stop).
pub static SPEC: WorkerSpec = WorkerSpec {
    name: "automation worker",
    connection_name: CONNECTION_NAME,
    queue_name,
    bindings: BINDINGS,
    health_addr: HealthAddr::Automation,
    background: Some(Background {
        name: "job runner",
        run: |store, shutdown| Box::pin(portolan_store::jobs::run_worker(store, shutdown)),
    }),
};

/// Runs the worker until `shutdown` fires, then returns once it has stopped.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    SPEC.run(config, shutdown).await
}

/// Connects to the database and the bus, declares the queue, starts the job runner and
/// serves health on `config.automation_health_addr`. The returned [`Running`] tells the bound
/// address. The database pool and bus connection are the worker's own and are closed on
/// shutdown.
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
