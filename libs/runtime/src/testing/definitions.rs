//! The worker's queue as `deploy/rabbitmq/definitions.json` declares it.

use tokio_util::sync::CancellationToken;

use super::{Setup, Worker};

/// `deploy/rabbitmq/definitions.json` pre-declares the queue in production: if its arguments
/// differed from the worker's, the worker's declaration would fail (PRECONDITION_FAILED).
pub async fn the_broker_definitions_declare_the_queue_exactly_as_the_worker_does(worker: &Worker) {
    let setup = Setup::new(worker.spec).await;
    let mut routing_keys = setup
        .declare_from_definitions(&(worker.spec.queue_name)("portolan"))
        .await;

    routing_keys.sort();
    let mut expected: Vec<&str> = worker.spec.bindings.to_vec();
    expected.sort();
    assert_eq!(routing_keys, expected);

    let shutdown = CancellationToken::new();
    let running = (worker.start)(setup.config.clone(), shutdown.clone())
        .await
        .unwrap();
    shutdown.cancel();
    running.wait().await.unwrap();

    let queue = worker.spec.queue(&setup.config);
    setup.cleanup(&queue).await;
}
