//! RabbitMQ through lapin: a durable topic exchange, a confirm-mode publishing channel and
//! durable quorum queues that dead-letter to `<exchange>.dlx`.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::sync::Mutex;

use crate::{Bus, BusError, Envelope};

/// How long connecting (TCP, AMQP handshake, exchange declaration) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the broker to confirm one publish.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// The dead-letter exchange of `exchange`.
pub fn dead_letter_exchange(exchange: &str) -> String {
    format!("{exchange}.dlx")
}

/// The queue holding the messages dead-lettered from `queue`.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

/// The RabbitMQ bus. After the broker goes away it reconnects on the next publish or health
/// check; the exchange and queues are durable, so there is no topology to replay.
pub struct AmqpBus {
    url: String,
    exchange: String,
    connection_name: String,
    link: Mutex<Option<Link>>,
    closed: AtomicBool,
}

/// One live connection and its confirm-mode publishing channel.
struct Link {
    connection: Connection,
    publisher: Channel,
}

impl Link {
    fn is_connected(&self) -> bool {
        self.connection.status().connected() && self.publisher.status().connected()
    }
}

impl fmt::Debug for AmqpBus {
    // The URL carries the broker password: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpBus")
            .field("exchange", &self.exchange)
            .field("connection_name", &self.connection_name)
            .finish_non_exhaustive()
    }
}

impl AmqpBus {
    /// Connects to `url`, naming the connection `connection_name`, declares the durable topic
    /// exchange `exchange` and opens the publishing channel in confirm mode. Fails within
    /// 10 s when the broker does not answer.
    pub async fn connect(
        url: &str,
        exchange: &str,
        connection_name: &str,
    ) -> Result<Self, BusError> {
        let link = open_link(url, exchange, connection_name).await?;
        tracing::info!(exchange, connection_name, "connected to RabbitMQ");
        Ok(AmqpBus {
            url: url.to_owned(),
            exchange: exchange.to_owned(),
            connection_name: connection_name.to_owned(),
            link: Mutex::new(Some(link)),
            closed: AtomicBool::new(false),
        })
    }

    /// The exchange events are published to.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    /// Declares the durable quorum queue `queue`, bound to the exchange with each topic
    /// pattern in `bindings`. Messages it rejects or gives up on go to the dead-letter
    /// exchange `<exchange>.dlx` with the queue's name as routing key, and from there to the
    /// quorum queue `<queue>.dead`. Idempotent.
    pub async fn declare_queue(&self, queue: &str, bindings: &[&str]) -> Result<(), BusError> {
        // A refused declaration closes the channel it was made on: use a channel of its own
        // so the publishing channel survives.
        let channel = {
            let mut guard = self.link.lock().await;
            let link = self.ensure_link(&mut guard).await?;
            link.connection.create_channel().await?
        };
        let dlx = dead_letter_exchange(&self.exchange);
        let dead = dead_letter_queue(queue);
        let result = async {
            channel
                .exchange_declare(
                    dlx.as_str().into(),
                    ExchangeKind::Topic,
                    durable_exchange(),
                    FieldTable::default(),
                )
                .await?;
            channel
                .queue_declare(
                    dead.as_str().into(),
                    durable_queue(),
                    quorum_arguments(None),
                )
                .await?;
            channel
                .queue_bind(
                    dead.as_str().into(),
                    dlx.as_str().into(),
                    queue.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            channel
                .queue_declare(
                    queue.into(),
                    durable_queue(),
                    quorum_arguments(Some((&dlx, queue))),
                )
                .await?;
            for pattern in bindings {
                channel
                    .queue_bind(
                        queue.into(),
                        self.exchange.as_str().into(),
                        (*pattern).into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
            }
            Ok::<(), lapin::Error>(())
        }
        .await;
        if channel.status().connected() {
            let _ = channel.close(200, "queue declared".into()).await;
        }
        result?;
        tracing::info!(queue, ?bindings, "declared queue");
        Ok(())
    }

    /// The publishing channel, reconnecting first if the connection was lost.
    async fn publisher(&self) -> Result<Channel, BusError> {
        let mut guard = self.link.lock().await;
        Ok(self.ensure_link(&mut guard).await?.publisher.clone())
    }

    async fn ensure_link<'a>(&self, slot: &'a mut Option<Link>) -> Result<&'a Link, BusError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(BusError::Closed);
        }
        if slot.as_ref().is_some_and(|link| !link.is_connected()) {
            tracing::warn!(exchange = %self.exchange, "RabbitMQ connection lost; reconnecting");
            if let Some(stale) = slot.take() {
                let _ = stale.connection.close(200, "reconnecting".into()).await;
            }
        }
        if slot.is_none() {
            *slot = Some(open_link(&self.url, &self.exchange, &self.connection_name).await?);
            tracing::info!(exchange = %self.exchange, "reconnected to RabbitMQ");
        }
        slot.as_ref()
            .ok_or(BusError::Disconnected("no connection".to_owned()))
    }
}

#[async_trait]
impl Bus for AmqpBus {
    async fn publish(&self, env: &Envelope) -> Result<(), BusError> {
        let body = env.to_json()?;
        let channel = self.publisher().await?;
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(PERSISTENT)
            .with_message_id(env.id.to_string().into())
            .with_type(env.r#type.as_str().into())
            .with_timestamp(u64::try_from(env.occurred_at.timestamp()).unwrap_or_default())
            .with_app_id("portolan".into());
        let confirm = channel
            .basic_publish(
                self.exchange.as_str().into(),
                env.routing_key().into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?;
        match with_timeout(CONFIRM_TIMEOUT, confirm).await?? {
            Confirmation::Ack(_) => Ok(()),
            Confirmation::Nack(_) => Err(BusError::Nacked(env.id)),
            Confirmation::NotRequested => Err(BusError::NotConfirmed(env.id)),
        }
    }

    async fn health(&self) -> Result<(), BusError> {
        self.publisher().await.map(|_| ())
    }

    async fn declare_queue(&self, queue: &str, bindings: &[&str]) -> Result<(), BusError> {
        AmqpBus::declare_queue(self, queue, bindings).await
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let link = self.link.lock().await.take();
        if let Some(link) = link
            && let Err(error) = link.connection.close(200, "shutting down".into()).await
        {
            tracing::debug!(%error, "closing the RabbitMQ connection");
        }
    }
}

async fn open_link(url: &str, exchange: &str, connection_name: &str) -> Result<Link, BusError> {
    let open = async {
        let properties =
            ConnectionProperties::default().with_connection_name(connection_name.into());
        let connection = Connection::connect(url, properties)
            .await
            .map_err(|error| BusError::Connect(error.to_string()))?;
        let publisher = connection.create_channel().await?;
        publisher
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                durable_exchange(),
                FieldTable::default(),
            )
            .await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Link {
            connection,
            publisher,
        })
    };
    with_timeout(CONNECT_TIMEOUT, open).await?
}

async fn with_timeout<T>(limit: Duration, future: impl Future<Output = T>) -> Result<T, BusError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| BusError::Timeout(limit))
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    }
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

/// `x-queue-type: quorum`, plus the dead-letter exchange and routing key when given.
fn quorum_arguments(dead_letter: Option<(&str, &str)>) -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    if let Some((exchange, routing_key)) = dead_letter {
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(exchange.into()),
        );
        arguments.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(routing_key.into()),
        );
    }
    arguments
}
