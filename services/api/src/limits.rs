//! Rate limits and idempotency keys on every `/v1` request (docs/API.md, "Rate limits and
//! idempotency").
//!
//! Each request is counted in one bucket: `org:<org id>:entities` or `org:<org id>:other` when
//! it carries a token this instance can verify, else `ip:<peer address>:unauth` (the token
//! routes `/v1/auth/...` always count as unauthenticated). Every response carries the
//! `x-ratelimit-*` headers; a request over budget is answered 429 `rate_limited` with
//! `Retry-After` and never reaches its handler.
//!
//! A POST, PUT or PATCH with an `Idempotency-Key` runs once per key: its response (status
//! below 500) is stored and replayed to retries with the same body, marked
//! `idempotent-replayed: true`.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut, Data};
use actix_web::{Error, HttpMessage, HttpResponse};
use futures::StreamExt;
use portolan_cache::{Begin, Decision, IdempotencyStore, MAX_STORED_BODY_BYTES, StoredResponse};
use portolan_config::Config;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::{AppState, OrgInfo};
use portolan_domain::OrgId;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

const PERIOD: HeaderName = HeaderName::from_static("x-ratelimit-period");
const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Which budget an authenticated request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// Entity routes, entity search and aggregation, bulk entity routes, entity counts.
    Entities,
    Other,
}

impl RouteClass {
    fn as_str(self) -> &'static str {
        match self {
            RouteClass::Entities => "entities",
            RouteClass::Other => "other",
        }
    }
}

/// Where a request is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bucket {
    /// A request with a verifiable token, of `subject` (the token's `sub`) in `org`.
    Org {
        org: Uuid,
        subject: String,
        class: RouteClass,
    },
    /// Anything else, by source address (an IPv6 address counts by its /64).
    Address(String),
}

impl Bucket {
    /// The rate-limit key: `org:<id>:<class>` or `ip:<address>:unauth`.
    pub fn key(&self) -> String {
        match self {
            Bucket::Org { org, class, .. } => format!("org:{org}:{}", class.as_str()),
            Bucket::Address(a) => format!("ip:{a}:unauth"),
        }
    }

    /// Whose idempotency keys these are: (`org:<id>`, the token's subject) or
    /// (`ip:<address>`, nobody).
    fn scope(&self) -> (String, &str) {
        match self {
            Bucket::Org { org, subject, .. } => (format!("org:{org}"), subject),
            Bucket::Address(a) => (format!("ip:{a}"), ""),
        }
    }
}

/// The class of a `/v1` path, by its segments: `/v1/entities/...`, and under
/// `/v1/blueprints/{bp}/` the `entities...`, `entities-count` and `bulk/entities/...` routes,
/// are entity routes (a blueprint named `entities` does not make its other routes one).
pub fn route_class(path: &str) -> RouteClass {
    let mut segments = path.trim_start_matches('/').split('/').skip(1);
    let entities = match segments.next() {
        Some("entities") => true,
        Some("blueprints") => match (segments.next(), segments.next()) {
            (Some(_), Some("entities" | "entities-count")) => true,
            (Some(_), Some("bulk")) => segments.next() == Some("entities"),
            _ => false,
        },
        _ => false,
    };
    if entities {
        RouteClass::Entities
    } else {
        RouteClass::Other
    }
}

/// The budget of a bucket per window. Per-org overrides will be looked up here.
pub fn budget(config: &Config, bucket: &Bucket, org: Option<&OrgInfo>) -> u64 {
    match bucket {
        Bucket::Org {
            class: RouteClass::Entities,
            ..
        } => org
            .and_then(|o| o.entities_budget)
            .unwrap_or(config.rate_limit_entities),
        Bucket::Org {
            class: RouteClass::Other,
            ..
        } => org
            .and_then(|o| o.other_budget)
            .unwrap_or(config.rate_limit_other),
        Bucket::Address(_) => config.rate_limit_unauthenticated,
    }
}

