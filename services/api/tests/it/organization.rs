//! `/v1/organization`: settings, and secrets that never come back out.

use portolan_auth::seal::generate_key_base64;
use portolan_domain::event::Actor;
use portolan_store::models::org_secret;
use portolan_store::orgs::NewCredential;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::helpers::{Backend, Res, TestApp, get_token, spawn_with};

/// An app with a configured key ring (`PORTOLAN_SECRETS_KEYS`), so no key file is written.
async fn spawn_keyed() -> TestApp {
    spawn_with(Backend::Postgres, |c| {
        c.secrets_keys = Some(SecretString::from(format!(
            "test1:{}",
            generate_key_base64().expose_secret()
        )));
    })
    .await
}

/// The JSON pointers of a 422's issues.
fn pointers(body: &Value) -> Vec<String> {
    body["details"]["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["pointer"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[track_caller]
fn invalid(res: Res, pointer: &str) {
    let body = res.expect(422, Some("invalid_request"));
    assert!(
        pointers(&body).iter().any(|p| p == pointer),
        "expected an issue at {pointer}: {body}"
    );
}

#[tokio::test]
async fn organization_get_put_patch_round_trip() {
    let app = spawn_keyed().await;
    let org = app.get("/v1/organization").await.expect(200, None)["organization"].clone();
    assert_eq!(org["id"], json!(app.org.to_string()));
    assert_eq!(org["status"], "active");
    assert_eq!(org["settings"], json!({}));
    assert!(org["createdAt"].is_string());

    let put = app
        .put(
            "/v1/organization",
            json!({"name": "Acme", "settings": {"allowSsoProvisioning": true, "theme": "dark", "a": 1}}),
        )
        .await
        .expect(200, None)["organization"]
        .clone();
    assert_eq!(put["name"], "Acme");
    assert_eq!(
        put["settings"],
        json!({"allowSsoProvisioning": true, "theme": "dark", "a": 1})
    );
    assert_eq!(
        app.get("/v1/organization").await.expect(200, None)["organization"],
        put
    );

    // PATCH merges top-level settings members; null removes one; name is kept.
    let patched = app
        .patch(
            "/v1/organization",
            json!({"settings": {"theme": "light", "a": null, "b": [1]}}),
        )
        .await
        .expect(200, None)["organization"]
        .clone();
    assert_eq!(patched["name"], "Acme");
    assert_eq!(
        patched["settings"],
        json!({"allowSsoProvisioning": true, "theme": "light", "b": [1]})
    );
    let renamed = app
        .patch("/v1/organization", json!({"name": "Acme Corp"}))
        .await
        .expect(200, None)["organization"]
        .clone();
    assert_eq!(renamed["name"], "Acme Corp");
    assert_eq!(renamed["settings"], patched["settings"]);

    // PUT replaces settings whole (absent: emptied); read-only members are ignored.
    let replaced = app
        .put(
            "/v1/organization",
            json!({"name": "Acme", "id": "ignored", "createdAt": "ignored"}),
        )
        .await
        .expect(200, None)["organization"]
        .clone();
    assert_eq!(replaced["settings"], json!({}));
    assert_eq!(replaced["id"], json!(app.org.to_string()));

    // Each change is in the audit log.
    let audits = app
        .get("/v1/audit-log?resources=organization")
        .await
        .expect(200, None);
    let updates = audits["audits"]
        .as_array()
        .expect("audits")
        .iter()
        .filter(|a| a["action"] == "UPDATE")
        .count();
    assert_eq!(updates, 4, "{audits}");
    app.stop().await;
}

#[tokio::test]
async fn organization_changes_are_validated() {
    let app = spawn_keyed().await;
    invalid(
        app.put("/v1/organization", json!({"settings": {}})).await,
        "/name",
    );
    invalid(
        app.put("/v1/organization", json!({"name": ""})).await,
        "/name",
    );
    invalid(
        app.patch("/v1/organization", json!({"name": "  "})).await,
        "/name",
    );
    invalid(
        app.patch("/v1/organization", json!({"name": "x".repeat(201)}))
            .await,
        "/name",
    );
    invalid(
        app.patch("/v1/organization", json!({"name": 7})).await,
        "/name",
    );
    invalid(
        app.patch("/v1/organization", json!({"settings": [1, 2]}))
            .await,
        "/settings",
    );
    invalid(
        app.patch(
            "/v1/organization",
            json!({"settings": {"allowSsoProvisioning": "yes"}}),
        )
        .await,
        "/settings/allowSsoProvisioning",
    );
    invalid(
        app.patch(
            "/v1/organization",
            json!({"settings": {"blob": "x".repeat(64 * 1024)}}),
        )
        .await,
        "/settings",
    );
    invalid(app.patch("/v1/organization", json!({})).await, "");
    invalid(app.patch("/v1/organization", json!([1])).await, "");
    // Nothing was written.
    let org = app.get("/v1/organization").await.expect(200, None)["organization"].clone();
    assert_eq!(org["settings"], json!({}));
    assert_ne!(org["name"], "");
    app.stop().await;
}

/// Calls the API and keeps every response body, to scan them all for secret values.
struct Recorder<'a> {
    app: &'a TestApp,
    bodies: Vec<String>,
}

impl Recorder<'_> {
    async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Res {
        let res = self.app.call(method, path, body).await;
        self.bodies.push(res.body.to_string());
        res
    }

    fn assert_never_seen(&self, values: &[&str]) {
        for body in &self.bodies {
            for v in values {
                assert!(
                    !body.contains(v),
                    "a response carries a secret value: {body}"
                );
            }
        }
    }
}

