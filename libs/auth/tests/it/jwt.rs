use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portolan_auth::AuthError;
use portolan_auth::jwt::{Claims, SigningKey, TokenIssuer, TokenVerifier, generate_signing_key};
use serde_json::json;
use uuid::Uuid;

const ISSUER: &str = "portolan";
const AUDIENCE: &str = "portolan-api";

fn issuer(key: &SigningKey) -> TokenIssuer {
    TokenIssuer::new(
        key,
        ISSUER.to_owned(),
        AUDIENCE.to_owned(),
        Duration::from_secs(3600),
    )
    .expect("valid key")
}

fn verifier_trusting(key: &SigningKey) -> TokenVerifier {
    let verifier = TokenVerifier::new(ISSUER.to_owned(), AUDIENCE.to_owned());
    verifier
        .add_key(&key.kid, &key.public_key)
        .expect("valid key");
    verifier
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(iat: i64, exp: i64) -> Claims {
    Claims {
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: "client-1".to_owned(),
        org: Uuid::new_v4(),
        iat,
        nbf: iat,
        exp,
        jti: "jti-1".to_owned(),
        kind: "credential".to_owned(),
        ver: 1,
    }
}

/// Signs arbitrary claims with `key` (EdDSA), with the given `kid` header.
fn sign(key: &SigningKey, kid: Option<&str>, claims: &impl serde::Serialize) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ed_der(&key.private_pkcs8_der),
    )
    .expect("sign")
}

fn b64_json(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("json"))
}

fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

#[test]
fn an_issued_token_verifies_and_carries_its_claims() {
    let key = generate_signing_key();
    let org = Uuid::new_v4();
    let before = now();
    let issued = issuer(&key).issue(org, "client-1").expect("issue");
    assert_eq!(issued.expires_in, 3600);

    let header = jsonwebtoken::decode_header(&issued.token).expect("header");
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));

    let claims = verifier_trusting(&key)
        .verify(&issued.token)
        .expect("valid");
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, AUDIENCE);
    assert_eq!(claims.sub, "client-1");
    assert_eq!(claims.org, org);
    assert!(claims.iat >= before && claims.iat <= now());
    assert_eq!(claims.nbf, claims.iat);
    assert_eq!(claims.exp, claims.iat + 3600);
    assert!(!claims.jti.is_empty());

    let again = issuer(&key).issue(org, "client-1").expect("issue");
    let again = verifier_trusting(&key).verify(&again.token).expect("valid");
    assert_ne!(claims.jti, again.jti, "every token has its own id");
}

#[test]
fn generated_keys_have_a_kid_and_a_32_byte_public_key() {
    let key = generate_signing_key();
    let suffix = key.kid.strip_prefix("k_").expect("k_ prefix");
    assert_eq!(suffix.len(), 16);
    assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(key.public_key.len(), 32);
    let other = generate_signing_key();
    assert_ne!(key.kid, other.kid);
    assert_ne!(key.public_key, other.public_key);
}

#[test]
fn signing_key_debug_hides_the_private_key() {
    let key = generate_signing_key();
    let debug = format!("{key:?} {key:#?}");
    assert!(debug.contains(&key.kid));
    assert!(debug.contains("REDACTED"));
    assert!(!debug.contains(&format!("{:?}", key.private_pkcs8_der)));
    // The seed is the last 32 bytes of a v1 document or sits before the public key in v2:
    // no 8-byte window of the private document may appear.
    let private: Vec<String> = key.private_pkcs8_der.iter().map(u8::to_string).collect();
    let public = format!("{:?}", key.public_key);
    for window in private.windows(8) {
        let rendered = window.join(", ");
        assert!(
            !debug.contains(&rendered) || public.contains(&rendered),
            "private bytes leaked: {rendered}"
        );
    }
}

#[test]
fn an_issuer_refuses_inconsistent_key_material() {
    let key = generate_signing_key();
    let mismatched = SigningKey {
        public_key: generate_signing_key().public_key,
        ..key.clone()
    };
    let error = TokenIssuer::new(
        &mismatched,
        ISSUER.into(),
        AUDIENCE.into(),
        Duration::from_secs(60),
    )
    .expect_err("mismatch");
    assert!(matches!(error, AuthError::Internal(_)));

    let garbage = SigningKey {
        private_pkcs8_der: vec![1, 2, 3],
        ..key
    };
    let error = TokenIssuer::new(
        &garbage,
        ISSUER.into(),
        AUDIENCE.into(),
        Duration::from_secs(60),
    )
    .expect_err("garbage");
    assert!(matches!(error, AuthError::Internal(_)));
}

#[test]
fn the_verifier_only_accepts_32_byte_ed25519_public_keys() {
    let verifier = TokenVerifier::new(ISSUER.into(), AUDIENCE.into());
    assert!(matches!(
        verifier.add_key("short", &[0; 16]),
        Err(AuthError::Internal(_))
    ));
    assert!(!verifier.has_key("short"));
    let key = generate_signing_key();
    verifier.add_key(&key.kid, &key.public_key).expect("valid");
    assert!(verifier.has_key(&key.kid));
}

#[test]
fn alg_none_is_rejected() {
    let key = generate_signing_key();
    let token = issuer(&key)
        .issue(Uuid::new_v4(), "client-1")
        .expect("issue");
    let parts = segments(&token.token);
    let header = b64_json(&json!({"alg": "none", "typ": "JWT", "kid": key.kid}));
    for forged in [
        format!("{header}.{}.", parts[1]),
        format!("{header}.{}.{}", parts[1], parts[2]),
    ] {
        let result = verifier_trusting(&key).verify(&forged);
        assert!(
            matches!(result, Err(AuthError::Malformed | AuthError::Invalid(_))),
            "{result:?}"
        );
    }
}

