//! `POST /v1/auth/access_token`: a credential set's clientId/clientSecret for a JWT.

use actix_web::web::Data;
use actix_web::{HttpResponse, post};
use portolan_auth::secret::verify_secret;
use secrecy::SecretString;
use serde_json::Value;

use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::schemas::*;
use crate::state::AppState;

/// Get an access token
#[utoipa::path(tag = "Auth", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/auth/access_token")]
pub async fn access_token(state: Data<AppState>, body: JsonBody) -> Result<HttpResponse, ApiError> {
    let field = |k: &str| -> Result<String, ApiError> {
        match body.0.get(k) {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 512 => Ok(s.clone()),
            _ => Err(ApiError::invalid(
                &format!("/{k}"),
                format!("'{k}' is required: a non-empty string"),
            )),
        }
    };
    let client_id = field("clientId")?;
    let secret = SecretString::from(field("clientSecret")?);
    let cred = state.store.find_credential(&client_id).await?;
    let hash = cred
        .as_ref()
        .map_or_else(|| state.decoy_hash.clone(), |c| c.secret_hash.clone());
    let matches = verify_secret(secret, hash).await.unwrap_or(false);
    let cred = match cred {
        Some(c) if matches => c,
        _ => {
            return Err(ApiError::Unauthorized(
                "invalid clientId or clientSecret".into(),
            ));
        }
    };
    if !state
        .store
        .organization_active(portolan_domain::OrgId(cred.org_id))
        .await?
    {
        return Err(ApiError::Unauthorized(
            "the organization is not active".into(),
        ));
    }
    let issued = state
        .issuer
        .issue(cred.org_id, &cred.client_id)
        .map_err(|e| ApiError::Internal(format!("cannot sign a token: {e}")))?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        ok: true,
        access_token: issued.token,
        expires_in: issued.expires_in,
        token_type: "Bearer".into(),
    }))
}
