//! What a verified token must claim, and how the claims map to the identity.

use uuid::Uuid;

use super::*;

#[tokio::test]
async fn a_valid_token_maps_to_the_identity_in_the_issuers_org() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 1).await;
    let verifier = verifier(config(&server));

    let identity = verifier
        .verify(&sign(&key, &claims(&server.uri())))
        .await
        .expect("valid token");

    assert_eq!(
        identity,
        SsoIdentity {
            issuer: server.uri(),
            org: Uuid::parse_str(ORG).expect("uuid"),
            subject: "user-42".to_owned(),
            email: "alice.smith@example.com".to_owned(),
            groups: vec!["platform".to_owned(), "on-call".to_owned()],
        }
    );
    // The keys are cached: a second token does not fetch them again.
    verifier
        .verify(&sign(&key, &claims(&server.uri())))
        .await
        .expect("valid token");
    assert_eq!(jwks_fetches(&server).await, 1);
}

#[tokio::test]
async fn rs256_and_eddsa_tokens_verify() {
    let rsa = rs256_key("rsa-1");
    let ed = ed25519_key("ed-1");
    let server = issuer_serving(&[&rsa, &ed], 1).await;
    let verifier = verifier(config(&server));

    for key in [&rsa, &ed] {
        let identity = verifier
            .verify(&sign(key, &claims(&server.uri())))
            .await
            .unwrap_or_else(|error| panic!("{:?} token: {error:?}", key.alg));
        assert_eq!(identity.subject, "user-42");
    }
}

#[tokio::test]
async fn groups_are_capped_at_200_and_optional() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 1).await;
    let verifier = verifier(config(&server));

    let mut many = claims(&server.uri());
    many["groups"] = (0..250).map(|i| format!("g{i}")).collect::<Vec<_>>().into();
    let identity = verifier.verify(&sign(&key, &many)).await.expect("valid");
    assert_eq!(identity.groups.len(), 200);
    assert_eq!(identity.groups[199], "g199");

    let mut none = claims(&server.uri());
    none.as_object_mut().expect("object").remove("groups");
    let identity = verifier.verify(&sign(&key, &none)).await.expect("valid");
    assert!(identity.groups.is_empty());
}

#[tokio::test]
async fn expired_tokens_are_refused_beyond_60_s_of_leeway() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 1).await;
    let verifier = verifier(config(&server));

    let mut expired = claims(&server.uri());
    expired["exp"] = json!(now() - 120);
    let result = verifier.verify(&sign(&key, &expired)).await;
    assert!(matches!(result, Err(AuthError::Expired)), "{result:?}");

    let mut within_leeway = claims(&server.uri());
    within_leeway["exp"] = json!(now() - 30);
    verifier
        .verify(&sign(&key, &within_leeway))
        .await
        .expect("within leeway");

    let mut no_exp = claims(&server.uri());
    no_exp.as_object_mut().expect("object").remove("exp");
    assert_invalid(
        verifier.verify(&sign(&key, &no_exp)).await,
        "missing claim exp",
    );
}

#[tokio::test]
async fn tokens_not_yet_valid_are_refused() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 1).await;
    let verifier = verifier(config(&server));

    let mut early = claims(&server.uri());
    early["nbf"] = json!(now() + 600);
    assert_invalid(verifier.verify(&sign(&key, &early)).await, "not yet valid");
}

#[tokio::test]
async fn an_untrusted_issuer_is_refused_without_fetching_anything() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 0).await;
    let verifier = verifier(config(&server));

    for issuer in [
        "https://evil.example".to_owned(),
        format!("{}/", server.uri()),
    ] {
        assert_invalid(
            verifier.verify(&sign(&key, &claims(&issuer))).await,
            "not trusted",
        );
    }
    let mut no_issuer = claims(&server.uri());
    no_issuer.as_object_mut().expect("object").remove("iss");
    assert_invalid(verifier.verify(&sign(&key, &no_issuer)).await, "no issuer");
}

#[tokio::test]
async fn the_audience_must_contain_the_configured_one() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 1).await;
    let verifier = verifier(config(&server));

    let mut wrong = claims(&server.uri());
    wrong["aud"] = json!("another-app");
    assert_invalid(verifier.verify(&sign(&key, &wrong)).await, "wrong audience");

    let mut several = claims(&server.uri());
    several["aud"] = json!(["another-app", AUDIENCE]);
    verifier
        .verify(&sign(&key, &several))
        .await
        .expect("audience among several");
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 1).await;
    let verifier = verifier(config(&server));
    let token = sign(&key, &claims(&server.uri()));

    let mut forged = claims(&server.uri());
    forged["email"] = json!("ceo@example.com");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = b64(forged.to_string().as_bytes());
    assert_invalid(verifier.verify(&parts.join(".")).await, "bad signature");

    assert!(matches!(
        verifier.verify("not.a-token").await,
        Err(AuthError::Malformed)
    ));
}

#[tokio::test]
async fn the_email_claim_is_required() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 1).await;
    let verifier = verifier(config(&server));

    let mut missing = claims(&server.uri());
    missing.as_object_mut().expect("object").remove("email");
    assert_invalid(verifier.verify(&sign(&key, &missing)).await, "email claim");

    let mut not_an_address = claims(&server.uri());
    not_an_address["email"] = json!("alice");
    assert_invalid(
        verifier.verify(&sign(&key, &not_an_address)).await,
        "email claim",
    );

    let mut not_a_string = claims(&server.uri());
    not_a_string["email"] = json!(["alice@example.com"]);
    assert_invalid(
        verifier.verify(&sign(&key, &not_a_string)).await,
        "email claim",
    );
}

#[tokio::test]
async fn a_custom_email_claim_is_read() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 1).await;
    let mut config = config(&server);
    config.email_claim = "upn".to_owned();
    let verifier = verifier(config);

    let mut upn = claims(&server.uri());
    upn["upn"] = json!("Bob@Corp.Example");
    let identity = verifier.verify(&sign(&key, &upn)).await.expect("valid");
    assert_eq!(identity.email, "bob@corp.example");
}

#[tokio::test]
async fn email_verified_false_is_refused() {
    let key = es256_key("ec-1");
    let server = issuer_serving(&[&key], 1).await;
    let verifier = verifier(config(&server));

    for flag in [json!(false), json!("false")] {
        let mut unverified = claims(&server.uri());
        unverified["email_verified"] = flag;
        assert_invalid(
            verifier.verify(&sign(&key, &unverified)).await,
            "not verified",
        );
    }
    let mut unstated = claims(&server.uri());
    unstated
        .as_object_mut()
        .expect("object")
        .remove("email_verified");
    verifier
        .verify(&sign(&key, &unstated))
        .await
        .expect("email_verified is optional");
}
