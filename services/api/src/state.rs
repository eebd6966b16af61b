//! What every handler shares.

use std::sync::Arc;

use portolan_auth::jwt::{TokenIssuer, TokenVerifier};
use portolan_bus::Bus;
use portolan_config::Config;
use portolan_store::Store;

pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub issuer: TokenIssuer,
    pub verifier: TokenVerifier,
    pub bus: Arc<dyn Bus>,
    /// The hash of a random secret nobody knows, verified when a client id is unknown so that
    /// an unknown id and a wrong secret cost the same time.
    pub decoy_hash: String,
}
