//! `GET /healthz` (the process is alive) and `GET /readyz` (its database and bus answer).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use portolan_bus::Bus;
use portolan_store::Store;
use serde_json::json;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// What `/readyz` checks.
#[derive(Clone)]
pub struct Checks {
    pub store: Store,
    pub bus: Arc<dyn Bus>,
}

/// Binds `addr` and returns the bound address and the server, which the caller spawns and
/// stops through its handle.
pub fn serve(
    addr: &str,
    checks: Checks,
    shutdown_timeout_secs: u64,
) -> anyhow::Result<(SocketAddr, Server)> {
    let checks = web::Data::new(checks);
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

async fn readyz(checks: web::Data<Checks>) -> HttpResponse {
    let (database, bus) = tokio::join!(
        check("database", checks.store.ping()),
        check("bus", checks.bus.health())
    );
    let body = json!({
        "ok": database && bus,
        "checks": {"database": verdict(database), "bus": verdict(bus)},
    });
    if database && bus {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn check<E: std::fmt::Display>(
    name: &str,
    probe: impl std::future::Future<Output = Result<(), E>>,
) -> bool {
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(check = name, %error, "readiness check failed");
            false
        }
        Err(_) => {
            tracing::warn!(check = name, timeout = ?CHECK_TIMEOUT, "readiness check timed out");
            false
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "unavailable" }
}
