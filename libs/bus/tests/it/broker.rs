//! A second, plain lapin connection: what a consumer sees, and cleanup.

use std::time::{Duration, Instant};

use lapin::message::BasicGetMessage;
use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Channel, Connection, ConnectionProperties};

use portolan_bus::{dead_letter_exchange, dead_letter_queue};
use portolan_test_support::{amqp_url, unique_suffix};

/// Unique names for one test.
pub struct Names {
    pub exchange: String,
    pub queue: String,
}

impl Names {
    pub fn new() -> Self {
        let suffix = unique_suffix();
        Names {
            exchange: format!("portolan.test.{suffix}.events"),
            queue: format!("portolan.test.{suffix}.q"),
        }
    }
}

pub struct Peer {
    connection: Connection,
    pub channel: Channel,
}

impl Peer {
    pub async fn open() -> Self {
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        Peer {
            connection,
            channel,
        }
    }

    /// The next message on `queue`, waiting up to 5 s for one.
    pub async fn next(&self, queue: &str) -> BasicGetMessage {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = self
                .channel
                .basic_get(queue.into(), BasicGetOptions::default())
                .await
                .unwrap();
            if let Some(message) = got {
                return message;
            }
            assert!(
                Instant::now() < deadline,
                "no message arrived on {queue} within 5 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Is `queue` empty right now?
    pub async fn is_empty(&self, queue: &str) -> bool {
        self.channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await
            .unwrap()
            .is_none()
    }

    /// Deletes the queue, its dead-letter queue and both exchanges.
    pub async fn cleanup(self, names: &Names) {
        for queue in [names.queue.clone(), dead_letter_queue(&names.queue)] {
            let _ = self
                .channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        for exchange in [
            names.exchange.clone(),
            dead_letter_exchange(&names.exchange),
        ] {
            let _ = self
                .channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
        let _ = self.connection.close(200, "test done".into()).await;
    }
}
