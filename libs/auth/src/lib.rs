//! Credentials and access tokens: argon2id hashing of client secrets on the blocking pool, and
//! EdDSA (Ed25519) JWTs issued and verified with `jsonwebtoken`.

mod error;
pub mod jwt;
pub mod secret;

pub use error::AuthError;
