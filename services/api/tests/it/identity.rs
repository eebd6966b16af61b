//! Identity through HTTP: users and invitations, teams, apps (credential sets), personal
//! credentials, password sign-in and its throttling, sign-ins in the audit log, the operator
//! API, signing key rotation and single sign-on against an OIDC issuer played by wiremock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";
const OPERATOR: &str = "an-operator-token-of-forty-characters-xx";

// ---------------------------------------------------------------------------------------
// Small tools
// ---------------------------------------------------------------------------------------

/// A request to any base URL (another instance) with an optional bearer token.
async fn call_at(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Res {
    let mut req = client.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    Res {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

/// An unauthenticated POST to `app`.
async fn anon(app: &TestApp, path: &str, body: Value) -> Res {
    call_at(&app.client, &app.base, None, Method::POST, path, Some(body)).await
}

async fn login(app: &TestApp, email: &str, password: &str) -> Res {
    anon(
        app,
        "/v1/auth/login",
        json!({"email": email, "password": password}),
    )
    .await
}

async fn exchange(app: &TestApp, id: &str, secret: &str) -> Res {
    anon(
        app,
        "/v1/auth/access_token",
        json!({"clientId": id, "clientSecret": secret}),
    )
    .await
}

fn token_of(body: &Value) -> String {
    body["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no accessToken in {body}"))
        .to_owned()
}

/// The JSON pointers of a 422's issues.
fn pointers(body: &Value) -> Vec<String> {
    body["details"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no details.errors in {body}"))
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_owned())
        .collect()
}

fn names(list: &Value, key: &str) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|x| x[key].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// The `kid` in a JWT's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    v["kid"].as_str().expect("kid").to_owned()
}

/// The org a token's caller belongs to, as `GET /v1/organization` says.
async fn org_id_seen(app: &TestApp, token: &str) -> String {
    app.call_as(token, Method::GET, "/v1/organization", None)
        .await
        .expect(200, None)["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Invites `email` with `token` (an Admin of some org of `app`'s server) and accepts it with
/// `password`; returns the accepted sign-in's token.
async fn invite_and_accept(
    app: &TestApp,
    admin_token: &str,
    email: &str,
    roles: &[&str],
    password: &str,
) -> String {
    let invited = app
        .call_as(
            admin_token,
            Method::POST,
            "/v1/users/invite",
            Some(json!({"invitee": {"email": email, "roles": roles}})),
        )
        .await
        .expect(201, None);
    let accepted = anon(
        app,
        "/v1/auth/accept-invite",
        json!({"inviteToken": invited["inviteToken"], "password": password}),
    )
    .await
    .expect(200, None);
    token_of(&accepted)
}

/// Another API instance over `app`'s store (as a second replica would be), configured like
/// `app` and then by `tweak`.
struct Instance {
    base: String,
    handle: actix_web::dev::ServerHandle,
}

async fn second_instance(
    app: &TestApp,
    tweak: impl FnOnce(&mut portolan_config::Config),
) -> Instance {
    let mut config = (*app.config).clone();
    config.http_addr = "127.0.0.1:0".into();
    tweak(&mut config);
    let bus: Arc<dyn portolan_bus::Bus> = Arc::new(portolan_bus::InProcessBus::new());
    let api = portolan_api::start(Arc::new(config), app.store.clone(), bus)
        .await
        .expect("start a second instance");
    let handle = api.server.handle();
    tokio::spawn(api.server);
    Instance {
        base: format!("http://{}", api.addr),
        handle,
    }
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_invited_user_accepts_once_and_is_then_active_and_signed_in() {
    let app = spawn_app().await;
    app.post("/v1/teams", json!({"name": "platform"}))
        .await
        .expect(201, None);
    let invited = app
        .post(
            "/v1/users/invite",
            json!({"invitee": {"email": " Ann.Lee@Example.COM ", "roles": ["Member"],
                   "teams": ["platform"], "firstName": "Ann", "lastName": "Lee"}}),
        )
        .await
        .expect(201, None);
    assert_eq!(invited["ok"], json!(true));
    let user = &invited["user"];
    assert_eq!(
        user["email"],
        json!("ann.lee@example.com"),
        "lower case, trimmed"
    );
    assert_eq!(user["status"], json!("Invited"));
    assert_eq!(user["roles"], json!(["Member"]));
    assert_eq!(user["teams"], json!([{"name": "platform"}]));
    let invite = invited["inviteToken"].as_str().unwrap().to_owned();

    // Invited: no password yet, so no password sign-in.
    login(&app, "ann.lee@example.com", PASSWORD)
        .await
        .expect(401, Some("unauthorized"));
    // The same email again is a conflict; unknown roles and teams are 422 with pointers.
    app.post(
        "/v1/users/invite",
        json!({"invitee": {"email": "ann.lee@example.com"}}),
    )
    .await
    .expect(409, Some("identifier_taken"));
    let bad = app
        .post(
            "/v1/users/invite",
            json!({"invitee": {"email": "zed@example.com", "roles": ["Member", "Boss"], "teams": ["nope"]}}),
        )
        .await
        .expect(422, Some("invalid_request"));
    let mut p = pointers(&bad);
    p.sort();
    assert_eq!(p, ["/invitee/roles/1", "/invitee/teams/0"]);
    app.get("/v1/users/zed@example.com")
        .await
        .expect(404, Some("not_found"));
    app.post(
        "/v1/users/invite",
        json!({"invitee": {"email": "not-an-email"}}),
    )
    .await
    .expect(422, Some("invalid_request"));

    // A short password is refused and leaves the invitation usable.
    let short = anon(
        &app,
        "/v1/auth/accept-invite",
        json!({"inviteToken": invite, "password": "short"}),
    )
    .await
    .expect(422, Some("invalid_request"));
    assert_eq!(pointers(&short), ["/password"]);
    let accepted = anon(
        &app,
        "/v1/auth/accept-invite",
        json!({"inviteToken": invite, "password": PASSWORD}),
    )
    .await
    .expect(200, None);
    assert_eq!(accepted["tokenType"], json!("Bearer"));
    let ann = token_of(&accepted);
    app.call_as(&ann, Method::GET, "/v1/blueprints", None)
        .await
        .expect(200, None);
    // Once only.
    anon(
        &app,
        "/v1/auth/accept-invite",
        json!({"inviteToken": invite, "password": "another good password"}),
    )
    .await
    .expect(401, Some("unauthorized"));
    // Not a token of the invitation kind.
    anon(
        &app,
        "/v1/auth/accept-invite",
        json!({"inviteToken": app.token, "password": PASSWORD}),
    )
    .await
    .expect(401, Some("unauthorized"));
    // Active now, and the password signs in.
    let got = app
        .get("/v1/users/ANN.LEE@example.com")
        .await
        .expect(200, None);
    assert_eq!(got["user"]["status"], json!("Active"));
    login(&app, "ann.lee@example.com", PASSWORD)
        .await
        .expect(200, None);
    // A Member may read users but not invite.
    app.call_as(&ann, Method::GET, "/v1/users", None)
        .await
        .expect(200, None);
    app.call_as(
        &ann,
        Method::POST,
        "/v1/users/invite",
        Some(json!({"invitee": {"email": "x@example.com"}})),
    )
    .await
    .expect(403, Some("forbidden"));
    app.stop().await;
}

#[tokio::test]
async fn users_list_and_read_in_ports_shape_and_change_with_pointed_errors() {
    let app = spawn_app().await;
    let ann = app
        .user_token("ann@example.com", &["Member"], &["alpha"])
        .await;
    app.post("/v1/teams", json!({"name": "beta"}))
        .await
        .expect(201, None);
    let list = app.get("/v1/users").await.expect(200, None);
    let users = list["users"].as_array().unwrap();
    let found = users
        .iter()
        .find(|u| u["email"] == json!("ann@example.com"))
        .expect("ann listed");
    for key in ["email", "firstName", "lastName", "status", "roles", "teams"] {
        assert!(found.get(key).is_some(), "{key} missing from {found}");
    }
    assert_eq!(found["teams"], json!([{"name": "alpha"}]));
    assert_eq!(found["roles"], json!(["Member"]));
    assert_eq!(found["status"], json!("Active"));
    for secret in ["password", "passwordHash", "password_hash", "tokenVersion"] {
        assert!(
            found.get(secret).is_none(),
            "{secret} must not show: {found}"
        );
    }
    let one = app.get("/v1/users/ann@example.com").await.expect(200, None);
    assert_eq!(&one["user"], found);

    // Unknown roles, teams and status: 422 with a pointer each, and nothing changes.
    let bad = app
        .patch(
            "/v1/users/ann@example.com",
            json!({"roles": ["Member", "Overlord"], "teams": ["ghost"], "status": "Sleeping"}),
        )
        .await
        .expect(422, Some("invalid_request"));
    let mut p = pointers(&bad);
    p.sort();
    assert_eq!(p, ["/roles/1", "/status", "/teams/0"]);
    app.patch("/v1/users/ann@example.com", json!({"roles": "Admin"}))
        .await
        .expect(422, Some("invalid_request"));
    let unchanged = app.get("/v1/users/ann@example.com").await.expect(200, None);
    assert_eq!(unchanged["user"]["roles"], json!(["Member"]));
    assert_eq!(unchanged["user"]["teams"], json!([{"name": "alpha"}]));
    // The Member's token survived the refused change.
    app.call_as(&ann, Method::GET, "/v1/users", None)
        .await
        .expect(200, None);

    // Gaining a role keeps the token and takes effect at once.
    let changed = app
        .patch(
            "/v1/users/ann@example.com",
            json!({"roles": ["Member", "Admin"], "teams": ["beta"], "firstName": "Ann"}),
        )
        .await
        .expect(200, None);
    assert_eq!(changed["user"]["teams"], json!([{"name": "beta"}]));
    assert_eq!(changed["user"]["firstName"], json!("Ann"));
    app.call_as(
        &ann,
        Method::POST,
        "/v1/teams",
        Some(json!({"name": "gamma"})),
    )
    .await
    .expect(201, None);
    let beta = app.get("/v1/teams/beta").await.expect(200, None);
    assert_eq!(beta["team"]["users"], json!([{"email": "ann@example.com"}]));
    let alpha = app.get("/v1/teams/alpha").await.expect(200, None);
    assert_eq!(alpha["team"]["users"], json!([]));
    // Losing one ends the token at once.
    app.patch("/v1/users/ann@example.com", json!({"roles": ["Member"]}))
        .await
        .expect(200, None);
    app.call_as(&ann, Method::GET, "/v1/users", None)
        .await
        .expect(401, Some("unauthorized"));
    // Disabled: sign-in refused; enabled again: it works.
    let ann = token_of(
        &login(&app, "ann@example.com", PASSWORD)
            .await
            .expect(200, None),
    );
    app.patch("/v1/users/ann@example.com", json!({"status": "Disabled"}))
        .await
        .expect(200, None);
    app.call_as(&ann, Method::GET, "/v1/users", None)
        .await
        .expect(401, Some("unauthorized"));
    login(&app, "ann@example.com", PASSWORD)
        .await
        .expect(401, Some("unauthorized"));
    app.patch("/v1/users/ann@example.com", json!({"status": "Active"}))
        .await
        .expect(200, None);
    let ann = token_of(
        &login(&app, "ann@example.com", PASSWORD)
            .await
            .expect(200, None),
    );
    // Members do not change users.
    app.call_as(
        &ann,
        Method::PATCH,
        "/v1/users/ann@example.com",
        Some(json!({"roles": ["Admin"]})),
    )
    .await
    .expect(403, Some("forbidden"));
    app.call_as(&ann, Method::DELETE, "/v1/users/ann@example.com", None)
        .await
        .expect(403, Some("forbidden"));

    // 404s.
    app.get("/v1/users/nobody@example.com")
        .await
        .expect(404, Some("not_found"));
    app.patch("/v1/users/nobody@example.com", json!({"roles": ["Member"]}))
        .await
        .expect(404, Some("not_found"));
    app.delete("/v1/users/nobody@example.com")
        .await
        .expect(404, Some("not_found"));

    // Delete: gone, its token dead, its memberships gone.
    app.delete("/v1/users/ann@example.com")
        .await
        .expect(200, None);
    app.get("/v1/users/ann@example.com")
        .await
        .expect(404, Some("not_found"));
    app.call_as(&ann, Method::GET, "/v1/users", None)
        .await
        .expect(401, Some("unauthorized"));
    login(&app, "ann@example.com", PASSWORD)
        .await
        .expect(401, Some("unauthorized"));
    let beta = app.get("/v1/teams/beta").await.expect(200, None);
    assert_eq!(beta["team"]["users"], json!([]));
    app.delete("/v1/users/ann@example.com")
        .await
        .expect(404, Some("not_found"));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Teams
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn teams_are_created_read_replaced_changed_and_deleted() {
    let app = spawn_app().await;
    let member = app.user_token("ann@example.com", &["Member"], &[]).await;
    app.user_token("bob@example.com", &["Member"], &[]).await;

    let created = app
        .post(
            "/v1/teams",
            json!({"name": "alpha", "description": "The A team", "users": ["ANN@example.com"]}),
        )
        .await
        .expect(201, None);
    assert_eq!(created["team"]["name"], json!("alpha"));
    assert_eq!(created["team"]["description"], json!("The A team"));
    assert_eq!(
        created["team"]["users"],
        json!([{"email": "ann@example.com"}])
    );
    app.post("/v1/teams", json!({"name": "alpha"}))
        .await
        .expect(409, Some("identifier_taken"));
    for (body, pointer) in [
        (json!({"description": "no name"}), "/name"),
        (json!({"name": ""}), "/name"),
        (json!({"name": "x".repeat(101)}), "/name"),
        (
            json!({"name": "ok", "users": ["ghost@example.com"]}),
            "/users/0",
        ),
        (json!({"name": "ok", "users": "ann@example.com"}), "/users"),
        (json!({"name": 5}), "/name"),
    ] {
        let res = app
            .post("/v1/teams", body.clone())
            .await
            .expect(422, Some("invalid_request"));
        assert_eq!(pointers(&res), [pointer], "{body}");
    }
    app.get("/v1/teams/ok").await.expect(404, Some("not_found"));
    // Members read teams but do not change them.
    let list = app
        .call_as(&member, Method::GET, "/v1/teams", None)
        .await
        .expect(200, None);
    assert_eq!(names(&list["teams"], "name"), ["alpha"]);
    app.call_as(
        &member,
        Method::POST,
        "/v1/teams",
        Some(json!({"name": "mine"})),
    )
    .await
    .expect(403, Some("forbidden"));
    app.call_as(
        &member,
        Method::PATCH,
        "/v1/teams/alpha",
        Some(json!({"description": "hacked"})),
    )
    .await
    .expect(403, Some("forbidden"));
    app.call_as(&member, Method::DELETE, "/v1/teams/alpha", None)
        .await
        .expect(403, Some("forbidden"));
    // The user sees the membership.
    let ann = app.get("/v1/users/ann@example.com").await.expect(200, None);
    assert_eq!(ann["user"]["teams"], json!([{"name": "alpha"}]));

    // PATCH changes only what it is given.
    let patched = app
        .patch(
            "/v1/teams/alpha",
            json!({"users": ["bob@example.com", "ann@example.com"]}),
        )
        .await
        .expect(200, None);
    assert_eq!(patched["team"]["description"], json!("The A team"));
    assert_eq!(
        patched["team"]["users"],
        json!([{"email": "ann@example.com"}, {"email": "bob@example.com"}])
    );
    let bad = app
        .patch(
            "/v1/teams/alpha",
            json!({"users": ["bob@example.com", "ghost@example.com"]}),
        )
        .await
        .expect(422, Some("invalid_request"));
    assert_eq!(pointers(&bad), ["/users/1"]);
    assert_eq!(
        app.get("/v1/teams/alpha").await.expect(200, None)["team"]["users"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "a refused change changes nothing"
    );
    // PUT replaces: what is not given is emptied.
    let replaced = app
        .put("/v1/teams/alpha", json!({"description": "Replaced"}))
        .await
        .expect(200, None);
    assert_eq!(replaced["team"]["description"], json!("Replaced"));
    assert_eq!(replaced["team"]["users"], json!([]));
    // Rename (no entity names it), and the old name is gone.
    app.post("/v1/teams", json!({"name": "beta"}))
        .await
        .expect(201, None);
    app.patch("/v1/teams/alpha", json!({"name": "beta"}))
        .await
        .expect(409, Some("identifier_taken"));
    let renamed = app
        .patch("/v1/teams/alpha", json!({"name": "omega"}))
        .await
        .expect(200, None);
    assert_eq!(renamed["team"]["name"], json!("omega"));
    app.get("/v1/teams/alpha")
        .await
        .expect(404, Some("not_found"));
    app.get("/v1/teams/omega").await.expect(200, None);
    // 404s.
    app.patch("/v1/teams/ghost", json!({"description": "x"}))
        .await
        .expect(404, Some("not_found"));
    app.put("/v1/teams/ghost", json!({"description": "x"}))
        .await
        .expect(404, Some("not_found"));
    app.delete("/v1/teams/ghost")
        .await
        .expect(404, Some("not_found"));
    // Delete.
    app.delete("/v1/teams/omega").await.expect(200, None);
    app.get("/v1/teams/omega")
        .await
        .expect(404, Some("not_found"));
    let list = app.get("/v1/teams").await.expect(200, None);
    assert_eq!(names(&list["teams"], "name"), ["beta"]);
    app.stop().await;
}

#[tokio::test]
async fn teams_named_by_entities_keep_their_name_and_entities_name_existing_teams_only() {
    let app = spawn_app().await;
    app.blueprint(json!({
        "identifier": "svc", "title": "Service",
        "schema": {"properties": {"language": {"type": "string"}}}
    }))
    .await;
    for team in ["owners", "others"] {
        app.post("/v1/teams", json!({"name": team}))
            .await
            .expect(201, None);
    }
    app.post(
        "/v1/blueprints/svc/entities",
        json!({"identifier": "api", "title": "API", "team": "owners"}),
    )
    .await
    .expect(201, None);

    let res = app
        .patch("/v1/teams/owners", json!({"name": "renamed"}))
        .await
        .expect(422, Some("invalid_request"));
    assert_eq!(pointers(&res), ["/name"]);
    app.get("/v1/teams/owners").await.expect(200, None);
    app.get("/v1/teams/renamed")
        .await
        .expect(404, Some("not_found"));
    // The description may still change (no rename).
    app.patch(
        "/v1/teams/owners",
        json!({"name": "owners", "description": "d"}),
    )
    .await
    .expect(200, None);
    let res = app
        .delete("/v1/teams/owners")
        .await
        .expect(409, Some("has_dependents"));
    assert!(res["message"].as_str().unwrap().contains("owners"), "{res}");
    app.get("/v1/teams/owners").await.expect(200, None);

    // Entity writes that name an unknown team: 422 at /team, nothing written.
    let entities_before = app.count_rows("entities").await;
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/blueprints/svc/entities",
            json!({"identifier": "new", "team": "ghost"}),
        ),
        (
            Method::POST,
            "/v1/blueprints/svc/entities",
            json!({"identifier": "new", "team": ["owners", "ghost"]}),
        ),
        (
            Method::POST,
            "/v1/blueprints/svc/entities?upsert=true",
            json!({"identifier": "api", "team": "ghost"}),
        ),
        (
            Method::PUT,
            "/v1/blueprints/svc/entities/new",
            json!({"team": ["ghost"]}),
        ),
        (
            Method::PATCH,
            "/v1/blueprints/svc/entities/api",
            json!({"team": "ghost", "properties": {"language": "go"}}),
        ),
    ] {
        let res = app
            .call(method.clone(), path, Some(body.clone()))
            .await
            .expect(422, Some("invalid_request"));
        assert_eq!(pointers(&res), ["/team"], "{method} {path} {body}");
        assert!(res["message"].as_str().unwrap().contains("ghost"), "{res}");
    }
    assert_eq!(app.count_rows("entities").await, entities_before);
    app.get("/v1/blueprints/svc/entities/new")
        .await
        .expect(404, Some("not_found"));
    let api = app
        .get("/v1/blueprints/svc/entities/api")
        .await
        .expect(200, None);
    assert_eq!(api["entity"]["team"], json!(["owners"]));
    assert!(api["entity"]["properties"]["language"].is_null(), "{api}");
    // In bulk, the item naming an unknown team fails alone.
    let bulk = app
        .post(
            "/v1/blueprints/svc/entities/bulk",
            json!({"entities": [
                {"identifier": "b1", "team": "ghost"},
                {"identifier": "b2", "team": "others"},
            ]}),
        )
        .await
        .expect(207, None);
    assert_eq!(bulk["errors"][0]["index"], json!(0));
    assert_eq!(bulk["errors"][0]["statusCode"], json!(422));
    assert_eq!(bulk["errors"].as_array().unwrap().len(), 1);
    assert_eq!(bulk["entities"][0]["identifier"], json!("b2"));
    app.get("/v1/blueprints/svc/entities/b1")
        .await
        .expect(404, Some("not_found"));

    // Once no entity names it, the team may be renamed and deleted.
    app.patch("/v1/blueprints/svc/entities/api", json!({"team": "others"}))
        .await
        .expect(200, None);
    app.patch("/v1/teams/owners", json!({"name": "renamed"}))
        .await
        .expect(200, None);
    app.delete("/v1/teams/renamed").await.expect(200, None);
    // Still refused for the team the entities moved to.
    app.delete("/v1/teams/others")
        .await
        .expect(409, Some("has_dependents"));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Apps and personal credentials
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn apps_show_their_secret_once_and_rotation_and_deletion_revoke_at_once() {
    let app = spawn_app().await;
    let created = app
        .post("/v1/apps", json!({"name": "ci", "roles": ["Member"]}))
        .await
        .expect(201, None);
    let secret = created["clientSecret"].as_str().unwrap().to_owned();
    let id = created["app"]["id"].as_str().unwrap().to_owned();
    let client_id = created["app"]["clientId"].as_str().unwrap().to_owned();
    assert_eq!(created["app"]["name"], json!("ci"));
    assert_eq!(created["app"]["roles"], json!(["Member"]));
    assert_eq!(created["app"]["enabled"], json!(true));
    assert!(secret.len() >= 20, "a real secret: {secret}");
    // Never again: not in the list, not in a read.
    let list = app.get("/v1/apps").await.expect(200, None);
    let text = list.to_string();
    assert!(!text.contains(&secret), "the list shows the secret");
    assert!(
        !text.contains("clientSecret") && !text.to_lowercase().contains("hash"),
        "{text}"
    );
    assert!(names(&list["apps"], "clientId").contains(&client_id));
    let one = app.get(&format!("/v1/apps/{id}")).await.expect(200, None);
    assert!(!one.to_string().contains(&secret));
    assert!(one.get("clientSecret").is_none() && one["app"].get("clientSecret").is_none());
    assert_eq!(one["app"]["clientId"], json!(client_id));
    app.get("/v1/apps/not-a-uuid")
        .await
        .expect(404, Some("not_found"));
    app.get(&format!("/v1/apps/{}", uuid::Uuid::new_v4()))
        .await
        .expect(404, Some("not_found"));
    app.post("/v1/apps", json!({"roles": ["Admin"]}))
        .await
        .expect(422, Some("invalid_request"));
    let bad = app
        .post("/v1/apps", json!({"name": "x", "roles": ["Wizard"]}))
        .await
        .expect(422, Some("invalid_request"));
    assert_eq!(pointers(&bad), ["/roles/0"]);

    // The app acts with its roles: a Member.
    let t1 = token_of(&exchange(&app, &client_id, &secret).await.expect(200, None));
    app.call_as(&t1, Method::GET, "/v1/blueprints", None)
        .await
        .expect(200, None);
    app.call_as(&t1, Method::POST, "/v1/teams", Some(json!({"name": "t"})))
        .await
        .expect(403, Some("forbidden"));
    app.call_as(&t1, Method::GET, "/v1/apps", None)
        .await
        .expect(403, Some("forbidden"));

    // PUT: name and an added role keep the token; the new role applies at once.
    let put = app
        .put(
            &format!("/v1/apps/{id}"),
            json!({"name": "ci-2", "roles": ["Member", "Admin"]}),
        )
        .await
        .expect(200, None);
    assert_eq!(put["app"]["name"], json!("ci-2"));
    assert!(put.get("clientSecret").is_none());
    app.call_as(&t1, Method::POST, "/v1/teams", Some(json!({"name": "t"})))
        .await
        .expect(201, None);
    let bad = app
        .put(
            &format!("/v1/apps/{id}"),
            json!({"enabled": "no", "roles": ["Nope"]}),
        )
        .await
        .expect(422, Some("invalid_request"));
    let mut p = pointers(&bad);
    p.sort();
    assert_eq!(p, ["/enabled"], "the shape is checked before the roles");
    // A role taken away ends the token.
    app.put(&format!("/v1/apps/{id}"), json!({"roles": ["Member"]}))
        .await
        .expect(200, None);
    app.call_as(&t1, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    let t2 = token_of(&exchange(&app, &client_id, &secret).await.expect(200, None));
    app.call_as(&t2, Method::POST, "/v1/teams", Some(json!({"name": "u"})))
        .await
        .expect(403, Some("forbidden"));
    // Disabled: token and exchange refused; enabled: exchange works again.
    app.put(&format!("/v1/apps/{id}"), json!({"enabled": false}))
        .await
        .expect(200, None);
    app.call_as(&t2, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    exchange(&app, &client_id, &secret)
        .await
        .expect(401, Some("unauthorized"));
    app.put(&format!("/v1/apps/{id}"), json!({"enabled": true}))
        .await
        .expect(200, None);
    let t3 = token_of(&exchange(&app, &client_id, &secret).await.expect(200, None));

    // Rotation: the new secret works, the old one and its tokens do not.
    let rotated = app
        .post(&format!("/v1/apps/{id}/rotate-secret"), json!({}))
        .await
        .expect(200, None);
    let new_secret = rotated["clientSecret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(rotated["app"]["clientId"], json!(client_id));
    exchange(&app, &client_id, &secret)
        .await
        .expect(401, Some("unauthorized"));
    app.call_as(&t3, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    let t4 = token_of(
        &exchange(&app, &client_id, &new_secret)
            .await
            .expect(200, None),
    );
    app.call_as(&t4, Method::GET, "/v1/blueprints", None)
        .await
        .expect(200, None);
    app.post("/v1/apps/not-a-uuid/rotate-secret", json!({}))
        .await
        .expect(404, Some("not_found"));

    // Deletion: secret and tokens dead, the app gone.
    app.delete(&format!("/v1/apps/{id}"))
        .await
        .expect(200, None);
    exchange(&app, &client_id, &new_secret)
        .await
        .expect(401, Some("unauthorized"));
    app.call_as(&t4, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    app.get(&format!("/v1/apps/{id}"))
        .await
        .expect(404, Some("not_found"));
    app.delete(&format!("/v1/apps/{id}"))
        .await
        .expect(404, Some("not_found"));
    let list = app.get("/v1/apps").await.expect(200, None);
    assert!(!names(&list["apps"], "clientId").contains(&client_id));
    // The org's own credentials were not touched.
    app.get("/v1/blueprints").await.expect(200, None);
    app.stop().await;
}

#[tokio::test]
async fn personal_credentials_act_as_their_user_and_rotate_by_self_or_admin() {
    let app = spawn_app().await;
    let bob = app
        .user_token("bob@example.com", &["Member"], &["alpha"])
        .await;
    let carol = app
        .user_token("carol@example.com", &["Member"], &["beta"])
        .await;
    // A blueprint whose entities a Member reads only when its team owns them.
    app.blueprint(json!({
        "identifier": "svc", "title": "Service", "schema": {"properties": {}}
    }))
    .await;
    app.patch(
        "/v1/blueprints/svc/permissions",
        json!({"entities": {"read": {"roles": ["Admin"], "ownedByTeam": true}}}),
    )
    .await
    .expect(200, None);
    for (id, team) in [("a", "alpha"), ("b", "beta")] {
        app.post(
            "/v1/blueprints/svc/entities",
            json!({"identifier": id, "team": team}),
        )
        .await
        .expect(201, None);
    }

    // By self.
    let creds = app
        .call_as(
            &bob,
            Method::POST,
            "/v1/rotate-credentials/bob@example.com",
            None,
        )
        .await
        .expect(200, None);
    let id1 = creds["credentials"]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret1 = creds["credentials"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    // Not an app: not listed under /v1/apps.
    let apps = app.get("/v1/apps").await.expect(200, None);
    assert!(!names(&apps["apps"], "clientId").contains(&id1));
    let ct = token_of(&exchange(&app, &id1, &secret1).await.expect(200, None));
    // The credentials act as Bob: his team's entities only, his (Member) role.
    let seen = app
        .call_as(&ct, Method::GET, "/v1/blueprints/svc/entities", None)
        .await
        .expect(200, None);
    assert_eq!(names(&seen["entities"], "identifier"), ["a"]);
    app.call_as(&ct, Method::POST, "/v1/teams", Some(json!({"name": "t1"})))
        .await
        .expect(403, Some("forbidden"));
    // Bob's roles change: his credentials follow at once.
    app.patch(
        "/v1/users/bob@example.com",
        json!({"roles": ["Member", "Admin"]}),
    )
    .await
    .expect(200, None);
    app.call_as(&ct, Method::POST, "/v1/teams", Some(json!({"name": "t1"})))
        .await
        .expect(201, None);
    let seen = app
        .call_as(&ct, Method::GET, "/v1/blueprints/svc/entities", None)
        .await
        .expect(200, None);
    assert_eq!(names(&seen["entities"], "identifier"), ["a", "b"]);
    // ... and what they do is Bob's in the audit log.
    let log = app
        .get("/v1/audit-log?resources=team&action=CREATE")
        .await
        .expect(200, None);
    let t1 = log["audits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["diff"]["after"]["name"] == json!("t1"))
        .unwrap_or_else(|| panic!("team t1 not in {log}"));
    assert_eq!(t1["trigger"]["by"]["userId"], json!("bob@example.com"));
    app.patch("/v1/users/bob@example.com", json!({"roles": ["Member"]}))
        .await
        .expect(200, None);

    // Another Member may not rotate Bob's credentials.
    app.call_as(
        &carol,
        Method::POST,
        "/v1/rotate-credentials/bob@example.com",
        None,
    )
    .await
    .expect(403, Some("forbidden"));
    let still = app
        .call_as(&ct, Method::GET, "/v1/blueprints/svc/entities", None)
        .await
        .expect(200, None);
    assert_eq!(names(&still["entities"], "identifier"), ["a"]);
    // An Admin may: the old credentials and their tokens die.
    let creds2 = app
        .post("/v1/rotate-credentials/BOB@example.com", json!({}))
        .await
        .expect(200, None);
    let id2 = creds2["credentials"]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret2 = creds2["credentials"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(id2, id1);
    exchange(&app, &id1, &secret1)
        .await
        .expect(401, Some("unauthorized"));
    app.call_as(&ct, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    let ct2 = token_of(&exchange(&app, &id2, &secret2).await.expect(200, None));
    app.call_as(&ct2, Method::GET, "/v1/blueprints", None)
        .await
        .expect(200, None);
    app.post("/v1/rotate-credentials/nobody@example.com", json!({}))
        .await
        .expect(404, Some("not_found"));
    // A disabled user's credentials are refused too.
    app.patch("/v1/users/bob@example.com", json!({"status": "Disabled"}))
        .await
        .expect(200, None);
    exchange(&app, &id2, &secret2)
        .await
        .expect(401, Some("unauthorized"));
    app.call_as(&ct2, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Password sign-in and throttling
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn password_login_answers_one_message_for_every_refusal_and_asks_for_the_org_when_ambiguous()
{
    let app = spawn_app().await;
    app.user_token("ann@example.com", &["Member"], &[]).await;
    let ok = login(&app, " ANN@example.com", PASSWORD)
        .await
        .expect(200, None);
    assert_eq!(ok["tokenType"], json!("Bearer"));
    assert_eq!(ok["expiresIn"], json!(10800));
    let ann = token_of(&ok);
    assert_eq!(org_id_seen(&app, &ann).await, app.org.to_string());
    let me = app.get("/v1/users/ann@example.com").await.expect(200, None);
    assert!(me["user"]["lastLoginAt"].is_string(), "{me}");

    let wrong = login(&app, "ann@example.com", "not the password")
        .await
        .expect(401, Some("unauthorized"));
    let unknown = login(&app, "nobody@example.com", "not the password")
        .await
        .expect(401, Some("unauthorized"));
    assert_eq!(
        wrong["message"], unknown["message"],
        "no account enumeration"
    );
    assert_eq!(wrong, unknown);
    for body in [
        json!({"email": "ann@example.com"}),
        json!({"password": PASSWORD}),
        json!({"email": "ann@example.com", "password": 42}),
        json!({"email": "ann@example.com", "password": PASSWORD, "organizationId": "acme"}),
        json!({"email": "ann@example.com", "password": PASSWORD, "organizationId": 7}),
    ] {
        anon(&app, "/v1/auth/login", body.clone())
            .await
            .expect(422, Some("invalid_request"));
    }

    // The same email in a second org, with another password.
    let (org2, admin2) = app.other_org().await;
    let ann2 = invite_and_accept(
        &app,
        &admin2,
        "ann@example.com",
        &["Member"],
        "a different passphrase",
    )
    .await;
    assert_eq!(org_id_seen(&app, &ann2).await, org2.to_string());
    let res = login(&app, "ann@example.com", PASSWORD)
        .await
        .expect(422, Some("invalid_request"));
    assert_eq!(pointers(&res), ["/organizationId"]);
    let in1 = anon(
        &app,
        "/v1/auth/login",
        json!({"email": "ann@example.com", "password": PASSWORD, "organizationId": app.org.to_string()}),
    )
    .await
    .expect(200, None);
    assert_eq!(
        org_id_seen(&app, &token_of(&in1)).await,
        app.org.to_string()
    );
    let in2 = anon(
        &app,
        "/v1/auth/login",
        json!({"email": "ann@example.com", "password": "a different passphrase", "organizationId": org2.to_string()}),
    )
    .await
    .expect(200, None);
    assert_eq!(org_id_seen(&app, &token_of(&in2)).await, org2.to_string());
    // Each org's password is its own.
    anon(
        &app,
        "/v1/auth/login",
        json!({"email": "ann@example.com", "password": PASSWORD, "organizationId": org2.to_string()}),
    )
    .await
    .expect(401, Some("unauthorized"));
    // An org id the email is not in: like an unknown email.
    let none = anon(
        &app,
        "/v1/auth/login",
        json!({"email": "ann@example.com", "password": PASSWORD, "organizationId": uuid::Uuid::new_v4().to_string()}),
    )
    .await
    .expect(401, Some("unauthorized"));
    assert_eq!(none["message"], wrong["message"]);
    app.stop().await;
}

fn retry_after(res: &Res) -> u64 {
    res.headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", res.headers))
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

#[tokio::test]
async fn failed_logins_lock_the_account_for_a_while_but_not_other_accounts() {
    let app = spawn_with(Backend::Postgres, |c| {
        c.login_max_failures_per_account = 3;
        c.login_max_failures_per_address = 50;
    })
    .await;
    app.user_token("ann@example.com", &["Member"], &[]).await;
    app.user_token("bob@example.com", &["Member"], &[]).await;
    for _ in 0..3 {
        login(&app, "ann@example.com", "guess guess guess")
            .await
            .expect(401, Some("unauthorized"));
    }
    // Even the right password is refused now, before it is checked.
    let locked = login(&app, "ANN@example.com", PASSWORD).await;
    let after = retry_after(&locked);
    assert!((1..=15 * 60).contains(&after), "Retry-After {after}");
    locked.expect(429, Some("rate_limited"));
    login(&app, "ann@example.com", "guess guess guess")
        .await
        .expect(429, Some("rate_limited"));
    // Another account from the same address is unaffected; a success clears its failures.
    for _ in 0..3 {
        for _ in 0..2 {
            login(&app, "bob@example.com", "guess guess guess")
                .await
                .expect(401, Some("unauthorized"));
        }
        login(&app, "bob@example.com", PASSWORD)
            .await
            .expect(200, None);
    }
    // Token exchange of the org's credentials is not a password login.
    exchange(&app, &app.client_id, &app.client_secret)
        .await
        .expect(200, None);
    login(&app, "ann@example.com", PASSWORD)
        .await
        .expect(429, Some("rate_limited"));
    app.stop().await;
}

#[tokio::test]
async fn failed_logins_from_one_address_lock_every_account_from_it() {
    let app = spawn_with(Backend::Postgres, |c| {
        c.login_max_failures_per_account = 50;
        c.login_max_failures_per_address = 4;
    })
    .await;
    app.user_token("ann@example.com", &["Member"], &[]).await;
    app.user_token("bob@example.com", &["Member"], &[]).await;
    // Successes do not count.
    login(&app, "bob@example.com", PASSWORD)
        .await
        .expect(200, None);
    // Failures over several accounts, known or not.
    for email in [
        "ann@example.com",
        "ann@example.com",
        "ghost1@example.com",
        "ghost2@example.com",
    ] {
        login(&app, email, "guess guess guess")
            .await
            .expect(401, Some("unauthorized"));
    }
    let locked = login(&app, "bob@example.com", PASSWORD).await;
    assert!(retry_after(&locked) >= 1);
    locked.expect(429, Some("rate_limited"));
    login(&app, "someone-new@example.com", "whatever it is")
        .await
        .expect(429, Some("rate_limited"));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Sign-ins in the audit log
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_ins_and_refusals_are_in_the_audit_log_for_admins_only() {
    let app = spawn_app().await;
    let member = app.user_token("ann@example.com", &["Member"], &[]).await;
    login(&app, "ann@example.com", PASSWORD)
        .await
        .expect(200, None);
    login(&app, "ann@example.com", "not the password")
        .await
        .expect(401, None);
    exchange(&app, &app.client_id, "wrong secret")
        .await
        .expect(401, None);
    exchange(&app, &app.client_id, &app.client_secret)
        .await
        .expect(200, None);

    let users = app
        .get("/v1/audit-log?resources=user&action=LOGIN")
        .await
        .expect(200, None);
    let records = users["audits"].as_array().unwrap();
    assert!(records.iter().all(|r| r["action"] == json!("LOGIN")
        && r["resourceType"] == json!("user")
        && r["context"]["user"] == json!("ann@example.com")));
    let statuses: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap(),
                r["context"]["method"].as_str().unwrap(),
            )
        })
        .collect();
    // Newest first: the refused password, the password, the invitation.
    assert_eq!(
        statuses,
        [
            ("FAILURE", "password"),
            ("SUCCESS", "password"),
            ("SUCCESS", "invitation")
        ]
    );
    assert!(
        records[0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "a refusal says why: {}",
        records[0]
    );
    assert!(!users.to_string().contains("not the password"));

    let creds = app
        .get("/v1/audit-log?resources=credential&action=LOGIN")
        .await
        .expect(200, None);
    let records = creds["audits"].as_array().unwrap();
    let ours: Vec<&str> = records
        .iter()
        .filter(|r| r["context"]["credential"] == json!(app.client_id))
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    // spawn_app's own exchange came first.
    assert_eq!(ours, ["SUCCESS", "FAILURE", "SUCCESS"]);
    let failures = app
        .get("/v1/audit-log?resources=credential&status=FAILURE")
        .await
        .expect(200, None);
    assert_eq!(failures["audits"].as_array().unwrap().len(), 1);
    assert_eq!(failures["audits"][0]["action"], json!("LOGIN"));

    // Members see none of it.
    for q in [
        "/v1/audit-log",
        "/v1/audit-log?resources=user",
        "/v1/audit-log?resources=credential",
        "/v1/audit-log?action=LOGIN",
    ] {
        let seen = app
            .call_as(&member, Method::GET, q, None)
            .await
            .expect(200, None);
        assert!(
            seen["audits"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["resourceType"] == json!("entity")
                    || r["resourceType"] == json!("blueprint")),
            "{q}: {seen}"
        );
        assert!(!seen.to_string().contains("LOGIN"), "{q}: {seen}");
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Operator API and signing keys
// ---------------------------------------------------------------------------------------

fn with_operator(c: &mut portolan_config::Config) {
    c.operator_token = Some(SecretString::from(OPERATOR.to_owned()));
}

async fn operator(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Res {
    app.call_as(OPERATOR, method, path, body).await
}

/// Polls `GET /v1/blueprints` with `token` until it answers `status`, for at most 6 s.
async fn until_status(app: &TestApp, token: &str, status: u16) {
    let start = Instant::now();
    loop {
        let res = app
            .call_as(token, Method::GET, "/v1/blueprints", None)
            .await;
        if res.status.as_u16() == status {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(6),
            "still {} after 6 s (want {status})",
            res.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_operator_creates_suspends_reactivates_and_deletes_organizations() {
    let app = spawn_with(Backend::Postgres, with_operator).await;
    let created = operator(
        &app,
        Method::POST,
        "/operator/organizations",
        Some(json!({"name": " Acme ", "admin": {"email": "Boss@Acme.example", "password": "acme admin passphrase"}})),
    )
    .await
    .expect(201, None);
    let org = created["organization"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["organization"]["name"], json!("Acme"));
    assert_eq!(created["organization"]["status"], json!("active"));
    assert_eq!(created["admin"]["user"]["status"], json!("Active"));
    assert!(created["admin"].get("inviteToken").is_none());
    let cid = created["credentials"]["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let cs = created["credentials"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(org, app.org.to_string());

    // The admin signs in; the credentials work; both are Admins of the new org only.
    let admin = token_of(
        &login(&app, "boss@acme.example", "acme admin passphrase")
            .await
            .expect(200, None),
    );
    assert_eq!(org_id_seen(&app, &admin).await, org);
    app.call_as(
        &admin,
        Method::POST,
        "/v1/teams",
        Some(json!({"name": "acme-team"})),
    )
    .await
    .expect(201, None);
    let ct = token_of(&exchange(&app, &cid, &cs).await.expect(200, None));
    assert_eq!(org_id_seen(&app, &ct).await, org);
    let users = app
        .call_as(&ct, Method::GET, "/v1/users", None)
        .await
        .expect(200, None);
    assert_eq!(users["users"][0]["email"], json!("boss@acme.example"));
    assert_eq!(users["users"][0]["roles"], json!(["Admin"]));
    let teams = app
        .call_as(&ct, Method::GET, "/v1/teams", None)
        .await
        .expect(200, None);
    assert_eq!(names(&teams["teams"], "name"), ["acme-team"]);
    // The bootstrap org does not see it.
    app.get("/v1/teams/acme-team")
        .await
        .expect(404, Some("not_found"));

    // List and get.
    let list = operator(&app, Method::GET, "/operator/organizations", None)
        .await
        .expect(200, None);
    let ids: Vec<&str> = list["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&org.as_str()) && ids.contains(&app.org.to_string().as_str()));
    let got = operator(
        &app,
        Method::GET,
        &format!("/operator/organizations/{org}"),
        None,
    )
    .await
    .expect(200, None);
    assert_eq!(got["organization"]["name"], json!("Acme"));
    for missing in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        operator(
            &app,
            Method::GET,
            &format!("/operator/organizations/{missing}"),
            None,
        )
        .await
        .expect(404, Some("not_found"));
    }
    // Bad bodies.
    for (body, pointer) in [
        (json!({"admin": {"email": "a@b.c"}}), "/name"),
        (json!({"name": "x"}), "/admin"),
        (
            json!({"name": "x", "admin": {"email": "nope"}}),
            "/admin/email",
        ),
        (
            json!({"name": "x", "admin": {"email": "a@b.c", "password": "short"}}),
            "/admin/password",
        ),
    ] {
        let res = operator(
            &app,
            Method::POST,
            "/operator/organizations",
            Some(body.clone()),
        )
        .await
        .expect(422, Some("invalid_request"));
        assert_eq!(pointers(&res), [pointer], "{body}");
    }
    let bad = operator(
        &app,
        Method::PATCH,
        &format!("/operator/organizations/{org}"),
        Some(json!({"status": "sleeping"})),
    )
    .await
    .expect(422, Some("invalid_request"));
    assert_eq!(pointers(&bad), ["/status"]);

    // Suspend: tokens refused within seconds, nobody signs in; the other org is untouched.
    let suspended = operator(
        &app,
        Method::PATCH,
        &format!("/operator/organizations/{org}"),
        Some(json!({"status": "suspended"})),
    )
    .await
    .expect(200, None);
    assert_eq!(suspended["organization"]["status"], json!("suspended"));
    until_status(&app, &admin, 401).await;
    until_status(&app, &ct, 401).await;
    login(&app, "boss@acme.example", "acme admin passphrase")
        .await
        .expect(401, Some("unauthorized"));
    exchange(&app, &cid, &cs)
        .await
        .expect(401, Some("unauthorized"));
    app.get("/v1/blueprints").await.expect(200, None);
    // Reactivate: the same tokens work again.
    operator(
        &app,
        Method::PATCH,
        &format!("/operator/organizations/{org}"),
        Some(json!({"status": "active"})),
    )
    .await
    .expect(200, None);
    until_status(&app, &admin, 200).await;
    until_status(&app, &ct, 200).await;
    login(&app, "boss@acme.example", "acme admin passphrase")
        .await
        .expect(200, None);

    // Delete: gone with everything it had.
    operator(
        &app,
        Method::DELETE,
        &format!("/operator/organizations/{org}"),
        None,
    )
    .await
    .expect(200, None);
    operator(
        &app,
        Method::GET,
        &format!("/operator/organizations/{org}"),
        None,
    )
    .await
    .expect(404, Some("not_found"));
    operator(
        &app,
        Method::DELETE,
        &format!("/operator/organizations/{org}"),
        None,
    )
    .await
    .expect(404, Some("not_found"));
    until_status(&app, &admin, 401).await;
    app.call_as(&ct, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    login(&app, "boss@acme.example", "acme admin passphrase")
        .await
        .expect(401, Some("unauthorized"));
    exchange(&app, &cid, &cs)
        .await
        .expect(401, Some("unauthorized"));
    let list = operator(&app, Method::GET, "/operator/organizations", None)
        .await
        .expect(200, None);
    assert!(!list.to_string().contains(&org));
    app.get("/v1/blueprints").await.expect(200, None);
    app.stop().await;
}

#[tokio::test]
async fn the_operator_api_takes_the_operator_token_only() {
    let app = spawn_with(Backend::Postgres, with_operator).await;
    let member = app.member_token().await;
    let wrong = "y".repeat(40);
    for token in [
        app.token.as_str(),
        member.as_str(),
        wrong.as_str(),
        &OPERATOR[..39],
    ] {
        for (method, path) in [
            (Method::GET, "/operator/organizations".to_owned()),
            (Method::POST, "/operator/signing-keys/rotate".to_owned()),
            (
                Method::DELETE,
                format!("/operator/organizations/{}", app.org),
            ),
        ] {
            app.call_as(token, method, &path, None)
                .await
                .expect(401, Some("unauthorized"));
        }
    }
    call_at(
        &app.client,
        &app.base,
        None,
        Method::GET,
        "/operator/organizations",
        None,
    )
    .await
    .expect(401, Some("unauthorized"));
    // The operator token is no org token.
    app.call_as(OPERATOR, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    // The refused delete did nothing.
    app.get("/v1/blueprints").await.expect(200, None);
    app.stop().await;
}

#[tokio::test]
async fn the_operator_api_is_off_without_an_operator_token() {
    let app = spawn_app().await;
    for token in [OPERATOR, app.token.as_str()] {
        app.call_as(token, Method::GET, "/operator/organizations", None)
            .await
            .expect(404, Some("not_found"));
        app.call_as(token, Method::POST, "/operator/signing-keys/rotate", None)
            .await
            .expect(404, Some("not_found"));
    }
    app.stop().await;
}

#[tokio::test]
async fn signing_key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key() {
    let app = spawn_with(Backend::Postgres, with_operator).await;
    app.user_token("ann@example.com", &["Member"], &[]).await;
    // Another instance, started before the rotation.
    let other = second_instance(&app, |_| {}).await;
    let before = app.token.clone();
    let k1 = kid_of(&before);
    let rotated = operator(&app, Method::POST, "/operator/signing-keys/rotate", None)
        .await
        .expect(200, None);
    let k2 = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(k1, k2);

    let after = token_of(
        &exchange(&app, &app.client_id, &app.client_secret)
            .await
            .expect(200, None),
    );
    assert_eq!(kid_of(&after), k2);
    let login_token = token_of(
        &login(&app, "ann@example.com", PASSWORD)
            .await
            .expect(200, None),
    );
    assert_eq!(kid_of(&login_token), k2);
    // Both verify, here and on the other instance.
    for token in [&before, &after, &login_token] {
        app.call_as(token, Method::GET, "/v1/blueprints", None)
            .await
            .expect(200, None);
        call_at(
            &app.client,
            &other.base,
            Some(token),
            Method::GET,
            "/v1/blueprints",
            None,
        )
        .await
        .expect(200, None);
    }
    // Twice more: the first token still works.
    let k3 = operator(&app, Method::POST, "/operator/signing-keys/rotate", None)
        .await
        .expect(200, None)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(k3 != k1 && k3 != k2);
    app.call_as(&before, Method::GET, "/v1/blueprints", None)
        .await
        .expect(200, None);
    let newest = token_of(
        &exchange(&app, &app.client_id, &app.client_secret)
            .await
            .expect(200, None),
    );
    assert_eq!(kid_of(&newest), k3);
    call_at(
        &app.client,
        &other.base,
        Some(&newest),
        Method::GET,
        "/v1/blueprints",
        None,
    )
    .await
    .expect(200, None);
    // A token whose kid names no key at all is refused.
    let parts: Vec<&str> = after.split('.').collect();
    let mut header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    header["kid"] = json!("no-such-kid");
    let forged = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        parts[1],
        parts[2]
    );
    app.call_as(&forged, Method::GET, "/v1/blueprints", None)
        .await
        .expect(401, Some("unauthorized"));
    other.handle.stop(true).await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Single sign-on
// ---------------------------------------------------------------------------------------

const SSO_AUDIENCE: &str = "portolan-sso";

struct IdpKey {
    kid: String,
    encoding: jsonwebtoken::EncodingKey,
    jwk: Value,
}

fn es256_key(kid: &str) -> IdpKey {
    use p256::pkcs8::EncodePrivateKey;
    let key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let der = key.to_pkcs8_der().expect("pkcs8");
    let point = key.verifying_key().to_encoded_point(false);
    IdpKey {
        kid: kid.to_owned(),
        encoding: jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
            "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
        }),
    }
}

fn id_token(key: &IdpKey, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
}

fn sso_claims(issuer: &str, email: &str, groups: &[&str]) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": issuer, "aud": SSO_AUDIENCE, "sub": format!("idp-{email}"),
        "email": email, "email_verified": true, "groups": groups,
        "iat": now, "nbf": now, "exp": now + 300,
    })
}

#[tokio::test]
async fn sso_signs_in_known_users_provisions_when_allowed_and_maps_groups_to_existing_teams() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let app = spawn_app().await;
    let key = es256_key("idp-key-1");
    let idp = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [key.jwk]})))
        .mount(&idp)
        .await;
    let issuer = idp.uri();
    let setting = json!([{
        "issuer": issuer, "audience": SSO_AUDIENCE, "org": app.org.to_string(),
        "jwksUrl": format!("{issuer}/jwks"), "groupsClaim": "groups",
    }])
    .to_string();
    // The org exists only once the app is up: an instance configured for it, same store.
    let sso = second_instance(&app, |c| c.oidc_issuers = Some(setting)).await;
    let sign_in = |token: String| {
        let client = app.client.clone();
        let base = sso.base.clone();
        async move {
            call_at(
                &client,
                &base,
                None,
                Method::POST,
                "/v1/auth/sso",
                Some(json!({"idToken": token})),
            )
            .await
        }
    };
    app.user_token("known@example.com", &["Member"], &["ops"])
        .await;
    app.post("/v1/teams", json!({"name": "platform"}))
        .await
        .expect(201, None);

    // The instance without SSO configured refuses it.
    let token = id_token(&key, &sso_claims(&issuer, "known@example.com", &[]));
    anon(&app, "/v1/auth/sso", json!({"idToken": token}))
        .await
        .expect(401, Some("unauthorized"));

    // A known user signs in; groups set its teams to the existing ones they name.
    let ok = sign_in(id_token(
        &key,
        &sso_claims(&issuer, "Known@Example.com", &["platform", "no-such-team"]),
    ))
    .await
    .expect(200, None);
    let known = token_of(&ok);
    assert_eq!(org_id_seen(&app, &known).await, app.org.to_string());
    let user = app
        .get("/v1/users/known@example.com")
        .await
        .expect(200, None);
    assert_eq!(user["user"]["teams"], json!([{"name": "platform"}]));
    assert_eq!(user["user"]["roles"], json!(["Member"]));
    assert!(user["user"]["lastLoginAt"].is_string());
    app.get("/v1/teams/no-such-team")
        .await
        .expect(404, Some("not_found"));
    app.call_as(
        &known,
        Method::POST,
        "/v1/teams",
        Some(json!({"name": "x"})),
    )
    .await
    .expect(403, Some("forbidden"));

    // An unknown user is refused until the org allows provisioning.
    let newbie = || id_token(&key, &sso_claims(&issuer, "newbie@example.com", &["ops"]));
    sign_in(newbie()).await.expect(401, Some("unauthorized"));
    app.get("/v1/users/newbie@example.com")
        .await
        .expect(404, Some("not_found"));
    let refused = app
        .get("/v1/audit-log?resources=user&status=FAILURE")
        .await
        .expect(200, None);
    assert_eq!(
        refused["audits"][0]["context"]["user"],
        json!("newbie@example.com")
    );
    assert_eq!(refused["audits"][0]["context"]["method"], json!("sso"));
    app.patch(
        "/v1/organization",
        json!({"settings": {"allowSsoProvisioning": true}}),
    )
    .await
    .expect(200, None);
    let provisioned = token_of(&sign_in(newbie()).await.expect(200, None));
    let user = app
        .get("/v1/users/newbie@example.com")
        .await
        .expect(200, None);
    assert_eq!(user["user"]["status"], json!("Active"));
    assert_eq!(user["user"]["roles"], json!(["Member"]));
    assert_eq!(user["user"]["teams"], json!([{"name": "ops"}]));
    app.call_as(&provisioned, Method::GET, "/v1/blueprints", None)
        .await
        .expect(200, None);
    app.call_as(
        &provisioned,
        Method::POST,
        "/v1/blueprints",
        Some(json!({"identifier": "x", "title": "X", "schema": {"properties": {}}})),
    )
    .await
    .expect(403, Some("forbidden"));
    // Signing in again does not create it twice, and empty groups empty its teams.
    sign_in(id_token(
        &key,
        &sso_claims(&issuer, "newbie@example.com", &[]),
    ))
    .await
    .expect(200, None);
    let user = app
        .get("/v1/users/newbie@example.com")
        .await
        .expect(200, None);
    assert_eq!(user["user"]["teams"], json!([]));

    // Forged or wrong tokens: 401.
    let other_key = es256_key("idp-key-1");
    let stranger = es256_key("unknown-kid");
    let mut wrong_aud = sso_claims(&issuer, "known@example.com", &[]);
    wrong_aud["aud"] = json!("someone-else");
    let mut expired = sso_claims(&issuer, "known@example.com", &[]);
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let mut unverified = sso_claims(&issuer, "known@example.com", &[]);
    unverified["email_verified"] = json!(false);
    let untrusted = sso_claims("https://evil.example", "known@example.com", &[]);
    for (why, token) in [
        (
            "signed by another key with the same kid",
            id_token(&other_key, &sso_claims(&issuer, "known@example.com", &[])),
        ),
        (
            "signed by a key the issuer does not publish",
            id_token(&stranger, &sso_claims(&issuer, "known@example.com", &[])),
        ),
        ("wrong audience", id_token(&key, &wrong_aud)),
        ("expired", id_token(&key, &expired)),
        ("email not verified", id_token(&key, &unverified)),
        ("untrusted issuer", id_token(&key, &untrusted)),
        ("not a JWT", "garbage".to_owned()),
    ] {
        let res = sign_in(token).await;
        assert_eq!(res.status.as_u16(), 401, "{why}: {:?}", res.body);
        assert!(res.body.get("accessToken").is_none(), "{why}");
    }
    // A disabled user is refused.
    app.patch("/v1/users/known@example.com", json!({"status": "Disabled"}))
        .await
        .expect(200, None);
    sign_in(id_token(
        &key,
        &sso_claims(&issuer, "known@example.com", &[]),
    ))
    .await
    .expect(401, Some("unauthorized"));
    sso.handle.stop(true).await;
    app.stop().await;
}
