//! What every handler shares.

use std::sync::Arc;

use portolan_auth::jwt::{TokenIssuer, TokenVerifier};
use portolan_bus::Bus;
use portolan_config::Config;
use portolan_domain::OrgId;
use portolan_store::Store;
use std::time::{Duration, Instant};

/// An HTTP worker's own store: its pool is used only by that worker's runtime
/// ([`Store::worker_pool`]), and requests' transactions come from it.
pub struct WorkerStore(pub Store);

pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    /// Verifier of single sign-on tokens from the configured OIDC issuers, if any.
    pub oidc: Option<portolan_auth::oidc::OidcVerifier>,
    /// The issuer of new tokens; swapped when the signing key rotates.
    pub issuer: std::sync::RwLock<Arc<TokenIssuer>>,
    pub verifier: TokenVerifier,
    pub bus: Arc<dyn Bus>,
    /// The hash of a random secret nobody knows, verified when a client id is unknown so that
    /// an unknown id and a wrong secret cost the same time.
    pub decoy_hash: String,
    /// Rate limits and idempotency keys (Redis, with an in-memory fallback).
    pub cache: portolan_cache::Cache,
    /// Org status, cached for a few seconds (a suspended org is refused within that time).
    pub org_status: std::sync::Mutex<std::collections::HashMap<OrgId, (OrgInfo, Instant)>>,
    /// The keys that seal organization secrets at rest (the first seals, all open).
    pub secrets: portolan_auth::seal::KeyRing,
}

/// How long an org's active/suspended status is cached.
const ORG_STATUS_TTL: Duration = Duration::from_secs(5);

impl AppState {
    /// The current token issuer.
    pub fn issuer(&self) -> Arc<TokenIssuer> {
        match self.issuer.read() {
            Ok(i) => i.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Signs new tokens with `issuer` from now on.
    pub fn set_issuer(&self, issuer: TokenIssuer) {
        match self.issuer.write() {
            Ok(mut i) => *i = Arc::new(issuer),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(issuer),
        }
    }

    /// Is `org` active? Cached for [`ORG_STATUS_TTL`].
    pub async fn org_active(&self, org: OrgId) -> Result<bool, portolan_store::StoreError> {
        Ok(self.org_info(org).await?.active)
    }

    /// What requests need to know of `org` (status, rate-limit budgets), cached for
    /// [`ORG_STATUS_TTL`]. An unknown org is inactive.
    pub async fn org_info(&self, org: OrgId) -> Result<OrgInfo, portolan_store::StoreError> {
        let now = Instant::now();
        if let Ok(cache) = self.org_status.lock()
            && let Some((info, at)) = cache.get(&org)
            && now.duration_since(*at) < ORG_STATUS_TTL
        {
            return Ok(*info);
        }
        let info = match self.store.organization(org).await {
            Ok(o) => OrgInfo::of(&o),
            Err(portolan_store::StoreError::NotFound { .. }) => OrgInfo::default(),
            Err(e) => return Err(e),
        };
        if let Ok(mut cache) = self.org_status.lock() {
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(org, (info, now));
        }
        Ok(info)
    }

    /// Forgets the cached status of `org` (after a suspension on this instance).
    pub fn forget_org(&self, org: OrgId) {
        if let Ok(mut cache) = self.org_status.lock() {
            cache.remove(&org);
        }
    }
}

/// An org as requests see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrgInfo {
    pub active: bool,
    /// The org's own budgets (`settings.rateLimits`), overriding the configured defaults.
    pub entities_budget: Option<u64>,
    pub other_budget: Option<u64>,
}

impl OrgInfo {
    fn of(o: &portolan_store::models::organization::Model) -> Self {
        let limit = |k: &str| {
            o.settings
                .get("rateLimits")
                .and_then(|r| r.get(k))
                .and_then(serde_json::Value::as_u64)
        };
        OrgInfo {
            active: o.status == "active",
            entities_budget: limit("entities"),
            other_budget: limit("other"),
        }
    }
}
