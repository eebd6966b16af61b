//! `/v1/users`: list, read, invite, change roles and teams, remove; passwords and personal
//! credentials. Reading is open to every member of the org; changes need Admin (a user may
//! set its own password and rotate its own credentials).

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, delete, get, patch, post, put};
use portolan_auth::secret::{generate_client_id, generate_client_secret, hash_secret};
use portolan_domain::Issues;
use portolan_store::identity::{self, NewUser, UserPatch, normalize_email};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::ok;
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Shortest and longest password accepted (OWASP: at least 12; long passphrases welcome).
pub const MIN_PASSWORD: usize = 12;
pub const MAX_PASSWORD: usize = 1024;

pub(crate) fn email_of(raw: &str, pointer: &str) -> Result<String, ApiError> {
    normalize_email(raw).map_err(|m| ApiError::invalid(pointer, m))
}

/// An optional array of strings member; `Err` records an issue.
pub(crate) fn string_list(
    body: &Value,
    key: &str,
    pointer: &str,
    issues: &mut Issues,
) -> Option<Vec<String>> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if items.len() <= 500 => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) if !s.is_empty() && s.len() <= 254 => out.push(s.to_owned()),
                    _ => issues.push(format!("{pointer}/{i}"), "must be a non-empty string"),
                }
            }
            Some(out)
        }
        Some(_) => {
            issues.push(pointer, "must be an array of at most 500 strings");
            None
        }
    }
}

pub(crate) fn opt_string(
    body: &Value,
    key: &str,
    max: usize,
    issues: &mut Issues,
) -> Option<String> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= max => Some(s.clone()),
        Some(_) => {
            issues.push(
                format!("/{key}"),
                format!("must be a string of at most {max} characters"),
            );
            None
        }
    }
}

/// List users
#[utoipa::path(tag = "Users", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
#[get("/users")]
pub async fn list_users(caller: Caller) -> Result<HttpResponse, ApiError> {
    let t = caller.tenant().await?;
    Ok(ok("users", identity::list_users(&t).await?))
}

/// Get a user
#[utoipa::path(tag = "Users", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
#[get("/users/{email}")]
pub async fn get_user(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    let email = email_of(&path, "")?;
    let t = caller.tenant().await?;
    Ok(ok("user", identity::get_user(&t, &email).await?))
}

