//! The operator API (`/operator/...`): organizations and signing keys, for whoever runs
//! Portolan. It is authenticated by the operator token from configuration
//! (`PORTOLAN_OPERATOR_TOKEN`), never by an org token, and is off (404) when none is set.

use actix_web::dev::Payload;
use actix_web::web::{Data, Path};
use actix_web::{FromRequest, HttpRequest, HttpResponse, delete, get, patch, post};
use futures::future::{Ready, ready};
use portolan_auth::jwt::generate_signing_key;
use portolan_auth::secret::{generate_client_id, generate_client_secret, hash_secret};
use portolan_domain::OrgId;
use portolan_domain::event::Actor;
use portolan_domain::permission::ADMIN;
use portolan_store::identity::{self, NewUser};
use portolan_store::orgs::{NewCredential, organization_json};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::bearer;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The operator, authenticated.
pub struct Operator;

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req))
    }
}

fn check(req: &HttpRequest) -> Result<Operator, ApiError> {
    let state = req
        .app_data::<Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let Some(expected) = &state.config.operator_token else {
        return Err(ApiError::RouteNotFound(format!(
            "{} {} (the operator API is off: set PORTOLAN_OPERATOR_TOKEN)",
            req.method(),
            req.path()
        )));
    };
    let given = bearer(req)?;
    // Compare digests in constant time: neither the length nor a prefix of the token leaks.
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.expose_secret().as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(Operator)
    } else {
        Err(ApiError::Unauthorized("invalid operator token".into()))
    }
}

fn operator_actor() -> Actor {
    Actor {
        by: "operator".into(),
        origin: "OPERATOR".into(),
        datasource: None,
    }
}

fn org_id(raw: &str) -> Result<OrgId, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(OrgId)
        .map_err(|_| ApiError::NotFound {
            resource: "organization",
            identifier: raw.to_owned(),
        })
}

/// List organizations
#[utoipa::path(tag = "Operator", security(("operator" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
#[get("/organizations")]
pub async fn list_organizations(
    state: Data<AppState>,
    _: Operator,
) -> Result<HttpResponse, ApiError> {
    let orgs: Vec<Value> = state
        .store
        .list_organizations()
        .await?
        .iter()
        .map(organization_json)
        .collect();
    Ok(HttpResponse::Ok().json(json!({"ok": true, "organizations": orgs})))
}

