//! `/v1/teams`: Port's teams. Reading is open to every member of the org; changes need Admin.

use actix_web::web::Path;
use actix_web::{HttpResponse, delete, get, patch, post, put};
use portolan_domain::Issues;
use portolan_store::identity::{self, TeamInput};
use serde_json::{Value, json};

use super::ok;
use super::users::{opt_string, string_list};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};

fn input(body: &Value) -> Result<(Option<String>, TeamInput), ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid(
            "",
            "the body must be an object: {name, description, users}",
        ));
    }
    let mut issues = Issues::default();
    let name = opt_string(body, "name", 100, &mut issues);
    let input = TeamInput {
        description: opt_string(body, "description", 1000, &mut issues),
        users: string_list(body, "users", "/users", &mut issues),
    };
    issues.into_result((name, input)).map_err(ApiError::Invalid)
}

/// List teams
#[utoipa::path(tag = "Teams", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
#[get("/teams")]
pub async fn list_teams(caller: Caller) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
    Ok(ok("teams", identity::list_teams(&t).await?))
}

/// Create a team
///
/// `{name, description?, users?: [emails]}`; the users must exist.
#[utoipa::path(tag = "Teams", security(("bearer" = [])), request_body = Object,
    responses((status = 201, body = Object), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/teams")]
pub async fn create_team(caller: Caller, body: JsonBody) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (name, input) = input(&body.0)?;
    let name = name.ok_or_else(|| ApiError::invalid("/name", "`name` is required"))?;
    let t = caller.tenant().await?;
    let team = identity::create_team(&t, &name, input, &caller.actor).await?;
    t.commit().await?;
    Ok(HttpResponse::Created().json(super::envelope("team", team)))
}

/// Get a team
#[utoipa::path(tag = "Teams", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
#[get("/teams/{name}")]
pub async fn get_team(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
    Ok(ok("team", identity::get_team(&t, &path).await?))
}

/// Replace a team
///
/// `{name?, description, users}`: what is not given is emptied.
#[utoipa::path(tag = "Teams", security(("bearer" = [])), request_body = Object,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/teams/{name}")]
pub async fn replace_team(
    caller: Caller,
    path: Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (name, mut input) = input(&body.0)?;
    input.description.get_or_insert_with(String::new);
    input.users.get_or_insert_with(Vec::new);
    let t = caller.tenant().await?;
    let team = identity::update_team(&t, &path, name.as_deref(), input, &caller.actor).await?;
    t.commit().await?;
    Ok(ok("team", team))
}

/// Change a team
///
/// `{name?, description?, users?}`: only what is given changes. A team that owns entities
/// cannot be renamed.
#[utoipa::path(tag = "Teams", security(("bearer" = [])), request_body = Object,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/teams/{name}")]
pub async fn patch_team(
    caller: Caller,
    path: Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (name, input) = input(&body.0)?;
    let t = caller.tenant().await?;
    let team = identity::update_team(&t, &path, name.as_deref(), input, &caller.actor).await?;
    t.commit().await?;
    Ok(ok("team", team))
}

/// Delete a team
///
/// Refused (`has_dependents`) while entities are owned by it.
#[utoipa::path(tag = "Teams", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[delete("/teams/{name}")]
pub async fn delete_team(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let t = caller.tenant().await?;
    identity::delete_team(&t, &path, &caller.actor).await?;
    t.commit().await?;
    Ok(HttpResponse::Ok().json(json!({"ok": true})))
}
