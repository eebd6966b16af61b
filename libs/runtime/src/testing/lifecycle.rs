//! Start, health, readiness, shutdown, and failing to start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use portolan_bus::{Bus, InProcessBus};
use portolan_store::Store;

use super::{Setup, Worker, get, get_with, is_listening};

pub async fn serves_health_declares_its_queue_and_stops_on_shutdown(worker: &Worker) {
    let setup = Setup::new(worker.spec).await;
    let queue = worker.spec.queue(&setup.config);
    let shutdown = CancellationToken::new();

    let running = (worker.start)(setup.config.clone(), shutdown.clone())
        .await
        .unwrap();
    let addr = running.health_addr();
    assert_ne!(addr.port(), 0);

    // One client throughout: its idle keep-alive connection must not hold up the shutdown.
    let client = reqwest::Client::new();
    assert_eq!(
        get_with(&client, addr, "/healthz").await,
        (200, json!({"ok": true}))
    );
    let (status, body) = get_with(&client, addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"], json!({"database": "ok", "bus": "ok"}));
    assert!(
        setup.queue_exists(&queue).await,
        "queue {queue} was not declared"
    );

    let stopping = Instant::now();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running.wait())
        .await
        .expect("the worker must stop within 10 s of shutdown")
        .unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "an idle connection delayed shutdown"
    );
    assert!(
        !is_listening(addr).await,
        "the health port is still open after shutdown"
    );

    setup.cleanup(&queue).await;
}

pub async fn readyz_answers_503_naming_the_bus_when_the_bus_is_down(worker: &Worker) {
    let setup = Setup::new(worker.spec).await;
    let store = Store::connect(&setup.database.url, 2).await.unwrap();
    let bus = Arc::new(InProcessBus::new());
    let shutdown = CancellationToken::new();

    let running = (worker.start_with)(&setup.config, store.clone(), bus.clone(), shutdown.clone())
        .await
        .unwrap();
    let addr = running.health_addr();
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");

    bus.close().await;
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        json!({"ok": false, "checks": {"database": "ok", "bus": "unavailable"}})
    );
    assert_eq!(
        get(addr, "/healthz").await.0,
        200,
        "a broker outage does not make the worker dead"
    );

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running.wait())
        .await
        .unwrap()
        .unwrap();
    // The store was the caller's: start_with leaves it open, and the readiness checks left
    // no connection in it tied to the health server's threads, which have ended.
    store.ping().await.unwrap();
    store.close().await.unwrap();
    let queue = worker.spec.queue(&setup.config);
    setup.cleanup(&queue).await;
}

pub async fn start_fails_with_an_error_when_the_broker_is_unreachable(worker: &Worker) {
    let mut setup = Setup::new(worker.spec).await;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    setup.config.amqp_url = Some(format!("amqp://guest:guest@127.0.0.1:{port}/%2f").into());

    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        (worker.start)(setup.config.clone(), CancellationToken::new()),
    )
    .await
    .expect("start must fail, not hang");

    let error = outcome.unwrap_err();
    assert!(format!("{error:#}").contains("message broker"), "{error:#}");
    let queue = worker.spec.queue(&setup.config);
    setup.cleanup(&queue).await;
}
