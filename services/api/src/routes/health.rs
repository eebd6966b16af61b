//! Liveness and readiness.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use serde_json::json;

use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(tag = "Health", responses((status = 200, description = "alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true}))
}

/// Readiness: the database answers.
#[utoipa::path(tag = "Health", responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
#[get("/readyz")]
pub async fn readyz(state: Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({"ok": true, "database": "up"})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            HttpResponse::ServiceUnavailable().json(json!({"ok": false, "database": "down"}))
        }
    }
}
