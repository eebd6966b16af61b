//! Credentials and access tokens: argon2id hashing of client secrets on the blocking pool, and
//! EdDSA (Ed25519) JWTs issued and verified with `jsonwebtoken`, and single sign-on tokens from
//! trusted OpenID Connect issuers verified against their published keys; and AES-256-GCM
//! sealing of organization secrets at rest.

mod error;
pub mod jwt;
pub mod oidc;
pub mod seal;
pub mod secret;

pub use error::AuthError;
