use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use portolan_config::Config;
use portolan_runtime::{Background, HealthAddr, WorkerSpec};
use portolan_test_support::sqlite_url;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::get;

fn queue_name(prefix: &str) -> String {
    format!("{prefix}.test")
}

/// Embedded defaults: a SQLite file in `dir`, the in-process bus, health on a free port.
fn config(dir: &tempfile::TempDir) -> Config {
    Config {
        database_url: Some(sqlite_url(dir).into()),
        automation_health_addr: "127.0.0.1:0".to_owned(),
        shutdown_timeout_secs: 1,
        ..Config::default()
    }
}

static STOPPED: AtomicBool = AtomicBool::new(false);

static POLITE: WorkerSpec = WorkerSpec {
    name: "polite worker",
    connection_name: "portolan-polite-worker",
    queue_name,
    bindings: &["test.#"],
    health_addr: HealthAddr::Automation,
    background: Some(Background {
        name: "polite task",
        run: |_store, stop| {
            Box::pin(async move {
                stop.cancelled().await;
                STOPPED.store(true, Ordering::SeqCst);
            })
        },
    }),
};

/// The background task runs until shutdown; the worker returns only once it has stopped.
#[tokio::test]
async fn the_worker_stops_its_background_task_before_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let running = POLITE.start(config(&dir), shutdown.clone()).await.unwrap();
    let (status, body) = get(running.health_addr(), "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"], json!({"database": "ok", "bus": "ok"}));
    assert!(!STOPPED.load(Ordering::SeqCst));

    shutdown.cancel();
    running.wait().await.unwrap();
    assert!(STOPPED.load(Ordering::SeqCst));
}

static STUBBORN: WorkerSpec = WorkerSpec {
    name: "stubborn worker",
    background: Some(Background {
        name: "stubborn task",
        run: |_store, _stop| Box::pin(std::future::pending()),
    }),
    ..POLITE
};

/// A background task that ignores its token is aborted after the shutdown grace.
#[tokio::test]
async fn a_background_task_that_does_not_stop_is_aborted_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let running = STUBBORN
        .start(config(&dir), shutdown.clone())
        .await
        .unwrap();

    let stopping = Instant::now();
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), running.wait()).await;
    stopped
        .expect("the worker must stop once the grace is over")
        .unwrap();
    // The grace is `shutdown_timeout_secs` (1 s here).
    assert!(stopping.elapsed() >= Duration::from_secs(1));
}

/// A health address that cannot be bound fails the start, and says so.
#[tokio::test]
async fn start_fails_when_the_health_address_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = config(&dir);
    *HealthAddr::Automation.get_mut(&mut config) = taken.local_addr().unwrap().to_string();

    let error = POLITE
        .start(config, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("cannot listen on"),
        "{error:#}"
    );
}

#[test]
fn health_addr_settings_name_their_environment_variables() {
    assert_eq!(
        HealthAddr::Ingestion.env_var(),
        "PORTOLAN_INGESTION_HEALTH_ADDR"
    );
    assert_eq!(
        HealthAddr::Automation.env_var(),
        "PORTOLAN_AUTOMATION_HEALTH_ADDR"
    );
    let config = Config::default();
    assert_eq!(
        HealthAddr::Ingestion.get(&config),
        config.ingestion_health_addr
    );
}
