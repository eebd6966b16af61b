use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::Claims;
use crate::AuthError;

/// Allowed clock skew, in seconds, when checking `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// Verifies access tokens against a set of Ed25519 public keys, chosen by the token's `kid`.
/// Keys can be added while the verifier is shared (for example after a key rotation).
pub struct TokenVerifier {
    validation: Validation,
    keys: RwLock<HashMap<String, DecodingKey>>,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let mut kids: Vec<&String> = keys.keys().collect();
        kids.sort();
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.validation.iss)
            .field("audience", &self.validation.aud)
            .field("kids", &kids)
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier accepting tokens from `issuer` for `audience`, with no keys yet.
    pub fn new(issuer: String, audience: String) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        TokenVerifier {
            validation,
            keys: RwLock::new(HashMap::new()),
        }
    }

    /// Trusts the raw 32-byte Ed25519 `public_key` for tokens whose header names `kid`,
    /// replacing any key already registered under that id.
    pub fn add_key(&self, kid: &str, public_key: &[u8]) -> Result<(), AuthError> {
        let bytes: &[u8; 32] = public_key.try_into().map_err(|_| {
            AuthError::Internal(format!(
                "public key {kid}: expected 32 bytes, got {}",
                public_key.len()
            ))
        })?;
        ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|error| {
            AuthError::Internal(format!("public key {kid}: not an Ed25519 key: {error}"))
        })?;
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(kid.to_owned(), DecodingKey::from_ed_der(public_key));
        Ok(())
    }

    /// Whether a key is registered under `kid`.
    pub fn has_key(&self, kid: &str) -> bool {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(kid)
    }

    /// Verifies the signature (EdDSA only, with the key named by the required `kid` header),
    /// then `exp` and `nbf` with 30 s of leeway, `iss` and `aud`.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Invalid("token has no key id".to_owned()))?;

        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let key = keys.get(&kid).ok_or(AuthError::UnknownKid(kid))?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| map_error(error.into_kind()))
    }
}

fn map_error(kind: ErrorKind) -> AuthError {
    match kind {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => AuthError::Malformed,
        ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".to_owned()),
        ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer".to_owned()),
        ErrorKind::InvalidAudience => AuthError::Invalid("wrong audience".to_owned()),
        ErrorKind::ImmatureSignature => AuthError::Invalid("token not yet valid".to_owned()),
        ErrorKind::MissingRequiredClaim(claim) => {
            AuthError::Invalid(format!("missing claim {claim}"))
        }
        ErrorKind::InvalidClaimFormat(claim) => {
            AuthError::Invalid(format!("malformed claim {claim}"))
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            AuthError::Invalid("algorithm is not accepted".to_owned())
        }
        other => AuthError::Invalid(format!("{other:?}")),
    }
}