#[test]
fn an_hs256_token_keyed_with_the_public_key_is_rejected() {
    let key = generate_signing_key();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    let forged = jsonwebtoken::encode(
        &header,
        &claims(now(), now() + 600),
        &EncodingKey::from_secret(&key.public_key),
    )
    .expect("sign");
    let result = verifier_trusting(&key).verify(&forged);
    assert!(matches!(result, Err(AuthError::Invalid(_))), "{result:?}");
}

#[test]
fn an_expired_token_is_rejected_beyond_30_seconds_of_leeway() {
    let key = generate_signing_key();
    let verifier = verifier_trusting(&key);

    let expired = sign(&key, Some(&key.kid), &claims(now() - 3600, now() - 60));
    assert!(matches!(verifier.verify(&expired), Err(AuthError::Expired)));

    let within_leeway = sign(&key, Some(&key.kid), &claims(now() - 3600, now() - 10));
    verifier.verify(&within_leeway).expect("within leeway");
}

#[test]
fn a_token_not_yet_valid_is_rejected() {
    let key = generate_signing_key();
    let mut future = claims(now(), now() + 7200);
    future.nbf = now() + 3600;
    let token = sign(&key, Some(&key.kid), &future);
    let result = verifier_trusting(&key).verify(&token);
    assert!(matches!(result, Err(AuthError::Invalid(_))), "{result:?}");
}

#[test]
fn a_wrong_issuer_is_rejected() {
    let key = generate_signing_key();
    let other = TokenIssuer::new(
        &key,
        "someone-else".into(),
        AUDIENCE.into(),
        Duration::from_secs(600),
    )
    .expect("issuer");
    let token = other.issue(Uuid::new_v4(), "client-1").expect("issue");
    let result = verifier_trusting(&key).verify(&token.token);
    assert!(matches!(result, Err(AuthError::Invalid(_))), "{result:?}");
}

#[test]
fn a_wrong_audience_is_rejected() {
    let key = generate_signing_key();
    let other = TokenIssuer::new(
        &key,
        ISSUER.into(),
        "another-api".into(),
        Duration::from_secs(600),
    )
    .expect("issuer");
    let token = other.issue(Uuid::new_v4(), "client-1").expect("issue");
    let result = verifier_trusting(&key).verify(&token.token);
    assert!(matches!(result, Err(AuthError::Invalid(_))), "{result:?}");
}

#[test]
fn a_tampered_payload_is_rejected() {
    let key = generate_signing_key();
    let token = issuer(&key)
        .issue(Uuid::new_v4(), "client-1")
        .expect("issue");
    let parts = segments(&token.token);
    let payload = URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64");
    let mut claims: serde_json::Value = serde_json::from_slice(&payload).expect("json");
    claims["org"] = json!(Uuid::new_v4());
    let forged = format!("{}.{}.{}", parts[0], b64_json(&claims), parts[2]);
    let result = verifier_trusting(&key).verify(&forged);
    assert!(matches!(result, Err(AuthError::Invalid(_))), "{result:?}");
}

#[test]
fn a_token_signed_by_another_key_under_a_trusted_kid_is_rejected() {
    let trusted = generate_signing_key();
    let attacker = generate_signing_key();
    let token = sign(&attacker, Some(&trusted.kid), &claims(now(), now() + 600));
    let result = verifier_trusting(&trusted).verify(&token);
    assert!(matches!(result, Err(AuthError::Invalid(_))), "{result:?}");
}

#[test]
fn an_unknown_kid_is_reported_as_such() {
    let trusted = generate_signing_key();
    let unknown = generate_signing_key();
    let token = issuer(&unknown)
        .issue(Uuid::new_v4(), "client-1")
        .expect("issue");
    match verifier_trusting(&trusted).verify(&token.token) {
        Err(AuthError::UnknownKid(kid)) => assert_eq!(kid, unknown.kid),
        other => panic!("expected UnknownKid, got {other:?}"),
    }
}

#[test]
fn a_token_without_kid_is_rejected() {
    let key = generate_signing_key();
    let token = sign(&key, None, &claims(now(), now() + 600));
    let result = verifier_trusting(&key).verify(&token);
    assert!(matches!(result, Err(AuthError::Invalid(_))), "{result:?}");
}

#[test]
fn garbage_is_malformed() {
    let key = generate_signing_key();
    let verifier = verifier_trusting(&key);
    for token in ["", "abc", "a.b", "a.b.c", "..."] {
        let result = verifier.verify(token);
        assert!(
            matches!(result, Err(AuthError::Malformed)),
            "{token}: {result:?}"
        );
    }
}

#[test]
fn a_token_missing_required_claims_is_rejected() {
    let key = generate_signing_key();
    let token = sign(
        &key,
        Some(&key.kid),
        &json!({"iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600}),
    );
    let result = verifier_trusting(&key).verify(&token);
    assert!(
        matches!(result, Err(AuthError::Malformed | AuthError::Invalid(_))),
        "{result:?}"
    );
}

#[test]
fn keys_can_be_rotated_while_old_tokens_stay_valid() {
    let old = generate_signing_key();
    let new = generate_signing_key();
    let verifier = verifier_trusting(&old);
    let old_token = issuer(&old).issue(Uuid::new_v4(), "c").expect("issue");
    verifier.add_key(&new.kid, &new.public_key).expect("add");
    let new_token = issuer(&new).issue(Uuid::new_v4(), "c").expect("issue");
    verifier
        .verify(&old_token.token)
        .expect("old key still trusted");
    verifier.verify(&new_token.token).expect("new key trusted");
}
