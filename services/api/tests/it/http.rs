use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn every_response_carries_a_trace_id_and_keeps_a_sane_client_one() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(res.headers().get("x-trace-id").is_some());
    let res = app
        .client
        .get(app.url("/v1/nothing-here"))
        .header("x-trace-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-trace-id"], "abc-123");
    let res = app
        .client
        .get(app.url("/v1/blueprints"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("x-trace-id").is_some());
    app.stop().await;
}

#[tokio::test]
async fn health_readiness_metrics_and_docs_are_served() {
    let app = spawn_app().await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready: serde_json::Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["database"], json!("up"));
    app.get("/v1/blueprints").await.expect(200, None);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("portolan_http_requests_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portolan_http_requests_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains("/v1/blueprints"),
        "metrics are labelled by route: {metrics}"
    );
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    assert!(!html.contains("cdn"), "docs must work offline");
    let spec: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/v1/blueprints"].is_object());
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_one_mib_is_413_and_writes_nothing() {
    let app = spawn_app().await;
    catalog(&app).await;
    let before = app.count_rows("entities").await;
    let big = "x".repeat(2 * 1024 * 1024);
    let res = app
        .post(
            "/v1/blueprints/team/entities",
            json!({"identifier": "big", "title": big}),
        )
        .await;
    res.expect(413, Some("payload_too_large"));
    assert_eq!(app.count_rows("entities").await, before);
    app.stop().await;
}

