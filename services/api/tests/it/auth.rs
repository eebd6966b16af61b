use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn token_exchange_issues_a_bearer_token_that_opens_v1() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/v1/auth/access_token"))
        .json(&json!({"clientId": app.client_id, "clientSecret": app.client_secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["ok"], json!(true));
    assert_eq!(body["tokenType"], json!("Bearer"));
    assert_eq!(body["expiresIn"], json!(10800));
    let token = body["accessToken"].as_str().unwrap();
    app.call_as(token, Method::GET, "/v1/blueprints", None)
        .await
        .expect(200, None);
    app.stop().await;
}

#[tokio::test]
async fn wrong_secret_unknown_client_and_bad_bodies_are_refused() {
    let app = spawn_app().await;
    for (body, status, code) in [
        (
            json!({"clientId": app.client_id, "clientSecret": "wrong"}),
            401,
            "unauthorized",
        ),
        (
            json!({"clientId": "nobody", "clientSecret": "whatever"}),
            401,
            "unauthorized",
        ),
        (json!({"clientId": app.client_id}), 422, "invalid_request"),
        (
            json!({"clientId": 5, "clientSecret": "x"}),
            422,
            "invalid_request",
        ),
        (json!([1, 2]), 422, "invalid_request"),
    ] {
        let res = app
            .client
            .post(app.url("/v1/auth/access_token"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{body}");
        let b: serde_json::Value = res.json().await.unwrap();
        assert_eq!(b["error"], json!(code), "{body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn every_v1_route_needs_a_valid_token() {
    let app = spawn_app().await;
    let no_token = app
        .client
        .get(app.url("/v1/blueprints"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    for bad in [
        "garbage",
        "a.b.c",
        &app.token[..app.token.len() - 4],
        "Basic abc",
    ] {
        app.call_as(bad, Method::GET, "/v1/blueprints", None)
            .await
            .expect(401, Some("unauthorized"));
    }
    // A token whose signature is right but whose payload was edited.
    let parts: Vec<&str> = app.token.split('.').collect();
    let tampered = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
    app.call_as(&tampered, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    app.stop().await;
}

#[tokio::test]
async fn the_secret_is_stored_as_an_argon2id_hash() {
    let app = spawn_app().await;
    let cred = app
        .store
        .find_credential(&app.client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        cred.secret_hash.starts_with("$argon2id$"),
        "{}",
        cred.secret_hash
    );
    assert!(!cred.secret_hash.contains(&app.client_secret));
    app.stop().await;
}

#[tokio::test]
async fn tokens_of_unknown_keys_are_refused_and_keys_added_by_another_instance_are_picked_up() {
    use portolan_auth::jwt::{TokenIssuer, generate_signing_key};
    let app = spawn_app().await;
    let key = generate_signing_key();
    let issuer = TokenIssuer::new(
        &key,
        app.config.jwt_issuer.clone(),
        app.config.jwt_audience.clone(),
        std::time::Duration::from_secs(600),
    )
    .unwrap();
    let token = issuer.issue(app.org.0, &app.client_id).unwrap().token;
    // Signed by a key this deployment never had: refused.
    app.call_as(&token, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    // Another instance stores the key (rotation): the same token is now verified.
    app.store
        .insert_signing_key(
            &key.kid,
            key.private_pkcs8_der.clone(),
            key.public_key.clone(),
        )
        .await
        .unwrap();
    app.call_as(&token, Method::GET, "/v1/blueprints", None)
        .await
        .expect(200, None);
    // A token for the right key but another audience is still refused.
    let other = TokenIssuer::new(
        &key,
        app.config.jwt_issuer.clone(),
        "someone-else".into(),
        std::time::Duration::from_secs(600),
    )
    .unwrap()
    .issue(app.org.0, &app.client_id)
    .unwrap()
    .token;
    app.call_as(&other, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    app.stop().await;
}
