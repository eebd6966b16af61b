//! Sign-in: `POST /v1/auth/access_token` (a credential set's clientId/clientSecret) and
//! `POST /v1/auth/login` (a user's email and password), each answering a JWT. Every sign-in,
//! and every refused one whose org is known, is recorded in the org's event log.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, post};
use portolan_auth::jwt::{KIND_CREDENTIAL, KIND_USER};
use portolan_auth::secret::verify_secret;
use portolan_domain::OrgId;
use portolan_domain::event::{Actor, ResourceType};
use portolan_store::identity::record_sign_in;
use secrecy::SecretString;
use serde_json::Value;

use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;
use crate::state::AppState;

/// A required non-empty string member of at most `max` bytes.
fn field(body: &Value, k: &str, max: usize) -> Result<String, ApiError> {
    match body.get(k) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(s.clone()),
        _ => Err(ApiError::invalid(
            &format!("/{k}"),
            format!("'{k}' is required: a non-empty string of at most {max} bytes"),
        )),
    }
}

fn actor(req: &HttpRequest, by: &str) -> Actor {
    Actor {
        by: by.to_owned(),
        origin: "API".into(),
        datasource: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(500).collect()),
    }
}

/// Records a sign-in; a failure to record is logged, not fatal to the answer already decided.
async fn audit(
    state: &AppState,
    org: OrgId,
    actor: &Actor,
    kind: ResourceType,
    id: &str,
    method: &str,
    failure: Option<&str>,
) {
    if let Err(error) = record_sign_in(&state.store, org, actor, kind, id, method, failure).await {
        tracing::warn!(%error, %org, method, "could not record a sign-in");
    }
}

fn token_response(issued: portolan_auth::jwt::IssuedToken) -> HttpResponse {
    HttpResponse::Ok().json(TokenResponse {
        ok: true,
        access_token: issued.token,
        expires_in: issued.expires_in,
        token_type: "Bearer".into(),
    })
}

/// Get an access token
///
/// Exchanges a credential set's `clientId` and `clientSecret` (an app's, or a user's
/// personal credentials) for a bearer token. An unknown id and a wrong secret take the same
/// time and get the same answer.
#[utoipa::path(tag = "Auth", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/auth/access_token")]
pub async fn access_token(
    state: Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let client_id = field(&body.0, "clientId", 512)?;
    let secret = SecretString::from(field(&body.0, "clientSecret", 512)?);
    let cred = state.store.find_credential(&client_id).await?;
    let hash = cred
        .as_ref()
        .map_or_else(|| state.decoy_hash.clone(), |c| c.secret_hash.clone());
    let matches = verify_secret(secret, hash).await.unwrap_or(false);
    let refused = || ApiError::Unauthorized("invalid clientId or clientSecret".into());
    let Some(cred) = cred else {
        return Err(refused());
    };
    let org = OrgId(cred.org_id);
    let who = actor(&req, &cred.client_id);
    if !matches || !cred.enabled {
        let why = if matches {
            "credential set disabled"
        } else {
            "wrong secret"
        };
        audit(
            &state,
            org,
            &who,
            ResourceType::Credential,
            &cred.client_id,
            "client_secret",
            Some(why),
        )
        .await;
        return Err(refused());
    }
    if let Some(user) = cred.user_id {
        let active = state
            .store
            .principal_user(org, user)
            .await?
            .is_some_and(|p| p.user.status == "Active");
        if !active {
            audit(
                &state,
                org,
                &who,
                ResourceType::Credential,
                &cred.client_id,
                "client_secret",
                Some("user not active"),
            )
            .await;
            return Err(refused());
        }
    }
    if !state.store.organization_active(org).await? {
        return Err(ApiError::Unauthorized(
            "the organization is not active".into(),
        ));
    }
    let issued = state
        .issuer()
        .issue_as(
            cred.org_id,
            &cred.client_id,
            KIND_CREDENTIAL,
            cred.generation,
        )
        .map_err(|e| ApiError::Internal(format!("cannot sign a token: {e}")))?;
    audit(
        &state,
        org,
        &who,
        ResourceType::Credential,
        &cred.client_id,
        "client_secret",
        None,
    )
    .await;
    Ok(token_response(issued))
}

/// Sign in with a password
///
/// `{email, password, organizationId?}`: `organizationId` is needed only when the email has
/// users in several organizations. Failed attempts are limited per account and per source
/// address (429 with `Retry-After` beyond the limit); every attempt on a known account is in
/// its org's audit log.
#[utoipa::path(tag = "Auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
#[post("/auth/login")]
pub async fn login(
    state: Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let email = field(&body.0, "email", 254)?.trim().to_lowercase();
    let password = SecretString::from(field(&body.0, "password", 1024)?);
    let org_hint = match body.0.get("organizationId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(uuid::Uuid::parse_str(s).map_err(|_| {
            ApiError::invalid("/organizationId", "must be an organization id (a UUID)")
        })?),
        Some(_) => {
            return Err(ApiError::invalid(
                "/organizationId",
                "must be an organization id (a UUID)",
            ));
        }
    };
    let address = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let throttle = crate::login_throttle::LoginThrottle::new(&state, &email, &address);
    throttle.check().await?;
    let candidates: Vec<_> = state
        .store
        .users_by_email(&email)
        .await?
        .into_iter()
        .filter(|u| org_hint.is_none_or(|o| o == u.org_id))
        .collect();
    let user = match candidates.as_slice() {
        [one] => Some(one.clone()),
        [] => None,
        _ => {
            return Err(ApiError::invalid(
                "/organizationId",
                "this email belongs to several organizations: say which with organizationId",
            ));
        }
    };
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| state.decoy_hash.clone());
    let matches = verify_secret(password, hash).await.unwrap_or(false);
    let refused = || ApiError::Unauthorized("invalid email or password".into());
    let Some(user) = user else {
        throttle.failed().await;
        return Err(refused());
    };
    let org = OrgId(user.org_id);
    let who = actor(&req, &user.email);
    let failure = if !matches || user.password_hash.is_none() {
        Some("wrong password")
    } else if user.status != "Active" {
        Some("user not active")
    } else {
        None
    };
    if let Some(why) = failure {
        throttle.failed().await;
        audit(
            &state,
            org,
            &who,
            ResourceType::User,
            &user.email,
            "password",
            Some(why),
        )
        .await;
        return Err(refused());
    }
    throttle.succeeded().await;
    user_signed_in(&state, &user, &who, "password").await
}