/// Invite a user
///
/// `{invitee: {email, roles?, teams?, firstName?, lastName?}}`. The user starts `Invited`;
/// the answer carries a one-time `inviteToken` (valid 7 days) that
/// `POST /v1/auth/accept-invite` exchanges, with a password, for an active account.
#[utoipa::path(tag = "Users", security(("bearer" = [])), request_body = Object,
    responses((status = 201, body = Object), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/users/invite")]
pub async fn invite_user(
    state: Data<AppState>,
    caller: Caller,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let invitee = body
        .0
        .get("invitee")
        .filter(|v| v.is_object())
        .ok_or_else(|| {
            ApiError::invalid("/invitee", "`invitee` is required: {email, roles, teams}")
        })?;
    let email = match invitee.get("email").and_then(Value::as_str) {
        Some(e) => email_of(e, "/invitee/email")?,
        None => return Err(ApiError::invalid("/invitee/email", "`email` is required")),
    };
    let mut issues = Issues::default();
    let roles = string_list(invitee, "roles", "/invitee/roles", &mut issues)
        .unwrap_or_else(|| vec![portolan_domain::permission::MEMBER.to_owned()]);
    let teams = string_list(invitee, "teams", "/invitee/teams", &mut issues).unwrap_or_default();
    let first = opt_string(invitee, "firstName", 200, &mut issues).unwrap_or_default();
    let last = opt_string(invitee, "lastName", 200, &mut issues).unwrap_or_default();
    issues.into_result(()).map_err(ApiError::Invalid)?;
    let t = caller.tenant().await?;
    let user = identity::create_user(
        &t,
        NewUser {
            email: email.clone(),
            first_name: first,
            last_name: last,
            roles,
            teams,
            status: "Invited".into(),
            password_hash: None,
            provider: "password".into(),
        },
        &caller.actor,
    )
    .await
    .map_err(|e| match e {
        portolan_store::StoreError::Invalid(mut issues) => {
            for i in &mut issues.0 {
                i.pointer = format!("/invitee{}", i.pointer);
            }
            ApiError::Invalid(issues)
        }
        other => other.into(),
    })?;
    let found = identity::find_user(&t, &email)
        .await?
        .ok_or_else(|| ApiError::Internal("invited user vanished".into()))?;
    t.commit().await?;
    let invite = state
        .issuer()
        .issue_invite(caller.org.0, &found.id.to_string(), found.token_version)
        .map_err(|e| ApiError::Internal(format!("cannot sign an invitation: {e}")))?;
    let mut res = super::envelope("user", user);
    res["inviteToken"] = json!(invite.token);
    Ok(HttpResponse::Created().json(res))
}

/// Change a user's roles, teams or status
///
/// `{roles?, teams?, status?, firstName?, lastName?}`. Disabling a user or taking a role away
/// ends its current tokens at once.
#[utoipa::path(tag = "Users", security(("bearer" = [])), request_body = Object,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/users/{email}")]
pub async fn patch_user(
    caller: Caller,
    path: Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let email = email_of(&path, "")?;
    if !body.0.is_object() {
        return Err(ApiError::invalid("", "the body must be an object"));
    }
    let mut issues = Issues::default();
    let patch = UserPatch {
        roles: string_list(&body.0, "roles", "/roles", &mut issues),
        teams: string_list(&body.0, "teams", "/teams", &mut issues),
        status: opt_string(&body.0, "status", 16, &mut issues),
        first_name: opt_string(&body.0, "firstName", 200, &mut issues),
        last_name: opt_string(&body.0, "lastName", 200, &mut issues),
    };
    issues.into_result(()).map_err(ApiError::Invalid)?;
    let t = caller.tenant().await?;
    let user = identity::update_user(&t, &email, patch, &caller.actor).await?;
    t.commit().await?;
    Ok(ok("user", user))
}

/// Remove a user
///
/// Its memberships and personal credentials go with it; its tokens stop working at once.
#[utoipa::path(tag = "Users", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/users/{email}")]
pub async fn delete_user(caller: Caller, path: Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let email = email_of(&path, "")?;
    let t = caller.tenant().await?;
    identity::delete_user(&t, &email, &caller.actor).await?;
    t.commit().await?;
    Ok(HttpResponse::Ok().json(json!({"ok": true})))
}

fn is_self(caller: &Caller, email: &str) -> bool {
    caller.principal.email.as_deref() == Some(email)
}

/// Checks a new password's length (the hash is computed by the caller).
pub(crate) fn password_of(body: &Value, key: &str) -> Result<SecretString, ApiError> {
    match body.get(key).and_then(Value::as_str) {
        Some(p) if (MIN_PASSWORD..=MAX_PASSWORD).contains(&p.chars().count()) => {
            Ok(SecretString::from(p.to_owned()))
        }
        _ => Err(ApiError::invalid(
            &format!("/{key}"),
            format!("`{key}` must be a string of {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        )),
    }
}

/// Set a user's password
///
/// `{password}` (12 to 1024 characters). An Admin, or the user itself. The user's existing
/// tokens stop working.
#[utoipa::path(tag = "Users", security(("bearer" = [])), request_body = Object,
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/users/{email}/password")]
pub async fn set_password(
    caller: Caller,
    path: Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let email = email_of(&path, "")?;
    if !is_self(&caller, &email) {
        caller.require_admin()?;
    }
    let password = password_of(&body.0, "password")?;
    let hash = hash_secret(password)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let t = caller.tenant().await?;
    identity::set_password(&t, &email, hash, &caller.actor).await?;
    t.commit().await?;
    Ok(HttpResponse::Ok().json(json!({"ok": true})))
}

/// Rotate a user's personal credentials
///
/// New `clientId`/`clientSecret` for the user (shown once); the previous ones, and the
/// tokens issued from them, stop working. An Admin, or the user itself.
#[utoipa::path(tag = "Users", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/rotate-credentials/{email}")]
pub async fn rotate_credentials(
    caller: Caller,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let email = email_of(&path, "")?;
    if !is_self(&caller, &email) {
        caller.require_admin()?;
    }
    let t = caller.tenant().await?;
    let user = identity::find_user(&t, &email)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            resource: "user",
            identifier: email.clone(),
        })?;
    let client_id = generate_client_id();
    let secret = generate_client_secret();
    let hash = hash_secret(SecretString::from(secret.expose_secret().to_owned()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    identity::rotate_personal_credentials(
        &t,
        user.id,
        &email,
        client_id.clone(),
        hash,
        &caller.actor,
    )
    .await?;
    t.commit().await?;
    Ok(HttpResponse::Ok().json(json!({
        "ok": true,
        "credentials": {"clientId": client_id, "clientSecret": secret.expose_secret()},
    })))
}