/// Create an organization
///
/// `{name, admin: {email, password?}}`. Creates the organization, its first Admin user (Active
/// with the password, else Invited with an `inviteToken` in the answer) and an Admin
/// credential set whose `clientSecret` is shown this once.
#[utoipa::path(tag = "Operator", security(("operator" = [])), request_body = Object,
    responses((status = 201, body = Object), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/organizations")]
pub async fn create_organization(
    state: Data<AppState>,
    _: Operator,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let name = match body.0.get("name").and_then(Value::as_str) {
        Some(n) if !n.trim().is_empty() && n.chars().count() <= 200 => n.trim().to_owned(),
        _ => {
            return Err(ApiError::invalid(
                "/name",
                "`name` is required: 1 to 200 characters",
            ));
        }
    };
    let admin = body
        .0
        .get("admin")
        .filter(|a| a.is_object())
        .ok_or_else(|| ApiError::invalid("/admin", "`admin` is required: {email, password?}"))?;
    let email = match admin.get("email").and_then(Value::as_str) {
        Some(e) => super::users::email_of(e, "/admin/email")?,
        None => return Err(ApiError::invalid("/admin/email", "`email` is required")),
    };
    let password = match admin.get("password") {
        None | Some(Value::Null) => None,
        Some(_) => Some(super::users::password_of(admin, "password").map_err(|_| {
            ApiError::invalid(
                "/admin/password",
                format!(
                    "must be a string of {} to {} characters",
                    super::users::MIN_PASSWORD,
                    super::users::MAX_PASSWORD
                ),
            )
        })?),
    };
    let password_hash = match password {
        Some(p) => Some(
            hash_secret(p)
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        ),
        None => None,
    };
    let client_id = generate_client_id();
    let secret = generate_client_secret();
    let secret_hash = hash_secret(SecretString::from(secret.expose_secret().to_owned()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let actor = operator_actor();
    let org = state
        .store
        .create_organization(
            &name,
            NewCredential {
                client_id: client_id.clone(),
                secret_hash,
                name: "organization admin".into(),
                role: ADMIN.into(),
            },
            &actor,
        )
        .await?;
    let t = state.store.tenant(org).await?;
    let active = password_hash.is_some();
    let user = identity::create_user(
        &t,
        NewUser {
            email: email.clone(),
            first_name: String::new(),
            last_name: String::new(),
            roles: vec![ADMIN.into()],
            teams: vec![],
            status: if active { "Active" } else { "Invited" }.into(),
            password_hash,
            provider: "password".into(),
        },
        &actor,
    )
    .await?;
    let model = identity::find_user(&t, &email)
        .await?
        .ok_or_else(|| ApiError::Internal("the new admin vanished".into()))?;
    t.commit().await?;
    let mut admin_out = json!({"user": user});
    if !active {
        let invite = state
            .issuer()
            .issue_invite(org.0, &model.id.to_string(), model.token_version)
            .map_err(|e| ApiError::Internal(format!("cannot sign an invitation: {e}")))?;
        admin_out["inviteToken"] = json!(invite.token);
    }
    let o = state.store.organization(org).await?;
    Ok(HttpResponse::Created().json(json!({
        "ok": true,
        "organization": organization_json(&o),
        "admin": admin_out,
        "credentials": {"clientId": client_id, "clientSecret": secret.expose_secret()},
    })))
}

/// Get an organization
#[utoipa::path(tag = "Operator", security(("operator" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/organizations/{id}")]
pub async fn get_organization(
    state: Data<AppState>,
    _: Operator,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let o = state.store.organization(org_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(json!({"ok": true, "organization": organization_json(&o)})))
}

/// Suspend or reactivate an organization
///
/// `{status: "suspended" | "active"}`. A suspended organization's tokens are refused (within
/// a few seconds on every instance) and nobody can sign in to it.
#[utoipa::path(tag = "Operator", security(("operator" = [])), request_body = Object,
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/organizations/{id}")]
pub async fn patch_organization(
    state: Data<AppState>,
    _: Operator,
    path: Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let org = org_id(&path)?;
    let status = match body.0.get("status").and_then(Value::as_str) {
        Some(s @ ("active" | "suspended")) => s,
        _ => {
            return Err(ApiError::invalid(
                "/status",
                "`status` must be \"active\" or \"suspended\"",
            ));
        }
    };
    let o = state
        .store
        .set_organization_status(org, status, &operator_actor())
        .await?;
    state.forget_org(org);
    Ok(HttpResponse::Ok().json(json!({"ok": true, "organization": organization_json(&o)})))
}

/// Delete an organization
///
/// Everything it owns goes with it, in one transaction.
#[utoipa::path(tag = "Operator", security(("operator" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/organizations/{id}")]
pub async fn delete_organization(
    state: Data<AppState>,
    _: Operator,
    path: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = org_id(&path)?;
    state.store.delete_organization(org).await?;
    state.forget_org(org);
    Ok(HttpResponse::Ok().json(json!({"ok": true})))
}

/// Rotate the token signing key
///
/// New tokens are signed with a new key at once; tokens signed with the old one stay valid
/// until they expire (its public key is kept for that long, then retired). Other instances
/// verify new tokens at once (they load an unknown key id on first sight).
#[utoipa::path(tag = "Operator", security(("operator" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
#[post("/signing-keys/rotate")]
pub async fn rotate_signing_key(
    state: Data<AppState>,
    _: Operator,
) -> Result<HttpResponse, ApiError> {
    let key = generate_signing_key();
    state
        .store
        .insert_signing_key(
            &key.kid,
            key.private_pkcs8_der.clone(),
            key.public_key.clone(),
        )
        .await?;
    state
        .verifier
        .add_key(&key.kid, &key.public_key)
        .map_err(|e| ApiError::Internal(format!("new signing key unusable: {e}")))?;
    let issuer = portolan_auth::jwt::TokenIssuer::new(
        &key,
        state.config.jwt_issuer.clone(),
        state.config.jwt_audience.clone(),
        std::time::Duration::from_secs(state.config.token_lifetime_secs),
    )
    .map_err(|e| ApiError::Internal(format!("new signing key unusable: {e}")))?;
    state.set_issuer(issuer);
    let lifetime =
        chrono::Duration::seconds(i64::try_from(state.config.token_lifetime_secs).unwrap_or(0));
    let retired = state.store.retire_signing_keys(lifetime).await?;
    Ok(HttpResponse::Ok().json(json!({"ok": true, "kid": key.kid, "retired": retired})))
}