/// The end of every user sign-in: the org must be active; a token for the user's current
/// version; the time noted; the sign-in recorded.
async fn user_signed_in(
    state: &AppState,
    user: &portolan_store::models::user::Model,
    who: &Actor,
    method: &str,
) -> Result<HttpResponse, ApiError> {
    let org = OrgId(user.org_id);
    if !state.store.organization_active(org).await? {
        return Err(ApiError::Unauthorized(
            "the organization is not active".into(),
        ));
    }
    let issued = state
        .issuer()
        .issue_as(
            user.org_id,
            &user.id.to_string(),
            KIND_USER,
            user.token_version,
        )
        .map_err(|e| ApiError::Internal(format!("cannot sign a token: {e}")))?;
    state.store.touch_login(user.id).await?;
    audit(
        state,
        org,
        who,
        ResourceType::User,
        &user.email,
        method,
        None,
    )
    .await;
    Ok(token_response(issued))
}

/// Accept an invitation
///
/// `{inviteToken, password}`: sets the invited user's password, activates it, and signs it
/// in. The invitation works once.
#[utoipa::path(tag = "Auth", request_body = Object,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/auth/accept-invite")]
pub async fn accept_invite(
    state: Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let token = field(&body.0, "inviteToken", 4096)?;
    let password = super::users::password_of(&body.0, "password")?;
    let refused = || ApiError::Unauthorized("invalid or used invitation".into());
    let claims = state.verifier.verify(&token).map_err(|_| refused())?;
    if claims.kind != portolan_auth::jwt::KIND_INVITE {
        return Err(refused());
    }
    let org = OrgId(claims.org);
    let user_id = uuid::Uuid::parse_str(&claims.sub).map_err(|_| refused())?;
    let user = state
        .store
        .principal_user(org, user_id)
        .await?
        .map(|p| p.user)
        .filter(|u| u.status == "Invited" && u.token_version == claims.ver)
        .ok_or_else(refused)?;
    let hash = portolan_auth::secret::hash_secret(password)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let who = actor(&req, &user.email);
    let t = state.store.tenant(org).await?;
    portolan_store::identity::set_password(&t, &user.email, hash, &who).await?;
    t.commit().await?;
    let fresh = state
        .store
        .principal_user(org, user_id)
        .await?
        .ok_or_else(refused)?;
    let issued = state
        .issuer()
        .issue_as(org.0, &claims.sub, KIND_USER, fresh.user.token_version)
        .map_err(|e| ApiError::Internal(format!("cannot sign a token: {e}")))?;
    audit(
        &state,
        org,
        &who,
        ResourceType::User,
        &user.email,
        "invitation",
        None,
    )
    .await;
    Ok(token_response(issued))
}

/// Sign in with single sign-on
///
/// `{idToken}`: an ID token from an OIDC issuer trusted by configuration
/// (`PORTOLAN_OIDC_ISSUERS`), verified against the issuer's published keys. Its email claim
/// names the user in the issuer's organization; an unknown user is created as an Active
/// Member when the organization's settings allow it (`allowSsoProvisioning`). With a groups
/// claim configured, the user's teams become the organization's teams named by its groups.
#[utoipa::path(tag = "Auth", request_body = Object,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/auth/sso")]
pub async fn sso(
    state: Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let token = field(&body.0, "idToken", 64 * 1024)?;
    let Some(verifier) = &state.oidc else {
        return Err(ApiError::Unauthorized(
            "single sign-on is not configured".into(),
        ));
    };
    let identity = verifier.verify(&token).await.map_err(|e| match e {
        portolan_auth::AuthError::Internal(m) => {
            tracing::warn!(error = %m, "the identity provider could not be reached");
            ApiError::Unavailable("the identity provider could not be reached".into())
        }
        portolan_auth::AuthError::Expired => ApiError::Unauthorized("token expired".into()),
        _ => ApiError::Unauthorized("invalid token".into()),
    })?;
    let org = OrgId(identity.org);
    let who = actor(&req, &identity.email);
    let groups = verifier
        .groups_configured(&identity.issuer)
        .then_some(identity.groups.as_slice());
    let t = state.store.tenant(org).await?;
    let user = portolan_store::identity::sso_sign_in(&t, &identity.email, groups, &who).await?;
    t.commit().await?;
    let Some(user) = user else {
        audit(
            &state,
            org,
            &who,
            ResourceType::User,
            &identity.email,
            "sso",
            Some("unknown or inactive user"),
        )
        .await;
        return Err(ApiError::Unauthorized(
            "no active user with this email in the organization".into(),
        ));
    };
    user_signed_in(&state, &user, &who, "sso").await
}
