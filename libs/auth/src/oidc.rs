//! Single sign-on: verifying ID tokens from trusted OpenID Connect issuers against the keys
//! they publish (JWKS), and mapping them to an [`SsoIdentity`] in the issuer's organization.

mod config;
mod fetch;
mod keys;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

pub use config::{IssuerConfig, parse_issuers};
use keys::{ACCEPTED_ALGORITHMS, KeySet, Lookup};

use crate::AuthError;

/// Allowed clock skew, in seconds, when checking `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// The default shortest time between two fetches of one issuer's keys.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Keys older than this are fetched again (keeping them if that fails), so that a key the
/// issuer withdrew stops being trusted.
const MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// The most groups kept from a token.
const MAX_GROUPS: usize = 200;
/// The longest token looked at.
const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Who a verified SSO token says the user is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoIdentity {
    /// The issuer that signed the token.
    pub issuer: String,
    /// The organization the issuer is configured for.
    pub org: Uuid,
    /// The user's id at the issuer (`sub`).
    pub subject: String,
    /// The user's email address, lower-cased.
    pub email: String,
    /// The user's groups at the issuer (at most 200), if the issuer is configured to send them.
    pub groups: Vec<String>,
}

/// Verifies SSO tokens from a fixed set of issuers. Each issuer's keys are fetched on first
/// use and cached; a token naming an unknown key triggers one refresh, at most once every
/// 30 seconds per issuer, and a failed fetch keeps the keys already known.
pub struct OidcVerifier {
    http: reqwest::Client,
    min_refresh_interval: Duration,
    issuers: HashMap<String, Issuer>,
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut issuers: Vec<&IssuerConfig> = self.issuers.values().map(|i| &i.config).collect();
        issuers.sort_by(|a, b| a.issuer.cmp(&b.issuer));
        f.debug_struct("OidcVerifier")
            .field("issuers", &issuers)
            .field("min_refresh_interval", &self.min_refresh_interval)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// A verifier trusting `issuers` (as returned by [`parse_issuers`]), fetching their keys
    /// with `http`. Requests get a 5 s timeout and a 1 MiB response cap of their own.
    pub fn new(issuers: Vec<IssuerConfig>, http: reqwest::Client) -> Self {
        let issuers = issuers
            .into_iter()
            .map(|config| (config.issuer.clone(), Issuer::new(config)))
            .collect();
        OidcVerifier {
            http,
            min_refresh_interval: MIN_REFRESH_INTERVAL,
            issuers,
        }
    }

    /// A verifier for the `PORTOLAN_OIDC_ISSUERS` setting (see [`parse_issuers`]), with its
    /// own HTTP client.
    pub fn from_setting(json: &str) -> Result<Self, String> {
        let issuers = parse_issuers(json)?;
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self::new(issuers, http))
    }

    /// Whether `issuer` has a groups claim configured (its groups then set the user's teams).
    pub fn groups_configured(&self, issuer: &str) -> bool {
        self.issuers
            .get(issuer)
            .is_some_and(|i| i.config.groups_claim.is_some())
    }

    /// Changes the shortest time between two fetches of one issuer's keys (30 s by default).
    /// Shorter intervals pick up key rotations sooner at the cost of letting tokens with
    /// made-up key ids cause more requests to the issuer.
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// Verifies `token`: its issuer must be configured, its algorithm asymmetric and matching
    /// the issuer's key named by `kid`, its signature valid, `iss` exact, `aud` containing the
    /// configured audience, `exp` and `nbf` current (60 s leeway), and it must carry an email
    /// address not marked `email_verified: false`.
    pub async fn verify(&self, token: &str) -> Result<SsoIdentity, AuthError> {
        let unverified = peek(token)?;
        let issuer = self
            .issuers
            .get(&unverified.issuer)
            .ok_or_else(|| AuthError::Invalid("token issuer is not trusted".to_owned()))?;
        let org = issuer.org.ok_or_else(|| {
            AuthError::Internal(format!(
                "OIDC issuer {}: org {:?} is not a UUID",
                issuer.config.issuer, issuer.config.org
            ))
        })?;
        let key = issuer
            .key_for(self, unverified.kid.as_deref(), unverified.alg)
            .await?;

        let mut validation = Validation::new(unverified.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&issuer.config.issuer]);
        validation.set_audience(&[&issuer.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|error| map_error(error.into_kind()))?
            .claims;
        identity(&issuer.config, org, &claims)
    }
}

/// One configured issuer and its cached keys.
struct Issuer {
    config: IssuerConfig,
    org: Option<Uuid>,
    keys: RwLock<Arc<CachedKeys>>,
    /// When the keys were last fetched (successfully or not); held while fetching, so that
    /// concurrent requests wait for one fetch instead of starting their own.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Default)]
struct CachedKeys {
    set: KeySet,
    fetched_at: Option<Instant>,
}

impl CachedKeys {
    fn is_stale(&self) -> bool {
        self.fetched_at
            .is_some_and(|fetched_at| fetched_at.elapsed() > MAX_KEY_AGE)
    }
}

impl Issuer {
    fn new(config: IssuerConfig) -> Self {
        let org = Uuid::parse_str(&config.org).ok();
        if org.is_none() {
            tracing::warn!(issuer = %config.issuer, org = %config.org, "OIDC issuer org is not a UUID; its tokens will be refused");
        }
        Issuer {
            config,
            org,
            keys: RwLock::new(Arc::new(CachedKeys::default())),
            last_fetch: tokio::sync::Mutex::new(None),
        }
    }

