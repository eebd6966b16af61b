//! Secrets never reach the logs, nor any later answer. A test binary of its own: it installs a
//! global tracing subscriber at TRACE (the server runs in this process, so every log line of
//! every request lands in one buffer), goes through every way a secret enters the API (app
//! secrets shown once, their exchange and rotation, personal credentials, invitations,
//! passwords right and wrong, organization secret values, bearer tokens), then searches the
//! captured logs and the Admin's later reads for each of them.

#![allow(clippy::unwrap_used)]

#[path = "it/helpers.rs"]
mod helpers;

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::Method;
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

use helpers::*;

/// Everything logged in this process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Installs the subscriber once: TRACE for the server side (Portolan's crates, actix, the
/// database layers), WARN for the test's own HTTP client (which sends the secrets, by design).
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let filter = EnvFilter::new(
            "trace,reqwest=warn,hyper=warn,hyper_util=warn,h2=warn,rustls=warn,want=warn,mio=warn",
        );
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(captured.clone())
            .with_ansi(false)
            .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        captured
    })
}

/// A request with an optional bearer token.
async fn call(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Res {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    Res {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

fn unique(what: &str) -> String {
    format!(
        "{what}-{}-{}",
        portolan_test_support::unique_suffix(),
        portolan_test_support::unique_suffix()
    )
}

/// The pieces of `secret` whose presence would betray it: the whole, and for long ones
/// their first and last 12 characters; for a JWT, its payload and its signature.
fn telltales(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    let parts: Vec<&str> = secret.split('.').collect();
    if parts.len() == 3 && parts.iter().all(|p| p.len() > 10) {
        out.push(parts[1].to_owned());
        out.push(parts[2].to_owned());
    } else if secret.chars().count() >= 24 {
        let chars: Vec<char> = secret.chars().collect();
        out.push(chars[..12].iter().collect());
        out.push(chars[chars.len() - 12..].iter().collect());
    }
    out
}

#[tokio::test]
async fn no_secret_reaches_the_logs_or_a_later_answer() {
    let captured = logs();
    tracing::info!("log capture check");
    let app = spawn_with(Backend::Postgres, |c| {
        c.rate_limit_unauthenticated = 100_000
    })
    .await;
    // (name, secret): everything that must never be seen again.
    let mut secrets: Vec<(String, String)> = vec![
        ("bootstrap client secret".into(), app.client_secret.clone()),
        ("bootstrap access token".into(), app.token.clone()),
    ];
    let admin = app.token.clone();
    let mut keep = |name: &str, s: &str| secrets.push((name.to_owned(), s.to_owned()));

    // An app: its secret shown once, exchanged, a wrong one tried, used, rotated.
    let created = app
        .post(
            "/v1/apps",
            json!({"name": "logged-app", "roles": ["Admin"]}),
        )
        .await
        .expect(201, None);
    let app_id = created["app"]["id"].as_str().unwrap().to_owned();
    let client_id = created["app"]["clientId"].as_str().unwrap().to_owned();
    let s1 = created["clientSecret"].as_str().unwrap().to_owned();
    keep("app secret", &s1);
    let wrong = unique("wrong-client-secret");
    keep("wrong client secret", &wrong);
    call(
        &app,
        None,
        Method::POST,
        "/v1/auth/access_token",
        Some(json!({"clientId": client_id, "clientSecret": wrong})),
    )
    .await
    .expect(401, Some("unauthorized"));
    let t1 = call(
        &app,
        None,
        Method::POST,
        "/v1/auth/access_token",
        Some(json!({"clientId": client_id, "clientSecret": s1})),
    )
    .await
    .expect(200, None)["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    keep("app token", &t1);
    call(&app, Some(&t1), Method::GET, "/v1/blueprints", None)
        .await
        .expect(200, None);
    let rotated = app
        .post(&format!("/v1/apps/{app_id}/rotate-secret"), json!({}))
        .await
        .expect(200, None);
    let s2 = rotated["clientSecret"].as_str().unwrap().to_owned();
    keep("rotated app secret", &s2);
    // The old secret and its token, refused (and their refusals logged, if at all, safely).
    call(
        &app,
        None,
        Method::POST,
        "/v1/auth/access_token",
        Some(json!({"clientId": client_id, "clientSecret": s1})),
    )
    .await
    .expect(401, Some("unauthorized"));
    call(&app, Some(&t1), Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    let t2 = call(
        &app,
        None,
        Method::POST,
        "/v1/auth/access_token",
        Some(json!({"clientId": client_id, "clientSecret": s2})),
    )
    .await
    .expect(200, None)["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    keep("rotated app token", &t2);
    call(
        &app,
        Some(&t2),
        Method::POST,
        "/v1/teams",
        Some(json!({"name": "loggers"})),
    )
    .await
    .expect(201, None);

    // A user: invited, accepted with a password, the password set by the Admin, a wrong then
    // the right password, personal credentials.
    let email = "logged-user@example.com";
    let invited = app
        .post(
            "/v1/users/invite",
            json!({"invitee": {"email": email, "roles": ["Member"], "teams": ["loggers"]}}),
        )
        .await
        .expect(201, None);
    let invite = invited["inviteToken"].as_str().unwrap().to_owned();
    keep("invitation", &invite);
    let p1 = unique("first-password");
    keep("first password", &p1);
    let u1 = call(
        &app,
        None,
        Method::POST,
        "/v1/auth/accept-invite",
        Some(json!({"inviteToken": invite, "password": p1})),
    )
    .await
    .expect(200, None)["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    keep("invited user's token", &u1);
    // The invitation, used again, and used as a bearer token.
    call(
        &app,
        None,
        Method::POST,
        "/v1/auth/accept-invite",
        Some(json!({"inviteToken": invite, "password": p1})),
    )
    .await
    .expect(401, Some("unauthorized"));
    call(&app, Some(&invite), Method::GET, "/v1/users", None)
        .await
        .expect(401, Some("unauthorized"));
    let p2 = unique("second-password");
    keep("second password", &p2);
    app.put(
        &format!("/v1/users/{email}/password"),
        json!({"password": p2}),
    )
    .await
    .expect(200, None);
    // The user sets its own, too.
    let p3 = unique("third-password");
    keep("third password", &p3);
    call(
        &app,
        Some(&u1),
        Method::PUT,
        &format!("/v1/users/{email}/password"),
        Some(json!({"password": p3})),
    )
    .await
    .expect(401, Some("unauthorized"));
    let wrong_password = unique("wrong-password");
    keep("wrong password", &wrong_password);
    call(
        &app,
        None,
        Method::POST,
        "/v1/auth/login",
        Some(json!({"email": email, "password": wrong_password})),
    )
    .await
    .expect(401, Some("unauthorized"));
    let u2 = call(
        &app,
        None,
        Method::POST,
        "/v1/auth/login",
        Some(json!({"email": email, "password": p2})),
    )
    .await
    .expect(200, None)["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    keep("signed-in user's token", &u2);
    call(
        &app,
        Some(&u2),
        Method::PUT,
        &format!("/v1/users/{email}/password"),
        Some(json!({"password": p3})),
    )
    .await
    .expect(200, None);
    let u3 = call(
        &app,
        None,
        Method::POST,
        "/v1/auth/login",
        Some(json!({"email": email, "password": p3})),
    )
    .await
    .expect(200, None)["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    keep("user's token after its own change", &u3);
    // A password too short is refused without being repeated.
    let short = "Sh0rt!pw";
    keep("refused short password", short);
    let res = call(
        &app,
        Some(&u3),
        Method::PUT,
        &format!("/v1/users/{email}/password"),
        Some(json!({"password": short})),
    )
    .await;
    assert_eq!(res.status, 422, "{}", res.body);
    let creds = call(
        &app,
        Some(&u3),
        Method::POST,
        &format!("/v1/rotate-credentials/{email}"),
        None,
    )
    .await
    .expect(200, None);
    let personal_id = creds["credentials"]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let s3 = creds["credentials"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    keep("personal secret", &s3);
    let t3 = call(
        &app,
        None,
        Method::POST,
        "/v1/auth/access_token",
        Some(json!({"clientId": personal_id, "clientSecret": s3})),
    )
    .await
    .expect(200, None)["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    keep("personal token", &t3);
    call(&app, Some(&t3), Method::GET, "/v1/users", None)
        .await
        .expect(200, None);
    let again = app
        .post(&format!("/v1/rotate-credentials/{email}"), json!({}))
        .await
        .expect(200, None);
    let s4 = again["credentials"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    keep("rotated personal secret", &s4);
    call(&app, Some(&t3), Method::GET, "/v1/users", None)
        .await
        .expect(401, Some("unauthorized"));

    // Organization secrets: created, updated, a bad request that carries a value.
    let v1 = unique("secret-value-one");
    keep("secret value", &v1);
    app.post(
        "/v1/organization/secrets",
        json!({"secretName": "DB_PASSWORD", "secretValue": v1, "description": "the database"}),
    )
    .await
    .expect(201, None);
    let v2 = unique("secret-value-two");
    keep("updated secret value", &v2);
    app.patch(
        "/v1/organization/secrets/DB_PASSWORD",
        json!({"secretValue": v2}),
    )
    .await
    .expect(200, None);
    let v3 = unique("secret-value-three");
    keep("secret value of a refused create", &v3);
    let res = app
        .post(
            "/v1/organization/secrets",
            json!({"secretName": "DB_PASSWORD", "secretValue": v3}),
        )
        .await;
    assert_eq!(res.status, 409, "{}", res.body);
    let v4 = unique("secret-value-four");
    keep("secret value without a name", &v4);
    let res = app
        .post("/v1/organization/secrets", json!({"secretValue": v4}))
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    let v5 = unique("secret-value-five");
    keep("secret value sent by a Member", &v5);
    call(
        &app,
        Some(&u3),
        Method::POST,
        "/v1/organization/secrets",
        Some(json!({"secretName": "NOPE", "secretValue": v5})),
    )
    .await
    .expect(403, Some("forbidden"));

    // Later answers, to the Admin.
    let mut later = Vec::new();
    for path in [
        "/v1/apps".to_owned(),
        format!("/v1/apps/{app_id}"),
        "/v1/organization/secrets".to_owned(),
        "/v1/organization/secrets/DB_PASSWORD".to_owned(),
        "/v1/users".to_owned(),
        format!("/v1/users/{email}"),
        "/v1/organization".to_owned(),
        "/v1/audit-log?limit=1000".to_owned(),
    ] {
        let body = call(&app, Some(&admin), Method::GET, &path, None)
            .await
            .expect(200, None);
        later.push((path, body));
    }
    let audit = &later.last().unwrap().1["audits"];
    let records = audit.as_array().unwrap();
    let has = |pred: &dyn Fn(&Value) -> bool, what: &str| {
        assert!(
            records.iter().any(pred),
            "the audit log should record {what}: {audit}"
        );
    };
    // Sign-ins, refused and not, by secret, password and invitation.
    let login_of = |rt: &'static str, id: String, method: &'static str, status: &'static str| {
        move |r: &Value| {
            r["action"] == json!("LOGIN")
                && r["resourceType"] == json!(rt)
                && r["context"][rt] == json!(id)
                && r["context"]["method"] == json!(method)
                && r["status"] == json!(status)
        }
    };
    has(
        &login_of("credential", client_id.clone(), "client_secret", "SUCCESS"),
        "the app's sign-in",
    );
    has(
        &login_of("credential", client_id.clone(), "client_secret", "FAILURE"),
        "the app's refused sign-in",
    );
    has(
        &login_of(
            "credential",
            personal_id.clone(),
            "client_secret",
            "SUCCESS",
        ),
        "the personal credentials' sign-in",
    );
    has(
        &login_of("user", email.into(), "password", "SUCCESS"),
        "the user's sign-in",
    );
    has(
        &login_of("user", email.into(), "password", "FAILURE"),
        "the user's refused sign-in",
    );
    has(
        &login_of("user", email.into(), "invitation", "SUCCESS"),
        "the accepted invitation",
    );
    // Credential changes: the app created and rotated, personal credentials, passwords,
    // the secret's value.
    let change = |rt: &'static str, action: &'static str, id: String| {
        move |r: &Value| {
            r["resourceType"] == json!(rt)
                && r["action"] == json!(action)
                && r.to_string().contains(&id)
        }
    };
    has(
        &change("credential", "CREATE", client_id.clone()),
        "the app's creation",
    );
    has(
        &change("credential", "UPDATE", client_id.clone()),
        "the app's rotation",
    );
    has(
        &change("credential", "CREATE", personal_id.clone()),
        "the personal credentials",
    );
    has(
        &change("user", "UPDATE", email.into()),
        "the password changes",
    );
    has(
        &change("secret", "CREATE", "DB_PASSWORD".into()),
        "the secret's creation",
    );
    has(
        &change("secret", "UPDATE", "DB_PASSWORD".into()),
        "the secret's new value",
    );
    let password_changes = records
        .iter()
        .filter(|r| {
            r["resourceType"] == json!("user")
                && r["action"] == json!("UPDATE")
                && r.to_string().contains(email)
        })
        .count();
    assert!(
        password_changes >= 3,
        "the invitation, the Admin and the user each set a password: {audit}"
    );

    // Give the server a moment to flush the logs of the last requests.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    app.stop().await;
    let text = captured.text();
    // The capture works: it holds the server's request spans and database statements.
    assert!(
        text.contains("log capture check"),
        "the subscriber captured nothing"
    );
    for seen in [
        "/v1/auth/access_token",
        "/v1/auth/login",
        "/v1/organization/secrets",
        "request",
    ] {
        assert!(
            text.contains(seen),
            "the logs should show `{seen}`; {} bytes captured",
            text.len()
        );
    }

    let mut found = Vec::new();
    for (name, secret) in &secrets {
        for t in telltales(secret) {
            if let Some(at) = text.find(&t) {
                let from = text[..at]
                    .char_indices()
                    .rev()
                    .nth(200)
                    .map_or(0, |(i, _)| i);
                let line: String = text[from..].chars().take(500).collect();
                found.push(format!("the logs hold the {name} (`{t}`): ...{line}..."));
                break;
            }
        }
        for (path, body) in &later {
            let body = body.to_string();
            for t in telltales(secret) {
                if body.contains(&t) {
                    found.push(format!("GET {path} shows the {name}"));
                    break;
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} leaks ({} bytes of logs):\n{}",
        found.len(),
        text.len(),
        found.join("\n")
    );
}

/// The database URL's password (`PORTOLAN_DATABASE_URL`) is a secret like the others: the
/// store's connection must not log it, whatever the log level.
#[tokio::test]
async fn the_database_password_never_reaches_the_logs() {
    let captured = logs();
    let db = portolan_test_support::fresh_postgres().await;
    // A password of our own when the test server needs none (trust authentication ignores
    // it); the real one when the test database URL has one.
    let (scheme, rest) = db.url.split_once("://").expect("a URL");
    let (userinfo, host) = rest.split_once('@').expect("user@host");
    let (url, password) = match userinfo.split_once(':') {
        Some((_, pw)) => (db.url.clone(), pw.to_owned()),
        None => {
            let pw = unique("db-password");
            (format!("{scheme}://{userinfo}:{pw}@{host}"), pw)
        }
    };
    let store = portolan_store::Store::connect(&url, 2)
        .await
        .expect("connect with the password");
    store.migrate().await.expect("migrate");
    store.ping().await.expect("ping");
    let _ = store.close().await;
    db.drop_database().await;
    let text = captured.text();
    assert!(!text.is_empty(), "the subscriber captured nothing");
    if let Some(at) = text.find(&password) {
        let from = text[..at]
            .char_indices()
            .rev()
            .nth(300)
            .map_or(0, |(i, _)| i);
        let line: String = text[from..].chars().take(600).collect();
        panic!("the logs hold the database password: ...{line}...");
    }
}
