//! Authentication: the token exchange, signing keys, and the `Caller` extractor that every
//! `/v1` handler takes (a handler without it cannot see an org).

use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;
use portolan_auth::AuthError;
use portolan_auth::jwt::{SigningKey, TokenIssuer, TokenVerifier, generate_signing_key};
use portolan_config::Config;
use portolan_domain::OrgId;
use portolan_domain::event::Actor;
use portolan_store::Store;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a request: its org and who it is.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: OrgId,
    pub actor: Actor,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(500).collect::<String>());
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            let header = header
                .ok_or_else(|| ApiError::Unauthorized("missing Authorization header".into()))?;
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "the Authorization header must be 'Bearer <token>'".into(),
                    )
                })?
                .trim();
            let claims = match state.verifier.verify(token) {
                Err(AuthError::UnknownKid(kid)) => {
                    // Another instance may have rotated in a new key: reload once.
                    load_public_keys(&state.store, &state.verifier).await?;
                    if !state.verifier.has_key(&kid) {
                        return Err(ApiError::Unauthorized("invalid token".into()));
                    }
                    state.verifier.verify(token)
                }
                other => other,
            }
            .map_err(|e| match e {
                AuthError::Expired => ApiError::Unauthorized("token expired".into()),
                _ => ApiError::Unauthorized("invalid token".into()),
            })?;
            Ok(Caller {
                org: OrgId(claims.org),
                actor: Actor {
                    by: claims.sub,
                    origin: "API".into(),
                    datasource: user_agent,
                },
            })
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
