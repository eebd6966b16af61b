use std::time::Duration;

use lapin::options::{
    BasicAckOptions, BasicRejectOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};

use portolan_bus::{AmqpBus, Bus, BusError, Envelope, connect, dead_letter_queue};
use portolan_test_support::amqp_url;

use crate::broker::{Names, Peer};
use crate::event;

async fn bus(names: &Names) -> AmqpBus {
    AmqpBus::connect(&amqp_url(), &names.exchange, "portolan-bus-test")
        .await
        .unwrap()
}

#[tokio::test]
async fn a_confirmed_event_reaches_the_bound_queue_as_a_persistent_json_message() {
    let names = Names::new();
    let bus = bus(&names).await;
    bus.declare_queue(&names.queue, &["entity.#"])
        .await
        .unwrap();
    let peer = Peer::open().await;

    let unrelated = event("run.created");
    let sent = event("entity.created");
    bus.publish(&unrelated).await.unwrap();
    bus.publish(&sent).await.unwrap();

    let message = peer.next(&names.queue).await;
    assert_eq!(Envelope::from_json(&message.delivery.data).unwrap(), sent);
    assert_eq!(message.delivery.routing_key.as_str(), "entity.created");
    let properties = &message.delivery.properties;
    assert_eq!(
        properties.message_id().as_ref().map(|id| id.as_str()),
        Some(sent.id.to_string().as_str())
    );
    assert_eq!(*properties.delivery_mode(), Some(2));
    assert_eq!(
        properties.content_type().as_ref().map(|t| t.as_str()),
        Some("application/json")
    );
    message
        .delivery
        .ack(BasicAckOptions::default())
        .await
        .unwrap();
    assert!(
        peer.is_empty(&names.queue).await,
        "run.created must not match entity.#"
    );

    bus.close().await;
    peer.cleanup(&names).await;
}

#[tokio::test]
async fn a_rejected_message_is_dead_lettered_to_the_queue_s_dead_queue() {
    let names = Names::new();
    let bus = bus(&names).await;
    bus.declare_queue(&names.queue, &["ingest.delivery"])
        .await
        .unwrap();
    // Declaring again with the same bindings is a no-op, not an error.
    bus.declare_queue(&names.queue, &["ingest.delivery"])
        .await
        .unwrap();
    let peer = Peer::open().await;

    let sent = event("ingest.delivery");
    bus.publish(&sent).await.unwrap();
    let message = peer.next(&names.queue).await;
    message
        .delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();

    let dead = peer.next(&dead_letter_queue(&names.queue)).await;
    assert_eq!(Envelope::from_json(&dead.delivery.data).unwrap(), sent);
    dead.delivery.ack(BasicAckOptions::default()).await.unwrap();

    bus.close().await;
    peer.cleanup(&names).await;
}

#[tokio::test]
async fn a_nacked_publish_is_an_error() {
    let names = Names::new();
    let bus = bus(&names).await;
    let peer = Peer::open().await;
    // A queue that holds one message and refuses the next: the broker nacks the publish.
    let mut arguments = FieldTable::default();
    arguments.insert("x-max-length".into(), AMQPValue::LongInt(1));
    arguments.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    peer.channel
        .queue_declare(
            names.queue.as_str().into(),
            QueueDeclareOptions::default(),
            arguments,
        )
        .await
        .unwrap();
    peer.channel
        .queue_bind(
            names.queue.as_str().into(),
            names.exchange.as_str().into(),
            "entity.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    bus.publish(&event("entity.created")).await.unwrap();
    let refused = event("entity.created");
    let outcome = bus.publish(&refused).await;

    assert!(
        matches!(outcome, Err(BusError::Nacked(id)) if id == refused.id),
        "{outcome:?}"
    );
    bus.close().await;
    peer.cleanup(&names).await;
}

#[tokio::test]
async fn after_its_channel_dies_the_bus_reconnects_on_the_next_call() {
    let names = Names::new();
    let bus = bus(&names).await;
    let peer = Peer::open().await;
    // Deleting the exchange under the bus makes its next publish a channel error (404).
    peer.channel
        .exchange_delete(
            names.exchange.as_str().into(),
            ExchangeDeleteOptions::default(),
        )
        .await
        .unwrap();
    assert!(bus.publish(&event("entity.created")).await.is_err());

    // The next call opens a new connection, which declares the exchange again.
    bus.health().await.unwrap();
    bus.declare_queue(&names.queue, &["entity.#"])
        .await
        .unwrap();
    let sent = event("entity.updated");
    bus.publish(&sent).await.unwrap();
    let message = peer.next(&names.queue).await;
    assert_eq!(Envelope::from_json(&message.delivery.data).unwrap(), sent);
    message
        .delivery
        .ack(BasicAckOptions::default())
        .await
        .unwrap();

    bus.close().await;
    peer.cleanup(&names).await;
}

#[tokio::test]
async fn health_is_ok_while_connected_and_fails_after_close() {
    let names = Names::new();
    let bus = connect(Some(&amqp_url()), &names.exchange).await.unwrap();
    bus.health().await.unwrap();

    bus.close().await;
    assert!(matches!(bus.health().await, Err(BusError::Closed)));
    assert!(matches!(
        bus.publish(&event("entity.created")).await,
        Err(BusError::Closed)
    ));

    Peer::open().await.cleanup(&names).await;
}

#[tokio::test]
async fn connecting_to_a_closed_port_fails_quickly_with_an_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");

    let outcome =
        tokio::time::timeout(Duration::from_secs(15), AmqpBus::connect(&url, "x", "test"))
            .await
            .expect("connect must fail, not hang");

    let error = outcome.unwrap_err();
    assert!(
        matches!(error, BusError::Connect(_) | BusError::Timeout(_)),
        "{error:?}"
    );
    assert!(
        !error.to_string().contains("guest:guest"),
        "the URL's password leaked: {error}"
    );
}
