//! Rate limits and idempotency keys, on the real Redis (each test under its own key prefix),
//! including Redis going away mid-test.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use portolan_api::limits::{Bucket, RouteClass, fingerprint, idempotency_key};
use portolan_cache::{Begin, Cache};
use portolan_config::Config;
use portolan_test_support::proxy::TcpProxy;
use portolan_test_support::{redis_url, unique_suffix};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::*;

/// The tests' window: a day, so that a burst never straddles two windows (they align to
/// midnight UTC, and [`spawn_limited`] waits out the last minute of a day).
const WINDOW: u64 = 86_400;

async fn spawn_limited(redis: String, tweak: impl FnOnce(&mut Config)) -> (TestApp, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let left = WINDOW - now % WINDOW;
    if left < 60 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
    let prefix = format!("t{}:", unique_suffix());
    let p = prefix.clone();
    let app = spawn_with(Backend::Postgres, move |c| {
        c.redis_url = Some(SecretString::from(redis));
        c.redis_key_prefix = p;
        c.rate_limit_window_secs = WINDOW;
        tweak(c);
    })
    .await;
    (app, prefix)
}

fn header(h: &HeaderMap, name: &str) -> u64 {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} header in {h:?}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Asserts the rate-limit headers: `(limit, remaining)`, the period and a sane reset.
fn assert_limit(res: &Res, limit: u64, remaining: u64) {
    let h = &res.headers;
    assert_eq!(
        (
            header(h, "x-ratelimit-limit"),
            header(h, "x-ratelimit-remaining")
        ),
        (limit, remaining),
        "status {}, body {}",
        res.status,
        res.body
    );
    assert_eq!(header(h, "x-ratelimit-period"), WINDOW);
    assert!((1..=WINDOW).contains(&header(h, "x-ratelimit-reset")));
}

fn assert_rate_limited(res: Res, limit: u64) {
    assert_limit(&res, limit, 0);
    let retry = header(&res.headers, "retry-after");
    assert_eq!(retry, header(&res.headers, "x-ratelimit-reset"));
    assert!(res.headers.get("x-trace-id").is_some());
    res.expect(429, Some("rate_limited"));
}

async fn direct() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn keys(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(conn)
        .await
        .unwrap()
}

async fn svc_blueprint(app: &TestApp) {
    app.blueprint(json!({
        "identifier": "svc", "title": "Service",
        "schema": {"properties": {"lang": {"type": "string"}}, "required": []}
    }))
    .await;
}

#[tokio::test]
async fn limits_a_burst_over_budget_is_refused_with_429_while_other_orgs_go_on() {
    let (app, _) = spawn_limited(redis_url(), |c| c.rate_limit_other = 5).await;
    let (_, other_token) = app.other_org().await;
    for remaining in (0..5).rev() {
        let res = app.get("/v1/blueprints").await;
        assert_limit(&res, 5, remaining);
        res.expect(200, None);
    }
    for _ in 0..3 {
        assert_rate_limited(app.get("/v1/blueprints").await, 5);
    }
    // Another org has its own budget.
    let res = app
        .call_as(&other_token, Method::GET, "/v1/blueprints", None)
        .await;
    assert_limit(&res, 5, 4);
    res.expect(200, None);
    // Outside /v1 nothing is counted.
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-ratelimit-limit").is_none());
    app.stop().await;
}

#[tokio::test]
async fn limits_an_org_sets_its_own_budgets_in_its_settings() {
    let (app, _) = spawn_limited(redis_url(), |c| c.rate_limit_other = 50).await;
    let (_, other_token) = app.other_org().await;
    // A bad budget is refused and changes nothing.
    app.patch(
        "/v1/organization",
        json!({"settings": {"rateLimits": {"other": 0, "typo": 5}}}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.patch(
        "/v1/organization",
        json!({"settings": {"rateLimits": {"other": 4}}}),
    )
    .await
    .expect(200, None);
    // The window already holds the two changes above: the org's own 4 leave two.
    for remaining in [1, 0] {
        let res = app.get("/v1/blueprints").await;
        assert_limit(&res, 4, remaining);
        res.expect(200, None);
    }
    assert_rate_limited(app.get("/v1/blueprints").await, 4);
    // Another org keeps the configured default.
    let res = app
        .call_as(&other_token, Method::GET, "/v1/blueprints", None)
        .await;
    assert_limit(&res, 50, 49);
    res.expect(200, None);
    app.stop().await;
}

#[tokio::test]
async fn limits_entity_routes_have_their_own_budget() {
    let (app, _) = spawn_limited(redis_url(), |c| {
        c.rate_limit_other = 5;
        c.rate_limit_entities = 3;
    })
    .await;
    svc_blueprint(&app).await; // other: 1
    for (i, remaining) in [2, 1, 0].into_iter().enumerate() {
        let res = app
            .post(
                "/v1/blueprints/svc/entities",
                json!({"identifier": format!("e{i}")}),
            )
            .await;
        assert_limit(&res, 3, remaining);
        res.expect(201, None);
    }
    for path in [
        "/v1/blueprints/svc/entities",
        "/v1/blueprints/svc/entities-count",
    ] {
        assert_rate_limited(app.get(path).await, 3);
    }
    assert_rate_limited(
        app.post(
            "/v1/entities/search",
            json!({"combinator": "and", "rules": []}),
        )
        .await,
        3,
    );
    // The other routes still have theirs.
    let res = app.get("/v1/blueprints/svc").await;
    assert_limit(&res, 5, 3);
    res.expect(200, None);
    app.stop().await;
}

fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet)))
        .build()
        .unwrap()
}

