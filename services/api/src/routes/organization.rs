//! `/v1/organization`: the caller's organization (name and settings) and its encrypted
//! secrets. Secret values are write-only: every answer carries metadata alone.

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use portolan_domain::Issues;
use portolan_store::{org_settings, secrets};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use super::{envelope, ok};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;
use crate::state::AppState;

fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::invalid("", "the body must be a JSON object"))
}

/// A string member: absent or `null` is `None`; any other non-string is an issue. The
/// message never repeats the value (it may be a secret).
fn opt_string(body: &Map<String, Value>, key: &str, issues: &mut Issues) -> Option<String> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            issues.push(format!("/{key}"), "must be a string");
            None
        }
    }
}

fn required_string(body: &Map<String, Value>, key: &str, issues: &mut Issues) -> Option<String> {
    if body.get(key).is_none_or(Value::is_null) {
        issues.push(format!("/{key}"), "is required");
        return None;
    }
    opt_string(body, key, issues)
}

/// Get the organization
///
/// Any caller of the organization may read it.
#[utoipa::path(tag = "Organization", security(("bearer" = [])),
    responses((status = 200, body = OrganizationResponse), (status = 401, body = ErrorBody)))]
#[get("/organization")]
pub async fn get_own_organization(caller: Caller) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
    Ok(ok(
        "organization",
        org_settings::get_organization(&t).await?,
    ))
}

async fn change_organization(
    state: &AppState,
    caller: &Caller,
    body: &Value,
    replace: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = object(body)?;
    let mut issues = Issues::default();
    let name = if replace {
        required_string(body, "name", &mut issues)
    } else {
        opt_string(body, "name", &mut issues)
    };
    let settings = body.get("settings").filter(|v| !v.is_null()).cloned();
    if !replace && name.is_none() && settings.is_none() && issues.is_empty() {
        issues.push("", "give name, settings or both");
    }
    if !issues.is_empty() {
        return Err(ApiError::Invalid(issues));
    }
    let t = caller.tenant().await?;
    let org = org_settings::update_organization(&t, name, settings, replace, &caller.actor).await?;
    t.commit().await?;
    // New budgets apply on this instance at once (on others within the cache's few seconds).
    state.forget_org(caller.org);
    Ok(ok("organization", org))
}

/// Replace the organization's name and settings
///
/// `settings` replaces the stored object whole (absent: emptied). Admin only.
#[utoipa::path(tag = "Organization", security(("bearer" = [])), request_body = OrganizationBody,
    responses((status = 200, body = OrganizationResponse), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[put("/organization")]
pub async fn replace_own_organization(
    state: Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    change_organization(&state, &caller, &body.0, true).await
}

/// Update the organization (merge)
///
/// `name` is replaced when given; the top-level members of `settings` are merged onto the
/// stored settings, a `null` member removing it. Admin only.
#[utoipa::path(tag = "Organization", security(("bearer" = [])), request_body = OrganizationBody,
    responses((status = 200, body = OrganizationResponse), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
#[patch("/organization")]
pub async fn patch_own_organization(
    state: Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    change_organization(&state, &caller, &body.0, false).await
}

/// Create an organization secret
///
/// The value is encrypted (AES-256-GCM) before it is stored and is never returned. Admin only.
#[utoipa::path(tag = "Organization", security(("bearer" = [])), request_body = OrganizationSecretBody,
    responses((status = 201, body = OrganizationSecretResponse), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/organization/secrets")]
pub async fn create_organization_secret(
    state: Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = object(&body.0)?;
    let mut issues = Issues::default();
    let name = required_string(body, "secretName", &mut issues);
    let value = required_string(body, "secretValue", &mut issues).map(SecretString::from);
    let description = opt_string(body, "description", &mut issues);
    let (Some(name), Some(value), true) = (name, value, issues.is_empty()) else {
        return Err(ApiError::Invalid(issues));
    };
    let t = caller.tenant().await?;
    let secret = secrets::create(
        &t,
        &state.secrets,
        &name,
        &value,
        description.as_deref(),
        &caller.actor,
    )
    .await?;
    t.commit().await?;
    Ok(HttpResponse::Created().json(envelope("secret", secret)))
}

/// List the organization's secrets
///
/// Metadata only: names, descriptions and times, never values. Admin only.
#[utoipa::path(tag = "Organization", security(("bearer" = [])),
    responses((status = 200, body = OrganizationSecretsResponse), (status = 403, body = ErrorBody)))]
#[get("/organization/secrets")]
pub async fn list_organization_secrets(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let t = caller.tenant().await?;
    Ok(ok("secrets", secrets::list(&t).await?))
}

/// Get an organization secret's metadata
///
/// Never the value. Admin only.
#[utoipa::path(tag = "Organization", security(("bearer" = [])),
    responses((status = 200, body = OrganizationSecretResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[get("/organization/secrets/{name}")]
pub async fn get_organization_secret(
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let t = caller.tenant().await?;
    Ok(ok("secret", secrets::get(&t, &path).await?))
}

/// Update an organization secret
///
/// A new `secretValue` is encrypted with the current primary key. Admin only.
#[utoipa::path(tag = "Organization", security(("bearer" = [])), request_body = OrganizationSecretPatchBody,
    responses((status = 200, body = OrganizationSecretResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/organization/secrets/{name}")]
pub async fn patch_organization_secret(
    state: Data<AppState>,
    caller: Caller,
    path: Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = object(&body.0)?;
    let mut issues = Issues::default();
    let value = opt_string(body, "secretValue", &mut issues).map(SecretString::from);
    let description = opt_string(body, "description", &mut issues);
    if !issues.is_empty() {
        return Err(ApiError::Invalid(issues));
    }
    let t = caller.tenant().await?;
    let secret = secrets::update(
        &t,
        &state.secrets,
        &path,
        value.as_ref(),
        description.as_deref(),
        &caller.actor,
    )
    .await?;
    t.commit().await?;
    Ok(ok("secret", secret))
}

/// Delete an organization secret
///
/// Admin only.
#[utoipa::path(tag = "Organization", security(("bearer" = [])),
    responses((status = 200, body = OkResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
#[delete("/organization/secrets/{name}")]
pub async fn delete_organization_secret(
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let t = caller.tenant().await?;
    secrets::delete(&t, &path, &caller.actor).await?;
    t.commit().await?;
    Ok(HttpResponse::Ok().json(json!({"ok": true})))
}
