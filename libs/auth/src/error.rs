/// Why a credential or token was refused, or could not be processed.
#[derive(thiserror::Error, Debug)]
pub enum AuthError {
    /// The token is not a well-formed JWT (bad segments, base64 or JSON).
    #[error("malformed token")]
    Malformed,
    /// The token names a signing key this verifier does not know.
    #[error("unknown signing key {0}")]
    UnknownKid(String),
    /// The token's `exp` has passed (beyond the allowed clock skew).
    #[error("token expired")]
    Expired,
    /// The token is well formed but not acceptable: signature, algorithm or claims.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// A failure on our side: bad key material, a failed hashing task.
    #[error("internal: {0}")]
    Internal(String),
}