#[tokio::test]
async fn secrets_crud_never_returns_or_stores_the_value() {
    let app = spawn_keyed().await;
    let (v1, v2) = ("plain-value-ONE-8c1e5", "plain-value-TWO-77d0a");
    let mut r = Recorder {
        app: &app,
        bodies: vec![],
    };

    let created = r
        .call(
            Method::POST,
            "/v1/organization/secrets",
            Some(json!({"secretName": "GITHUB_TOKEN", "secretValue": v1, "description": "CI"})),
        )
        .await
        .expect(201, None);
    assert_eq!(created["ok"], true);
    let secret = &created["secret"];
    assert_eq!(secret["secretName"], "GITHUB_TOKEN");
    assert_eq!(secret["description"], "CI");
    assert!(secret["createdAt"].is_string() && secret["updatedAt"].is_string());
    assert!(secret.get("secretValue").is_none());

    r.call(
        Method::POST,
        "/v1/organization/secrets",
        Some(json!({"secretName": "GITHUB_TOKEN", "secretValue": v2})),
    )
    .await
    .expect(409, Some("identifier_taken"));
    r.call(
        Method::POST,
        "/v1/organization/secrets",
        Some(json!({"secretName": "NO_DESCRIPTION", "secretValue": v2})),
    )
    .await
    .expect(201, None);

    let list = r
        .call(Method::GET, "/v1/organization/secrets", None)
        .await
        .expect(200, None);
    let names: Vec<&str> = list["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .map(|s| s["secretName"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["GITHUB_TOKEN", "NO_DESCRIPTION"]);
    assert_eq!(list["secrets"][1]["description"], "");

    let got = r
        .call(Method::GET, "/v1/organization/secrets/GITHUB_TOKEN", None)
        .await
        .expect(200, None);
    assert_eq!(got["secret"], *secret);

    // A new value: re-sealed; the metadata stays metadata.
    let patched = r
        .call(
            Method::PATCH,
            "/v1/organization/secrets/GITHUB_TOKEN",
            Some(json!({"secretValue": v2})),
        )
        .await
        .expect(200, None);
    assert_eq!(patched["secret"]["description"], "CI");
    assert!(patched["secret"].get("secretValue").is_none());
    let described = r
        .call(
            Method::PATCH,
            "/v1/organization/secrets/GITHUB_TOKEN",
            Some(json!({"description": "rotated"})),
        )
        .await
        .expect(200, None);
    assert_eq!(described["secret"]["description"], "rotated");

    // The row holds neither value, only ciphertext under the configured key.
    let row = org_secret::Entity::find()
        .filter(org_secret::Column::OrgId.eq(app.org.0))
        .filter(org_secret::Column::Name.eq("GITHUB_TOKEN"))
        .one(app.store.connection())
        .await
        .expect("read row")
        .expect("row exists");
    assert_eq!(row.key_id, "test1");
    for v in [v1, v2] {
        assert!(
            !row.sealed.windows(v.len()).any(|w| w == v.as_bytes()),
            "the stored row holds the plain value"
        );
    }
    // ...which opens to the latest value with the app's keys (templates will read it so).
    let keys = portolan_auth::seal::KeyRing::load_or_create(
        app.config.secrets_keys.as_ref(),
        &app.config.data_dir,
    )
    .expect("keys");
    let t = app.store.tenant(app.org).await.expect("tenant");
    let plain = portolan_store::secrets::plain_secrets(&t, &keys)
        .await
        .expect("open");
    drop(t);
    assert_eq!(plain["GITHUB_TOKEN"].expose_secret(), v2);

    r.call(
        Method::DELETE,
        "/v1/organization/secrets/GITHUB_TOKEN",
        None,
    )
    .await
    .expect(200, None);
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"description": "x"}))),
        (Method::DELETE, None),
    ] {
        r.call(method, "/v1/organization/secrets/GITHUB_TOKEN", body)
            .await
            .expect(404, Some("not_found"));
    }

    // The audit log names the secrets and nothing more.
    let audits = r
        .call(Method::GET, "/v1/audit-log?resources=secret", None)
        .await
        .expect(200, None);
    assert_eq!(audits["audits"].as_array().expect("audits").len(), 5);
    r.call(Method::GET, "/v1/audit-log", None)
        .await
        .expect(200, None);
    r.assert_never_seen(&[v1, v2]);
    app.stop().await;
}

