use tokio::sync::broadcast::error::RecvError;

use portolan_bus::{Bus, BusError, InProcessBus, connect};

use crate::event;

#[tokio::test]
async fn every_subscriber_receives_each_published_event() {
    let bus = InProcessBus::new();
    let mut first = bus.subscribe();
    let mut second = bus.subscribe();

    let sent = event("entity.updated");
    bus.publish(&sent).await.unwrap();

    assert_eq!(first.recv().await.unwrap(), sent);
    assert_eq!(second.recv().await.unwrap(), sent);
}

#[tokio::test]
async fn publishing_with_no_subscriber_succeeds() {
    let bus = InProcessBus::new();
    bus.publish(&event("entity.deleted")).await.unwrap();
    bus.health().await.unwrap();
}

#[tokio::test]
async fn closing_ends_subscriptions_and_refuses_publishes() {
    let bus = InProcessBus::new();
    let mut subscriber = bus.subscribe();

    bus.close().await;

    assert!(matches!(subscriber.recv().await, Err(RecvError::Closed)));
    assert!(matches!(
        bus.publish(&event("entity.created")).await,
        Err(BusError::Closed)
    ));
    assert!(matches!(bus.health().await, Err(BusError::Closed)));
}

#[tokio::test]
async fn connect_without_a_url_gives_an_in_process_bus() {
    let bus = connect(None, "portolan.events").await.unwrap();
    bus.health().await.unwrap();
    bus.declare_queue("ignored", &["entity.#"]).await.unwrap();
    bus.publish(&event("entity.created")).await.unwrap();
}
