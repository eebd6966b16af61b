//! `spawn_app`: the API on port 0 against a fresh database, with the job runner, a bootstrap
//! org and a token for it.

#![allow(dead_code)]

use std::sync::Arc;

use portolan_api::bootstrap::bootstrap;
use portolan_config::Config;
use portolan_domain::OrgId;
use portolan_domain::event::Actor;
use portolan_store::Store;
use portolan_store::orgs::NewCredential;
use portolan_test_support::{TestDatabase, fresh_postgres};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub token: String,
    pub org: OrgId,
    pub client_id: String,
    pub client_secret: String,
    pub config: Arc<Config>,
    shutdown: CancellationToken,
    handle: actix_web::dev::ServerHandle,
    db: Option<TestDatabase>,
    _dir: Option<tempfile::TempDir>,
}

pub enum Backend {
    Postgres,
    Sqlite,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Backend::Postgres, |_| {}).await
}

pub async fn spawn_sqlite() -> TestApp {
    spawn_with(Backend::Sqlite, |_| {}).await
}

pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let (url, db, dir) = match backend {
        Backend::Postgres => {
            let db = fresh_postgres().await;
            (db.url.clone(), Some(db), None)
        }
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            (portolan_test_support::sqlite_url(&dir), None, Some(dir))
        }
    };
    let mut config = Config {
        http_addr: "127.0.0.1:0".into(),
        database_url: Some(SecretString::from(url.clone())),
        db_max_connections: 5,
        bootstrap_client_id: Some(format!("test-{}", portolan_test_support::unique_suffix())),
        bootstrap_client_secret: Some(SecretString::from("s3cret-for-tests-only".to_owned())),
        shutdown_timeout_secs: 5,
        // A key per test: never a key file in the working directory.
        secrets_keys: Some(SecretString::from(format!(
            "test:{}",
            portolan_auth::seal::generate_key_base64().expose_secret()
        ))),
        ..Config::default()
    };
    tweak(&mut config);
    let store = Store::connect(&url, config.db_max_connections)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    bootstrap(&store, &config)
        .await
        .expect("bootstrap")
        .expect("fresh database bootstraps");
    let bus: Arc<dyn portolan_bus::Bus> = Arc::new(portolan_bus::InProcessBus::new());
    let config = Arc::new(config);
    let api = portolan_api::start(config.clone(), store.clone(), bus)
        .await
        .expect("start api");
    let handle = api.server.handle();
    tokio::spawn(api.server);
    let shutdown = CancellationToken::new();
    tokio::spawn(portolan_store::jobs::run_worker(
        store.clone(),
        shutdown.child_token(),
    ));
    let base = format!("http://{}", api.addr);
    let client = reqwest::Client::new();
    let client_id = config.bootstrap_client_id.clone().expect("set above");
    let client_secret = config
        .bootstrap_client_secret
        .as_ref()
        .expect("set above")
        .expose_secret()
        .to_owned();
    let token = get_token(&client, &base, &client_id, &client_secret).await;
    let t = store.connection();
    let _ = t;
    let org = org_of(&store, &client_id).await;
    TestApp {
        base,
        client,
        store,
        token,
        org,
        client_id,
        client_secret,
        config,
        shutdown,
        handle,
        db,
        _dir: dir,
    }
}

async fn org_of(store: &Store, client_id: &str) -> OrgId {
    let cred = store
        .find_credential(client_id)
        .await
        .expect("lookup")
        .expect("credential exists");
    OrgId(cred.org_id)
}

