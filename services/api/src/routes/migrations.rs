//! `/v1/migrations`: async data migrations (delete-all-entities jobs).

use actix_web::web::Path;
use actix_web::{HttpResponse, get, post};
use portolan_store::jobs;

use super::ok;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;

/// List migrations
#[utoipa::path(tag = "Migrations", security(("bearer" = [])),
    responses((status = 200, body = MigrationsResponse), (status = 401, body = ErrorBody)))]
#[get("/migrations")]
pub async fn list_migrations(caller: Caller) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
    let all = jobs::list(&t).await?;
    // Admins see every migration; a moderator those of its blueprints; others none.
    let visible: Vec<_> = all.into_iter().filter(|m| visible(&caller, m)).collect();
    Ok(ok("migrations", visible))
}

/// Get a migration
#[utoipa::path(tag = "Migrations", security(("bearer" = [])),
    responses((status = 200, body = MigrationResponse), (status = 404, body = ErrorBody)))]
#[get("/migrations/{id}")]
pub async fn get_migration(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
    let m = jobs::get(&t, &path).await?;
    if !visible(&caller, &m) {
        return Err(portolan_store::StoreError::not_found("migration", path.as_str()).into());
    }
    Ok(ok("migration", m))
}

/// Cancel a migration
///
/// A pending migration is cancelled at once; a running one after its current batch
/// (`PENDING_CANCELLATION`, then `CANCELLED`). 409 when it has already ended.
#[utoipa::path(tag = "Migrations", security(("bearer" = [])),
    responses((status = 200, body = MigrationResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/migrations/{id}/cancel")]
pub async fn cancel_migration(
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
    if !visible(&caller, &jobs::get(&t, &path).await?) {
        return Err(portolan_store::StoreError::not_found("migration", path.as_str()).into());
    }
    let m = jobs::cancel(&t, &path, &caller.actor).await?;
    t.commit().await?;
    Ok(ok("migration", m))
}

/// A migration is visible to Admins and to the moderators of its blueprint.
fn visible(caller: &Caller, m: &serde_json::Value) -> bool {
    m.get("sourceBlueprint")
        .and_then(serde_json::Value::as_str)
        .map_or(caller.principal.is_admin(), |bp| {
            caller.principal.moderates(bp)
        })
}
