//! Single sign-on: ID tokens from an OIDC issuer played by a local wiremock server.

mod claims;
mod config;
mod keys;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portolan_auth::AuthError;
use portolan_auth::oidc::{IssuerConfig, OidcVerifier, SsoIdentity, parse_issuers};
use rand::rngs::OsRng;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUDIENCE: &str = "portolan-sso";
const ORG: &str = "6f1c2b1e-8f7a-4c4e-9d55-3f0c2a9b7e01";
const RSA_TEST_KEY_PEM: &str = include_str!("../../fixtures/rsa_2048_test_key.pem");

/// A signing key of the test issuer and its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    /// The public key bytes, as an attacker would find them in the JWKS.
    public_bytes: Vec<u8>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn es256_key(kid: &str) -> TestKey {
    use p256::pkcs8::EncodePrivateKey;
    let key = p256::ecdsa::SigningKey::random(&mut OsRng);
    let der = key.to_pkcs8_der().expect("pkcs8");
    let point = key.verifying_key().to_encoded_point(false);
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y")),
        }),
        public_bytes: point.as_bytes().to_vec(),
    }
}

fn ed25519_key(kid: &str) -> TestKey {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
    let der = key.to_pkcs8_der().expect("pkcs8");
    let public = key.verifying_key().to_bytes();
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::EdDSA,
        encoding: EncodingKey::from_ed_der(der.as_bytes()),
        jwk: json!({ "kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(&public) }),
        public_bytes: public.to_vec(),
    }
}

fn rs256_key(kid: &str) -> TestKey {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_TEST_KEY_PEM).expect("fixture key");
    let n = key.n().to_bytes_be();
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_pem(RSA_TEST_KEY_PEM.as_bytes()).expect("fixture key"),
        jwk: json!({
            "kty": "RSA", "use": "sig", "kid": kid, "n": b64(&n), "e": b64(&key.e().to_bytes_be()),
        }),
        public_bytes: n,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims of a valid ID token from `issuer`.
fn claims(issuer: &str) -> Value {
    json!({
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": "user-42",
        "email": "Alice.Smith@Example.COM",
        "email_verified": true,
        "groups": ["platform", 42, "on-call", null],
        "iat": now(),
        "nbf": now(),
        "exp": now() + 300,
    })
}

fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
}

/// A token with a hand-made header and signature.
fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|key| key.jwk.clone()).collect::<Vec<_>>() })
}

fn jwks_response(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// The configuration of the issuer `server` plays, with its keys at `/jwks`.
fn config(server: &MockServer) -> IssuerConfig {
    let json = json!([{
        "issuer": server.uri(),
        "audience": AUDIENCE,
        "org": ORG,
        "jwksUrl": format!("{}/jwks", server.uri()),
        "groupsClaim": "groups",
    }]);
    parse_issuers(&json.to_string())
        .expect("valid config")
        .remove(0)
}

fn verifier(config: IssuerConfig) -> OidcVerifier {
    OidcVerifier::new(vec![config], reqwest::Client::new())
}

/// An issuer serving `keys` at `/jwks`, expected to be fetched `fetches` times.
async fn issuer_serving(keys: &[&TestKey], fetches: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(jwks_response(jwks(keys)))
        .expect(fetches)
        .mount(&server)
        .await;
    server
}

async fn jwks_fetches(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("recording")
        .iter()
        .filter(|request| request.url.path() == "/jwks")
        .count()
}

fn assert_invalid(result: Result<SsoIdentity, AuthError>, expected: &str) {
    match result {
        Err(AuthError::Invalid(reason)) => {
            assert!(reason.contains(expected), "{reason:?} lacks {expected:?}")
        }
        other => panic!("expected Invalid({expected}), got {other:?}"),
    }
}
