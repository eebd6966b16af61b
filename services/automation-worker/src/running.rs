//! The worker's life: serve health and run the job runner until shutdown, then stop
//! accepting, let the running job stop, release what it owns and return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use anyhow::Context;
use portolan_bus::Bus;
use portolan_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A started worker.
#[derive(Debug)]
pub struct Running {
    health_addr: SocketAddr,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Where `/healthz` and `/readyz` answer (the real port when configured with port 0).
    pub fn health_addr(&self) -> SocketAddr {
        self.health_addr
    }

    /// Waits until the worker has shut down (after its shutdown token fired).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task
            .await
            .context("the automation worker task panicked")?
    }
}

/// A database and a bus this worker opened itself, and so closes on shutdown.
pub(crate) struct Owned {
    pub store: Store,
    pub bus: Arc<dyn Bus>,
}

pub(crate) struct Parts {
    pub health_addr: SocketAddr,
    pub server: Server,
    /// The async job runner; it returns once the shutdown token fires.
    pub jobs: JoinHandle<()>,
    pub owned: Option<Owned>,
    /// How long the job runner may take to stop.
    pub grace: Duration,
}

pub(crate) fn spawn(parts: Parts, shutdown: CancellationToken) -> Running {
    let Parts {
        health_addr,
        server,
        mut jobs,
        owned,
        grace,
    } = parts;
    let task = tokio::spawn(async move {
        let handle = server.handle();
        let mut server = tokio::spawn(server);
        let outcome = tokio::select! {
            () = shutdown.cancelled() => {
                tracing::info!("automation worker shutting down");
                handle.stop(true).await;
                server.await.context("the health server panicked")?.context("the health server failed")
            }
            joined = &mut server => match joined {
                Ok(Ok(())) => Err(anyhow::anyhow!("the health server stopped unexpectedly")),
                Ok(Err(error)) => Err(anyhow::Error::new(error).context("the health server failed")),
                Err(error) => Err(anyhow::Error::new(error).context("the health server panicked")),
            },
        };
        // Also reached when the health server died: the job runner must not outlive us.
        shutdown.cancel();
        if tokio::time::timeout(grace, &mut jobs).await.is_err() {
            tracing::warn!(?grace, "the job runner did not stop in time; aborting it");
            jobs.abort();
        }
        if let Some(Owned { store, bus }) = owned {
            bus.close().await;
            if let Err(error) = store.close().await {
                tracing::warn!(%error, "closing the database pool");
            }
        }
        tracing::info!("automation worker stopped");
        outcome
    });
    Running { health_addr, task }
}
