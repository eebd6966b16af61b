//! The in-process bus of the embedded single-binary mode: a broadcast channel.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::{Bus, BusError, Envelope};

/// How many events a slow subscriber may fall behind before it misses some.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Delivers every published event to every current subscriber, in memory. Nothing is
/// durable here: the outbox table stays the record of what happened.
#[derive(Debug)]
pub struct InProcessBus {
    /// `None` once closed: subscribers then see the channel end.
    sender: RwLock<Option<broadcast::Sender<Envelope>>>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        InProcessBus {
            sender: RwLock::new(Some(sender)),
        }
    }

    /// A receiver of every event published from now on. On a closed bus the receiver is
    /// already at its end.
    pub fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        match self.read().as_ref() {
            Some(sender) => sender.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Option<broadcast::Sender<Envelope>>> {
        self.sender
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Option<broadcast::Sender<Envelope>>> {
        self.sender
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, env: &Envelope) -> Result<(), BusError> {
        let guard = self.read();
        let sender = guard.as_ref().ok_or(BusError::Closed)?;
        // No subscriber is not an error: nobody was listening for this event.
        if sender.send(env.clone()).is_err() {
            tracing::trace!(event = %env.id, "in-process bus: no subscriber");
        }
        Ok(())
    }

    async fn health(&self) -> Result<(), BusError> {
        match self.read().as_ref() {
            Some(_) => Ok(()),
            None => Err(BusError::Closed),
        }
    }

    async fn close(&self) {
        self.write().take();
    }
}
