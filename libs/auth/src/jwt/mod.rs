//! Access tokens: EdDSA (Ed25519) JWTs with a `kid` header naming the signing key.

mod issuer;
mod key;
mod verifier;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use issuer::{IssuedToken, TokenIssuer};
pub use key::{SigningKey, generate_signing_key};
pub use verifier::TokenVerifier;

/// Claims of a Portolan access token.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Subject: the client id (or user) the token was issued to.
    pub sub: String,
    /// The organization (tenant) the token acts in.
    pub org: Uuid,
    /// Issued at, in seconds since the Unix epoch.
    pub iat: i64,
    /// Not valid before, in seconds since the Unix epoch.
    pub nbf: i64,
    /// Expires at, in seconds since the Unix epoch.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// What `sub` names: [`KIND_CREDENTIAL`] (a client id) or [`KIND_USER`] (a user id).
    #[serde(default)]
    pub kind: String,
    /// The generation of the credential set, or the token version of the user, the token was
    /// issued under: a rotated secret or a disabled user moves it on, and the token dies.
    #[serde(default)]
    pub ver: i64,
}

/// `kind` of a token issued for a client id and secret.
pub const KIND_CREDENTIAL: &str = "credential";
/// `kind` of a token issued to a user (password or single sign-on).
pub const KIND_USER: &str = "user";
/// `kind` of an invitation: it only accepts an invitation, it opens no route.
pub const KIND_INVITE: &str = "invite";