#[tokio::test]
async fn malformed_json_is_400_and_writes_nothing() {
    let app = spawn_app().await;
    let events = app.count_rows("events").await;
    let res = app
        .client
        .post(app.url("/v1/blueprints"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{\"identifier\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], json!("invalid_json"));
    assert_eq!(app.count_rows("blueprints").await, 0);
    assert_eq!(app.count_rows("events").await, events);
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_bad_flags_answer_in_port_shape() {
    let app = spawn_app().await;
    app.get("/v1/does-not-exist")
        .await
        .expect(404, Some("not_found"));
    catalog(&app).await;
    app.call(
        Method::POST,
        "/v1/blueprints/team/entities?upsert=maybe",
        Some(json!({"identifier": "a"})),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.stop().await;
}

/// Sends a POST of `body` to `path` as the app's bootstrap caller, all but its first 5 bytes
/// of body: the stream, and the rest of the body to send.
async fn half_sent(
    app: &TestApp,
    path: &str,
    body: &serde_json::Value,
) -> (tokio::net::TcpStream, Vec<u8>) {
    use tokio::io::AsyncWriteExt;
    let addr = app.base.trim_start_matches("http://");
    let body = serde_json::to_vec(body).unwrap();
    let (first, rest) = body.split_at(5);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    stream.flush().await.unwrap();
    (stream, rest.to_vec())
}

#[tokio::test]
async fn graceful_shutdown_finishes_an_in_flight_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    catalog(&app).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let (mut stream, rest) = half_sent(
        &app,
        "/v1/blueprints/team/entities",
        &json!({"identifier": "in-flight", "title": "T"}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Shutdown starts while the request is half sent.
    let handle = app.server_handle();
    let stopping = tokio::spawn(async move { handle.stop(true).await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stream.write_all(&rest).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    stopping.await.unwrap();
    // New connections are refused once it has stopped.
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
    // The acknowledged write is there.
    let t = app.store.tenant(app.org).await.unwrap();
    let e = portolan_store::entities::get(&t, "team", "in-flight", &Default::default())
        .await
        .unwrap();
    assert_eq!(e["title"], json!("T"));
    drop(t);
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_get_port_shaped_4xx_and_change_nothing() {
    let app = spawn_app().await;
    catalog(&app).await;
    app.post(
        "/v1/blueprints/team/entities",
        json!({"identifier": "core"}),
    )
    .await
    .expect(201, None);
    let tables = [
        "blueprints",
        "entities",
        "entity_relations",
        "events",
        "data_migrations",
    ];
    let mut before = Vec::new();
    for t in tables {
        before.push(app.count_rows(t).await);
    }
    let cases: Vec<(Method, &str, Option<serde_json::Value>, u16, &str)> = vec![
        (
            Method::PUT,
            "/v1/blueprints/team",
            Some(json!({"identifier": "other", "title": "T", "schema": {"properties": {}}})),
            422,
            "invalid_request",
        ),
        (
            Method::PATCH,
            "/v1/blueprints/team",
            Some(json!(["not", "an", "object"])),
            422,
            "invalid_request",
        ),
        (
            Method::PATCH,
            "/v1/blueprints/ghost",
            Some(json!({"title": "x"})),
            404,
            "not_found",
        ),
        (
            Method::PUT,
            "/v1/blueprints/ghost/entities/x",
            Some(json!({})),
            404,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/blueprints/team/entities?merge=true",
            Some(json!({"identifier": "x"})),
            422,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/blueprints/team/bulk/entities/delete",
            Some(json!({"entities": [1, 2]})),
            422,
            "invalid_request",
        ),
        (
            Method::DELETE,
            "/v1/blueprints/team/entities/core?delete_dependents=perhaps",
            None,
            422,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/blueprints/team/entities",
            Some(json!({"identifier": "x", "team": [""]})),
            422,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/blueprints/team/entities",
            Some(json!({"identifier": "x", "unknownMember": 1})),
            422,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/blueprints/team/entities",
            Some(json!({"identifier": {"combinator": "or", "rules": []}})),
            422,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/blueprints/team/entities",
            Some(json!({"identifier": "core"})),
            409,
            "identifier_taken",
        ),
        (
            Method::POST,
            "/v1/blueprints",
            Some(json!({"identifier": "team", "title": "T", "schema": {"properties": {}}})),
            409,
            "identifier_taken",
        ),
        (
            Method::PATCH,
            "/v1/blueprints/team/relations/ghost/rename",
            Some(json!({"newRelationIdentifier": "x"})),
            404,
            "not_found",
        ),
        (
            Method::POST,
            "/v1/migrations/nope/cancel",
            Some(json!({})),
            404,
            "not_found",
        ),
        (
            Method::DELETE,
            "/v1/blueprints/team",
            None,
            409,
            "has_dependents",
        ),
        (
            Method::POST,
            "/v1/blueprints/service/entities",
            Some(
                json!({"identifier": "s", "properties": {"language": "go"}, "relations": {"owner": "core", "dependsOn": "not-a-list"}}),
            ),
            422,
            "invalid_request",
        ),
    ];
    for (m, path, body, status, code) in cases {
        let res = app.call(m.clone(), path, body).await;
        assert!(res.headers.get("x-trace-id").is_some(), "{m} {path}");
        res.expect(status, Some(code));
    }
    for (t, n) in tables.iter().zip(before) {
        assert_eq!(app.count_rows(t).await, n, "{t} changed");
    }
    app.stop().await;
}

/// A request's credential is checked in the transaction its handler then uses, and that
/// transaction is opened only once the body has arrived: with a pool of one connection, a
/// client that stalls halfway through its body keeps no one else waiting, and a request
/// refused after authentication (422) gives its connection back.
#[tokio::test]
async fn a_stalled_body_holds_no_database_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_with(Backend::Postgres, |c| c.db_max_connections = 1).await;
    catalog(&app).await;
    let (mut stream, rest) = half_sent(
        &app,
        "/v1/blueprints/team/entities/search",
        &json!({"query": {"combinator": "and", "rules": []}}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // The pool's one connection is free: others are served while the body is stalled (the
    // pool would otherwise make them wait its 30 s acquire timeout, past this client's).
    let quick = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .unwrap();
    for _ in 0..3 {
        let r = quick
            .get(app.url("/v1/blueprints"))
            .bearer_auth(&app.token)
            .send()
            .await
            .expect("served while another body is stalled");
        assert_eq!(r.status(), 200);
        let r = quick
            .post(app.url("/v1/blueprints/team/entities/search"))
            .bearer_auth(&app.token)
            .json(&json!({"query": {"combinator": "and", "rules": [
                {"property": "nope", "operator": "=", "value": 1}]}}))
            .send()
            .await
            .expect("refused while another body is stalled");
        assert_eq!(r.status(), 422);
    }

    stream.write_all(&rest).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"ok\":true"), "{response}");
    app.stop().await;
}

/// A request's transaction comes from its HTTP worker's own pool (its connections carry
/// their own `application_name`), not from the process's shared one.
#[tokio::test]
async fn requests_run_on_their_workers_own_pool() {
    let app = spawn_app().await;
    catalog(&app).await;
    app.post(
        "/v1/blueprints/team/entities/search",
        json!({"query": {"combinator": "and", "rules": []}}),
    )
    .await
    .expect(200, None);
    let n = app
        .count_sql(&format!(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = '{}'",
            portolan_store::WORKER_POOL_NAME
        ))
        .await;
    assert!(n >= 1, "no connection of a worker's pool");
    app.stop().await;
}
