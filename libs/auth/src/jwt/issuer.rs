use std::fmt;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use uuid::Uuid;

use super::{Claims, SigningKey};
use crate::AuthError;

/// Signs access tokens with one Ed25519 key.
pub struct TokenIssuer {
    kid: String,
    key: EncodingKey,
    issuer: String,
    audience: String,
    lifetime: Duration,
    lifetime_secs: i64,
}

/// A freshly signed token and its lifetime in seconds (the OAuth `expires_in`).
#[derive(Clone)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// An issuer signing with `key`. Fails if the key material is invalid or inconsistent.
    pub fn new(
        key: &SigningKey,
        issuer: String,
        audience: String,
        lifetime: Duration,
    ) -> Result<Self, AuthError> {
        key.checked()?;
        let lifetime_secs = i64::try_from(lifetime.as_secs())
            .map_err(|_| AuthError::Internal("token lifetime is too long".to_owned()))?;
        Ok(TokenIssuer {
            kid: key.kid.clone(),
            key: EncodingKey::from_ed_der(&key.private_pkcs8_der),
            issuer,
            audience,
            lifetime,
            lifetime_secs,
        })
    }

    /// The id of the signing key, as put in each token's `kid` header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs a token for `subject` acting in organization `org`, valid from now for the
    /// configured lifetime.
    pub fn issue(&self, org: Uuid, subject: &str) -> Result<IssuedToken, AuthError> {
        self.issue_as(org, subject, super::KIND_CREDENTIAL, 1)
    }

    /// Signs an invitation for user `subject` (valid 7 days, single use: accepting it moves
    /// the user's token version on).
    pub fn issue_invite(
        &self,
        org: Uuid,
        subject: &str,
        version: i64,
    ) -> Result<IssuedToken, AuthError> {
        self.sign(org, subject, super::KIND_INVITE, version, 7 * 24 * 3600)
    }

    /// Signs a token for `subject` of `kind` (see [`Claims::kind`]) issued under `version`.
    pub fn issue_as(
        &self,
        org: Uuid,
        subject: &str,
        kind: &str,
        version: i64,
    ) -> Result<IssuedToken, AuthError> {
        self.sign(org, subject, kind, version, self.lifetime_secs)
    }

    fn sign(
        &self,
        org: Uuid,
        subject: &str,
        kind: &str,
        version: i64,
        lifetime_secs: i64,
    ) -> Result<IssuedToken, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.to_owned(),
            org,
            iat: now,
            nbf: now,
            exp: now.saturating_add(lifetime_secs),
            jti: Uuid::new_v4().simple().to_string(),
            kind: kind.to_owned(),
            ver: version,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|error| AuthError::Internal(format!("signing token: {error}")))?;
        Ok(IssuedToken {
            token,
            expires_in: u64::try_from(lifetime_secs).unwrap_or(0),
        })
    }
}
