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
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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

#[tokio::test]
async fn graceful_shutdown_finishes_an_in_flight_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    catalog(&app).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let body = serde_json::to_vec(&json!({"identifier": "in-flight", "title": "T"})).unwrap();
    let (first, rest) = body.split_at(5);
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/blueprints/team/entities HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Shutdown starts while the request is half sent.
    let handle = app.server_handle();
    let stopping = tokio::spawn(async move { handle.stop(true).await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stream.write_all(rest).await.unwrap();
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