#[tokio::test]
async fn secret_input_is_validated() {
    let app = spawn_keyed().await;
    let post = |body: Value| app.post("/v1/organization/secrets", body);
    invalid(post(json!({"secretValue": "v"})).await, "/secretName");
    invalid(post(json!({"secretName": "A"})).await, "/secretValue");
    invalid(
        post(json!({"secretName": "has space", "secretValue": "v"})).await,
        "/secretName",
    );
    invalid(
        post(json!({"secretName": "x".repeat(101), "secretValue": "v"})).await,
        "/secretName",
    );
    let res = post(json!({"secretName": "A", "secretValue": 12345})).await;
    assert!(!res.body.to_string().contains("12345"), "{}", res.body);
    invalid(res, "/secretValue");
    invalid(
        post(json!({"secretName": "A", "secretValue": ""})).await,
        "/secretValue",
    );
    invalid(
        post(json!({"secretName": "A", "secretValue": "v".repeat(64 * 1024 + 1)})).await,
        "/secretValue",
    );
    invalid(
        post(json!({"secretName": "A", "secretValue": "v", "description": "d".repeat(1001)})).await,
        "/description",
    );
    invalid(post(json!("A")).await, "");
    assert_eq!(app.count_rows("org_secrets").await, 0);

    // The largest value is accepted.
    post(json!({"secretName": "BIG", "secretValue": "v".repeat(64 * 1024)}))
        .await
        .expect(201, None);
    invalid(
        app.patch("/v1/organization/secrets/BIG", json!({})).await,
        "",
    );
    invalid(
        app.patch(
            "/v1/organization/secrets/BIG",
            json!({"secretValue": false}),
        )
        .await,
        "/secretValue",
    );
    app.stop().await;
}

