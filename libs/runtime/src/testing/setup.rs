//! The fixtures of the worker suite: a migrated PostgreSQL database and a config on unique
//! RabbitMQ names, the broker checks and clean-up, and HTTP helpers for the health server.

use std::net::SocketAddr;
use std::time::Duration;

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use secrecy::SecretString;
use serde_json::Value;

use portolan_bus::{dead_letter_exchange, dead_letter_queue};
use portolan_config::Config;
use portolan_store::Store;
use portolan_test_support::{TestDatabase, amqp_url, fresh_postgres, unique_suffix};

use crate::WorkerSpec;

/// A migrated database and a config pointing at it, at RabbitMQ with unique exchange and
/// queue names, and with the worker's health endpoint on a free port.
pub struct Setup {
    pub config: Config,
    pub database: TestDatabase,
}

impl Setup {
    pub async fn new(spec: &WorkerSpec) -> Self {
        let database = fresh_postgres().await;
        let store = Store::connect(&database.url, 5).await.unwrap();
        store.migrate().await.unwrap();
        store.close().await.unwrap();
        let suffix = unique_suffix();
        let mut config = Config {
            database_url: Some(SecretString::from(database.url.clone())),
            db_max_connections: 2,
            amqp_url: Some(SecretString::from(amqp_url())),
            amqp_exchange: format!("portolan.test.{suffix}.events"),
            amqp_queue_prefix: format!("portolan.test.{suffix}"),
            shutdown_timeout_secs: 5,
            ..Config::default()
        };
        *spec.health_addr.get_mut(&mut config) = "127.0.0.1:0".to_owned();
        Setup { config, database }
    }

    /// Does the durable queue exist on the broker? (A passive declare fails when it does not.)
    pub async fn queue_exists(&self, queue: &str) -> bool {
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let options = QueueDeclareOptions {
            passive: true,
            durable: true,
            ..Default::default()
        };
        let exists = channel
            .queue_declare(queue.into(), options, FieldTable::default())
            .await
            .is_ok();
        let _ = connection.close(200, "checked".into()).await;
        exists
    }

    /// Declares on the broker what `deploy/rabbitmq/definitions.json` says about the queue it
    /// names `default_queue` (its dead-letter queue, both exchanges, their bindings), renamed
    /// to this test's exchange and queue prefix. Returns the routing keys binding the queue to
    /// the events exchange.
    pub async fn declare_from_definitions(&self, default_queue: &str) -> Vec<String> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/rabbitmq/definitions.json"
        );
        let definitions: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let rename = |name: &str| -> String {
            if let Some(rest) = name.strip_prefix("portolan.events") {
                format!("{}{rest}", self.config.amqp_exchange)
            } else if let Some(rest) = name.strip_prefix("portolan.") {
                format!("{}.{rest}", self.config.amqp_queue_prefix)
            } else {
                name.to_owned()
            }
        };
        let ours = [default_queue.to_owned(), dead_letter_queue(default_queue)];
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        for exchange in definitions["exchanges"].as_array().unwrap() {
            let kind = match exchange["type"].as_str().unwrap() {
                "topic" => ExchangeKind::Topic,
                other => panic!("unexpected exchange type {other}"),
            };
            let options = ExchangeDeclareOptions {
                durable: exchange["durable"].as_bool().unwrap(),
                ..Default::default()
            };
            let name = rename(exchange["name"].as_str().unwrap());
            channel
                .exchange_declare(name.as_str().into(), kind, options, FieldTable::default())
                .await
                .unwrap();
        }
        for queue in definitions["queues"].as_array().unwrap() {
            if !ours
                .iter()
                .any(|name| name == queue["name"].as_str().unwrap())
            {
                continue;
            }
            let mut arguments = FieldTable::default();
            for (key, value) in queue["arguments"].as_object().unwrap() {
                let value = match value {
                    Value::String(text) => AMQPValue::LongString(rename(text).as_str().into()),
                    Value::Number(number) => AMQPValue::LongLongInt(number.as_i64().unwrap()),
                    Value::Bool(flag) => AMQPValue::Boolean(*flag),
                    other => panic!("unexpected queue argument {key}: {other}"),
                };
                arguments.insert(key.as_str().into(), value);
            }
            let options = QueueDeclareOptions {
                durable: queue["durable"].as_bool().unwrap(),
                ..Default::default()
            };
            let name = rename(queue["name"].as_str().unwrap());
            channel
                .queue_declare(name.as_str().into(), options, arguments)
                .await
                .unwrap();
        }
        let mut routing_keys = Vec::new();
        for binding in definitions["bindings"].as_array().unwrap() {
            let destination = binding["destination"].as_str().unwrap();
            if !ours.iter().any(|name| name == destination) {
                continue;
            }
            let source = binding["source"].as_str().unwrap();
            let routing_key = binding["routing_key"].as_str().unwrap();
            if destination == default_queue && source == "portolan.events" {
                routing_keys.push(routing_key.to_owned());
            }
            channel
                .queue_bind(
                    rename(destination).as_str().into(),
                    rename(source).as_str().into(),
                    rename(routing_key).as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
        }
        let _ = connection.close(200, "declared".into()).await;
        routing_keys
    }

    /// Removes the queues and exchanges and drops the database.
    pub async fn cleanup(self, queue: &str) {
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        for queue in [queue.to_owned(), dead_letter_queue(queue)] {
            let _ = channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let exchange = &self.config.amqp_exchange;
        for exchange in [exchange.clone(), dead_letter_exchange(exchange)] {
            let _ = channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
        let _ = connection.close(200, "test done".into()).await;
        self.database.drop_database().await;
    }
}

/// GETs `path` on the health server; returns the status and JSON body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    get_with(&reqwest::Client::new(), addr, path).await
}

/// Like [`get`], on `client` (whose idle keep-alive connection stays open afterwards).
pub async fn get_with(
    client: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
) -> (u16, serde_json::Value) {
    let response = client
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Is anything still accepting connections on `addr`?
pub async fn is_listening(addr: SocketAddr) -> bool {
    tokio::net::TcpStream::connect(addr).await.is_ok()
}
