//! A worker's life: serve health (and run its background task) until shutdown, then stop
//! accepting, let the background task stop, release what it owns and return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use anyhow::Context;
use portolan_bus::Bus;
use portolan_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// A started worker. Its task carries the span it was started in.
#[derive(Debug)]
pub struct Running {
    name: &'static str,
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
        let name = self.name;
        self.task
            .await
            .with_context(|| format!("the {name} task panicked"))?
    }
}

/// A database and a bus the worker opened itself, and so closes on shutdown.
pub(crate) struct Owned {
    pub store: Store,
    pub bus: Arc<dyn Bus>,
}

impl Owned {
    pub async fn close(self) {
        self.bus.close().await;
        if let Err(error) = self.store.close().await {
            tracing::warn!(%error, "closing the database pool");
        }
    }
}

/// The background task and how to stop it.
pub(crate) struct Background {
    /// How logs name it.
    pub name: &'static str,
    pub task: JoinHandle<()>,
    /// Fired on the way out, also when the health server died first: the task must not
    /// outlive the worker.
    pub stop: CancellationToken,
    /// How long the task may take to stop before it is aborted.
    pub grace: Duration,
}

pub(crate) struct Parts {
    pub name: &'static str,
    pub health_addr: SocketAddr,
    pub server: Server,
    pub background: Option<Background>,
    pub owned: Option<Owned>,
}

pub(crate) fn spawn(parts: Parts, shutdown: CancellationToken) -> Running {
    let Parts {
        name,
        health_addr,
        server,
        background,
        owned,
    } = parts;
    let task = tokio::spawn(async move {
        let handle = server.handle();
        let mut server = tokio::spawn(server);
        let outcome = tokio::select! {
            () = shutdown.cancelled() => {
                tracing::info!("{name} shutting down");
                handle.stop(true).await;
                server
                    .await
                    .context("the health server panicked")
                    .and_then(|served| served.context("the health server failed"))
            }
            joined = &mut server => match joined {
                Ok(Ok(())) => Err(anyhow::anyhow!("the health server stopped unexpectedly")),
                Ok(Err(error)) => Err(anyhow::Error::new(error).context("the health server failed")),
                Err(error) => Err(anyhow::Error::new(error).context("the health server panicked")),
            },
        };
        if let Some(Background {
            name: background,
            mut task,
            stop,
            grace,
        }) = background
        {
            stop.cancel();
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                tracing::warn!(?grace, "the {background} did not stop in time; aborting it");
                task.abort();
            }
        }
        if let Some(owned) = owned {
            owned.close().await;
        }
        tracing::info!("{name} stopped");
        outcome
    }
    .in_current_span());
    Running {
        name,
        health_addr,
        task,
    }
}