#[tokio::test]
async fn another_org_sees_none_of_the_secrets_and_members_cannot_manage_them() {
    let app = spawn_keyed().await;
    app.post(
        "/v1/organization/secrets",
        json!({"secretName": "TOKEN", "secretValue": "value-of-org-a"}),
    )
    .await
    .expect(201, None);

    let (other, token) = app.other_org().await;
    let org = app
        .call_as(&token, Method::GET, "/v1/organization", None)
        .await
        .expect(200, None);
    assert_eq!(org["organization"]["id"], json!(other.to_string()));
    let list = app
        .call_as(&token, Method::GET, "/v1/organization/secrets", None)
        .await
        .expect(200, None);
    assert_eq!(list["secrets"], json!([]));
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"secretValue": "hijack"}))),
        (Method::DELETE, None),
    ] {
        app.call_as(&token, method, "/v1/organization/secrets/TOKEN", body)
            .await
            .expect(404, Some("not_found"));
    }
    // The same name in another org is another secret.
    app.call_as(
        &token,
        Method::POST,
        "/v1/organization/secrets",
        Some(json!({"secretName": "TOKEN", "secretValue": "value-of-org-b"})),
    )
    .await
    .expect(201, None);
    let mine = app.get("/v1/organization/secrets").await.expect(200, None);
    assert_eq!(mine["secrets"].as_array().expect("secrets").len(), 1);

    // A Member (here: a credential set with the Member role) reads the org, nothing more.
    let member_id = format!("member-{}", portolan_test_support::unique_suffix());
    let hash = portolan_auth::secret::hash_secret(SecretString::from("member-secret".to_owned()))
        .await
        .expect("hash");
    app.store
        .create_organization(
            "members-only",
            NewCredential {
                client_id: member_id.clone(),
                secret_hash: hash,
                name: "member".into(),
                role: "Member".into(),
            },
            &Actor::system(),
        )
        .await
        .expect("org");
    let member = get_token(&app.client, &app.base, &member_id, "member-secret").await;
    app.call_as(&member, Method::GET, "/v1/organization", None)
        .await
        .expect(200, None);
    for (method, path, body) in [
        (Method::PUT, "/v1/organization", Some(json!({"name": "x"}))),
        (
            Method::PATCH,
            "/v1/organization",
            Some(json!({"name": "x"})),
        ),
        (Method::GET, "/v1/organization/secrets", None),
        (
            Method::POST,
            "/v1/organization/secrets",
            Some(json!({"secretName": "A", "secretValue": "v"})),
        ),
        (Method::GET, "/v1/organization/secrets/A", None),
        (
            Method::PATCH,
            "/v1/organization/secrets/A",
            Some(json!({"description": "x"})),
        ),
        (Method::DELETE, "/v1/organization/secrets/A", None),
    ] {
        app.call_as(&member, method.clone(), path, body)
            .await
            .expect(403, Some("forbidden"));
    }
    app.stop().await;
}

#[tokio::test]
async fn without_configured_keys_a_private_key_file_is_created_in_the_data_dir() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().to_path_buf();
    let app = spawn_with(Backend::Sqlite, move |c| {
        c.data_dir = dir;
        c.secrets_keys = None;
    })
    .await;
    let key_file = data.path().join(portolan_auth::seal::KEY_FILE);
    assert!(key_file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    app.post(
        "/v1/organization/secrets",
        json!({"secretName": "TOKEN", "secretValue": "embedded-value"}),
    )
    .await
    .expect(201, None);
    app.patch(
        "/v1/organization",
        json!({"settings": {"allowSsoProvisioning": false}}),
    )
    .await
    .expect(200, None);
    let row = org_secret::Entity::find()
        .one(app.store.connection())
        .await
        .expect("read")
        .expect("row");
    assert!(row.key_id.starts_with("local-"), "{}", row.key_id);
    assert!(!row.sealed.windows(14).any(|w| w == b"embedded-value"));
    app.stop().await;
}
