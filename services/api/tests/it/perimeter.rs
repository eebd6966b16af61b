//! THE tenant-isolation suite. It walks every operation of the committed
//! `openapi/openapi.json` and calls each one, with the identifiers of org A's real objects,
//! as org B's Admin, as a Member of org A and with no token, asserting what each may get and
//! that org A's rows (every tenant table, hashed row by row) are unchanged by the call. A's
//! own Admin (or the operator) then makes the same calls, to prove that each row names real
//! objects with a body that works: a 404 for B means isolation, not a typo in the table.
//!
//! A new route fails this suite until it gets a row in [`table`]; a row for a route that no
//! longer exists fails it too.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::*;

const OPERATOR: &str = "perimeter-operator-token-of-forty-chars-x";
const PASSWORD: &str = "correct horse battery";

/// B asks for an object of A's by name: it must not exist for B (404), or be refused (403).
const NOT_YOURS: &[u16] = &[403, 404];

// ---------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------

/// How an operation is authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A `/v1` route taking an org token.
    Tenant,
    /// An `/operator` route: the operator token only (401 for any org token and for none).
    Operator,
    /// Health: no token needed, every caller gets `admin`'s status, nothing changes.
    Public,
    /// A sign-in route: the body decides (every caller gets `admin`'s status, whatever its
    /// bearer token); sign-ins are recorded, so A's rows are not compared.
    SignIn,
}

