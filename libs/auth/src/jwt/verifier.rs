use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use quick_cache::sync::Cache;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::Claims;
use crate::AuthError;

/// Allowed clock skew, in seconds, when checking `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// Tokens whose signature was verified, kept by their exact text. A token is presented on every
/// request of a client; checking its Ed25519 signature each time was about 7% of a small
/// search's CPU (docs/benchmarks.md). Bounded: an entry is at most a token's size (the request
/// header limit) plus its claims.
const VERIFIED_CAPACITY: usize = 4_096;

/// Verifies access tokens against a set of Ed25519 public keys, chosen by the token's `kid`.
/// Keys can be added while the verifier is shared (for example after a key rotation).
pub struct TokenVerifier {
    validation: Validation,
    keys: RwLock<HashMap<String, DecodingKey>>,
    /// token text -> (kid, claims) of a token that passed [`TokenVerifier::verify`].
    verified: Cache<String, Arc<(String, Claims)>>,
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
            verified: Cache::new(VERIFIED_CAPACITY),
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
        let replaced = self
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(kid.to_owned(), DecodingKey::from_ed_der(public_key))
            .is_some();
        if replaced {
            // The kid may now name another key: what it verified no longer counts.
            self.verified.clear();
        }
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
    ///
    /// A token seen before with a good signature is not verified again: its claims are taken
    /// from the cache, and only its dates are checked again (against the clock now), so a
    /// cached token still expires on time.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        self.verify_at(token, jsonwebtoken::get_current_timestamp())
    }

    /// [`TokenVerifier::verify`] at `now` (seconds since the Unix epoch) for a cached token; a
    /// token not cached is verified against the clock.
    fn verify_at(&self, token: &str, now: u64) -> Result<Claims, AuthError> {
        if let Some(hit) = self.verified.get(token) {
            let (kid, claims) = &*hit;
            if !self.has_key(kid) {
                return Err(AuthError::UnknownKid(kid.clone()));
            }
            let now = i64::try_from(now).unwrap_or(i64::MAX);
            let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(0);
            if claims.exp < now.saturating_sub(leeway) {
                return Err(AuthError::Expired);
            }
            if claims.nbf > now.saturating_add(leeway) {
                return Err(AuthError::Invalid("token not yet valid".to_owned()));
            }
            return Ok(claims.clone());
        }
        let (kid, claims) = self.verify_signature(token)?;
        self.verified
            .insert(token.to_owned(), Arc::new((kid, claims.clone())));
        Ok(claims)
    }

    fn verify_signature(&self, token: &str) -> Result<(String, Claims), AuthError> {
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
        let key = keys
            .get(&kid)
            .ok_or_else(|| AuthError::UnknownKid(kid.clone()))?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|data| (kid, data.claims))
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use uuid::Uuid;

    use super::*;
    use crate::jwt::{TokenIssuer, generate_signing_key};

    fn issuer_and_verifier() -> (TokenIssuer, TokenVerifier) {
        let key = generate_signing_key();
        let issuer = TokenIssuer::new(
            &key,
            "iss".to_owned(),
            "aud".to_owned(),
            Duration::from_secs(600),
        )
        .unwrap();
        let verifier = TokenVerifier::new("iss".to_owned(), "aud".to_owned());
        verifier.add_key(&key.kid, &key.public_key).unwrap();
        (issuer, verifier)
    }

    #[test]
    fn a_cached_token_still_expires_and_is_not_valid_early() {
        let (issuer, verifier) = issuer_and_verifier();
        let token = issuer.issue(Uuid::new_v4(), "client").unwrap().token;
        let first = verifier.verify(&token).unwrap();
        assert_eq!(verifier.verified.len(), 1, "a good token is cached");
        let again = verifier.verify(&token).unwrap();
        assert_eq!(again.jti, first.jti);

        let exp = u64::try_from(first.exp).unwrap();
        assert!(verifier.verify_at(&token, exp + LEEWAY_SECS).is_ok());
        assert!(matches!(
            verifier.verify_at(&token, exp + LEEWAY_SECS + 1),
            Err(AuthError::Expired)
        ));
        let nbf = u64::try_from(first.nbf).unwrap();
        assert!(verifier.verify_at(&token, nbf - LEEWAY_SECS).is_ok());
        assert!(matches!(
            verifier.verify_at(&token, nbf - LEEWAY_SECS - 1),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn only_the_exact_text_of_a_verified_token_is_taken_from_the_cache() {
        let (issuer, verifier) = issuer_and_verifier();
        let token = issuer.issue(Uuid::new_v4(), "client").unwrap().token;
        verifier.verify(&token).unwrap();
        // The same claims under a changed signature byte.
        let mut forged = token.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert!(verifier.verify(&forged).is_err());
        assert_eq!(verifier.verified.len(), 1, "a refused token is not cached");
    }

    #[test]
    fn a_kid_registered_again_drops_what_its_old_key_verified() {
        let (issuer, verifier) = issuer_and_verifier();
        let token = issuer.issue(Uuid::new_v4(), "client").unwrap().token;
        verifier.verify(&token).unwrap();
        let other = generate_signing_key();
        verifier.add_key(issuer.kid(), &other.public_key).unwrap();
        assert!(
            verifier.verify(&token).is_err(),
            "the token's kid now names a key that did not sign it"
        );
    }
}
