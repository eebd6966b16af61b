//! Authentication: the token exchange, signing keys, and the `Caller` extractor that every
//! `/v1` handler takes (a handler without it cannot see an org).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::dev::Payload;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;
use portolan_auth::AuthError;
use portolan_auth::jwt::{
    KIND_CREDENTIAL, KIND_USER, SigningKey, TokenIssuer, TokenVerifier, generate_signing_key,
};
use portolan_config::Config;
use portolan_domain::OrgId;
use portolan_domain::event::Actor;
use portolan_domain::permission::{Principal, PrincipalKind};
use portolan_domain::query::QueryContext;
use portolan_store::{Plans, Store, Tenant};
use serde_json::json;

use crate::body::BodyInFlight;
use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a request: its org, who it is, and what it may do.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: OrgId,
    pub actor: Actor,
    pub principal: Principal,
    /// The tenant transaction the caller was authenticated in, for the handler's first
    /// [`Caller::tenant`].
    opened: OpenedTenant,
    /// Where later transactions of the request come from: the HTTP worker's own pool.
    store: Store,
}

/// A tenant transaction opened by authentication and not yet taken (shared by the clones of
/// one request's [`Caller`]; dropped untaken, it rolls back).
#[derive(Clone, Default)]
struct OpenedTenant(Arc<Mutex<Option<Tenant>>>);

impl std::fmt::Debug for OpenedTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenedTenant")
    }
}

impl Caller {
    /// A transaction scoped to the caller's org. The first one of a request is the one its
    /// credential or user was just read in (one connection and one `BEGIN` per request, not
    /// two); later ones are new, from the same pool.
    pub async fn tenant(&self) -> Result<Tenant, portolan_store::StoreError> {
        let opened = self.opened.0.lock().ok().and_then(|mut slot| slot.take());
        match opened {
            Some(t) => Ok(t),
            None => self.store.tenant(self.org).await,
        }
    }

    /// 403 unless the caller is an Admin of its org.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.principal.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this route needs the Admin role".into(),
            ))
        }
    }

    /// 403 unless the caller is an Admin or a moderator of `blueprint`.
    pub fn require_moderator(&self, blueprint: &str) -> Result<(), ApiError> {
        if self.principal.moderates(blueprint) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this route needs the Admin or {blueprint}-moderator role"
            )))
        }
    }

    /// The caller as queries see it (`{context: user | userTeams}`): its user entity and
    /// its team entities, in Port's read shape.
    pub fn query_context(&self) -> QueryContext {
        let user = self.principal.email.as_ref().map(|email| {
            json!({"identifier": email, "title": email, "blueprint": "_user",
                   "properties": {"email": email}, "relations": {}, "team": []})
        });
        let teams = self
            .principal
            .teams
            .iter()
            .map(|t| {
                json!({"identifier": t, "title": t, "blueprint": "_team",
                       "properties": {}, "relations": {}, "team": []})
            })
            .collect();
        QueryContext {
            user,
            teams,
            now: chrono::Utc::now().timestamp_micros(),
        }
    }
}

/// The caller, when a middleware already authenticated the request (the extractor reuses it).
#[derive(Debug, Clone)]
pub struct AuthenticatedCaller(pub Caller);

/// Authenticates `req` in full (token and the live credential or user behind it), keeping
/// no transaction open (a middleware that reads the body next calls it).
pub async fn authenticate_request(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let token = bearer(req)?;
    let verified = req
        .extensions()
        .get::<VerifiedClaims>()
        .map(|v| v.0.clone());
    let claims = verify(state, &token, verified).await?;
    authenticate(
        state,
        &worker_store(req, state),
        claims,
        user_agent(req),
        None,
    )
    .await
}

/// The store of the HTTP worker that serves `req` (its own pool), or the shared one.
fn worker_store(req: &HttpRequest, state: &AppState) -> Store {
    req.app_data::<Data<crate::state::WorkerStore>>()
        .map_or_else(|| state.store.clone(), |w| w.0.clone())
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(500).collect::<String>())
}

/// Claims the rate-limit middleware already verified for this request (signature, dates,
/// issuer, audience), so the extractor does not verify the token twice.
#[derive(Debug, Clone)]
pub struct VerifiedClaims(pub portolan_auth::jwt::Claims);

fn invalid() -> ApiError {
    ApiError::Unauthorized("invalid token".into())
}

/// Verifies the bearer token: signature (reloading the keys once for an unknown `kid`),
/// dates, issuer and audience. What it names is checked by [`authenticate`].
async fn verify(
    state: &AppState,
    token: &str,
    verified: Option<portolan_auth::jwt::Claims>,
) -> Result<portolan_auth::jwt::Claims, ApiError> {
    match verified.map_or_else(|| state.verifier.verify(token), Ok) {
        Err(AuthError::UnknownKid(kid)) => {
            // Another instance may have rotated in a new key: reload once.
            load_public_keys(&state.store, &state.verifier).await?;
            if !state.verifier.has_key(&kid) {
                return Err(invalid());
            }
            state.verifier.verify(token)
        }
        other => other,
    }
    .map_err(|e| match e {
        AuthError::Expired => ApiError::Unauthorized("token expired".into()),
        _ => invalid(),
    })
}