    fn cached(&self) -> Arc<CachedKeys> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The key to verify a token signed with `alg` naming `kid`, refreshing the cache if the
    /// key is unknown (or the cache is old) and the last fetch is old enough.
    async fn key_for(
        &self,
        verifier: &OidcVerifier,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, AuthError> {
        let mut cached = self.cached();
        if cached.is_stale()
            && let Ok(last_fetch) = self.last_fetch.try_lock()
        {
            // Best effort: on failure the old keys stay, and the error is logged.
            let _ = self
                .refresh(verifier, last_fetch, CachedKeys::is_stale)
                .await;
            cached = self.cached();
        }
        if let Some(found) = resolve(&cached.set, kid, alg)? {
            return Ok(found);
        }
        let last_fetch = self.last_fetch.lock().await;
        self.refresh(verifier, last_fetch, |keys| {
            matches!(keys.set.find(kid, alg), Lookup::Missing)
        })
        .await?;
        let cached = self.cached();
        resolve(&cached.set, kid, alg)?
            .ok_or_else(|| AuthError::UnknownKid(kid.unwrap_or("(none)").to_owned()))
    }

    /// Fetches the keys again if `needed` still holds for the cache (another request may
    /// have refreshed it meanwhile) and the last fetch is old enough.
    async fn refresh(
        &self,
        verifier: &OidcVerifier,
        mut last_fetch: tokio::sync::MutexGuard<'_, Option<Instant>>,
        needed: impl Fn(&CachedKeys) -> bool,
    ) -> Result<(), AuthError> {
        let cached = self.cached();
        if !needed(&cached) {
            return Ok(());
        }
        if last_fetch.is_some_and(|at| at.elapsed() < verifier.min_refresh_interval) {
            if cached.fetched_at.is_none() {
                return Err(AuthError::Internal(format!(
                    "signing keys of OIDC issuer {} are unavailable (the last fetch failed)",
                    self.config.issuer
                )));
            }
            return Ok(());
        }
        *last_fetch = Some(Instant::now());
        match fetch::fetch_keys(&verifier.http, &self.config).await {
            Ok(set) => {
                tracing::debug!(issuer = %self.config.issuer, keys = ?set, "fetched OIDC signing keys");
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(CachedKeys {
                    set,
                    fetched_at: Some(Instant::now()),
                });
                Ok(())
            }
            Err(error) => {
                tracing::warn!(issuer = %self.config.issuer, %error, "fetching OIDC signing keys failed; keeping the previous keys");
                Err(AuthError::Internal(format!(
                    "fetching signing keys of OIDC issuer {}: {error}",
                    self.config.issuer
                )))
            }
        }
    }
}

/// The key for the token if the set has one; an error if the set has one that must not be used.
fn resolve(
    set: &KeySet,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<Option<DecodingKey>, AuthError> {
    match set.find(kid, alg) {
        Lookup::Found(key) => Ok(Some(key.clone())),
        Lookup::Unsuitable(reason) => Err(AuthError::Invalid(reason)),
        Lookup::Missing => Ok(None),
    }
}

/// What the token says about itself before its signature is checked: used only to choose the
/// issuer and key, never trusted.
struct Unverified {
    alg: Algorithm,
    kid: Option<String>,
    issuer: String,
}

fn peek(token: &str) -> Result<Unverified, AuthError> {
    #[derive(Deserialize)]
    struct Header {
        alg: String,
        #[serde(default)]
        kid: Option<String>,
    }
    #[derive(Deserialize)]
    struct Payload {
        #[serde(default)]
        iss: Option<Value>,
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let header: Header = decode_part(header)?;
    let alg = ACCEPTED_ALGORITHMS
        .iter()
        .find(|(name, _)| *name == header.alg)
        .map(|(_, alg)| *alg)
        .ok_or_else(|| {
            let name: String = header.alg.chars().take(16).collect();
            AuthError::Invalid(format!("algorithm {name:?} is not accepted"))
        })?;
    let payload: Payload = decode_part(payload)?;
    let Some(Value::String(issuer)) = payload.iss else {
        return Err(AuthError::Invalid("token has no issuer".to_owned()));
    };
    Ok(Unverified {
        alg,
        kid: header.kid,
        issuer,
    })
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)
}

/// Maps verified claims to the identity, checking the ones `jsonwebtoken` does not know.
fn identity(
    config: &IssuerConfig,
    org: Uuid,
    claims: &Map<String, Value>,
) -> Result<SsoIdentity, AuthError> {
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
        .ok_or_else(|| AuthError::Invalid("malformed claim sub".to_owned()))?;
    let email = claims
        .get(&config.email_claim)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|email| email.contains('@'))
        .ok_or_else(|| {
            AuthError::Invalid(format!(
                "missing or malformed email claim {}",
                config.email_claim
            ))
        })?;
    let unverified = match claims.get("email_verified") {
        Some(Value::Bool(verified)) => !verified,
        Some(Value::String(verified)) => verified.eq_ignore_ascii_case("false"),
        _ => false,
    };
    if unverified {
        return Err(AuthError::Invalid(
            "email address is not verified".to_owned(),
        ));
    }
    let groups = config
        .groups_claim
        .as_ref()
        .and_then(|claim| claims.get(claim))
        .map(groups)
        .unwrap_or_default();
    Ok(SsoIdentity {
        issuer: config.issuer.clone(),
        org,
        subject: subject.to_owned(),
        email: email.to_lowercase(),
        groups,
    })
}

/// The strings of a groups claim (an array; a lone string counts as one group), capped.
fn groups(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .take(MAX_GROUPS)
            .map(str::to_owned)
            .collect(),
        Value::String(group) => vec![group.clone()],
        _ => Vec::new(),
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
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => {
            AuthError::Invalid("the issuer's key cannot verify this token".to_owned())
        }
        other => AuthError::Invalid(format!("{other:?}")),
    }
}
