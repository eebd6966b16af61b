//! `/v1/migrations`: async data migrations (delete-all-entities jobs).

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get, post};
use portolan_store::jobs;

use super::ok;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;
use crate::state::AppState;

/// List migrations
#[utoipa::path(tag = "Migrations", security(("bearer" = [])),
    responses((status = 200, body = MigrationsResponse), (status = 401, body = ErrorBody)))]
#[get("/migrations")]
pub async fn list_migrations(
    state: Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let t = state.store.tenant(caller.org).await?;
    Ok(ok("migrations", jobs::list(&t).await?))
}

/// Get a migration
#[utoipa::path(tag = "Migrations", security(("bearer" = [])),
    responses((status = 200, body = MigrationResponse), (status = 404, body = ErrorBody)))]
#[get("/migrations/{id}")]
pub async fn get_migration(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = state.store.tenant(caller.org).await?;
    Ok(ok("migration", jobs::get(&t, &path).await?))
}

/// Cancel a migration
///
/// A pending migration is cancelled at once; a running one after its current batch
/// (`PENDING_CANCELLATION`, then `CANCELLED`). 409 when it has already ended.
#[utoipa::path(tag = "Migrations", security(("bearer" = [])),
    responses((status = 200, body = MigrationResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/migrations/{id}/cancel")]
pub async fn cancel_migration(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = state.store.tenant(caller.org).await?;
    let m = jobs::cancel(&t, &path, &caller.actor).await?;
    t.commit().await?;
    Ok(ok("migration", m))
}
