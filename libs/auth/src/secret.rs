//! Client ids, client secrets and their argon2id hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use crate::AuthError;

/// OWASP's recommended argon2id parameters: 19 MiB of memory, 2 passes, 1 lane.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

const CLIENT_ID_LEN: usize = 32;
const CLIENT_SECRET_LEN: usize = 64;

/// A new client id: 32 random ASCII letters and digits.
pub fn generate_client_id() -> String {
    random_alphanumeric(CLIENT_ID_LEN)
}

/// A new client secret: 64 random ASCII letters and digits from the operating system's CSPRNG.
pub fn generate_client_secret() -> SecretString {
    random_alphanumeric(CLIENT_SECRET_LEN).into()
}

pub(crate) fn random_alphanumeric(len: usize) -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Hashes `secret` with argon2id and a random salt, returning the PHC string to store.
/// Runs on the blocking pool, inside the caller's tracing span.
pub async fn hash_secret(secret: SecretString) -> Result<String, AuthError> {
    on_blocking_pool(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()?
            .hash_password(secret.expose_secret().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| AuthError::Internal(format!("hashing failed: {error}")))
    })
    .await
}

/// Checks `secret` against a stored PHC string in constant time. A mismatch is `Ok(false)`;
/// an unparsable stored hash is an internal error. Runs on the blocking pool, inside the
/// caller's tracing span.
pub async fn verify_secret(secret: SecretString, phc: String) -> Result<bool, AuthError> {
    on_blocking_pool(move || {
        let parsed = PasswordHash::new(&phc)
            .map_err(|error| AuthError::Internal(format!("stored hash is malformed: {error}")))?;
        // The parameters and algorithm come from the PHC string, so older hashes still verify.
        match hasher()?.verify_password(secret.expose_secret().as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(error) => Err(AuthError::Internal(format!("verification failed: {error}"))),
        }
    })
    .await
}

fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|error| AuthError::Internal(format!("argon2 parameters: {error}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Runs CPU-heavy work off the async executor, keeping the current span for its events.
async fn on_blocking_pool<T, F>(work: F) -> Result<T, AuthError>
where
    F: FnOnce() -> Result<T, AuthError> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|error| AuthError::Internal(format!("hashing task failed: {error}")))?
}