/// Checks, in a tenant transaction of the token's org, that what the verified token names
/// still holds: the credential set is live, enabled and of the token's generation; the user
/// is Active and of the token's version; the org is active. A revoked credential or a
/// disabled user loses access on its next request, not when the token expires. With `keep`,
/// the transaction, planned as it says, goes on to the handler ([`Caller::tenant`]).
async fn authenticate(
    state: &AppState,
    store: &Store,
    claims: portolan_auth::jwt::Claims,
    user_agent: Option<String>,
    keep: Option<Plans>,
) -> Result<Caller, ApiError> {
    let plans = keep.unwrap_or_default();
    let org = OrgId(claims.org);
    // Before the transaction: a miss of the org cache reads the org on a pooled connection.
    if !state.org_active(org).await? {
        return Err(ApiError::Unauthorized(
            "the organization is not active".into(),
        ));
    }
    let (t, principal) = match claims.kind.as_str() {
        KIND_CREDENTIAL => {
            let (t, cred) = store
                .tenant_with_credential(org, &claims.sub, plans)
                .await?;
            let cred = cred
                .filter(|c| c.org_id == org.0 && c.enabled && c.generation == claims.ver)
                .ok_or_else(invalid)?;
            let principal = match cred.user_id {
                Some(user) => user_principal(
                    portolan_store::identity::principal_user_in(&t, user).await?,
                    None,
                )?,
                None => Principal {
                    kind: PrincipalKind::App,
                    id: cred.client_id.clone(),
                    email: None,
                    roles: json_strings(&cred.roles),
                    teams: vec![],
                },
            };
            (t, principal)
        }
        KIND_USER => {
            let user = uuid::Uuid::parse_str(&claims.sub).map_err(|_| invalid())?;
            let (t, found) = store.tenant_with_user(org, user, plans).await?;
            (t, user_principal(found, Some(claims.ver))?)
        }
        _ => return Err(invalid()),
    };
    Ok(Caller {
        org,
        actor: Actor {
            by: principal
                .email
                .clone()
                .unwrap_or_else(|| principal.id.clone()),
            origin: "API".into(),
            datasource: user_agent,
        },
        principal,
        opened: OpenedTenant(Arc::new(Mutex::new(keep.map(|_| t)))),
        store: store.clone(),
    })
}

/// The principal of a user a token names, if it is Active and (for a user token) of the
/// token's version.
fn user_principal(
    found: Option<portolan_store::identity::UserPrincipal>,
    version: Option<i64>,
) -> Result<Principal, ApiError> {
    let found = found
        .filter(|p| p.user.status == "Active")
        .filter(|p| version.is_none_or(|v| v == p.user.token_version))
        .ok_or_else(invalid)?;
    Ok(Principal {
        kind: PrincipalKind::User,
        id: found.user.id.to_string(),
        email: Some(found.user.email.clone()),
        roles: json_strings(&found.user.roles),
        teams: found.teams,
    })
}

pub(crate) fn json_strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The bearer token of a request, if its Authorization header has one.
pub fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthorized("missing Authorization header".into()))?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(|t| t.trim().to_owned())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be 'Bearer <token>'".into())
        })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(done) = req.extensions().get::<AuthenticatedCaller>() {
            let caller = done.0.clone();
            return Box::pin(async move { Ok(caller) });
        }
        let state = req.app_data::<Data<AppState>>().cloned();
        let token = bearer(req);
        let verified = req
            .extensions()
            .get::<VerifiedClaims>()
            .map(|v| v.0.clone());
        let user_agent = user_agent(req);
        let store = state.as_ref().map(|s| worker_store(req, s));
        let req = req.clone();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            let claims = verify(&state, &token?, verified).await?;
            // The other extractors were all created before this runs: a body still arriving
            // is waited for here, so a slow upload holds no database connection.
            let in_flight = req.extensions().get::<BodyInFlight>().cloned();
            if let Some(BodyInFlight(mut reading)) = in_flight {
                while reading.changed().await.is_ok() {}
            }
            let store = store.unwrap_or_else(|| state.store.clone());
            let plans = req.extensions().get::<Plans>().copied().unwrap_or_default();
            authenticate(&state, &store, claims, user_agent, Some(plans)).await
        })
    }
}

/// Loads every active public key into the verifier.
pub async fn load_public_keys(store: &Store, verifier: &TokenVerifier) -> Result<(), ApiError> {
    for k in store.signing_keys().await? {
        verifier
            .add_key(&k.kid, &k.public_key)
            .map_err(|e| ApiError::Internal(format!("signing key {} is unusable: {e}", k.kid)))?;
    }
    Ok(())
}

/// The issuer (newest signing key, created on first start) and a verifier of every key.
pub async fn signing(
    store: &Store,
    config: &Config,
) -> anyhow::Result<(TokenIssuer, TokenVerifier)> {
    let lifetime = chrono::Duration::seconds(i64::try_from(config.token_lifetime_secs)?);
    store.retire_signing_keys(lifetime).await?;
    let mut keys = store.signing_keys().await?;
    if keys.is_empty() {
        let k = generate_signing_key();
        store
            .insert_signing_key(&k.kid, k.private_pkcs8_der.clone(), k.public_key.clone())
            .await?;
        keys = store.signing_keys().await?;
    }
    let newest = keys
        .first()
        .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
    let key = SigningKey {
        kid: newest.kid.clone(),
        private_pkcs8_der: newest.private_key.clone(),
        public_key: newest.public_key.clone(),
    };
    let issuer = TokenIssuer::new(
        &key,
        config.jwt_issuer.clone(),
        config.jwt_audience.clone(),
        Duration::from_secs(config.token_lifetime_secs),
    )?;
    let verifier = TokenVerifier::new(config.jwt_issuer.clone(), config.jwt_audience.clone());
    load_public_keys(store, &verifier)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((issuer, verifier))
}