fn is_v1(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

fn is_token_route(path: &str) -> bool {
    path.starts_with("/v1/auth/")
}

/// Routes whose bodies or answers carry secrets (sign-in, passwords, organization secret
/// values, new client secrets, invitations): no idempotency record (neither the answer nor a
/// hash of the body) is kept for them.
fn carries_secrets(path: &str) -> bool {
    is_token_route(path)
        || path.starts_with("/v1/organization/secrets")
        || path.starts_with("/v1/apps")
        || path.starts_with("/v1/rotate-credentials/")
        || path == "/v1/users/invite"
        || (path.starts_with("/v1/users/") && path.ends_with("/password"))
}

/// The address a request is counted under: the peer's (never a forwarded header); IPv6 by /64.
fn address(req: &ServiceRequest) -> String {
    match req.peer_addr().map(|a| a.ip().to_canonical()) {
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => {
            let s = ip.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

/// The bucket of a request. Only the token's signature and dates are checked here (no store
/// lookup): a revoked but well-signed token still spends its org's budget, which is the org's.
pub fn bucket(req: &ServiceRequest, state: &AppState) -> Bucket {
    let path = req.path();
    if !is_token_route(path) {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim);
        if let Some(claims) = token.and_then(|t| state.verifier.verify(t).ok()) {
            // The `Caller` extractor reuses these claims instead of verifying twice.
            req.extensions_mut()
                .insert(crate::auth::VerifiedClaims(claims.clone()));
            return Bucket::Org {
                org: claims.org,
                subject: claims.sub,
                class: route_class(path),
            };
        }
    }
    Bucket::Address(address(req))
}

fn set_headers(headers: &mut HeaderMap, decision: &Decision, period: u64) {
    for (name, value) in [
        (PERIOD, period),
        (LIMIT, decision.limit),
        (REMAINING, decision.remaining),
        (RESET, decision.reset_secs),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

/// The middleware: counts the request, refuses it over budget, else runs it (through its
/// idempotency key, if any) and adds the rate-limit headers.
pub async fn limits(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let state = match req.app_data::<Data<AppState>>() {
        Some(state) if is_v1(req.path()) => state.clone(),
        _ => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let bucket = bucket(&req, &state);
    // The org's own budgets (its settings, cached a few seconds); the defaults if the store
    // cannot say.
    let org = match &bucket {
        Bucket::Org { org, .. } => state.org_info(OrgId(*org)).await.ok(),
        Bucket::Address(_) => None,
    };
    let period = state.config.rate_limit_window_secs;
    let decision = state
        .cache
        .rate_limiter()
        .hit(
            &bucket.key(),
            budget(&state.config, &bucket, org.as_ref()),
            Duration::from_secs(period),
        )
        .await;
    let mut res = if decision.allowed {
        idempotent(req, next, &state, &bucket).await?
    } else {
        req.error_response(ApiError::RateLimited {
            limit: decision.limit,
            period,
            retry_after: decision.reset_secs,
        })
    };
    set_headers(res.headers_mut(), &decision, period);
    Ok(res)
}

/// Reads the whole body, up to `limit` bytes (413 above, like the JSON extractor).
async fn read_body(
    payload: &mut Payload,
    declared: Option<usize>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::InvalidJson(format!("could not read the body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn hex_sha256(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        // Length-prefixed, so that moving bytes between parts changes the hash.
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    format!("{:x}", h.finalize())
}

/// Where the client's `key` for `method path` is stored: a key is its caller's own (the
/// token's subject in its org, or the address when unauthenticated), per method and path, so a
/// replay never shows one caller what another was answered.
pub fn idempotency_key(bucket: &Bucket, method: &Method, path: &str, key: &str) -> String {
    let (scope, subject) = bucket.scope();
    let hash = hex_sha256(&[
        subject.as_bytes(),
        method.as_str().as_bytes(),
        path.as_bytes(),
        key.as_bytes(),
    ]);
    format!("{scope}:{hash}")
}

/// What a retry must repeat exactly: the query string and the body.
pub fn fingerprint(query: &str, body: &[u8]) -> String {
    hex_sha256(&[query.as_bytes(), body])
}

/// Runs the request through its `Idempotency-Key`, when it is a POST, PUT or PATCH with one
/// (token routes excepted: their answers carry secrets and are not stored).
async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    state: &AppState,
    bucket: &Bucket,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let method = req.method().clone();
    let raw = req.headers().get(IDEMPOTENCY_KEY).cloned();
    let Some(raw) = raw.filter(|_| {
        [Method::POST, Method::PUT, Method::PATCH].contains(&method) && !carries_secrets(req.path())
    }) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // Only a caller that authenticates now (its credential or user still live) has answers
    // stored or replayed, under its own identity; any other request runs as if it had no key
    // (and its handler answers 401).
    if !matches!(bucket, Bucket::Org { .. }) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let caller = match crate::auth::authenticate_request(req.request(), state).await {
        Ok(c) => c,
        Err(_) => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let bucket = &Bucket::Org {
        org: caller.org.0,
        subject: caller.principal.id.clone(),
        class: route_class(req.path()),
    };
    req.extensions_mut()
        .insert(crate::auth::AuthenticatedCaller(caller));
    let key = match raw.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN => k.to_owned(),
        _ => {
            return Ok(req.error_response(ApiError::InvalidParameter(format!(
                "the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII \
                 characters"
            ))));
        }
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = req.take_payload();
    let body = match read_body(&mut payload, declared, state.config.max_body_bytes).await {
        Ok(body) => body,
        Err(e) => return Ok(req.error_response(e)),
    };
    let scoped = idempotency_key(bucket, &method, req.path(), &key);
    let fingerprint = fingerprint(req.query_string(), &body);
    req.set_payload(Payload::from(body));
    let store = state.cache.idempotency();
    match store.begin(&scoped, &fingerprint).await {
        Begin::Fresh => {
            let ttl = Duration::from_secs(state.config.idempotency_ttl_secs);
            run_once(req, next, store, scoped, fingerprint, ttl).await
        }
        Begin::Replay(stored) => Ok(req.into_response(replay(stored))),
        Begin::InProgress => Ok(req.error_response(ApiError::Conflict(
            "a request with this Idempotency-Key is in progress".into(),
        ))),
        Begin::Mismatch => Ok(req.error_response(ApiError::InvalidParameter(
            "this Idempotency-Key was already used with a different body or query string".into(),
        ))),
    }
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let mut res = HttpResponse::build(
        StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    if let Some(ct) = stored
        .content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
    {
        res.insert_header((header::CONTENT_TYPE, ct));
    }
    res.insert_header((IDEMPOTENT_REPLAYED, "true"));
    res.body(stored.body)
}

/// Releases the key of a request that ends without a stored response, including one dropped
/// half-way (the client went away): a retry may then run.
struct Release {
    store: IdempotencyStore,
    key: Option<String>,
}

impl Release {
    async fn now(mut self) {
        if let Some(key) = self.key.take() {
            self.store.abandon(&key).await;
        }
    }

    fn disarm(mut self) {
        self.key = None;
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(key) = self.key.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let store = self.store.clone();
            rt.spawn(async move { store.abandon(&key).await });
        }
    }
}

/// Runs the handler of a fresh key and stores its response (status below 500, body within
/// [`MAX_STORED_BODY_BYTES`]); otherwise releases the key.
async fn run_once(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    store: IdempotencyStore,
    key: String,
    fingerprint: String,
    ttl: Duration,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let release = Release {
        store: store.clone(),
        key: Some(key.clone()),
    };
    let mut res = next.call(req).await?.map_into_boxed_body();
    let storable = !res.status().is_server_error()
        && match res.response().body().size() {
            BodySize::None => true,
            BodySize::Sized(n) => usize::try_from(n).is_ok_and(|n| n <= MAX_STORED_BODY_BYTES),
            BodySize::Stream => false,
        };
    res.headers_mut().insert(
        HeaderName::from_static(IDEMPOTENT_REPLAYED),
        HeaderValue::from_static("false"),
    );
    if !storable {
        release.now().await;
        return Ok(res);
    }
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (http_req, response) = res.into_parts();
    let (response, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(e) => {
            release.now().await;
            return Err(
                ApiError::Internal(format!("could not read the response body: {e}")).into(),
            );
        }
    };
    let stored = StoredResponse {
        status,
        content_type,
        body: bytes.to_vec(),
    };
    store.complete(&key, &fingerprint, &stored, ttl).await;
    release.disarm();
    Ok(ServiceResponse::new(
        http_req,
        response.set_body(BoxBody::new(bytes)),
    ))
}

#[cfg(test)]
mod tests {
    use super::{RouteClass, route_class};

    #[test]
    fn entity_routes_are_classed_by_their_segments() {
        for path in [
            "/v1/entities/search",
            "/v1/entities/aggregate",
            "/v1/blueprints/service/entities",
            "/v1/blueprints/service/entities/a%2Fb",
            "/v1/blueprints/service/entities/bulk",
            "/v1/blueprints/service/entities/search",
            "/v1/blueprints/service/entities-count",
            "/v1/blueprints/service/bulk/entities/delete",
            "/v1/blueprints/entities/entities",
        ] {
            assert_eq!(route_class(path), RouteClass::Entities, "{path}");
        }
        for path in [
            "/v1/blueprints",
            "/v1/blueprints/entities",
            "/v1/blueprints/entities/permissions",
            "/v1/blueprints/service/all-entities",
            "/v1/audit-log",
            "/v1/migrations/x",
            "/v1",
        ] {
            assert_eq!(route_class(path), RouteClass::Other, "{path}");
        }
    }
}
