//! `/v1/apps`: the org's credential sets. Admin only. A secret is shown once, at creation or
//! rotation, and stored as an argon2id hash.

use actix_web::web::Path;
use actix_web::{HttpResponse, delete, get, post, put};
use portolan_auth::secret::{generate_client_id, generate_client_secret, hash_secret};
use portolan_domain::Issues;
use portolan_store::identity::{self, NewApp};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::ok;
use super::users::{opt_string, string_list};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};

struct AppInput {
    name: Option<String>,
    roles: Option<Vec<String>>,
    enabled: Option<bool>,
}

fn input(body: &Value) -> Result<AppInput, ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid(
            "",
            "the body must be an object: {name, roles, enabled}",
        ));
    }
    let mut issues = Issues::default();
    let name = opt_string(body, "name", 200, &mut issues);
    if name.as_ref().is_some_and(|n| n.trim().is_empty()) {
        issues.push("/name", "must not be empty");
    }
    let roles = string_list(body, "roles", "/roles", &mut issues);
    let enabled = match body.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            issues.push("/enabled", "must be a boolean");
            None
        }
    };
    issues
        .into_result(AppInput {
            name,
            roles,
            enabled,
        })
        .map_err(ApiError::Invalid)
}

async fn new_secret() -> Result<(SecretString, String), ApiError> {
    let secret = generate_client_secret();
    let hash = hash_secret(SecretString::from(secret.expose_secret().to_owned()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((secret, hash))
}

fn with_secret(app: Value, secret: &SecretString) -> Value {
    let mut res = super::envelope("app", app);
    res["clientSecret"] = json!(secret.expose_secret());
    res
}

/// List credential sets
#[utoipa::path(tag = "Apps", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
#[get("/apps")]
pub async fn list_apps(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let t = caller.tenant().await?;
    Ok(ok("apps", identity::list_apps(&t).await?))
}

/// Create a credential set
///
/// `{name, roles?: ["Admin"], enabled?: true}`. The answer carries `clientSecret`, shown
/// this once.
#[utoipa::path(tag = "Apps", security(("bearer" = [])), request_body = Object,
    responses((status = 201, body = Object), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/apps")]
pub async fn create_app(caller: Caller, body: JsonBody) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let input = input(&body.0)?;
    let name = input
        .name
        .ok_or_else(|| ApiError::invalid("/name", "`name` is required"))?;
    let (secret, secret_hash) = new_secret().await?;
    let t = caller.tenant().await?;
    let app = identity::create_app(
        &t,
        NewApp {
            name,
            client_id: generate_client_id(),
            secret_hash,
            roles: input
                .roles
                .unwrap_or_else(|| vec![portolan_domain::permission::ADMIN.to_owned()]),
            enabled: input.enabled.unwrap_or(true),
        },
        &caller.actor,
    )
    .await?;
    t.commit().await?;
    Ok(HttpResponse::Created().json(with_secret(app, &secret)))
}

/// Get a credential set
#[utoipa::path(tag = "Apps", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/apps/{id}")]
pub async fn get_app(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let t = caller.tenant().await?;
    Ok(ok("app", identity::get_app(&t, &path).await?))
}

/// Change a credential set
///
/// `{name?, roles?, enabled?}`. Disabling it or taking a role away ends its tokens at once.
#[utoipa::path(tag = "Apps", security(("bearer" = [])), request_body = Object,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/apps/{id}")]
pub async fn update_app(
    caller: Caller,
    path: Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let input = input(&body.0)?;
    let t = caller.tenant().await?;
    let app = identity::update_app(
        &t,
        &path,
        input.name,
        input.roles,
        input.enabled,
        &caller.actor,
    )
    .await?;
    t.commit().await?;
    Ok(ok("app", app))
}

/// Delete a credential set
///
/// Its secret and every token issued from it stop working at once.
#[utoipa::path(tag = "Apps", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/apps/{id}")]
pub async fn delete_app(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let t = caller.tenant().await?;
    identity::delete_app(&t, &path, &caller.actor).await?;
    t.commit().await?;
    Ok(HttpResponse::Ok().json(json!({"ok": true})))
}

/// Rotate a credential set's secret
///
/// The answer carries the new `clientSecret`, shown this once; the old secret and every
/// token issued from it stop working at once.
#[utoipa::path(tag = "Apps", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/apps/{id}/rotate-secret")]
pub async fn rotate_secret(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (secret, hash) = new_secret().await?;
    let t = caller.tenant().await?;
    let app = identity::rotate_app_secret(&t, &path, hash, &caller.actor).await?;
    t.commit().await?;
    Ok(HttpResponse::Ok().json(with_secret(app, &secret)))
}
