//! The event bus: the versioned [`Envelope`] every change is published as, the [`Bus`] trait,
//! its RabbitMQ implementation ([`AmqpBus`]: durable topic exchange, publisher confirms,
//! quorum queues with a dead-letter exchange) and the in-process one ([`InProcessBus`]) used
//! by the embedded single-binary mode.
//!
//! Not here yet: the outbox relay and the consumer side (manual acks, prefetch). The workers
//! only declare their queues for now.

mod amqp;
mod envelope;
mod error;
mod in_process;

use std::sync::Arc;

use async_trait::async_trait;

pub use amqp::{AmqpBus, dead_letter_exchange, dead_letter_queue};
pub use envelope::{ENVELOPE_VERSION, Envelope};
pub use error::BusError;
pub use in_process::InProcessBus;

/// Where events go after their transaction commits.
#[async_trait]
pub trait Bus: Send + Sync {
    /// Publishes one event and returns once the broker has taken responsibility for it
    /// (a publisher confirm on RabbitMQ). An error means the event may not have been stored:
    /// the caller keeps it (in the outbox) and tries again.
    async fn publish(&self, env: &Envelope) -> Result<(), BusError>;

    /// Can this bus publish right now? (`/readyz`)
    async fn health(&self) -> Result<(), BusError>;

    /// Makes sure a durable queue named `queue` exists and receives the events whose routing
    /// key matches one of the topic patterns in `bindings` (`entity.#`, `ingest.delivery`).
    /// The in-process bus has no queues: there it does nothing.
    async fn declare_queue(&self, queue: &str, bindings: &[&str]) -> Result<(), BusError> {
        let _ = (queue, bindings);
        Ok(())
    }

    /// Closes the connection (graceful shutdown). Publishing afterwards fails.
    async fn close(&self);
}

/// Connects to RabbitMQ at `amqp_url` and declares `exchange`, or, with no URL, returns an
/// in-process bus.
pub async fn connect(amqp_url: Option<&str>, exchange: &str) -> Result<Arc<dyn Bus>, BusError> {
    connect_named(amqp_url, exchange, "portolan").await
}

/// Like [`connect`], with the connection name shown in RabbitMQ's management UI.
pub async fn connect_named(
    amqp_url: Option<&str>,
    exchange: &str,
    connection_name: &str,
) -> Result<Arc<dyn Bus>, BusError> {
    match amqp_url {
        Some(url) => Ok(Arc::new(
            AmqpBus::connect(url, exchange, connection_name).await?,
        )),
        None => Ok(Arc::new(InProcessBus::new())),
    }
}
