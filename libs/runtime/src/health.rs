//! `GET /healthz` (the process is alive) and `GET /readyz` (every named check answers: for a
//! worker, its database and bus).

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use futures::future::{BoxFuture, join_all};
use portolan_bus::Bus;
use portolan_store::Store;
use serde_json::{Map, json};
use tokio::runtime::Handle;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

type Probe = Box<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// One thing `/readyz` checks, under the name its answer shows it by.
pub struct Check {
    name: &'static str,
    probe: Probe,
}

impl Check {
    /// A check named `name` that passes when `probe()` returns `Ok` within a few seconds.
    pub fn new<F, Fut, E>(name: &'static str, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        let probe: Probe = Box::new(move || {
            let probing = probe();
            Box::pin(async move { probing.await.map_err(|error| error.to_string()) })
        });
        Check { name, probe }
    }

    /// `database`: does the store answer a ping?
    pub fn database(store: Store) -> Self {
        Check::new("database", move || {
            let store = store.clone();
            async move { store.ping().await }
        })
    }

    /// `bus`: can the bus publish?
    pub fn bus(bus: Arc<dyn Bus>) -> Self {
        Check::new("bus", move || {
            let bus = bus.clone();
            async move { bus.health().await }
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the probe on `runtime`; a failure, a panic or a timeout is logged and counts as
    /// not ready.
    ///
    /// The health server answers on threads (and Tokio runtimes) of its own, which end when it
    /// stops. A probe run there that opened a connection (a database pool's, when its
    /// connections were busy) would leave it in the pool tied to a runtime that ends with the
    /// server, and the pool's next user would get "a Tokio context ... is being shut down".
    /// So each probe runs on the runtime that owns what it checks.
    async fn passes(&self, runtime: &Handle) -> bool {
        let mut probing = runtime.spawn((self.probe)());
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, &mut probing).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(join)) => Err(format!("the check panicked: {join}")),
            Err(_) => {
                probing.abort();
                tracing::warn!(check = self.name, timeout = ?CHECK_TIMEOUT, "readiness check timed out");
                return false;
            }
        };
        if let Err(error) = outcome {
            tracing::warn!(check = self.name, %error, "readiness check failed");
            return false;
        }
        true
    }
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("name", &self.name).finish()
    }
}

/// The checks, and the runtime their probes run on.
struct Checks {
    runtime: Handle,
    checks: Vec<Check>,
}

/// Binds `addr` and returns the bound address and the health server, which the caller spawns
/// and stops through its handle (it does not stop on signals of its own). Must be called
/// within the Tokio runtime that owns what the checks probe: they run there.
pub fn serve_health(
    addr: &str,
    checks: Vec<Check>,
    shutdown_timeout_secs: u64,
) -> anyhow::Result<(SocketAddr, Server)> {
    let runtime = Handle::try_current()
        .context("the health server must be started within a Tokio runtime")?;
    let checks = web::Data::new(Checks { runtime, checks });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(checks.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(shutdown_timeout_secs)
    .bind(addr)
    .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = server
        .addrs()
        .first()
        .copied()
        .context("the health server bound no address")?;
    Ok((bound, server.run()))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true}))
}

/// 200 when every check passes, else 503; the body names each check's verdict.
async fn readyz(checks: web::Data<Checks>) -> HttpResponse {
    let Checks { runtime, checks } = &**checks;
    let passed = join_all(checks.iter().map(|check| check.passes(runtime))).await;
    let ok = passed.iter().all(|&passed| passed);
    let verdicts: Map<_, _> = checks
        .iter()
        .zip(passed)
        .map(|(check, passed)| (check.name.to_owned(), json!(verdict(passed))))
        .collect();
    let body = json!({"ok": ok, "checks": verdicts});
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "unavailable" }
}
