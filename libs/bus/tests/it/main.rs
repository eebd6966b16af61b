//! Integration tests of the bus against the real RabbitMQ (`PORTOLAN_TEST_AMQP_URL`), each
//! test on its own exchange and queues.
#![allow(clippy::unwrap_used)]

mod amqp;
mod broker;
mod in_process;

use serde_json::json;
use uuid::Uuid;

use portolan_bus::Envelope;

fn event(r#type: &str) -> Envelope {
    Envelope::new(
        Uuid::new_v4(),
        42,
        r#type,
        json!({"type": "user", "id": "u-1"}),
        json!({"blueprint": "service", "entity": "checkout"}),
        json!({"before": null, "after": {"identifier": "checkout", "title": "Checkout"}}),
    )
}
