use uuid::Uuid;

/// Everything that can go wrong talking to the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to the message broker: {0}")]
    Connect(String),
    #[error("timed out after {0:?} waiting for the message broker")]
    Timeout(std::time::Duration),
    #[error("message broker error: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker refused (nacked) event {0}")]
    Nacked(Uuid),
    #[error("the broker did not confirm event {0}")]
    NotConfirmed(Uuid),
    #[error("the bus is not connected: {0}")]
    Disconnected(String),
    #[error("the bus is closed")]
    Closed,
    #[error("cannot encode the event: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("cannot decode the event: {0}")]
    Decode(#[source] serde_json::Error),
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u32),
}