async fn send(req: reqwest::RequestBuilder) -> Res {
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = serde_json::from_str(&res.text().await.unwrap()).unwrap_or(Value::Null);
    Res {
        status,
        body,
        headers,
    }
}

#[tokio::test]
async fn limits_unauthenticated_requests_have_a_budget_per_address() {
    let (app, _) = spawn_limited(redis_url(), |c| c.rate_limit_unauthenticated = 4).await;
    let (a, b) = (client_from(2), client_from(3));
    for remaining in (0..4).rev() {
        let res = send(a.get(app.url("/v1/blueprints"))).await;
        assert_limit(&res, 4, remaining);
        res.expect(401, Some("unauthorized"));
    }
    assert_rate_limited(send(a.get(app.url("/v1/blueprints"))).await, 4);
    // The token route counts as unauthenticated, even with good credentials.
    let exchange = json!({"clientId": app.client_id, "clientSecret": app.client_secret});
    assert_rate_limited(
        send(a.post(app.url("/v1/auth/access_token")).json(&exchange)).await,
        4,
    );
    // Another address has its own budget; a token that does not verify is no token.
    let res = send(b.post(app.url("/v1/auth/access_token")).json(&exchange)).await;
    assert_limit(&res, 4, 3);
    res.expect(200, None);
    let res = send(b.get(app.url("/v1/blueprints")).bearer_auth("not-a-token")).await;
    assert_limit(&res, 4, 2);
    res.expect(401, Some("unauthorized"));
    // A good token spends its org's budget, whatever the address.
    let res = send(a.get(app.url("/v1/blueprints")).bearer_auth(&app.token)).await;
    assert_limit(
        &res,
        app.config.rate_limit_other,
        app.config.rate_limit_other - 1,
    );
    res.expect(200, None);
    app.stop().await;
}

