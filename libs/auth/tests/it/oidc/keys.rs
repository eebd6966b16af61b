//! Finding the issuer's keys (JWKS, discovery, rotation, refresh limits) and refusing
//! algorithms that do not fit them.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use super::*;

#[tokio::test]
async fn a_key_rotation_at_the_issuer_is_picked_up() {
    let old = es256_key("2025-old");
    let new = es256_key("2026-new");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(jwks_response(jwks(&[&old])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(jwks_response(jwks(&[&old, &new])))
        .mount(&server)
        .await;
    let verifier = verifier(config(&server)).with_min_refresh_interval(Duration::ZERO);

    verifier
        .verify(&sign(&old, &claims(&server.uri())))
        .await
        .expect("old key");
    verifier
        .verify(&sign(&new, &claims(&server.uri())))
        .await
        .expect("new key after refresh");
    verifier
        .verify(&sign(&old, &claims(&server.uri())))
        .await
        .expect("old key still published");
    assert_eq!(jwks_fetches(&server).await, 2);
}

#[tokio::test]
async fn unknown_key_ids_are_refused_and_refetch_at_most_once_per_30_s() {
    let key = es256_key("ec-1");
    let stranger = es256_key("not-published");
    let server = issuer_serving(&[&key], 1).await;
    let verifier = verifier(config(&server));
    verifier
        .verify(&sign(&key, &claims(&server.uri())))
        .await
        .expect("loads the keys");

    let result = verifier
        .verify(&sign(&stranger, &claims(&server.uri())))
        .await;
    assert!(
        matches!(&result, Err(AuthError::UnknownKid(kid)) if kid == "not-published"),
        "{result:?}"
    );
    let other = es256_key("made-up-too");
    let result = verifier.verify(&sign(&other, &claims(&server.uri()))).await;
    assert!(
        matches!(result, Err(AuthError::UnknownKid(_))),
        "{result:?}"
    );

    // The first key load was less than 30 s ago: neither made-up kid fetched the keys again.
    assert_eq!(jwks_fetches(&server).await, 1);
}

#[tokio::test]
async fn an_unknown_key_id_after_a_refresh_is_refused_without_another_fetch() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 2).await;
    let verifier = verifier(config(&server));

    // Cold cache: the first unknown kid fetches the keys, and is still unknown.
    let stranger = es256_key("unknown-1");
    let result = verifier
        .verify(&sign(&stranger, &claims(&server.uri())))
        .await;
    assert!(
        matches!(result, Err(AuthError::UnknownKid(_))),
        "{result:?}"
    );
    assert_eq!(jwks_fetches(&server).await, 1);

    let stranger = es256_key("unknown-2");
    let result = verifier
        .verify(&sign(&stranger, &claims(&server.uri())))
        .await;
    assert!(
        matches!(result, Err(AuthError::UnknownKid(_))),
        "{result:?}"
    );
    assert_eq!(jwks_fetches(&server).await, 1);

    // Once the interval has passed, an unknown kid may fetch again.
    let verifier = verifier.with_min_refresh_interval(Duration::ZERO);
    let result = verifier
        .verify(&sign(&stranger, &claims(&server.uri())))
        .await;
    assert!(
        matches!(result, Err(AuthError::UnknownKid(_))),
        "{result:?}"
    );
    assert_eq!(jwks_fetches(&server).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unknown_key_ids_share_one_fetch() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 1).await;
    let verifier = Arc::new(verifier(config(&server)));
    let tasks = (0..20).map(|i| {
        let token = sign(&es256_key(&format!("bogus-{i}")), &claims(&server.uri()));
        let verifier = Arc::clone(&verifier);
        tokio::spawn(async move { verifier.verify(&token).await })
    });

    let results = join_all(tasks).await;

    for result in results {
        let result = result.expect("task");
        assert!(
            matches!(result, Err(AuthError::UnknownKid(_))),
            "{result:?}"
        );
    }
    assert_eq!(jwks_fetches(&server).await, 1);
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_known_keys() {
    let key = es256_key("ec-1");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(jwks_response(jwks(&[&key])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let verifier = verifier(config(&server)).with_min_refresh_interval(Duration::ZERO);
    verifier
        .verify(&sign(&key, &claims(&server.uri())))
        .await
        .expect("loads the keys");

    let result = verifier
        .verify(&sign(&es256_key("rotated"), &claims(&server.uri())))
        .await;
    assert!(
        matches!(&result, Err(AuthError::Internal(message)) if message.contains("503")),
        "{result:?}"
    );
    verifier
        .verify(&sign(&key, &claims(&server.uri())))
        .await
        .expect("the known key still verifies");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 0).await;
    let verifier = verifier(config(&server));

    for alg in ["none", "None", "NONE"] {
        let token = raw_token(
            &json!({ "alg": alg, "typ": "JWT", "kid": "ec-1" }),
            &claims(&server.uri()),
            b"",
        );
        assert_invalid(verifier.verify(&token).await, "is not accepted");
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let ec = es256_key("ec-1");
    let rsa = rs256_key("rsa-1");
    // An IdP (or an attacker who controls its JWKS) also publishes a symmetric key.
    let secret = b"shared-secret-published-as-a-jwk".to_vec();
    let server = MockServer::start().await;
    let mut keys = jwks(&[&ec, &rsa]);
    keys["keys"]
        .as_array_mut()
        .expect("array")
        .push(json!({ "kty": "oct", "kid": "hmac-1", "alg": "HS256", "k": b64(&secret) }));
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(jwks_response(keys))
        .mount(&server)
        .await;
    let verifier = verifier(config(&server));

    for (kid, secret) in [
        (ec.kid.as_str(), ec.public_bytes.as_slice()),
        (rsa.kid.as_str(), rsa.public_bytes.as_slice()),
        ("hmac-1", secret.as_slice()),
    ] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some(kid.to_owned());
            let token = jsonwebtoken::encode(
                &header,
                &claims(&server.uri()),
                &EncodingKey::from_secret(secret),
            )
            .expect("sign");
            assert_invalid(verifier.verify(&token).await, "is not accepted");
        }
    }
}

#[tokio::test]
async fn the_algorithm_must_match_the_key_type() {
    let ec = es256_key("ec-1");
    let ed = ed25519_key("ed-1");
    let server = issuer_serving(&[&ec, &ed], 1).await;
    let verifier = verifier(config(&server));

    // Signed with the Ed25519 key but naming the P-256 key.
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(ec.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims(&server.uri()), &ed.encoding).expect("sign");
    assert_invalid(verifier.verify(&token).await, "does not match signing key");

    // ES384 naming a P-256 key.
    let token = raw_token(
        &json!({ "alg": "ES384", "kid": ec.kid }),
        &claims(&server.uri()),
        &[0; 96],
    );
    assert_invalid(verifier.verify(&token).await, "does not match signing key");
}

#[tokio::test]
async fn keys_are_found_through_discovery() {
    let key = rs256_key("rsa-1");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": server.uri(),
            "jwks_uri": format!("{}/oauth2/keys", server.uri()),
            "id_token_signing_alg_values_supported": ["RS256"],
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth2/keys"))
        .respond_with(jwks_response(jwks(&[&key])))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.jwks_url = None;
    let verifier = verifier(config);

    let identity = verifier
        .verify(&sign(&key, &claims(&server.uri())))
        .await
        .expect("valid token");
    assert_eq!(identity.email, "alice.smith@example.com");
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_refused() {
    let key = es256_key("ec-1");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": "https://elsewhere.example",
            "jwks_uri": format!("{}/jwks", server.uri()),
        })))
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.jwks_url = None;
    let verifier = verifier(config);

    let result = verifier.verify(&sign(&key, &claims(&server.uri()))).await;
    assert!(
        matches!(&result, Err(AuthError::Internal(message)) if message.contains("elsewhere")),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unreachable_jwks_fails_cleanly() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let config =
        parse_issuers(&json!([{ "issuer": issuer, "audience": AUDIENCE, "org": ORG }]).to_string())
            .expect("valid config")
            .remove(0);
    let verifier = verifier(config);
    let key = es256_key("ec-1");

    let result = verifier.verify(&sign(&key, &claims(&issuer))).await;
    assert!(
        matches!(&result, Err(AuthError::Internal(message)) if message.contains("openid-configuration")),
        "{result:?}"
    );
    // Within the refresh interval the issuer is not asked again.
    let result = verifier.verify(&sign(&key, &claims(&issuer))).await;
    assert!(
        matches!(&result, Err(AuthError::Internal(message)) if message.contains("unavailable")),
        "{result:?}"
    );
}

#[tokio::test]
async fn oversized_or_broken_jwks_documents_fail_cleanly() {
    let key = es256_key("ec-1");
    for (response, expected) in [
        (
            ResponseTemplate::new(200).set_body_string("x".repeat(1024 * 1024 + 1)),
            "larger than",
        ),
        (
            ResponseTemplate::new(200).set_body_string("{\"keys\": 42}"),
            "invalid JWKS",
        ),
        (ResponseTemplate::new(404), "404"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(response)
            .mount(&server)
            .await;
        let verifier = verifier(config(&server));
        let result = verifier.verify(&sign(&key, &claims(&server.uri()))).await;
        assert!(
            matches!(&result, Err(AuthError::Internal(message)) if message.contains(expected)),
            "{expected}: {result:?}"
        );
    }
}
