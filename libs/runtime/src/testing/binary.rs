//! The worker's own binary.

use std::process::Stdio;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use tokio::process::Command;

use super::{Setup, Worker, is_listening};

/// The binary reads its configuration from `PORTOLAN_*`, serves health, and exits cleanly on
/// SIGTERM.
pub async fn the_binary_runs_from_environment_variables_and_exits_cleanly_on_sigterm(
    worker: &Worker,
) {
    let setup = Setup::new(worker.spec).await;
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let config = &setup.config;
    let mut child = Command::new(worker.binary)
        .env_clear()
        .env(
            "PORTOLAN_DATABASE_URL",
            config.database_url.as_ref().unwrap().expose_secret(),
        )
        .env(
            "PORTOLAN_AMQP_URL",
            config.amqp_url.as_ref().unwrap().expose_secret(),
        )
        .env("PORTOLAN_AMQP_EXCHANGE", &config.amqp_exchange)
        .env("PORTOLAN_AMQP_QUEUE_PREFIX", &config.amqp_queue_prefix)
        .env(worker.spec.health_addr.env_var(), addr.to_string())
        .env("PORTOLAN_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = match reqwest::get(format!("http://{addr}/readyz")).await {
            Ok(response) => response.status() == 200,
            Err(_) => false,
        };
        if ok {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the worker exited before it was ready"
        );
        assert!(
            Instant::now() < deadline,
            "the worker was not ready within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let pid = child.id().unwrap().to_string();
    let signalled = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(signalled.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the worker must exit within 10 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(!is_listening(addr).await);

    let queue = worker.spec.queue(&setup.config);
    setup.cleanup(&queue).await;
}
