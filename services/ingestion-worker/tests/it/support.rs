use std::net::SocketAddr;
use std::time::Duration;

use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use secrecy::SecretString;

use portolan_bus::{dead_letter_exchange, dead_letter_queue};
use portolan_config::Config;
use portolan_store::Store;
use portolan_test_support::{TestDatabase, amqp_url, fresh_postgres, unique_suffix};

/// A migrated database and a config pointing at it, at RabbitMQ with unique exchange and
/// queue names, and with the health endpoint on a free port.
pub struct Setup {
    pub config: Config,
    pub database: TestDatabase,
}

impl Setup {
    pub async fn new() -> Self {
        let database = fresh_postgres().await;
        let store = Store::connect(&database.url, 5).await.unwrap();
        store.migrate().await.unwrap();
        store.close().await.unwrap();
        let suffix = unique_suffix();
        let config = Config {
            database_url: Some(SecretString::from(database.url.clone())),
            db_max_connections: 2,
            amqp_url: Some(SecretString::from(amqp_url())),
            amqp_exchange: format!("portolan.test.{suffix}.events"),
            amqp_queue_prefix: format!("portolan.test.{suffix}"),
            ingestion_health_addr: "127.0.0.1:0".to_owned(),
            shutdown_timeout_secs: 5,
            ..Config::default()
        };
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
