use std::fmt;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand::rngs::OsRng;

use crate::AuthError;
use crate::secret::random_alphanumeric;

/// An Ed25519 key pair for signing tokens. `Debug` never shows the private key.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id, sent as the token header's `kid`.
    pub kid: String,
    /// The private key as PKCS#8 DER.
    pub private_pkcs8_der: Vec<u8>,
    /// The raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("private_pkcs8_der", &"[REDACTED]")
            .field("public_key", &self.public_key)
            .finish()
    }
}

/// A new random Ed25519 key pair with kid `k_` followed by 16 random letters and digits.
pub fn generate_signing_key() -> SigningKey {
    let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
    SigningKey {
        kid: format!("k_{}", random_alphanumeric(16)),
        // Encoding 32 bytes of seed into a fixed PKCS#8 template cannot fail.
        private_pkcs8_der: key
            .to_pkcs8_der()
            .map(|der| der.as_bytes().to_vec())
            .unwrap_or_default(),
        public_key: key.verifying_key().to_bytes().to_vec(),
    }
}

impl SigningKey {
    /// Parses the private key and checks that the public key belongs to it.
    pub(crate) fn checked(&self) -> Result<(), AuthError> {
        let private = ed25519_dalek::SigningKey::from_pkcs8_der(&self.private_pkcs8_der).map_err(
            |error| {
                AuthError::Internal(format!("signing key {}: invalid PKCS#8: {error}", self.kid))
            },
        )?;
        if private.verifying_key().as_bytes().as_slice() != self.public_key.as_slice() {
            return Err(AuthError::Internal(format!(
                "signing key {}: public key does not match the private key",
                self.kid
            )));
        }
        Ok(())
    }
}