/// What a caller must get.
#[derive(Clone, Debug)]
struct Expect {
    status: Vec<u16>,
    /// JSON pointers whose value must be exactly this.
    equals: Vec<(&'static str, Value)>,
    /// Strings the answer must contain (a read that really reads).
    shows: Vec<String>,
}

fn st(status: &[u16]) -> Expect {
    Expect {
        status: status.to_vec(),
        equals: vec![],
        shows: vec![],
    }
}

impl Expect {
    fn eq(mut self, pointer: &'static str, v: Value) -> Self {
        self.equals.push((pointer, v));
        self
    }
    fn shows(mut self, s: &str) -> Self {
        self.shows.push(s.to_owned());
        self
    }
}

/// One operation, called the same way by every caller.
#[derive(Clone, Debug)]
struct Op {
    /// `METHOD /template` as in openapi.json.
    key: &'static str,
    /// The concrete path (with A's identifiers; may carry a query string).
    path: String,
    body: Option<Value>,
    kind: Kind,
    /// Org B's Admin.
    b: Expect,
    /// A Member of org A.
    member: Expect,
    /// The status A's Admin gets (the operator, for operator routes): the positive control.
    admin: u16,
    /// When A's Admin makes the call: 0 reads, 1 writes, 2 renames and the like, 3
    /// deletions, 4 deleting org A itself.
    stage: u8,
}

fn tenant(
    key: &'static str,
    path: String,
    body: Option<Value>,
    b: Expect,
    member: Expect,
    admin: u16,
    stage: u8,
) -> Op {
    Op {
        key,
        path,
        body,
        kind: Kind::Tenant,
        b,
        member,
        admin,
        stage,
    }
}

fn operator(key: &'static str, path: String, body: Option<Value>, admin: u16, stage: u8) -> Op {
    Op {
        key,
        path,
        body,
        kind: Kind::Operator,
        b: st(&[401]),
        member: st(&[401]),
        admin,
        stage,
    }
}

fn open(key: &'static str, path: &str, body: Option<Value>, kind: Kind, status: u16) -> Op {
    Op {
        key,
        path: path.to_owned(),
        body,
        kind,
        b: st(&[status]),
        member: st(&[status]),
        admin: status,
        stage: 0,
    }
}

/// Org A's objects the table names.
struct Fixtures {
    org: String,
    app_id: String,
    migration: String,
    user: String,
    client_id: String,
    client_secret: String,
    admin_token: String,
}

impl Fixtures {
    /// Placeholders, for the checks that need no server.
    fn dummy() -> Self {
        Fixtures {
            org: uuid::Uuid::nil().to_string(),
            app_id: uuid::Uuid::nil().to_string(),
            migration: uuid::Uuid::nil().to_string(),
            user: USER.into(),
            client_id: "client".into(),
            client_secret: "secret".into(),
            admin_token: "token".into(),
        }
    }
}

const ORG_NAME: &str = "Alpha Org Perimeter";
const BP: &str = "alphabp";
const OPEN_BP: &str = "alphaopen";
const JUNK_BP: &str = "alphajunk";
const TEAM: &str = "alpha-team";
const USER: &str = "alpha-user@example.com";
const APP_NAME: &str = "alpha-app";
const SECRET: &str = "ALPHA_SECRET";
const SECRET_VALUE: &str = "alpha-secret-value-never-shown";
/// Entities of `BP`, which a Member may not read.
const HIDDEN_ENTITIES: [&str; 3] = ["alpha-entity-1", "alpha-entity-2", "alpha-entity-3"];
const OPEN_ENTITY: &str = "alpha-open-1";

fn bp_definition() -> Value {
    json!({
        "identifier": BP, "title": "Alpha BP",
        "schema": {"properties": {"size": {"type": "number"}, "note": {"type": "string"}}, "required": []},
        "relations": {"peer": {"title": "Peer", "target": BP, "required": false, "many": false}}
    })
}

/// Members read nothing of `BP`.
fn bp_permissions() -> Value {
    json!({"entities": {"read": {"roles": ["Admin"]}}})
}

fn table(fx: &Fixtures) -> Vec<Op> {
    let e1 = HIDDEN_ENTITIES[0];
    let e2 = HIDDEN_ENTITIES[1];
    let e3 = HIDDEN_ENTITIES[2];
    let app = &fx.app_id;
    let user = &fx.user;
    let mig = &fx.migration;
    let org = &fx.org;
    let all_entities = json!({"combinator": "and", "rules": []});
    vec![
        // Health: public.
        open("GET /healthz", "/healthz", None, Kind::Public, 200),
        open("GET /readyz", "/readyz", None, Kind::Public, 200),
        // Sign-in: the body decides, never the bearer token.
        open(
            "POST /v1/auth/access_token",
            "/v1/auth/access_token",
            Some(json!({"clientId": fx.client_id, "clientSecret": fx.client_secret})),
            Kind::SignIn,
            200,
        ),
        open(
            "POST /v1/auth/login",
            "/v1/auth/login",
            Some(json!({"email": USER, "password": PASSWORD})),
            Kind::SignIn,
            200,
        ),
        // An access token is no invitation.
        open(
            "POST /v1/auth/accept-invite",
            "/v1/auth/accept-invite",
            Some(json!({"inviteToken": fx.admin_token, "password": "a long enough password"})),
            Kind::SignIn,
            401,
        ),
        // Single sign-on is not configured here.
        open(
            "POST /v1/auth/sso",
            "/v1/auth/sso",
            Some(json!({"idToken": fx.admin_token})),
            Kind::SignIn,
            401,
        ),
        // Operator.
        operator(
            "GET /operator/organizations",
            "/operator/organizations".into(),
            None,
            200,
            0,
        ),
        operator(
            "GET /operator/organizations/{id}",
            format!("/operator/organizations/{org}"),
            None,
            200,
            0,
        ),
        operator(
            "POST /operator/organizations",
            "/operator/organizations".into(),
            Some(json!({"name": "Fresh Operator Org", "admin": {"email": "fresh-op@example.com"}})),
            201,
            1,
        ),
        operator(
            "PATCH /operator/organizations/{id}",
            format!("/operator/organizations/{org}"),
            Some(json!({"status": "active"})),
            200,
            1,
        ),
        operator(
            "POST /operator/signing-keys/rotate",
            "/operator/signing-keys/rotate".into(),
            None,
            200,
            2,
        ),
        operator(
            "DELETE /operator/organizations/{id}",
            format!("/operator/organizations/{org}"),
            None,
            200,
            4,
        ),
        // Apps: Admin only.
        tenant(
            "GET /v1/apps",
            "/v1/apps".into(),
            None,
            st(&[200]),
            st(&[403]),
            200,
            0,
        ),
        tenant(
            "GET /v1/apps/{id}",
            format!("/v1/apps/{app}"),
            None,
            st(NOT_YOURS),
            st(&[403]),
            200,
            0,
        ),
        tenant(
            "POST /v1/apps",
            "/v1/apps".into(),
            Some(json!({"name": "fresh-app"})),
            st(&[201]),
            st(&[403]),
            201,
            1,
        ),
        tenant(
            "PUT /v1/apps/{id}",
            format!("/v1/apps/{app}"),
            Some(json!({"name": APP_NAME, "roles": ["Admin"], "enabled": true})),
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "POST /v1/apps/{id}/rotate-secret",
            format!("/v1/apps/{app}/rotate-secret"),
            None,
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "DELETE /v1/apps/{id}",
            format!("/v1/apps/{app}"),
            None,
            st(NOT_YOURS),
            st(&[403]),
            200,
            3,
        ),
        // Audit log: a Member sees blueprint records and readable entities only.
        tenant(
            "GET /v1/audit-log",
            "/v1/audit-log?limit=1000".into(),
            None,
            st(&[200]),
            st(&[200]).shows(OPEN_ENTITY).shows(BP),
            200,
            0,
        ),
        // Blueprints.
        tenant(
            "GET /v1/blueprints",
            "/v1/blueprints".into(),
            None,
            st(&[200]),
            st(&[200]).shows(BP).shows(OPEN_BP),
            200,
            0,
        ),
        tenant(
            "POST /v1/blueprints",
            "/v1/blueprints".into(),
            Some(json!({"identifier": "freshbp", "title": "Fresh", "schema": {"properties": {}}})),
            st(&[201]),
            st(&[403]),
            201,
            1,
        ),
        tenant(
            "GET /v1/blueprints/{identifier}",
            format!("/v1/blueprints/{BP}"),
            None,
            st(NOT_YOURS),
            st(&[200]).shows(BP),
            200,
            0,
        ),
        tenant(
            "PUT /v1/blueprints/{identifier}",
            format!("/v1/blueprints/{BP}"),
            Some(bp_definition()),
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "PATCH /v1/blueprints/{identifier}",
            format!("/v1/blueprints/{BP}"),
            Some(json!({"title": "Alpha BP patched"})),
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "DELETE /v1/blueprints/{identifier}",
            format!("/v1/blueprints/{JUNK_BP}"),
            None,
            st(NOT_YOURS),
            st(&[403]),
            200,
            3,
        ),
        tenant(
            "DELETE /v1/blueprints/{identifier}/all-entities",
            format!("/v1/blueprints/{BP}/all-entities"),
            None,
            st(NOT_YOURS),
            st(&[403]),
            202,
            2,
        ),
        tenant(
            "GET /v1/blueprints/{identifier}/entities-count",
            format!("/v1/blueprints/{BP}/entities-count"),
            None,
            st(NOT_YOURS),
            st(&[200]).eq("/count", json!(0)),
            200,
            0,
        ),
        tenant(
            "GET /v1/blueprints/{identifier}/permissions",
            format!("/v1/blueprints/{BP}/permissions"),
            None,
            st(NOT_YOURS),
            st(&[200]),
            200,
            0,
        ),
        tenant(
            "PATCH /v1/blueprints/{identifier}/permissions",
            format!("/v1/blueprints/{BP}/permissions"),
            Some(bp_permissions()),
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "PATCH /v1/blueprints/{identifier}/properties/{property}/rename",
            format!("/v1/blueprints/{BP}/properties/size/rename"),
            Some(json!({"newPropertyName": "bigness"})),
            st(NOT_YOURS),
            st(&[403]),
            200,
            2,
        ),
        tenant(
            "PATCH /v1/blueprints/{identifier}/relations/{relation}/rename",
            format!("/v1/blueprints/{BP}/relations/peer/rename"),
            Some(json!({"newRelationIdentifier": "buddy"})),
            st(NOT_YOURS),
            st(&[403]),
            200,
            2,
        ),
        // Mirror properties do not exist yet: 404 even for A's Admin, after the checks.
        tenant(
            "PATCH /v1/blueprints/{identifier}/mirror/{mirror}/rename",
            format!("/v1/blueprints/{BP}/mirror/reflection/rename"),
            Some(json!({"newMirrorName": "image"})),
            st(NOT_YOURS),
            st(&[403]),
            404,
            1,
        ),
        // Entities of BP, which Members may not read.
        tenant(
            "GET /v1/blueprints/{blueprint}/entities",
            format!("/v1/blueprints/{BP}/entities"),
            None,
            st(NOT_YOURS),
            st(&[200]).eq("/entities", json!([])),
            200,
            0,
        ),
        tenant(
            "GET /v1/blueprints/{blueprint}/entities/{identifier}",
            format!("/v1/blueprints/{BP}/entities/{e1}"),
            None,
            st(NOT_YOURS),
            st(&[404]),
            200,
            0,
        ),
        tenant(
            "POST /v1/blueprints/{blueprint}/entities/search",
            format!("/v1/blueprints/{BP}/entities/search"),
            Some(json!({})),
            st(NOT_YOURS),
            st(&[200]).eq("/entities", json!([])),
            200,
            0,
        ),
        tenant(
            "POST /v1/blueprints/{blueprint}/entities",
            format!("/v1/blueprints/{BP}/entities"),
            Some(json!({"identifier": "fresh-entity", "properties": {"size": 5}})),
            st(NOT_YOURS),
            st(&[403]),
            201,
            1,
        ),
        // Bulk answers per entity: a Member's write is refused inside a 207.
        tenant(
            "POST /v1/blueprints/{blueprint}/entities/bulk",
            format!("/v1/blueprints/{BP}/entities/bulk"),
            Some(
                json!({"entities": [{"identifier": "fresh-bulk-entity", "properties": {"size": 6}}]}),
            ),
            st(NOT_YOURS),
            st(&[207]).eq("/entities", json!([])),
            200,
            1,
        ),
        tenant(
            "PUT /v1/blueprints/{blueprint}/entities/{identifier}",
            format!("/v1/blueprints/{BP}/entities/{e1}"),
            Some(json!({"title": "One", "properties": {"size": 10}})),
            st(NOT_YOURS),
            st(NOT_YOURS),
            200,
            1,
        ),
        tenant(
            "PATCH /v1/blueprints/{blueprint}/entities/{identifier}",
            format!("/v1/blueprints/{BP}/entities/{e1}"),
            Some(json!({"properties": {"size": 11}})),
            st(NOT_YOURS),
            st(NOT_YOURS),
            200,
            1,
        ),
        tenant(
            "DELETE /v1/blueprints/{blueprint}/entities/{identifier}",
            format!("/v1/blueprints/{BP}/entities/{e3}"),
            None,
            st(NOT_YOURS),
            st(NOT_YOURS),
            200,
            1,
        ),
        tenant(
            "POST /v1/blueprints/{blueprint}/bulk/entities/delete",
            format!("/v1/blueprints/{BP}/bulk/entities/delete"),
            Some(json!({"entities": [e2]})),
            st(NOT_YOURS),
            st(NOT_YOURS),
            200,
            1,
        ),
        // Search across blueprints: B finds nothing; a Member the readable entity only.
        tenant(
            "POST /v1/entities/search",
            "/v1/entities/search".into(),
            Some(all_entities.clone()),
            st(&[200]).eq("/entities", json!([])),
            st(&[200]).shows(OPEN_ENTITY),
            200,
            0,
        ),
        tenant(
            "POST /v1/entities/aggregate",
            "/v1/entities/aggregate".into(),
            Some(json!({"func": "count", "query": all_entities})),
            st(&[200]).eq("/result", json!(0.0)),
            st(&[200]).eq("/result", json!(1.0)),
            200,
            0,
        ),
        // Migrations: Admins and the blueprint's moderators.
        tenant(
            "GET /v1/migrations",
            "/v1/migrations".into(),
            None,
            st(&[200]).eq("/migrations", json!([])),
            st(&[200]).eq("/migrations", json!([])),
            200,
            0,
        ),
        tenant(
            "GET /v1/migrations/{id}",
            format!("/v1/migrations/{mig}"),
            None,
            st(NOT_YOURS),
            st(&[404]),
            200,
            0,
        ),
        // It has completed: 409 for A's Admin, after the checks.
        tenant(
            "POST /v1/migrations/{id}/cancel",
            format!("/v1/migrations/{mig}/cancel"),
            None,
            st(NOT_YOURS),
            st(&[404]),
            409,
            1,
        ),
        // The caller's own organization.
        tenant(
            "GET /v1/organization",
            "/v1/organization".into(),
            None,
            st(&[200]),
            st(&[200]).shows(ORG_NAME),
            200,
            0,
        ),
        tenant(
            "PUT /v1/organization",
            "/v1/organization".into(),
            Some(json!({"name": "fresh org name", "settings": {}})),
            st(&[200]),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "PATCH /v1/organization",
            "/v1/organization".into(),
            Some(json!({"settings": {"perimeter": true}})),
            st(&[200]),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "GET /v1/organization/secrets",
            "/v1/organization/secrets".into(),
            None,
            st(&[200]),
            st(&[403]),
            200,
            0,
        ),
        tenant(
            "POST /v1/organization/secrets",
            "/v1/organization/secrets".into(),
            Some(json!({"secretName": "FRESH_SECRET", "secretValue": "fresh-secret-value"})),
            st(&[201]),
            st(&[403]),
            201,
            1,
        ),
        tenant(
            "GET /v1/organization/secrets/{name}",
            format!("/v1/organization/secrets/{SECRET}"),
            None,
            st(NOT_YOURS),
            st(&[403]),
            200,
            0,
        ),
        tenant(
            "PATCH /v1/organization/secrets/{name}",
            format!("/v1/organization/secrets/{SECRET}"),
            Some(json!({"description": "changed", "secretValue": "another-value"})),
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "DELETE /v1/organization/secrets/{name}",
            format!("/v1/organization/secrets/{SECRET}"),
            None,
            st(NOT_YOURS),
            st(&[403]),
            200,
            3,
        ),
        // Users: everyone of the org reads; changes need Admin (or the user itself).
        tenant(
            "GET /v1/users",
            "/v1/users".into(),
            None,
            st(&[200]),
            st(&[200]).shows(USER),
            200,
            0,
        ),
        tenant(
            "GET /v1/users/{email}",
            format!("/v1/users/{user}"),
            None,
            st(NOT_YOURS),
            st(&[200]).shows(USER),
            200,
            0,
        ),
        tenant(
            "POST /v1/users/invite",
            "/v1/users/invite".into(),
            Some(json!({"invitee": {"email": "fresh-invitee@example.com"}})),
            st(&[201]),
            st(&[403]),
            201,
            1,
        ),
        tenant(
            "PATCH /v1/users/{email}",
            format!("/v1/users/{user}"),
            Some(json!({"firstName": "Alpha"})),
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "PUT /v1/users/{email}/password",
            format!("/v1/users/{user}/password"),
            Some(json!({"password": "a fresh long password"})),
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "POST /v1/rotate-credentials/{email}",
            format!("/v1/rotate-credentials/{user}"),
            None,
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "DELETE /v1/users/{email}",
            format!("/v1/users/{user}"),
            None,
            st(NOT_YOURS),
            st(&[403]),
            200,
            3,
        ),
        // Teams: everyone of the org reads; changes need Admin.
        tenant(
            "GET /v1/teams",
            "/v1/teams".into(),
            None,
            st(&[200]),
            st(&[200]).shows(TEAM),
            200,
            0,
        ),
        tenant(
            "GET /v1/teams/{name}",
            format!("/v1/teams/{TEAM}"),
            None,
            st(NOT_YOURS),
            st(&[200]).shows(TEAM),
            200,
            0,
        ),
        tenant(
            "POST /v1/teams",
            "/v1/teams".into(),
            Some(json!({"name": "fresh-team"})),
            st(&[201]),
            st(&[403]),
            201,
            1,
        ),
        tenant(
            "PUT /v1/teams/{name}",
            format!("/v1/teams/{TEAM}"),
            Some(json!({"description": "replaced"})),
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "PATCH /v1/teams/{name}",
            format!("/v1/teams/{TEAM}"),
            Some(json!({"description": "patched"})),
            st(NOT_YOURS),
            st(&[403]),
            200,
            1,
        ),
        tenant(
            "DELETE /v1/teams/{name}",
            format!("/v1/teams/{TEAM}"),
            None,
            st(NOT_YOURS),
            st(&[403]),
            200,
            3,
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// The table against openapi.json
// ---------------------------------------------------------------------------------------

/// Every operation of the committed openapi/openapi.json, as `METHOD /path`.
fn documented_operations() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let doc: Value = serde_json::from_str(&text).expect("openapi.json is JSON");
    let mut out = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out
}

/// Does `path` (query string aside) fill `template`'s parameters and match its other segments?
fn fills(template: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            if t.starts_with('{') && t.ends_with('}') {
                !p.is_empty() && !p.contains('{')
            } else {
                t == p
            }
        })
}

/// Every problem of the table against the document: operations without a row, rows for
/// operations that do not exist, duplicate rows, rows whose path does not fit their key.
fn table_problems(ops: &[Op]) -> Vec<String> {
    let documented = documented_operations();
    let mut problems = Vec::new();
    let mut keys = BTreeSet::new();
    for op in ops {
        if !keys.insert(op.key) {
            problems.push(format!("{}: two rows", op.key));
        }
        let (method, template) = op.key.split_once(' ').expect("METHOD /path");
        if !fills(template, &op.path) {
            problems.push(format!(
                "{}: the row's path {} does not fit",
                op.key, op.path
            ));
        }
        if Method::from_bytes(method.as_bytes()).is_err() {
            problems.push(format!("{}: unknown method", op.key));
        }
        if (op.kind == Kind::Operator) != template.starts_with("/operator/") {
            problems.push(format!(
                "{}: operator routes, and only they, are Kind::Operator",
                op.key
            ));
        }
    }
    for d in &documented {
        if !keys.contains(d.as_str()) {
            problems.push(format!(
                "{d}: in openapi/openapi.json but not in the perimeter table (add a row saying what org B, a Member and no token get)"
            ));
        }
    }
    for k in &keys {
        if !documented.contains(*k) {
            problems.push(format!(
                "{k}: in the perimeter table but not in openapi/openapi.json"
            ));
        }
    }
    problems
}

#[test]
fn every_documented_operation_has_exactly_one_row_and_every_row_is_documented() {
    let ops = table(&Fixtures::dummy());
    let problems = table_problems(&ops);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The checks themselves can fail.
    let mut short = ops.clone();
    let dropped = short.pop().expect("rows").key;
    assert!(
        table_problems(&short)
            .iter()
            .any(|p| p.starts_with(dropped)),
        "a missing row must be reported"
    );
    let mut extra = ops;
    extra.push(open("GET /v1/ghost", "/v1/ghost", None, Kind::Public, 200));
    assert!(
        table_problems(&extra)
            .iter()
            .any(|p| p.starts_with("GET /v1/ghost")),
        "a row for an undocumented operation must be reported"
    );
    assert!(fills("/v1/users/{email}", "/v1/users/a@b.c"));
    assert!(!fills("/v1/users/{email}", "/v1/users/a@b.c/password"));
    assert!(!fills("/v1/teams/{name}", "/v1/team/x"));
}

// ---------------------------------------------------------------------------------------
// Calls and snapshots
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Who {
    OrgB,
    Member,
    NoToken,
    /// A's own Admin token on an operator route.
    OrgAOnOperator,
}

async fn send(app: &TestApp, token: Option<&str>, op: &Op) -> Res {
    let method = Method::from_bytes(op.key.split(' ').next().unwrap().as_bytes()).unwrap();
    let mut req = app.client.request(method, app.url(&op.path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = &op.body {
        req = req.json(b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    Res {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

/// Org A's rows, table by table: count and a hash of every row's text. Any insert, update
/// or delete of one of A's rows changes it.
async fn snapshot(app: &TestApp, org: &str) -> BTreeMap<String, (i64, String)> {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = portolan_migrations::rls::TENANT_TABLES
        .iter()
        .map(|(table, col)| {
            format!(
                "SELECT '{table}' AS tbl, COUNT(*) AS n, \
                 COALESCE(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS h \
                 FROM {table} x WHERE x.{col} = '{org}'"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let conn = app.store.connection();
    conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("snapshot")
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "tbl").unwrap(),
                (
                    r.try_get::<i64>("", "n").unwrap(),
                    r.try_get::<String>("", "h").unwrap(),
                ),
            )
        })
        .collect()
}

fn changed_tables(
    before: &BTreeMap<String, (i64, String)>,
    after: &BTreeMap<String, (i64, String)>,
) -> Vec<String> {
    before
        .iter()
        .filter(|(t, v)| after.get(*t) != Some(*v))
        .map(|(t, v)| format!("{t} ({} rows -> {:?})", v.0, after.get(t).map(|a| a.0)))
        .collect()
}

/// Checks one answer; problems go to `failures`.
fn check(
    failures: &mut Vec<String>,
    op: &Op,
    who: Who,
    res: &Res,
    expect: &Expect,
    hidden: &[String],
) {
    let text = res.body.to_string();
    let short: String = text.chars().take(400).collect();
    let what = format!("{} (as {who:?}, {})", op.key, op.path);
    if !expect.status.contains(&res.status.as_u16()) {
        failures.push(format!(
            "{what}: expected {:?}, got {}: {short}",
            expect.status, res.status
        ));
    }
    if res.status.as_u16() == 401 && res.body["error"] != json!("unauthorized") {
        failures.push(format!("{what}: a 401 in another shape: {short}"));
    }
    for (pointer, v) in &expect.equals {
        if res.body.pointer(pointer) != Some(v) {
            failures.push(format!("{what}: {pointer} should be {v}: {short}"));
        }
    }
    for s in &expect.shows {
        if !text.contains(s.as_str()) {
            failures.push(format!("{what}: the answer should show `{s}`: {short}"));
        }
    }
    // An answer may repeat what the request named, nothing else of A's that is hidden.
    let asked = format!(
        "{} {}",
        op.path,
        op.body.as_ref().map(Value::to_string).unwrap_or_default()
    );
    for m in hidden {
        if text.contains(m.as_str()) && !asked.contains(m.as_str()) {
            failures.push(format!("{what}: the answer names org A's `{m}`: {short}"));
        }
    }
}

// ---------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------

fn with_operator(c: &mut portolan_config::Config) {
    c.operator_token = Some(SecretString::from(OPERATOR.to_owned()));
    // Every unauthenticated call of the sweep counts against one address.
    c.rate_limit_unauthenticated = 100_000;
}

/// Org A: blueprints (one Members may not read), entities, a team, a user, an app, a secret,
/// a finished migration. Returns the fixtures and the markers no other org may ever see.
async fn org_a(app: &TestApp) -> (Fixtures, Vec<String>, Vec<String>) {
    app.patch("/v1/organization", json!({"name": ORG_NAME}))
        .await
        .expect(200, None);
    app.blueprint(bp_definition()).await;
    for id in [OPEN_BP, JUNK_BP] {
        app.blueprint(json!({"identifier": id, "title": id, "schema": {"properties": {}}}))
            .await;
    }
    app.patch(
        &format!("/v1/blueprints/{BP}/permissions"),
        bp_permissions(),
    )
    .await
    .expect(200, None);
    for (i, id) in HIDDEN_ENTITIES.iter().enumerate() {
        app.post(
            &format!("/v1/blueprints/{BP}/entities"),
            json!({"identifier": id, "properties": {"size": i}}),
        )
        .await
        .expect(201, None);
    }
    app.post(
        &format!("/v1/blueprints/{OPEN_BP}/entities"),
        json!({"identifier": OPEN_ENTITY}),
    )
    .await
    .expect(201, None);
    app.post(
        &format!("/v1/blueprints/{JUNK_BP}/entities"),
        json!({"identifier": "alpha-junk-1"}),
    )
    .await
    .expect(201, None);
    app.user_token(USER, &["Member"], &[TEAM]).await;
    let created = app
        .post("/v1/apps", json!({"name": APP_NAME, "roles": ["Admin"]}))
        .await
        .expect(201, None);
    let app_id = created["app"]["id"].as_str().unwrap().to_owned();
    let app_client = created["app"]["clientId"].as_str().unwrap().to_owned();
    let app_secret = created["clientSecret"].as_str().unwrap().to_owned();
    app.post(
        "/v1/organization/secrets",
        json!({"secretName": SECRET, "secretValue": SECRET_VALUE}),
    )
    .await
    .expect(201, None);
    let started = app
        .delete(&format!("/v1/blueprints/{JUNK_BP}/all-entities"))
        .await
        .expect(202, None);
    let migration = started["migrationId"].as_str().unwrap().to_owned();
    assert_eq!(
        app.wait_migration(&migration).await["status"],
        json!("COMPLETED")
    );
    let fx = Fixtures {
        org: app.org.to_string(),
        app_id: app_id.clone(),
        migration: migration.clone(),
        user: USER.into(),
        client_id: app.client_id.clone(),
        client_secret: app.client_secret.clone(),
        admin_token: app.token.clone(),
    };
    // Hidden from a Member of A: what its read permissions or the Admin role keep from it.
    let mut member_hidden: Vec<String> = HIDDEN_ENTITIES.iter().map(|s| (*s).to_owned()).collect();
    member_hidden.extend([
        app_id,
        app_client,
        app_secret,
        APP_NAME.to_owned(),
        SECRET.to_owned(),
        SECRET_VALUE.to_owned(),
        migration,
    ]);
    // Hidden from everyone outside A: all of it.
    let mut outside_hidden = member_hidden.clone();
    outside_hidden.extend(
        [
            ORG_NAME,
            BP,
            OPEN_BP,
            JUNK_BP,
            TEAM,
            USER,
            OPEN_ENTITY,
            "alpha-junk-1",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    outside_hidden.push(fx.org.clone());
    outside_hidden.push(app.client_id.clone());
    (fx, member_hidden, outside_hidden)
}

#[tokio::test]
async fn every_operation_keeps_org_a_to_itself() {
    let app = spawn_with(Backend::Postgres, with_operator).await;
    let (fx, member_hidden, outside_hidden) = org_a(&app).await;
    let member = app.member_token().await;
    let (_, org_b) = app.other_org().await;
    let ops = table(&fx);
    let problems = table_problems(&ops);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let mut failures: Vec<String> = Vec::new();
    let mut calls = 0;
    // The sweep: B, a Member and nobody call every operation; A's rows never change.
    for op in &ops {
        let anon = match op.kind {
            Kind::Tenant | Kind::Operator => st(&[401]),
            Kind::Public | Kind::SignIn => st(&[op.admin]),
        };
        let mut callers: Vec<(Who, Option<&str>, Expect, &[String])> = vec![
            (
                Who::OrgB,
                Some(org_b.as_str()),
                op.b.clone(),
                &outside_hidden,
            ),
            (
                Who::Member,
                Some(member.as_str()),
                op.member.clone(),
                &member_hidden,
            ),
            (Who::NoToken, None, anon, &outside_hidden),
        ];
        if op.kind == Kind::Operator {
            callers.push((
                Who::OrgAOnOperator,
                Some(app.token.as_str()),
                st(&[401]),
                &[],
            ));
        }
        for (who, token, expect, hidden) in callers {
            let before = snapshot(&app, &fx.org).await;
            let res = send(&app, token, op).await;
            calls += 1;
            // Sign-in answers are the body's business (a token for A's user, by design).
            let hidden: &[String] = if op.kind == Kind::SignIn { &[] } else { hidden };
            check(&mut failures, op, who, &res, &expect, hidden);
            if op.kind != Kind::SignIn {
                let changed = changed_tables(&before, &snapshot(&app, &fx.org).await);
                if !changed.is_empty() {
                    failures.push(format!(
                        "{} (as {who:?}, {}) answered {} and changed org A's rows: {}",
                        op.key,
                        op.path,
                        res.status,
                        changed.join(", ")
                    ));
                }
            }
        }
    }

    // The positive control: A's Admin (the operator on operator routes) gets what the table
    // says, in stage order, so every row above named real objects with a working body.
    let mut staged: Vec<&Op> = ops.iter().collect();
    staged.sort_by_key(|op| op.stage);
    for op in staged {
        let token = match op.kind {
            Kind::Operator => OPERATOR,
            _ => app.token.as_str(),
        };
        let res = send(&app, Some(token), op).await;
        calls += 1;
        if res.status.as_u16() != op.admin {
            let body: String = res.body.to_string().chars().take(400).collect();
            failures.push(format!(
                "{} ({}) as org A's Admin: expected {}, got {}: {body}",
                op.key, op.path, op.admin, res.status
            ));
        }
    }
    // Org A is gone: its Admin's token goes with it.
    let gone = app
        .call_as(&app.token, Method::GET, "/v1/blueprints", None)
        .await;
    if gone.status.as_u16() != 401 {
        failures.push(format!(
            "after DELETE /operator/organizations/{{id}}, A's token still gets {}",
            gone.status
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} calls went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    app.stop().await;
}

/// Metrics, the OpenAPI document and the docs are public (they are not in openapi.json).
#[tokio::test]
async fn metrics_openapi_and_docs_need_no_token() {
    let app = spawn_app().await;
    for path in ["/metrics", "/openapi.json", "/docs/", "/docs"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "GET {path} without a token");
    }
    let served: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let served: BTreeSet<String> = served["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    assert_eq!(
        served,
        documented_operations(),
        "the served document and the committed one list the same operations"
    );
    app.stop().await;
}

/// Entity writes may name entities by a query (identifier, relations) that the server
/// resolves. For a Member, resolving it must not tell entities it may not read from entities
/// that do not exist: the answers to a query matching a hidden entity and to one matching
/// nothing must be the same, or the write routes are an oracle for what reads hide.
#[tokio::test]
async fn write_queries_tell_a_member_nothing_of_entities_it_may_not_read() {
    let app = spawn_app().await;
    app.blueprint(json!({
        "identifier": "vault", "title": "Vault",
        "schema": {"properties": {"pin": {"type": "number"}}}
    }))
    .await;
    app.blueprint(json!({
        "identifier": "door", "title": "Door", "schema": {"properties": {}},
        "relations": {"lock": {"target": "vault", "required": false, "many": false},
                      "locks": {"target": "vault", "required": false, "many": true}}
    }))
    .await;
    app.patch("/v1/blueprints/vault/permissions", bp_permissions())
        .await
        .expect(200, None);
    app.post(
        "/v1/blueprints/vault/entities",
        json!({"identifier": "v1", "properties": {"pin": 1234}}),
    )
    .await
    .expect(201, None);
    app.post("/v1/blueprints/door/entities", json!({"identifier": "d1"}))
        .await
        .expect(201, None);
    let member = app.member_token().await;
    // Reads hide it.
    app.call_as(
        &member,
        Method::GET,
        "/v1/blueprints/vault/entities/v1",
        None,
    )
    .await
    .expect(404, Some("not_found"));
    let by = |property: &str, value: Value| json!({"combinator": "and", "rules": [{"property": property, "operator": "=", "value": value}]});
    type Shape = fn(&Value) -> Value;
    let shapes: [(&str, &str, bool, Shape); 6] = [
        (
            "POST /v1/blueprints/vault/entities",
            "identifier",
            false,
            |q| json!({"identifier": q, "title": "probe"}),
        ),
        (
            "POST /v1/blueprints/vault/entities/bulk",
            "identifier",
            true,
            |q| json!({"entities": [{"identifier": q, "title": "probe"}]}),
        ),
        (
            "POST /v1/blueprints/door/entities",
            "single relation",
            false,
            |q| json!({"identifier": "d2", "relations": {"lock": q}}),
        ),
        (
            "POST /v1/blueprints/door/entities/bulk",
            "many relation",
            true,
            |q| json!({"entities": [{"identifier": "d2", "relations": {"locks": q}}]}),
        ),
        (
            "PATCH /v1/blueprints/door/entities/d1",
            "single relation",
            false,
            |q| json!({"title": "probe", "relations": {"lock": q}}),
        ),
        (
            "PUT /v1/blueprints/door/entities/d1",
            "many relation",
            false,
            |q| json!({"title": "probe", "relations": {"locks": q}}),
        ),
    ];
    let mut differ = Vec::new();
    let mut compared = 0;
    for (what, hit, miss) in [
        (
            "$identifier",
            by("$identifier", json!("v1")),
            by("$identifier", json!("nope")),
        ),
        (
            "a property value",
            by("pin", json!(1234)),
            by("pin", json!(9999)),
        ),
    ] {
        for (route, field, bulk, shape) in shapes {
            let (method, path) = route.split_once(' ').unwrap();
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let mut answers = Vec::new();
            for q in [&hit, &miss] {
                let before = snapshot(&app, &app.org.to_string()).await;
                let res = app
                    .call_as(&member, method.clone(), path, Some(shape(q)))
                    .await;
                let changed = changed_tables(&before, &snapshot(&app, &app.org.to_string()).await);
                if !changed.is_empty() {
                    differ.push(format!(
                        "{route} ({field} by {what}) as a Member answered {} and changed org A's rows {changed:?}: {}",
                        res.status, res.body
                    ));
                }
                let code = if bulk {
                    res.body["errors"][0]["error"].clone()
                } else {
                    res.body["error"].clone()
                };
                answers.push((res.status.as_u16(), code, res.body));
            }
            compared += 1;
            let (h, m) = (&answers[0], &answers[1]);
            if (h.0, &h.1) != (m.0, &m.1) {
                differ.push(format!(
                    "{route}, {field} by {what}: a hidden match answers {} {} ({}), no match {} {} ({})",
                    h.0, h.1, h.2, m.0, m.1, m.2
                ));
            }
        }
    }
    assert_eq!(compared, 12);
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    app.stop().await;
}

/// A write that changes nothing needs no grant of the fields it names (the rules judge what
/// changes), but it is still a write: a Member must not get, through one, an entity it may
/// not read (its body, or whether it exists), nor change anything of an entity it may not
/// update (not even who updated it last, or the audit log).
#[tokio::test]
async fn a_write_that_changes_nothing_gives_a_member_nothing() {
    let app = spawn_app().await;
    for bp in ["vault", "shelf"] {
        app.blueprint(json!({
            "identifier": bp, "title": bp,
            "schema": {"properties": {"pin": {"type": "number"}}},
            "relations": {"next": {"target": bp, "required": false, "many": true}}
        }))
        .await;
    }
    // Members read nothing of `vault`; `shelf` has the defaults (Members read, only Admins
    // and moderators write).
    app.patch("/v1/blueprints/vault/permissions", bp_permissions())
        .await
        .expect(200, None);
    for (bp, id) in [("vault", "v1"), ("shelf", "s1")] {
        app.post(
            &format!("/v1/blueprints/{bp}/entities"),
            json!({"identifier": id, "title": "one", "properties": {"pin": 1234}}),
        )
        .await
        .expect(201, None);
    }
    let member = app.member_token().await;
    let org = app.org.to_string();
    app.call_as(
        &member,
        Method::GET,
        "/v1/blueprints/vault/entities/v1",
        None,
    )
    .await
    .expect(404, Some("not_found"));
    app.call_as(
        &member,
        Method::GET,
        "/v1/blueprints/shelf/entities/s1",
        None,
    )
    .await
    .expect(200, None);
    let mut wrong = Vec::new();
    let mut tried = 0;
    for (bp, id) in [("vault", "v1"), ("shelf", "s1")] {
        let same = json!({"identifier": id, "title": "one", "properties": {"pin": 1234}});
        for (method, path, body) in [
            (
                Method::PATCH,
                format!("/v1/blueprints/{bp}/entities/{id}"),
                json!({}),
            ),
            (
                Method::PATCH,
                format!("/v1/blueprints/{bp}/entities/{id}"),
                json!({"properties": {"pin": 1234}}),
            ),
            (
                Method::PATCH,
                format!("/v1/blueprints/{bp}/entities/{id}?validation_only=true"),
                json!({}),
            ),
            (
                Method::PUT,
                format!("/v1/blueprints/{bp}/entities/{id}"),
                same.clone(),
            ),
            (
                Method::PUT,
                format!("/v1/blueprints/{bp}/entities/{id}"),
                json!({"identifier": id, "title": "one", "properties": {"pin": 1234}, "relations": {"next": []}}),
            ),
            (
                Method::POST,
                format!("/v1/blueprints/{bp}/entities?upsert=true&merge=true"),
                json!({"identifier": id}),
            ),
            (
                Method::POST,
                format!("/v1/blueprints/{bp}/entities?upsert=true"),
                same.clone(),
            ),
            (
                Method::POST,
                format!("/v1/blueprints/{bp}/entities/bulk?upsert=true&merge=true"),
                json!({"entities": [{"identifier": id}]}),
            ),
        ] {
            tried += 1;
            let before = snapshot(&app, &org).await;
            let res = app
                .call_as(&member, method.clone(), &path, Some(body.clone()))
                .await;
            let what = format!("{method} {path} {body} as a Member");
            let changed = changed_tables(&before, &snapshot(&app, &org).await);
            if !changed.is_empty() {
                wrong.push(format!(
                    "{what}: answered {} and changed org A's rows {changed:?}",
                    res.status
                ));
            }
            if bp == "vault" {
                // Not readable: the answer must be the one for an entity that does not exist
                // or a refusal, never the entity, never "it exists".
                let told = res.body["entities"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty());
                if res.status.is_success() && (res.status != 207 || told) {
                    wrong.push(format!(
                        "{what}: answered {} for an entity it may not read{}: {}",
                        res.status,
                        if res.body.to_string().contains("1234") {
                            ", with its properties"
                        } else {
                            ", saying that it exists"
                        },
                        res.body
                    ));
                }
            }
        }
    }
    assert_eq!(tried, 16);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    app.stop().await;
}
