//! End to end: the built `portolan` binary on embedded defaults in a temp dir. It reads the
//! printed credentials and drives the README tour over HTTP, then restarts on the same data.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

struct Running {
    child: Child,
    base: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    banner: Vec<String>,
}

async fn start(dir: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portolan"))
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTOLAN_HTTP_ADDR", "127.0.0.1:0")
        .env("PORTOLAN_INGESTION_HEALTH_ADDR", "127.0.0.1:0")
        .env("PORTOLAN_AUTOMATION_HEALTH_ADDR", "127.0.0.1:0")
        .env("PORTOLAN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start portolan");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    let (mut base, mut client_id, mut client_secret) = (None, None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(rest) = line.strip_prefix("Portolan is listening on ") {
                base = rest.split_whitespace().next().map(str::to_owned);
            }
            if let Some(v) = line.trim().strip_prefix("clientId:") {
                client_id = Some(v.trim().to_owned());
            }
            if let Some(v) = line.trim().strip_prefix("clientSecret:") {
                client_secret = Some(v.trim().to_owned());
            }
            let done = line.starts_with("Log in with") || line.trim_start().starts_with("curl ");
            banner.push(line);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("banner within 60 s");
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running {
        child,
        base: base.expect("printed its address"),
        client_id,
        client_secret,
        banner,
    }
}

async fn stop(mut r: Running) {
    let pid = r.child.id().expect("pid");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), r.child.wait())
        .await
        .expect("stops within 20 s")
        .expect("wait");
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_readme_tour_on_embedded_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = start(dir.path()).await;
    let id = app
        .client_id
        .clone()
        .expect("first start prints the clientId");
    let secret = app
        .client_secret
        .clone()
        .expect("first start prints the clientSecret");
    assert!(
        app.banner.iter().any(|l| l.contains("Embedded mode")),
        "{:?}",
        app.banner
    );
    assert!(
        dir.path().join("data/portolan.db").exists(),
        "SQLite file in ./data"
    );
    let client = reqwest::Client::new();
    let base = app.base.clone();

    // 1. Token.
    let tok: Value = client
        .post(format!("{base}/v1/auth/access_token"))
        .json(&json!({"clientId": id, "clientSecret": secret}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = tok["accessToken"].as_str().expect("accessToken").to_owned();
    use reqwest::Method;
    // 2. Blueprints.
    let (s, _) = call(
        &client,
        Method::POST,
        format!("{base}/v1/blueprints"),
        &token,
        Some(json!({"identifier": "team", "title": "Team", "schema": {"properties": {}}})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, b) = call(&client, Method::POST, format!("{base}/v1/blueprints"), &token, Some(json!({
        "identifier": "service", "title": "Service",
        "schema": {"properties": {
            "language": {"type": "string", "enum": ["rust", "go", "python"]},
            "url": {"type": "string", "format": "url"}},
          "required": ["language"]},
        "relations": {"owner": {"title": "Owner", "target": "team", "required": true, "many": false}}}))).await;
    assert_eq!(s, 201, "{b}");
    // 3. Bulk upsert.
    let (s, b) = call(&client, Method::POST,
        format!("{base}/v1/blueprints/service/entities/bulk?upsert=true&create_missing_related_entities=true"), &token,
        Some(json!({"entities": [
            {"identifier": "payments", "title": "Payments", "properties": {"language": "rust"}, "relations": {"owner": "core"}},
            {"identifier": "search", "properties": {"language": "go", "url": "https://search.example"}, "relations": {"owner": "core"}}]}))).await;
    assert_eq!(s, 200, "{b}");
    // 4. Read back.
    let (s, b) = call(
        &client,
        Method::GET,
        format!("{base}/v1/blueprints/service/entities?attach_title_to_relation=true"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["entities"].as_array().expect("entities").len(), 2);
    assert_eq!(
        b["entities"][0]["relations"]["owner"]["identifier"],
        json!("core")
    );
    let (s, b) = call(
        &client,
        Method::GET,
        format!("{base}/v1/blueprints/service/entities/payments"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["entity"]["title"], json!("Payments"));
    // 5. Search.
    let (s, b) = call(
        &client,
        Method::POST,
        format!("{base}/v1/blueprints/service/entities/search"),
        &token,
        Some(json!({"query": {"combinator": "and", "rules": [
            {"property": "language", "operator": "=", "value": "rust"},
            {"relation": "owner", "operator": "=", "value": "core"}]}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["entities"].as_array().expect("entities").len(), 1, "{b}");
    assert_eq!(b["entities"][0]["identifier"], json!("payments"));
    // 6. Audit log.
    let (s, b) = call(
        &client,
        Method::GET,
        format!("{base}/v1/audit-log?blueprint=service"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(b["audits"].as_array().expect("audits").len() >= 3, "{b}");
    stop(app).await;

    // Restart on the same data: no new credentials, the old token still works, data is there.
    let again = start(dir.path()).await;
    assert!(
        again.client_secret.is_none(),
        "credentials are printed only once: {:?}",
        again.banner
    );
    let (s, b) = call(
        &client,
        Method::GET,
        format!("{}/v1/blueprints/service/entities-count", again.base),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["count"], json!(2));
    stop(again).await;
}
