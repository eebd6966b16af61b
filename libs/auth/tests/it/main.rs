//! Specification of client credentials and access tokens.

mod jwt;
mod oidc;
mod secret;