/// POSTs `body` (as raw JSON text) with an Idempotency-Key.
async fn post_with_key(app: &TestApp, token: &str, path: &str, key: &str, body: &Value) -> Res {
    send(
        app.client
            .post(app.url(path))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

fn replayed(res: &Res) -> Option<&str> {
    res.headers
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn limits_an_idempotency_key_replays_the_first_response_and_writes_once() {
    let (app, _) = spawn_limited(redis_url(), |c| c.max_body_bytes = 4096).await;
    svc_blueprint(&app).await;
    let path = "/v1/blueprints/svc/entities";
    let entity = json!({"identifier": "a", "properties": {"lang": "rust"}});
    let first = post_with_key(&app, &app.token, path, "key-1", &entity).await;
    assert_eq!(replayed(&first), Some("false"));
    let created = first.expect(201, None);
    let again = post_with_key(&app, &app.token, path, "key-1", &entity).await;
    assert_eq!(replayed(&again), Some("true"));
    assert!(
        again.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(again.expect(201, None), created, "the same body");
    let list = app.get(path).await.expect(200, None);
    assert_eq!(list["entities"].as_array().unwrap().len(), 1);
    // Without a key, the same request is a second create.
    app.post(path, entity.clone())
        .await
        .expect(409, Some("identifier_taken"));

    // The same key with another body is refused; on another route it is another key.
    let other = json!({"identifier": "b"});
    post_with_key(&app, &app.token, path, "key-1", &other)
        .await
        .expect(422, Some("invalid_request"));
    let bp = json!({"identifier": "svc2", "title": "S2", "schema": {"properties": {}}});
    post_with_key(&app, &app.token, "/v1/blueprints", "key-1", &bp)
        .await
        .expect(201, None);
    // Another org's key-1 is its own.
    let (_, other_token) = app.other_org().await;
    post_with_key(&app, &other_token, "/v1/blueprints", "key-1", &bp)
        .await
        .expect(201, None);

    // Client errors are stored and replayed too.
    let bad = json!({"identifier": "c", "properties": {"lang": 5}});
    let res = post_with_key(&app, &app.token, path, "key-2", &bad).await;
    assert_eq!(replayed(&res), Some("false"));
    let body = res.expect(422, Some("invalid_request"));
    let res = post_with_key(&app, &app.token, path, "key-2", &bad).await;
    assert_eq!(replayed(&res), Some("true"));
    assert_eq!(res.expect(422, Some("invalid_request")), body);

    // Keys over 255 characters, and bodies over the limit, are refused.
    post_with_key(&app, &app.token, path, &"k".repeat(256), &entity)
        .await
        .expect(422, Some("invalid_request"));
    let big = json!({"identifier": "big", "properties": {"lang": "x".repeat(5000)}});
    post_with_key(&app, &app.token, path, "key-3", &big)
        .await
        .expect(413, Some("payload_too_large"));
    app.stop().await;
}

#[tokio::test]
async fn limits_a_key_in_progress_is_a_conflict() {
    let (app, prefix) = spawn_limited(redis_url(), |_| {}).await;
    svc_blueprint(&app).await;
    let path = "/v1/blueprints/svc/entities";
    let entity = json!({"identifier": "a"});
    // Another instance holds the key: take it behind the API's back.
    let bucket = Bucket::Org {
        org: app.org.0,
        subject: app.client_id.clone(),
        class: RouteClass::Entities,
    };
    let key = idempotency_key(&bucket, &actix_web::http::Method::POST, path, "busy");
    let cache = Cache::connect(Some(&redis_url()), prefix).await.unwrap();
    let store = cache.idempotency();
    let fp = fingerprint("", entity.to_string().as_bytes());
    assert_eq!(store.begin(&key, &fp).await, Begin::Fresh);
    post_with_key(&app, &app.token, path, "busy", &entity)
        .await
        .expect(409, Some("conflict"));
    // Once that instance gives up, the request runs.
    store.abandon(&key).await;
    post_with_key(&app, &app.token, path, "busy", &entity)
        .await
        .expect(201, None);
    app.stop().await;
}

/// A GET that must be answered within a bound, Redis or not.
async fn timed_get(app: &TestApp, path: &str) -> Res {
    let t = Instant::now();
    let res = app.get(path).await;
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    res
}

#[tokio::test]
async fn limits_redis_cut_mid_test_keeps_serving_with_limits_applied_locally() {
    let mut proxy = TcpProxy::to_redis().await;
    let (app, prefix) = spawn_limited(proxy.redis_url(), |c| c.rate_limit_other = 8).await;
    let mut conn = direct().await;
    let org = app.org.0;
    svc_blueprint(&app).await; // other: 1
    assert_limit(&timed_get(&app, "/v1/blueprints").await, 8, 6);
    assert_limit(&timed_get(&app, "/v1/blueprints").await, 8, 5);
    let counted = keys(&mut conn, &format!("{prefix}rl:org:{org}:other:*")).await;
    assert_eq!(counted.len(), 1, "counted in Redis: {counted:?}");

    proxy.cut().await;
    // Memory takes over from zero: this instance's own budget, applied locally.
    let mut served = 0;
    let refused = loop {
        let res = timed_get(&app, "/v1/blueprints").await;
        if res.status == StatusCode::TOO_MANY_REQUESTS {
            break res;
        }
        assert_limit(&res, 8, 7 - served);
        res.expect(200, None);
        served += 1;
        assert!(served <= 8, "never limited");
    };
    assert_eq!(served, 8);
    assert_rate_limited(refused, 8);
    // Idempotency keys hold meanwhile (in memory).
    let entity = json!({"identifier": "during"});
    let path = "/v1/blueprints/svc/entities";
    let first = post_with_key(&app, &app.token, path, "k", &entity).await;
    let created = first.expect(201, None);
    let again = post_with_key(&app, &app.token, path, "k", &entity).await;
    assert_eq!(replayed(&again), Some("true"));
    assert_eq!(again.expect(201, None), created);
    assert!(
        keys(&mut conn, &format!("{prefix}rl:org:{org}:entities:*"))
            .await
            .is_empty(),
        "nothing reached Redis"
    );

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while keys(&mut conn, &format!("{prefix}rl:org:{org}:entities:*"))
        .await
        .is_empty()
    {
        assert!(Instant::now() < deadline, "Redis was not used again");
        timed_get(&app, "/v1/blueprints/svc/entities").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Back on Redis, its count (3 before the outage) goes on.
    let res = timed_get(&app, "/v1/blueprints").await;
    assert_limit(&res, 8, 4);
    res.expect(200, None);
    app.stop().await;
}
