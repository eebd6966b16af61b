//! The worker's life: serve health until shutdown, then stop accepting, release what it owns
//! and return.

use std::net::SocketAddr;
use std::sync::Arc;

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
            .context("the ingestion worker task panicked")?
    }
}

/// A database and a bus this worker opened itself, and so closes on shutdown.
pub(crate) struct Owned {
    pub store: Store,
    pub bus: Arc<dyn Bus>,
}

pub(crate) fn spawn(
    health_addr: SocketAddr,
    server: Server,
    owned: Option<Owned>,
    shutdown: CancellationToken,
) -> Running {
    let task = tokio::spawn(async move {
        let handle = server.handle();
        let mut server = tokio::spawn(server);
        let outcome = tokio::select! {
            () = shutdown.cancelled() => {
                tracing::info!("ingestion worker shutting down");
                handle.stop(true).await;
                server.await.context("the health server panicked")?.context("the health server failed")
            }
            joined = &mut server => match joined {
                Ok(Ok(())) => Err(anyhow::anyhow!("the health server stopped unexpectedly")),
                Ok(Err(error)) => Err(anyhow::Error::new(error).context("the health server failed")),
                Err(error) => Err(anyhow::Error::new(error).context("the health server panicked")),
            },
        };
        if let Some(Owned { store, bus }) = owned {
            bus.close().await;
            if let Err(error) = store.close().await {
                tracing::warn!(%error, "closing the database pool");
            }
        }
        tracing::info!("ingestion worker stopped");
        outcome
    });
    Running { health_addr, task }
}
