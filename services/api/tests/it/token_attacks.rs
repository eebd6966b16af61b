//! Tokens that must be refused with 401: forged, altered, expired, for the wrong issuer or
//! audience, of an unknown key or kind, and tokens whose user, credential set, invitation or
//! organization was revoked after they were issued. Each forgery is signed by hand; a
//! hand-signed token with the right claims is accepted first, so every refusal below is the
//! refusal of one changed thing.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::*;

const OPERATOR: &str = "token-attacks-operator-token-forty-chars";
const PASSWORD: &str = "correct horse battery";

/// The server's signing key, read from the `signing_keys` table.
struct Key {
    kid: String,
    private_der: Vec<u8>,
    public: Vec<u8>,
}

async fn server_key(app: &TestApp) -> Key {
    let keys = app.store.signing_keys().await.unwrap();
    let k = keys.first().expect("a signing key");
    Key {
        kid: k.kid.clone(),
        private_der: k.private_key.clone(),
        public: k.public_key.clone(),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims as the server would issue them for `sub` of `kind` in org A.
fn claims(app: &TestApp, sub: &str, kind: &str, ver: i64) -> Value {
    json!({
        "iss": app.config.jwt_issuer, "aud": app.config.jwt_audience,
        "sub": sub, "org": app.org.0, "iat": now(), "nbf": now(), "exp": now() + 600,
        "jti": uuid::Uuid::new_v4().simple().to_string(), "kind": kind, "ver": ver,
    })
}

/// EdDSA-signs `claims` with `private_der`, naming `kid`.
fn sign_ed(private_der: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(private_der)).unwrap()
}

fn sign(key: &Key, claims: &Value) -> String {
    sign_ed(&key.private_der, Some(&key.kid), claims)
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn payload_of(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

/// `token` with its payload replaced by `payload`, header and signature kept.
fn with_payload(token: &str, payload: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(payload), parts[2])
}

async fn status_of(app: &TestApp, token: &str) -> Res {
    app.call_as(token, Method::GET, "/v1/blueprints", None)
        .await
}

/// The token is refused with 401 `unauthorized` on a read and on a write.
async fn refused(app: &TestApp, token: &str, what: &str) {
    let res = status_of(app, token).await;
    assert_eq!(
        res.status, 401,
        "{what}: GET answered {}: {}",
        res.status, res.body
    );
    assert_eq!(
        res.body["error"],
        json!("unauthorized"),
        "{what}: {}",
        res.body
    );
    let before = app.count_rows("teams").await;
    let res = app
        .call_as(
            token,
            Method::POST,
            "/v1/teams",
            Some(json!({"name": format!("t-{}", portolan_test_support::unique_suffix())})),
        )
        .await;
    assert_eq!(
        res.status, 401,
        "{what}: POST answered {}: {}",
        res.status, res.body
    );
    assert_eq!(
        app.count_rows("teams").await,
        before,
        "{what}: wrote a team"
    );
}

async fn accepted(app: &TestApp, token: &str, what: &str) {
    let res = status_of(app, token).await;
    assert_eq!(res.status, 200, "{what}: {}", res.body);
}

async fn anon(app: &TestApp, path: &str, body: Value) -> Res {
    let res = app
        .client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    Res {
        status,
        body: res.json().await.unwrap_or(Value::Null),
        headers,
    }
}

fn token_of(res: Res) -> String {
    res.expect(200, None)["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn exchange(app: &TestApp, id: &str, secret: &str) -> Res {
    anon(
        app,
        "/v1/auth/access_token",
        json!({"clientId": id, "clientSecret": secret}),
    )
    .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> Res {
    anon(
        app,
        "/v1/auth/login",
        json!({"email": email, "password": password}),
    )
    .await
}

async fn user_row(app: &TestApp, email: &str) -> (String, i64) {
    let users = app.store.users_by_email(email).await.unwrap();
    let u = users.first().expect("user");
    (u.id.to_string(), u.token_version)
}

fn no_unauth_limit(c: &mut portolan_config::Config) {
    c.rate_limit_unauthenticated = 100_000;
}

// ---------------------------------------------------------------------------------------
// Forged and altered tokens
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn forged_altered_expired_and_misaddressed_tokens_are_refused() {
    let app = spawn_with(Backend::Postgres, no_unauth_limit).await;
    let key = server_key(&app).await;
    let cred = app
        .store
        .find_credential(&app.client_id)
        .await
        .unwrap()
        .unwrap();
    let good = claims(&app, &app.client_id, "credential", cred.generation);
    // The control: signed by hand with the server's key and the right claims, accepted.
    accepted(
        &app,
        &sign(&key, &good),
        "a hand-signed token with the right claims",
    )
    .await;
    let header_json = |alg: &str| json!({"alg": alg, "typ": "JWT", "kid": key.kid});

    // alg: none, in every spelling, with and without a signature part.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let unsigned = format!("{}.{}.", b64(&header_json(alg)), b64(&good));
        refused(&app, &unsigned, &format!("alg {alg}")).await;
        let no_dot = format!("{}.{}", b64(&header_json(alg)), b64(&good));
        refused(&app, &no_dot, &format!("alg {alg}, two parts")).await;
    }
    // EdDSA named in the header, no signature.
    let stripped = sign(&key, &good);
    let stripped = format!("{}.", stripped.rsplit_once('.').unwrap().0);
    refused(&app, &stripped, "signature stripped").await;

    // HS256 keyed with the server's public key (raw, base64 and hex), and other algorithms.
    for secret in [
        key.public.clone(),
        base64::engine::general_purpose::STANDARD
            .encode(&key.public)
            .into_bytes(),
        URL_SAFE_NO_PAD.encode(&key.public).into_bytes(),
        key.public
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .into_bytes(),
    ] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some(key.kid.clone());
            let t =
                jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(&secret)).unwrap();
            refused(&app, &t, &format!("{alg:?} keyed with the public key")).await;
        }
    }

    // Another Ed25519 key claiming the server's kid.
    let stranger = portolan_auth::jwt::generate_signing_key();
    refused(
        &app,
        &sign_ed(&stranger.private_pkcs8_der, Some(&key.kid), &good),
        "another key under the server's kid",
    )
    .await;
    // An unknown kid, and none at all, on a token the server's key signed.
    refused(
        &app,
        &sign_ed(&key.private_der, Some("k_nosuchkey000000"), &good),
        "unknown kid",
    )
    .await;
    refused(&app, &sign_ed(&key.private_der, None, &good), "no kid").await;

    // Expired (well beyond the leeway), not yet valid, and without exp.
    let mut expired = good.clone();
    expired["iat"] = json!(now() - 7200);
    expired["nbf"] = json!(now() - 7200);
    expired["exp"] = json!(now() - 3600);
    let t = sign(&key, &expired);
    refused(&app, &t, "expired").await;
    assert_eq!(
        status_of(&app, &t).await.body["message"],
        json!("token expired")
    );
    let mut future = good.clone();
    future["nbf"] = json!(now() + 3600);
    refused(&app, &sign(&key, &future), "nbf in the future").await;
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    refused(&app, &sign(&key, &no_exp), "no exp").await;

    // Issuer and audience.
    for (claim, value) in [
        ("iss", json!("someone-else")),
        ("iss", json!("")),
        ("iss", json!([app.config.jwt_issuer, "x"])),
        ("aud", json!("someone-else")),
        ("aud", json!("")),
    ] {
        let mut c = good.clone();
        c[claim] = value.clone();
        refused(&app, &sign(&key, &c), &format!("{claim} = {value}")).await;
    }
    let mut no_aud = good.clone();
    no_aud.as_object_mut().unwrap().remove("aud");
    refused(&app, &sign(&key, &no_aud), "no aud").await;

    // A real token with its payload edited, signature kept.
    let (other_org, other_token) = app.other_org().await;
    let real = app.token.clone();
    let mut p = payload_of(&real);
    p["org"] = json!(other_org.0);
    refused(&app, &with_payload(&real, &p), "org changed to another org").await;
    let mut p = payload_of(&real);
    p["exp"] = json!(now() + 10 * 365 * 86400);
    refused(&app, &with_payload(&real, &p), "exp pushed out").await;
    let mut p = payload_of(&other_token);
    p["org"] = json!(app.org.0);
    refused(
        &app,
        &with_payload(&other_token, &p),
        "B's token pointed at A",
    )
    .await;
    // Spliced: A's header and payload with B's signature.
    let a: Vec<&str> = real.split('.').collect();
    let b: Vec<&str> = other_token.split('.').collect();
    refused(
        &app,
        &format!("{}.{}.{}", a[0], a[1], b[2]),
        "spliced signature",
    )
    .await;

    // Correctly signed, but what it names does not hold.
    let mut c = good.clone();
    c["org"] = json!(other_org.0);
    refused(&app, &sign(&key, &c), "A's client id in org B").await;
    let mut c = good.clone();
    c["ver"] = json!(cred.generation + 1);
    refused(
        &app,
        &sign(&key, &c),
        "a generation the credential never had",
    )
    .await;
    let mut c = good.clone();
    c["ver"] = json!(cred.generation - 1);
    refused(&app, &sign(&key, &c), "an older generation").await;
    let mut c = good.clone();
    c["sub"] = json!("nobody-at-all");
    refused(&app, &sign(&key, &c), "an unknown client id").await;

    // Kinds.
    for kind in [
        json!("superuser"),
        json!("admin"),
        json!("operator"),
        json!("Credential"),
        json!(""),
    ] {
        let mut c = good.clone();
        c["kind"] = kind.clone();
        refused(&app, &sign(&key, &c), &format!("kind {kind}")).await;
    }
    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("kind");
    refused(&app, &sign(&key, &c), "no kind").await;
    // kind: invite for a credential is no access token either.
    refused(
        &app,
        &sign(
            &key,
            &claims(&app, &app.client_id, "invite", cred.generation),
        ),
        "kind invite",
    )
    .await;

    // kind: user naming an app (by client id and by its credential id) or another org's user.
    let created = app
        .post("/v1/apps", json!({"name": "robot", "roles": ["Admin"]}))
        .await
        .expect(201, None);
    let app_client = created["app"]["clientId"].as_str().unwrap();
    let app_id = created["app"]["id"].as_str().unwrap();
    for sub in [app_client, app_id, app.client_id.as_str()] {
        for ver in [0, 1, 2] {
            refused(
                &app,
                &sign(&key, &claims(&app, sub, "user", ver)),
                &format!("kind user, sub {sub} (an app), ver {ver}"),
            )
            .await;
        }
    }
    app.user_token("dora@example.com", &["Admin"], &[]).await;
    let (dora, dora_ver) = user_row(&app, "dora@example.com").await;
    accepted(
        &app,
        &sign(&key, &claims(&app, &dora, "user", dora_ver)),
        "a hand-signed user token",
    )
    .await;
    let mut c = claims(&app, &dora, "user", dora_ver);
    c["org"] = json!(other_org.0);
    refused(&app, &sign(&key, &c), "A's user in org B").await;
    refused(
        &app,
        &sign(&key, &claims(&app, &dora, "user", dora_ver + 1)),
        "a user token version from the future",
    )
    .await;
    refused(
        &app,
        &sign(&key, &claims(&app, &dora, "credential", dora_ver)),
        "kind credential naming a user id",
    )
    .await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn disabled_deleted_and_demoted_users_lose_their_tokens_at_once() {
    let app = spawn_with(Backend::Postgres, no_unauth_limit).await;
    // Disabled.
    let t = app.user_token("dis@example.com", &["Member"], &[]).await;
    accepted(&app, &t, "before disabling").await;
    app.patch("/v1/users/dis@example.com", json!({"status": "Disabled"}))
        .await
        .expect(200, None);
    refused(&app, &t, "a disabled user's token").await;
    login(&app, "dis@example.com", PASSWORD)
        .await
        .expect(401, Some("unauthorized"));
    // Re-enabling does not revive the old token (its version moved on).
    app.patch("/v1/users/dis@example.com", json!({"status": "Active"}))
        .await
        .expect(200, None);
    refused(&app, &t, "a re-enabled user's old token").await;
    accepted(
        &app,
        &token_of(login(&app, "dis@example.com", PASSWORD).await),
        "a re-enabled user's new token",
    )
    .await;

    // Deleted.
    let t = app.user_token("del@example.com", &["Admin"], &[]).await;
    accepted(&app, &t, "before deleting").await;
    app.delete("/v1/users/del@example.com")
        .await
        .expect(200, None);
    refused(&app, &t, "a deleted user's token").await;
    // Invited again under the same email: the old token still names the deleted user.
    app.user_token("del@example.com", &["Admin"], &[]).await;
    refused(&app, &t, "a deleted user's token after re-invitation").await;

    // A role taken away: the old token (which held Admin) dies; a new one is a Member's.
    let t = app
        .user_token("demoted@example.com", &["Admin", "Member"], &[])
        .await;
    app.call_as(&t, Method::GET, "/v1/apps", None)
        .await
        .expect(200, None);
    app.patch(
        "/v1/users/demoted@example.com",
        json!({"roles": ["Member"]}),
    )
    .await
    .expect(200, None);
    refused(&app, &t, "a token of a user whose Admin role was removed").await;
    let fresh = token_of(login(&app, "demoted@example.com", PASSWORD).await);
    app.call_as(&fresh, Method::GET, "/v1/apps", None)
        .await
        .expect(403, Some("forbidden"));

    // A password change ends the user's tokens too.
    let t = app.user_token("pw@example.com", &["Member"], &[]).await;
    app.put(
        "/v1/users/pw@example.com/password",
        json!({"password": "an entirely new password"}),
    )
    .await
    .expect(200, None);
    refused(&app, &t, "a token from before a password change").await;
    login(&app, "pw@example.com", PASSWORD)
        .await
        .expect(401, Some("unauthorized"));
    app.stop().await;
}

#[tokio::test]
async fn rotated_disabled_and_deleted_credentials_lose_their_tokens_at_once() {
    let app = spawn_with(Backend::Postgres, no_unauth_limit).await;
    let new_app = |name: &'static str| {
        let app = &app;
        async move {
            let c = app
                .post("/v1/apps", json!({"name": name, "roles": ["Admin"]}))
                .await
                .expect(201, None);
            (
                c["app"]["id"].as_str().unwrap().to_owned(),
                c["app"]["clientId"].as_str().unwrap().to_owned(),
                c["clientSecret"].as_str().unwrap().to_owned(),
            )
        }
    };

    // Rotated secret: the old token and the old secret die; the new secret works.
    let (id, client, secret) = new_app("rotated").await;
    let t = token_of(exchange(&app, &client, &secret).await);
    accepted(&app, &t, "before rotation").await;
    let rotated = app
        .post(&format!("/v1/apps/{id}/rotate-secret"), json!({}))
        .await
        .expect(200, None);
    refused(&app, &t, "a token issued before the secret was rotated").await;
    exchange(&app, &client, &secret)
        .await
        .expect(401, Some("unauthorized"));
    let new_secret = rotated["clientSecret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    accepted(
        &app,
        &token_of(exchange(&app, &client, new_secret).await),
        "the new secret's token",
    )
    .await;

    // Disabled: its tokens die, it cannot sign in; re-enabled, the old token stays dead.
    let (id, client, secret) = new_app("disabled").await;
    let t = token_of(exchange(&app, &client, &secret).await);
    app.put(&format!("/v1/apps/{id}"), json!({"enabled": false}))
        .await
        .expect(200, None);
    refused(&app, &t, "a disabled app's token").await;
    exchange(&app, &client, &secret)
        .await
        .expect(401, Some("unauthorized"));
    app.put(&format!("/v1/apps/{id}"), json!({"enabled": true}))
        .await
        .expect(200, None);
    refused(&app, &t, "a re-enabled app's old token").await;

    // A role taken away.
    let (id, client, secret) = new_app("demoted").await;
    let t = token_of(exchange(&app, &client, &secret).await);
    app.put(&format!("/v1/apps/{id}"), json!({"roles": ["Member"]}))
        .await
        .expect(200, None);
    refused(&app, &t, "a token of an app whose Admin role was removed").await;

    // Deleted.
    let (id, client, secret) = new_app("deleted").await;
    let t = token_of(exchange(&app, &client, &secret).await);
    app.delete(&format!("/v1/apps/{id}"))
        .await
        .expect(200, None);
    refused(&app, &t, "a deleted app's token").await;
    exchange(&app, &client, &secret)
        .await
        .expect(401, Some("unauthorized"));

    // Personal credentials, rotated by the Admin and by the user itself.
    let user = app.user_token("pat@example.com", &["Member"], &[]).await;
    let first = app
        .post("/v1/rotate-credentials/pat@example.com", json!({}))
        .await
        .expect(200, None);
    let (c1, s1) = (
        first["credentials"]["clientId"]
            .as_str()
            .unwrap()
            .to_owned(),
        first["credentials"]["clientSecret"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let t1 = token_of(exchange(&app, &c1, &s1).await);
    accepted(&app, &t1, "personal credentials' token").await;
    let second = app
        .call_as(
            &user,
            Method::POST,
            "/v1/rotate-credentials/pat@example.com",
            None,
        )
        .await
        .expect(200, None);
    refused(&app, &t1, "a token of rotated personal credentials").await;
    exchange(&app, &c1, &s1)
        .await
        .expect(401, Some("unauthorized"));
    let t2 = token_of(
        exchange(
            &app,
            second["credentials"]["clientId"].as_str().unwrap(),
            second["credentials"]["clientSecret"].as_str().unwrap(),
        )
        .await,
    );
    accepted(&app, &t2, "the new personal credentials' token").await;
    // The user disabled: its personal credentials' token dies with it.
    app.patch("/v1/users/pat@example.com", json!({"status": "Disabled"}))
        .await
        .expect(200, None);
    refused(&app, &t2, "personal credentials of a disabled user").await;
    app.stop().await;
}

#[tokio::test]
async fn an_invitation_opens_no_route_and_works_once() {
    let app = spawn_with(Backend::Postgres, no_unauth_limit).await;
    let invited = app
        .post(
            "/v1/users/invite",
            json!({"invitee": {"email": "ivy@example.com", "roles": ["Admin"]}}),
        )
        .await
        .expect(201, None);
    let invite = invited["inviteToken"].as_str().unwrap().to_owned();
    refused(&app, &invite, "an invitation as a bearer token").await;
    let first = anon(
        &app,
        "/v1/auth/accept-invite",
        json!({"inviteToken": invite, "password": PASSWORD}),
    )
    .await;
    accepted(&app, &token_of(first), "the accepted invitation's token").await;
    anon(
        &app,
        "/v1/auth/accept-invite",
        json!({"inviteToken": invite, "password": "another password, twice"}),
    )
    .await
    .expect(401, Some("unauthorized"));
    // The second attempt changed nothing: the first password still signs in.
    accepted(
        &app,
        &token_of(login(&app, "ivy@example.com", PASSWORD).await),
        "sign-in with the first password",
    )
    .await;
    login(&app, "ivy@example.com", "another password, twice")
        .await
        .expect(401, Some("unauthorized"));
    refused(&app, &invite, "a used invitation as a bearer token").await;
    // An access token is no invitation.
    anon(
        &app,
        "/v1/auth/accept-invite",
        json!({"inviteToken": app.token, "password": PASSWORD}),
    )
    .await
    .expect(401, Some("unauthorized"));
    app.stop().await;
}

#[tokio::test]
async fn a_suspended_organization_is_refused_within_seconds_and_others_are_not() {
    let app = spawn_with(Backend::Postgres, |c| {
        c.operator_token = Some(SecretString::from(OPERATOR.to_owned()));
        c.rate_limit_unauthenticated = 100_000;
    })
    .await;
    let user = app.user_token("sue@example.com", &["Admin"], &[]).await;
    let (_, other) = app.other_org().await;
    accepted(&app, &app.token, "before suspension").await;
    app.call_as(
        OPERATOR,
        Method::PATCH,
        &format!("/operator/organizations/{}", app.org),
        Some(json!({"status": "suspended"})),
    )
    .await
    .expect(200, None);
    let start = Instant::now();
    loop {
        let s = status_of(&app, &app.token).await.status;
        if s == 401 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(6),
            "a suspended org's token still answers {s} after 6 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    refused(&app, &app.token, "a suspended org's app token").await;
    refused(&app, &user, "a suspended org's user token").await;
    exchange(&app, &app.client_id, &app.client_secret)
        .await
        .expect(401, Some("unauthorized"));
    login(&app, "sue@example.com", PASSWORD)
        .await
        .expect(401, Some("unauthorized"));
    // Another org is untouched.
    accepted(&app, &other, "another org's token").await;
    // Reactivated: the same tokens work again.
    app.call_as(
        OPERATOR,
        Method::PATCH,
        &format!("/operator/organizations/{}", app.org),
        Some(json!({"status": "active"})),
    )
    .await
    .expect(200, None);
    let start = Instant::now();
    while status_of(&app, &app.token).await.status != 200 {
        assert!(start.elapsed() < Duration::from_secs(6), "still refused");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    accepted(&app, &user, "a reactivated org's user token").await;
    app.stop().await;
}

/// A POST with an `Idempotency-Key`, as `token`.
async fn post_once(app: &TestApp, token: &str, path: &str, key: &str, body: &Value) -> Res {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    Res {
        status,
        body: res.json().await.unwrap_or(Value::Null),
        headers,
    }
}

/// An `Idempotency-Key` replays a stored answer to a retry of the same request; a retry by a
/// token revoked meanwhile must be refused like any other request of that token, not answered
/// from the store (the answer may carry a secret shown once).
#[tokio::test]
async fn a_revoked_token_gets_no_idempotent_replay() {
    let app = spawn_with(Backend::Postgres, no_unauth_limit).await;
    let mut wrong = Vec::new();
    // Answers that carry secrets (a new app's client secret) are never stored at all.
    let user = app.user_token("idem@example.com", &["Admin"], &[]).await;
    let app_body = json!({"name": "made-once"});
    let first = post_once(&app, &user, "/v1/apps", "key-0", &app_body).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.body["clientSecret"].is_string());
    let again = post_once(&app, &user, "/v1/apps", "key-0", &app_body).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_ne!(
        again.body["clientSecret"], first.body["clientSecret"],
        "an answer with a secret is not replayed"
    );
    // A user's token, disabled after creating a team.
    let body = json!({"name": "made-once"});
    let first = post_once(&app, &user, "/v1/teams", "key-1", &body).await;
    assert_eq!(first.status, 201, "{}", first.body);
    // The control: while the token is valid, the retry is replayed.
    let replay = post_once(&app, &user, "/v1/teams", "key-1", &body).await;
    assert_eq!(replay.status, 201);
    assert_eq!(
        replay
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    app.patch("/v1/users/idem@example.com", json!({"status": "Disabled"}))
        .await
        .expect(200, None);
    refused(&app, &user, "the disabled user's token").await;
    let retry = post_once(&app, &user, "/v1/teams", "key-1", &body).await;
    if retry.status != 401 {
        wrong.push(format!(
            "a disabled user's token got {} (replayed: {:?}){}: {}",
            retry.status,
            retry.headers.get("idempotent-replayed"),
            if retry.body["clientSecret"].is_string() {
                ", with the Admin app's live client secret"
            } else {
                ""
            },
            retry.body
        ));
    }

    // An app's token, the app deleted after it rotated another app's secret.
    let made = app
        .post("/v1/apps", json!({"name": "robot", "roles": ["Admin"]}))
        .await
        .expect(201, None);
    let robot = token_of(
        exchange(
            &app,
            made["app"]["clientId"].as_str().unwrap(),
            made["clientSecret"].as_str().unwrap(),
        )
        .await,
    );
    let target = app
        .post("/v1/apps", json!({"name": "target"}))
        .await
        .expect(201, None);
    let path = format!(
        "/v1/apps/{}/rotate-secret",
        target["app"]["id"].as_str().unwrap()
    );
    let rotated = post_once(&app, &robot, &path, "key-2", &json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    app.delete(&format!("/v1/apps/{}", made["app"]["id"].as_str().unwrap()))
        .await
        .expect(200, None);
    refused(&app, &robot, "the deleted app's token").await;
    let retry = post_once(&app, &robot, &path, "key-2", &json!({})).await;
    if retry.status != 401 {
        wrong.push(format!(
            "a deleted app's token got {} (replayed: {:?}): {}",
            retry.status,
            retry.headers.get("idempotent-replayed"),
            retry.body
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    app.stop().await;
}

/// The first token signed by a key another instance rotated in is verified by the handler
/// (which reloads the keys) but not by the rate-limit middleware before it, which then files
/// the request's idempotency key under the caller's address instead of its org and subject.
/// A request without a token, from the same address (every client behind one proxy), must
/// still not be answered with what that token's request got.
#[tokio::test]
async fn a_tokenless_retry_gets_no_replay_of_an_authenticated_answer() {
    use portolan_auth::jwt::{TokenIssuer, generate_signing_key};
    let app = spawn_with(Backend::Postgres, no_unauth_limit).await;
    // Another instance rotates the signing key: this one learns of it on first sight.
    let key = generate_signing_key();
    app.store
        .insert_signing_key(
            &key.kid,
            key.private_pkcs8_der.clone(),
            key.public_key.clone(),
        )
        .await
        .unwrap();
    let cred = app
        .store
        .find_credential(&app.client_id)
        .await
        .unwrap()
        .unwrap();
    let token = TokenIssuer::new(
        &key,
        app.config.jwt_issuer.clone(),
        app.config.jwt_audience.clone(),
        Duration::from_secs(600),
    )
    .unwrap()
    .issue_as(app.org.0, &app.client_id, "credential", cred.generation)
    .unwrap()
    .token;
    let body = json!({"name": "made-with-a-new-key"});
    let first = post_once(&app, &token, "/v1/apps", "shared-key", &body).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let mut wrong = Vec::new();
    for (who, bearer) in [("no token", None), ("a garbage token", Some("garbage"))] {
        let mut req = app
            .client
            .post(app.url("/v1/apps"))
            .header("idempotency-key", "shared-key")
            .json(&body);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let replayed = res.headers().get("idempotent-replayed").cloned();
        let text = res.text().await.unwrap();
        if status != 401 {
            wrong.push(format!(
                "{who} got {status} (replayed: {replayed:?}){}: {text}",
                if text.contains("clientSecret") {
                    ", with an Admin app's live client secret"
                } else {
                    ""
                }
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    app.stop().await;
}