pub async fn get_token(client: &reqwest::Client, base: &str, id: &str, secret: &str) -> String {
    let res = client
        .post(format!("{base}/v1/auth/access_token"))
        .json(&json!({"clientId": id, "clientSecret": secret}))
        .send()
        .await
        .expect("token request");
    assert_eq!(res.status(), StatusCode::OK, "token exchange");
    let body: Value = res.json().await.expect("json");
    body["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_owned()
}

/// A response: status and parsed JSON body (Null when not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Res {
    /// Asserts the status and, for errors, Port's error shape with this code.
    pub fn expect(self, status: u16, code: Option<&str>) -> Value {
        if self.status.as_u16() != status {
            let body: String = self.body.to_string().chars().take(1500).collect();
            panic!(
                "expected status {status}, got {}; body: {body}",
                self.status
            );
        }
        if let Some(code) = code {
            assert_eq!(self.body["ok"], json!(false), "error body: {}", self.body);
            assert_eq!(self.body["error"], json!(code), "error body: {}", self.body);
            assert!(
                self.body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "message: {}",
                self.body
            );
        }
        self.body
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /metrics` (no token), as text.
    pub async fn metrics(&self) -> String {
        let res = self.client.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Res {
        self.call_as(&self.token, method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Res {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Res {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Res {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Res {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Res {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Res {
        self.call(Method::DELETE, path, None).await
    }

    /// A second organization with its own credential, and a token for it.
    pub async fn other_org(&self) -> (OrgId, String) {
        let id = format!("other-{}", portolan_test_support::unique_suffix());
        let secret = "another-secret-for-tests";
        let hash = portolan_auth::secret::hash_secret(SecretString::from(secret.to_owned()))
            .await
            .expect("hash");
        let org = self
            .store
            .create_organization(
                "other",
                NewCredential {
                    client_id: id.clone(),
                    secret_hash: hash,
                    name: "other".into(),
                    role: "Admin".into(),
                },
                &Actor::system(),
            )
            .await
            .expect("create org");
        (org, get_token(&self.client, &self.base, &id, secret).await)
    }

    /// Invites a user with `roles` and `teams` (the teams are created when missing), accepts
    /// the invitation with a password, and returns a token for the user.
    pub async fn user_token(&self, email: &str, roles: &[&str], teams: &[&str]) -> String {
        for team in teams {
            let res = self.post("/v1/teams", json!({"name": team})).await;
            assert!(
                res.status.as_u16() == 201 || res.status.as_u16() == 409,
                "create team {team}: {:?}",
                res.body
            );
        }
        let invited = self
            .post(
                "/v1/users/invite",
                json!({"invitee": {"email": email, "roles": roles, "teams": teams}}),
            )
            .await
            .expect(201, None);
        let invite = invited["inviteToken"].as_str().expect("inviteToken");
        let res = self
            .client
            .post(self.url("/v1/auth/accept-invite"))
            .json(&json!({"inviteToken": invite, "password": "correct horse battery"}))
            .send()
            .await
            .expect("accept invite");
        assert_eq!(res.status(), StatusCode::OK, "accept invite");
        let body: Value = res.json().await.expect("json");
        body["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned()
    }

    /// A token for a Member of this app's org (no teams).
    pub async fn member_token(&self) -> String {
        let email = format!(
            "member-{}@example.com",
            portolan_test_support::unique_suffix()
        );
        self.user_token(&email, &["Member"], &[]).await
    }

    /// Creates a blueprint, asserting 201.
    pub async fn blueprint(&self, body: Value) -> Value {
        self.post("/v1/blueprints", body).await.expect(201, None)["blueprint"].clone()
    }

    /// Counts rows of a table for this app's org (to assert that nothing was written).
    pub async fn count_rows(&self, table: &str) -> i64 {
        self.count_sql(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .await
    }

    /// The one integer `sql` (`SELECT count(*) AS n ...`) answers.
    pub async fn count_sql(&self, sql: &str) -> i64 {
        use sea_orm::{ConnectionTrait, Statement};
        let sql = sql.to_owned();
        let row = self
            .store
            .connection()
            .query_one_raw(Statement::from_string(
                self.store.connection().get_database_backend(),
                sql,
            ))
            .await
            .expect("count")
            .expect("row");
        row.try_get::<i64>("", "n").expect("n")
    }

    /// Waits until the migration reaches an end state, and returns it.
    pub async fn wait_migration(&self, id: &str) -> Value {
        for _ in 0..200 {
            let m = self
                .get(&format!("/v1/migrations/{id}"))
                .await
                .expect(200, None)["migration"]
                .clone();
            if ["COMPLETED", "FAILURE", "CANCELLED"].contains(&m["status"].as_str().unwrap_or("")) {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("migration {id} did not finish");
    }

    /// Stops accepting connections and waits for in-flight requests (graceful).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.handle.clone()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.stop(true).await;
        let _ = self.store.close().await;
        if let Some(db) = self.db {
            db.drop_database().await;
        }
    }
}

/// A typical pair of blueprints: `team` and `service` (which relates to a team, required,
/// and to other services, many).
pub async fn catalog(app: &TestApp) {
    app.blueprint(json!({
        "identifier": "team", "title": "Team",
        "schema": {"properties": {"size": {"type": "number", "title": "Size"}}, "required": []}
    }))
    .await;
    app.blueprint(json!({
        "identifier": "service", "title": "Service",
        "schema": {
            "properties": {
                "language": {"type": "string", "enum": ["rust", "go", "python"]},
                "port": {"type": "number", "minimum": 1, "maximum": 65535},
                "url": {"type": "string", "format": "url"},
                "tier": {"type": "string", "default": "bronze"},
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "required": ["language"]
        },
        "relations": {
            "owner": {"title": "Owner", "target": "team", "required": true, "many": false},
            "dependsOn": {"title": "Depends on", "target": "service", "required": false, "many": true}
        }
    }))
    .await;
}
