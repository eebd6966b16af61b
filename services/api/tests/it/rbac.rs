//! Permissions enforced through HTTP, table-driven: one catalog, several callers (Admin, a
//! blueprint moderator, Members in a team, in another and in none, an app with the Member
//! role), and for each what every read route returns and which writes go through.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// The entities of `service`: (identifier, team, tier, port). Ports are powers of ten, so a
/// sum names exactly the entities it counted.
const ENTITIES: [(&str, Option<&str>, &str, u64); 6] = [
    ("a1", Some("alpha"), "gold", 1),
    ("a2", Some("alpha"), "silver", 10),
    ("b1", Some("beta"), "gold", 100),
    ("b2", Some("beta"), "bronze", 1000),
    ("n1", None, "silver", 10_000),
    ("n2", None, "gold", 100_000),
];

const ALL: &[&str] = &["a1", "a2", "b1", "b2", "n1", "n2"];

struct World {
    moderator: String,
    alice: String,
    bob: String,
    nora: String,
    bot: String,
}

/// One caller and the entities of `service` it may read.
struct Who<'a> {
    name: &'static str,
    token: &'a str,
    reads: &'static [&'static str],
}

fn service_blueprint() -> Value {
    json!({
        "identifier": "service", "title": "Service",
        "schema": {"properties": {
            "language": {"type": "string"},
            "tier": {"type": "string"},
            "port": {"type": "number"},
            "owner_email": {"type": "string"}
        }},
        "relations": {
            "dependsOn": {"title": "Depends on", "target": "service", "required": false, "many": true}
        }
    })
}

/// The read policy of the brief: Admins, the owning team's members, and gold entities.
fn permissions() -> Value {
    json!({"entities": {
        "register": {"roles": ["Admin"], "ownedByTeam": true},
        "update": {"roles": ["Admin"], "ownedByTeam": true},
        "unregister": {"roles": ["Admin"], "ownedByTeam": false},
        "updateProperties": {"tier": {"roles": ["Admin"], "ownedByTeam": false}},
        "read": {"roles": ["Admin"], "ownedByTeam": true,
                 "policy": {"combinator": "and", "rules": [
                     {"property": "tier", "operator": "=", "value": "gold"}]}}
    }})
}

/// The catalog, the teams, the callers and the permissions.
async fn world(app: &TestApp) -> World {
    app.blueprint(service_blueprint()).await;
    app.blueprint(json!({
        "identifier": "library", "title": "Library", "schema": {"properties": {}}
    }))
    .await;
    let moderator = app
        .user_token("mod@example.com", &["service-moderator"], &[])
        .await;
    let alice = app
        .user_token("alice@example.com", &["Member"], &["alpha"])
        .await;
    let bob = app
        .user_token("bob@example.com", &["Member"], &["beta"])
        .await;
    let nora = app.user_token("nora@example.com", &["Member"], &[]).await;
    let created = app
        .post("/v1/apps", json!({"name": "bot", "roles": ["Member"]}))
        .await
        .expect(201, None);
    let bot = get_token(
        &app.client,
        &app.base,
        created["app"]["clientId"].as_str().unwrap(),
        created["clientSecret"].as_str().unwrap(),
    )
    .await;
    for (id, team, tier, port) in ENTITIES {
        app.post(
            "/v1/blueprints/service/entities",
            json!({"identifier": id, "title": id.to_uppercase(), "team": team,
                   "properties": {"language": "rust", "tier": tier, "port": port}}),
        )
        .await
        .expect(201, None);
    }
    let set = app
        .patch("/v1/blueprints/service/permissions", permissions())
        .await
        .expect(200, None);
    let e = &set["permissions"]["entities"];
    assert_eq!(e["updateProperties"]["tier"]["roles"], json!(["Admin"]));
    assert_eq!(e["updateProperties"]["tier"]["ownedByTeam"], json!(false));
    assert_eq!(
        e["updateProperties"]["language"]["ownedByTeam"],
        json!(true)
    );
    assert_eq!(e["read"]["policy"]["rules"][0]["value"], json!("gold"));
    World {
        moderator,
        alice,
        bob,
        nora,
        bot,
    }
}

fn ids(entities: &Value) -> Vec<String> {
    let mut v: Vec<String> = entities
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {entities}"))
        .iter()
        .map(|e| e["identifier"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn sum_of(reads: &[&str]) -> f64 {
    ENTITIES
        .iter()
        .filter(|(id, ..)| reads.contains(id))
        .map(|(.., port)| *port as f64)
        .sum()
}

fn of_service() -> Value {
    json!({"combinator": "and", "rules": [{"property": "$blueprint", "operator": "=", "value": "service"}]})
}

/// The identifier a search cursor points at.
fn cursor_identifier(next: &str) -> String {
    let v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(next).unwrap()).unwrap();
    v["p"]["i"].as_str().expect("cursor identifier").to_owned()
}

/// Every read route, for one caller.
async fn assert_reads(app: &TestApp, who: &Who<'_>) {
    let name = who.name;
    let want: Vec<String> = who.reads.iter().map(|s| (*s).to_owned()).collect();

    let list = app
        .call_as(
            who.token,
            Method::GET,
            "/v1/blueprints/service/entities",
            None,
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&list["entities"]), want, "{name}: list");
    for id in ALL {
        let res = app
            .call_as(
                who.token,
                Method::GET,
                &format!("/v1/blueprints/service/entities/{id}"),
                None,
            )
            .await;
        if who.reads.contains(id) {
            let e = res.expect(200, None);
            assert_eq!(e["entity"]["identifier"], json!(id), "{name}: get {id}");
        } else {
            let e = res.expect(404, Some("not_found"));
            assert!(!e.to_string().contains("tier"), "{name}: {e}");
        }
    }
    let count = app
        .call_as(
            who.token,
            Method::GET,
            "/v1/blueprints/service/entities-count",
            None,
        )
        .await
        .expect(200, None);
    assert_eq!(count["count"], json!(who.reads.len()), "{name}: count");

    // Cross-blueprint search, with and without paging.
    let found = app
        .call_as(
            who.token,
            Method::POST,
            "/v1/entities/search",
            Some(of_service()),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&found["entities"]), want, "{name}: search");
    let everything = json!({"combinator": "or", "rules": [
        {"property": "tier", "operator": "isNotEmpty"},
        {"property": "tier", "operator": "isEmpty"}]});
    let found = app
        .call_as(
            who.token,
            Method::POST,
            "/v1/entities/search",
            Some(everything.clone()),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&found["entities"]), want, "{name}: search everything");
    let mut paged = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let path = match &from {
            Some(f) => format!("/v1/entities/search?limit=2&from={f}"),
            None => "/v1/entities/search?limit=2".to_owned(),
        };
        let page = app
            .call_as(who.token, Method::POST, &path, Some(everything.clone()))
            .await
            .expect(200, None);
        paged.extend(ids(&page["entities"]));
        match page["next"].as_str() {
            Some(n) => {
                let at = cursor_identifier(n);
                assert!(who.reads.contains(&at.as_str()), "{name}: cursor at {at}");
                from = Some(n.to_owned());
            }
            None => break,
        }
        assert!(paged.len() <= ALL.len(), "{name}: paging does not end");
    }
    paged.sort();
    assert_eq!(paged, want, "{name}: paged search");
    // Asking for an unreadable entity by name finds nothing.
    for id in ALL.iter().filter(|id| !who.reads.contains(id)) {
        let q = json!({"combinator": "and", "rules": [
            {"property": "$blueprint", "operator": "=", "value": "service"},
            {"property": "$identifier", "operator": "=", "value": id}]});
        let found = app
            .call_as(who.token, Method::POST, "/v1/entities/search", Some(q))
            .await
            .expect(200, None);
        assert_eq!(found["entities"], json!([]), "{name}: search for {id}");
    }

    // Blueprint search: one page, then one entity per page; `next` never points past what
    // the caller reads, and the last readable entity ends the paging.
    let found = app
        .call_as(
            who.token,
            Method::POST,
            "/v1/blueprints/service/entities/search",
            Some(json!({})),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&found["entities"]), want, "{name}: blueprint search");
    assert!(found.get("next").is_none(), "{name}: {found}");
    for sort in [None, Some(json!({"property": "port", "order": "desc"}))] {
        let mut pages = 0;
        let mut seen = Vec::new();
        let mut from: Option<String> = None;
        loop {
            let mut body = json!({"limit": 1});
            if let Some(s) = &sort {
                body["sort"] = s.clone();
            }
            if let Some(f) = &from {
                body["from"] = json!(f);
            }
            let page = app
                .call_as(
                    who.token,
                    Method::POST,
                    "/v1/blueprints/service/entities/search",
                    Some(body),
                )
                .await
                .expect(200, None);
            pages += 1;
            seen.extend(ids(&page["entities"]));
            match page["next"].as_str() {
                Some(n) => {
                    let at = cursor_identifier(n);
                    assert!(who.reads.contains(&at.as_str()), "{name}: cursor at {at}");
                    from = Some(n.to_owned());
                }
                None => break,
            }
            assert!(pages <= ALL.len(), "{name}: paging does not end");
        }
        assert_eq!(pages, who.reads.len().max(1), "{name}: pages ({sort:?})");
        seen.sort();
        assert_eq!(seen, want, "{name}: paged blueprint search ({sort:?})");
    }

    // Aggregates.
    let n = app
        .call_as(
            who.token,
            Method::POST,
            "/v1/entities/aggregate",
            Some(json!({"func": "count", "query": of_service()})),
        )
        .await
        .expect(200, None);
    assert_eq!(
        n["result"].as_f64(),
        Some(who.reads.len() as f64),
        "{name}: count"
    );
    let sum = app
        .call_as(
            who.token,
            Method::POST,
            "/v1/entities/aggregate",
            Some(json!({"func": "sum", "property": "port", "query": of_service()})),
        )
        .await
        .expect(200, None);
    assert_eq!(
        sum["result"].as_f64(),
        Some(sum_of(who.reads)),
        "{name}: sum"
    );
    let max = app
        .call_as(
            who.token,
            Method::POST,
            "/v1/entities/aggregate",
            Some(json!({"func": "max", "property": "port", "query": of_service()})),
        )
        .await
        .expect(200, None);
    let want_max = ENTITIES
        .iter()
        .filter(|(id, ..)| who.reads.contains(id))
        .map(|(.., p)| *p as f64)
        .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))));
    assert_eq!(max["result"].as_f64(), want_max, "{name}: max");

    // The audit log: entity records of readable entities only.
    let log = app
        .call_as(
            who.token,
            Method::GET,
            "/v1/audit-log?resources=entity&limit=1000",
            None,
        )
        .await
        .expect(200, None);
    let logged: BTreeSet<String> = log["audits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["context"]["entityIdentifier"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        logged.into_iter().collect::<Vec<_>>(),
        want,
        "{name}: audit log"
    );
    for id in ALL.iter().filter(|id| !who.reads.contains(id)) {
        let log = app
            .call_as(
                who.token,
                Method::GET,
                &format!("/v1/audit-log?entity={id}"),
                None,
            )
            .await
            .expect(200, None);
        assert_eq!(log["audits"], json!([]), "{name}: audit of {id}");
    }
}

/// What a non-Admin may see of the audit log: entity and blueprint records only.
async fn assert_no_admin_records(app: &TestApp, name: &str, token: &str) {
    let all = app
        .call_as(token, Method::GET, "/v1/audit-log?limit=1000", None)
        .await
        .expect(200, None);
    for r in all["audits"].as_array().unwrap() {
        let t = r["resourceType"].as_str().unwrap();
        assert!(
            t == "entity" || t == "blueprint",
            "{name} sees a {t} record: {r}"
        );
    }
    for resource in ["user", "credential", "permissions", "team"] {
        let seen = app
            .call_as(
                token,
                Method::GET,
                &format!("/v1/audit-log?resources={resource}"),
                None,
            )
            .await
            .expect(200, None);
        assert_eq!(seen["audits"], json!([]), "{name}: {resource}");
    }
}

#[tokio::test]
async fn every_read_route_returns_what_each_caller_may_read() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let gold: &[&str] = &["a1", "b1", "n2"];
    let table = [
        Who {
            name: "admin",
            token: &app.token,
            reads: ALL,
        },
        Who {
            name: "moderator",
            token: &w.moderator,
            reads: ALL,
        },
        Who {
            name: "alice (alpha)",
            token: &w.alice,
            reads: &["a1", "a2", "b1", "n2"],
        },
        Who {
            name: "bob (beta)",
            token: &w.bob,
            reads: &["a1", "b1", "b2", "n2"],
        },
        Who {
            name: "nora (no team)",
            token: &w.nora,
            reads: gold,
        },
        Who {
            name: "bot (Member app)",
            token: &w.bot,
            reads: gold,
        },
    ];
    for who in &table {
        assert_reads(&app, who).await;
    }
    for who in &table[1..] {
        assert_no_admin_records(&app, who.name, who.token).await;
    }
    // Those records exist: an Admin sees them.
    for resource in ["user", "credential", "permissions"] {
        let seen = app
            .get(&format!("/v1/audit-log?resources={resource}"))
            .await
            .expect(200, None);
        assert!(
            !seen["audits"].as_array().unwrap().is_empty(),
            "admin: {resource}"
        );
    }
    // Unknown blueprints are 404 for everyone.
    for token in [&app.token, &w.alice] {
        app.call_as(token, Method::GET, "/v1/blueprints/nope/entities", None)
            .await
            .expect(404, Some("not_found"));
        app.call_as(token, Method::GET, "/v1/blueprints/nope/entities/a1", None)
            .await
            .expect(404, Some("not_found"));
    }
    // Readability follows team membership at once.
    app.patch("/v1/users/nora@example.com", json!({"teams": ["beta"]}))
        .await
        .expect(200, None);
    assert_reads(
        &app,
        &Who {
            name: "nora (now beta)",
            token: &w.nora,
            reads: &["a1", "b1", "b2", "n2"],
        },
    )
    .await;
    app.stop().await;
}

/// Everything an Admin sees of `service`, and how many entity records the log holds: a
/// refused write must change neither.
async fn snapshot(app: &TestApp) -> (Value, usize) {
    let list = app
        .get("/v1/blueprints/service/entities")
        .await
        .expect(200, None);
    let mut entities = list["entities"].as_array().unwrap().clone();
    entities.sort_by_key(|e| e["identifier"].as_str().unwrap().to_owned());
    let log = app
        .get("/v1/audit-log?resources=entity&limit=1000")
        .await
        .expect(200, None);
    (
        Value::Array(entities),
        log["audits"].as_array().unwrap().len(),
    )
}

/// A write that must be refused: (why, token, method, path, body or null, a field the
/// message must name).
type Refused<'a> = (&'a str, &'a str, Method, String, Value, Option<&'a str>);

async fn entity(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/blueprints/service/entities/{id}"))
        .await
        .expect(200, None)["entity"]
        .clone()
}

#[tokio::test]
async fn writes_pass_or_fail_by_register_update_per_property_and_unregister_grants() {
    let app = spawn_app().await;
    let w = world(&app).await;

    // Refused writes: 403 each, and nothing changes.
    let before = snapshot(&app).await;
    let refused: Vec<Refused> = vec![
        (
            "alice registers in another team",
            w.alice.as_str(),
            Method::POST,
            "/v1/blueprints/service/entities".into(),
            json!({"identifier": "x1", "team": "beta"}),
            None,
        ),
        (
            "alice registers without a team",
            w.alice.as_str(),
            Method::POST,
            "/v1/blueprints/service/entities".into(),
            json!({"identifier": "x2"}),
            None,
        ),
        (
            "nora registers in a team she is not in",
            w.nora.as_str(),
            Method::POST,
            "/v1/blueprints/service/entities".into(),
            json!({"identifier": "x3", "team": "alpha"}),
            None,
        ),
        (
            "the bot registers",
            w.bot.as_str(),
            Method::POST,
            "/v1/blueprints/service/entities".into(),
            json!({"identifier": "x4", "team": "alpha"}),
            None,
        ),
        (
            "alice changes the tier of her team's entity",
            w.alice.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/a1".into(),
            json!({"properties": {"tier": "platinum"}}),
            Some("tier"),
        ),
        (
            "alice changes language and tier at once",
            w.alice.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/a1".into(),
            json!({"properties": {"language": "python", "tier": "platinum"}}),
            Some("tier"),
        ),
        (
            "alice clears the tier with a replace",
            w.alice.as_str(),
            Method::PUT,
            "/v1/blueprints/service/entities/a2".into(),
            json!({"title": "A2", "team": "alpha", "properties": {"language": "go", "port": 10}}),
            Some("tier"),
        ),
        (
            "alice upserts the tier",
            w.alice.as_str(),
            Method::POST,
            "/v1/blueprints/service/entities?upsert=true&merge=true".into(),
            json!({"identifier": "a2", "properties": {"tier": "gold"}}),
            Some("tier"),
        ),
        (
            "alice gives her entity to beta",
            w.alice.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/a1".into(),
            json!({"team": "beta"}),
            None,
        ),
        (
            "alice takes her team off her entity",
            w.alice.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/a1".into(),
            json!({"team": []}),
            None,
        ),
        (
            "bob gives his entity to alpha",
            w.bob.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/b1".into(),
            json!({"team": "alpha"}),
            None,
        ),
        (
            "bob updates an entity he reads but his team does not own",
            w.bob.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/a1".into(),
            json!({"properties": {"language": "go"}}),
            None,
        ),
        (
            "alice updates a gold entity of beta",
            w.alice.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/b1".into(),
            json!({"title": "mine now"}),
            None,
        ),
        (
            "alice relates another team's entity",
            w.alice.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/b1".into(),
            json!({"relations": {"dependsOn": ["a1"]}}),
            None,
        ),
        (
            "nora updates an entity of no team",
            w.nora.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/n2".into(),
            json!({"properties": {"language": "go"}}),
            None,
        ),
        (
            "the bot updates",
            w.bot.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/a1".into(),
            json!({"properties": {"language": "go"}}),
            None,
        ),
        (
            "alice deletes her team's entity",
            w.alice.as_str(),
            Method::DELETE,
            "/v1/blueprints/service/entities/a1".into(),
            Value::Null,
            None,
        ),
        (
            "bob deletes his team's entity",
            w.bob.as_str(),
            Method::DELETE,
            "/v1/blueprints/service/entities/b2".into(),
            Value::Null,
            None,
        ),
        (
            "the bot deletes",
            w.bot.as_str(),
            Method::DELETE,
            "/v1/blueprints/service/entities/n2".into(),
            Value::Null,
            None,
        ),
        (
            "alice bulk-deletes",
            w.alice.as_str(),
            Method::POST,
            "/v1/blueprints/service/bulk/entities/delete".into(),
            json!({"entities": ["a1", "a2"]}),
            None,
        ),
        (
            "alice deletes with dependents",
            w.alice.as_str(),
            Method::DELETE,
            "/v1/blueprints/service/entities/a1?delete_dependents=true".into(),
            Value::Null,
            None,
        ),
    ];
    for (why, token, method, path, body, names) in refused {
        let body = (!body.is_null()).then_some(body);
        let res = app
            .call_as(token, method, &path, body)
            .await
            .expect(403, Some("forbidden"));
        if let Some(field) = names {
            let m = res["message"].as_str().unwrap();
            assert!(m.contains(field), "{why}: {m}");
        }
        assert_eq!(snapshot(&app).await, before, "{why}: something changed");
    }

    // Allowed writes.
    let created = app
        .call_as(
            w.alice.as_str(),
            Method::POST,
            "/v1/blueprints/service/entities",
            Some(json!({"identifier": "a3", "team": "alpha", "properties": {"language": "go"}})),
        )
        .await
        .expect(201, None);
    assert_eq!(created["entity"]["team"], json!(["alpha"]));
    let updated = app
        .call_as(
            w.alice.as_str(),
            Method::PATCH,
            "/v1/blueprints/service/entities/a1",
            Some(json!({"title": "A one", "properties": {"language": "go", "tier": "gold"}})),
        )
        .await
        .expect(200, None);
    assert_eq!(
        updated["entity"]["properties"]["language"],
        json!("go"),
        "the unchanged tier needs no grant"
    );
    assert_eq!(entity(&app, "a1").await["title"], json!("A one"));
    app.call_as(
        &w.alice,
        Method::PUT,
        "/v1/blueprints/service/entities/a2",
        Some(json!({"title": "A2", "team": "alpha",
                    "properties": {"language": "python", "tier": "silver", "port": 10}})),
    )
    .await
    .expect(200, None);
    assert_eq!(
        entity(&app, "a2").await["properties"]["language"],
        json!("python")
    );
    app.call_as(
        &w.alice,
        Method::PATCH,
        "/v1/blueprints/service/entities/a1",
        Some(json!({"relations": {"dependsOn": ["a2", "b1"]}})),
    )
    .await
    .expect(200, None);
    // Bob updates his own team's entity.
    app.call_as(
        &w.bob,
        Method::PATCH,
        "/v1/blueprints/service/entities/b2",
        Some(json!({"properties": {"language": "go"}})),
    )
    .await
    .expect(200, None);

    // Bulk with a mix: the allowed items are written, the others are 403 items.
    let tier_a2 = entity(&app, "a2").await["properties"]["tier"].clone();
    let port_b2 = entity(&app, "b2").await["properties"]["port"].clone();
    let bulk = app
        .call_as(
            w.alice.as_str(),
            Method::POST,
            "/v1/blueprints/service/entities/bulk?upsert=true&merge=true",
            Some(json!({"entities": [
                {"identifier": "a1", "properties": {"port": 2}},
                {"identifier": "b2", "properties": {"port": 3}},
                {"identifier": "a4", "team": "alpha", "properties": {"language": "rust"}},
                {"identifier": "x5", "team": "beta"},
                {"identifier": "a2", "properties": {"tier": "gold"}},
            ]})),
        )
        .await
        .expect(207, None);
    assert_eq!(bulk["ok"], json!(false));
    let errors: Vec<(u64, u64, &str)> = bulk["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["statusCode"].as_u64().unwrap(),
                e["error"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            // b2 is beta's and not readable for alice: it does not exist for her.
            (1, 404, "not_found"),
            (3, 403, "forbidden"),
            (4, 403, "forbidden")
        ]
    );
    assert!(
        bulk["errors"][2]["message"]
            .as_str()
            .unwrap()
            .contains("tier")
    );
    let written: Vec<u64> = bulk["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(written, [0, 2]);
    assert_eq!(entity(&app, "a1").await["properties"]["port"], json!(2));
    assert_eq!(entity(&app, "a4").await["team"], json!(["alpha"]));
    assert_eq!(entity(&app, "b2").await["properties"]["port"], port_b2);
    assert_eq!(entity(&app, "a2").await["properties"]["tier"], tier_a2);
    app.get("/v1/blueprints/service/entities/x5")
        .await
        .expect(404, Some("not_found"));

    // The moderator does everything to `service`.
    app.call_as(
        &w.moderator,
        Method::PATCH,
        "/v1/blueprints/service/entities/a1",
        Some(json!({"team": "beta", "properties": {"tier": "platinum"}})),
    )
    .await
    .expect(200, None);
    app.call_as(
        &w.moderator,
        Method::POST,
        "/v1/blueprints/service/entities",
        Some(json!({"identifier": "m1"})),
    )
    .await
    .expect(201, None);
    app.call_as(
        &w.moderator,
        Method::DELETE,
        "/v1/blueprints/service/entities/a1",
        None,
    )
    .await
    .expect(200, None);
    app.call_as(
        &w.moderator,
        Method::POST,
        "/v1/blueprints/service/bulk/entities/delete",
        Some(json!({"entities": ["b2", "n1"]})),
    )
    .await
    .expect(200, None);
    for gone in ["a1", "b2", "n1"] {
        app.get(&format!("/v1/blueprints/service/entities/{gone}"))
            .await
            .expect(404, Some("not_found"));
    }
    app.stop().await;
}

#[tokio::test]
async fn relation_and_identifier_queries_in_writes_see_only_readable_entities() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // b2 (bronze, beta) and n1 (silver, no team) are the only non-gold entities with a port
    // of 1000 or more, and Alice reads neither. A query in her writes must not resolve to
    // them, or she would learn what she may not read.
    let unreadable = json!({"combinator": "and", "rules": [
        {"property": "port", "operator": ">=", "value": 1000},
        {"property": "tier", "operator": "!=", "value": "gold"}]});
    let leaks = |v: &Value| {
        let text = v.to_string();
        text.contains("\"n1\"") || text.contains("\"b2\"")
    };
    // An identifier query that matches only b2: 422 (no match for her), not a 403 that
    // confirms the entity exists.
    let res = app
        .call_as(
            &w.alice,
            Method::POST,
            "/v1/blueprints/service/entities?upsert=true&merge=true",
            Some(json!({"identifier": {"combinator": "and", "rules": [
                {"property": "tier", "operator": "=", "value": "bronze"}]},
                "properties": {"language": "go"}})),
        )
        .await;
    assert!(!leaks(&res.body), "{:?}", res.body);
    res.expect(422, Some("invalid_request"));
    // A relation query: it relates only what she reads (here nothing).
    let res = app
        .call_as(
            &w.alice,
            Method::PATCH,
            "/v1/blueprints/service/entities/a2",
            Some(json!({"relations": {"dependsOn": unreadable}})),
        )
        .await;
    assert!(!leaks(&res.body), "{:?}", res.body);
    let a2 = app
        .call_as(
            &w.alice,
            Method::GET,
            "/v1/blueprints/service/entities/a2",
            None,
        )
        .await
        .expect(200, None);
    assert!(!leaks(&a2), "Alice sees unreadable identifiers: {a2}");
    // The Admin's own lookups see everything.
    app.patch(
        "/v1/blueprints/service/entities/a2",
        json!({"relations": {"dependsOn": unreadable}}),
    )
    .await
    .expect(200, None);
    let a2 = app
        .get("/v1/blueprints/service/entities/a2")
        .await
        .expect(200, None);
    let mut deps: Vec<&str> = a2["entity"]["relations"]["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    deps.sort();
    assert_eq!(deps, ["b2", "n1"]);
    app.stop().await;
}

#[tokio::test]
async fn a_user_context_policy_reads_the_entities_that_name_the_caller() {
    let app = spawn_app().await;
    app.blueprint(service_blueprint()).await;
    let alice = app
        .user_token("alice@example.com", &["Member"], &["alpha"])
        .await;
    let bob = app.user_token("bob@example.com", &["Member"], &[]).await;
    let nora = app.user_token("nora@example.com", &["Member"], &[]).await;
    let created = app
        .post("/v1/apps", json!({"name": "bot", "roles": ["Member"]}))
        .await
        .expect(201, None);
    let bot = get_token(
        &app.client,
        &app.base,
        created["app"]["clientId"].as_str().unwrap(),
        created["clientSecret"].as_str().unwrap(),
    )
    .await;
    for (id, owner, team) in [
        ("e-alice", Some("alice@example.com"), None),
        ("e-alice-2", Some("alice@example.com"), Some("alpha")),
        ("e-bob", Some("bob@example.com"), Some("alpha")),
        ("e-none", None, None),
    ] {
        app.post(
            "/v1/blueprints/service/entities",
            json!({"identifier": id, "team": team, "properties": {"owner_email": owner, "port": 1}}),
        )
        .await
        .expect(201, None);
    }
    app.patch(
        "/v1/blueprints/service/permissions",
        json!({"entities": {"read": {"roles": ["Admin"], "ownedByTeam": false, "policy":
            {"combinator": "and", "rules": [{"property": "owner_email", "operator": "=",
                "value": {"context": "user", "property": "$identifier"}}]}}}}),
    )
    .await
    .expect(200, None);
    for (name, token, reads) in [
        (
            "admin",
            app.token.as_str(),
            &["e-alice", "e-alice-2", "e-bob", "e-none"][..],
        ),
        ("alice", alice.as_str(), &["e-alice", "e-alice-2"][..]),
        ("bob", bob.as_str(), &["e-bob"][..]),
        ("nora", nora.as_str(), &[][..]),
        ("bot (no user)", bot.as_str(), &[][..]),
    ] {
        let want: Vec<String> = reads.iter().map(|s| (*s).to_owned()).collect();
        let list = app
            .call_as(token, Method::GET, "/v1/blueprints/service/entities", None)
            .await
            .expect(200, None);
        assert_eq!(ids(&list["entities"]), want, "{name}: list");
        let found = app
            .call_as(
                token,
                Method::POST,
                "/v1/blueprints/service/entities/search",
                Some(json!({})),
            )
            .await
            .expect(200, None);
        assert_eq!(ids(&found["entities"]), want, "{name}: search");
        let count = app
            .call_as(
                token,
                Method::GET,
                "/v1/blueprints/service/entities-count",
                None,
            )
            .await
            .expect(200, None);
        assert_eq!(count["count"], json!(reads.len()), "{name}: count");
        let sum = app
            .call_as(
                token,
                Method::POST,
                "/v1/entities/aggregate",
                Some(json!({"func": "sum", "property": "port", "query": of_service()})),
            )
            .await
            .expect(200, None);
        assert_eq!(
            sum["result"].as_f64(),
            Some(reads.len() as f64),
            "{name}: sum"
        );
        for id in ["e-alice", "e-bob", "e-none"] {
            let status = app
                .call_as(
                    token,
                    Method::GET,
                    &format!("/v1/blueprints/service/entities/{id}"),
                    None,
                )
                .await
                .status
                .as_u16();
            let want = if reads.contains(&id) { 200 } else { 404 };
            assert_eq!(status, want, "{name}: get {id}");
        }
    }
    // The policy follows the data: Bob now owns e-none.
    app.patch(
        "/v1/blueprints/service/entities/e-none",
        json!({"properties": {"owner_email": "bob@example.com"}}),
    )
    .await
    .expect(200, None);
    let list = app
        .call_as(&bob, Method::GET, "/v1/blueprints/service/entities", None)
        .await
        .expect(200, None);
    assert_eq!(ids(&list["entities"]), ["e-bob", "e-none"]);
    app.stop().await;
}

#[tokio::test]
async fn blueprint_changes_need_admin_or_that_blueprints_moderator() {
    let app = spawn_app().await;
    let w = world(&app).await;
    app.post(
        "/v1/blueprints/library/entities",
        json!({"identifier": "lib1"}),
    )
    .await
    .expect(201, None);
    let new_bp = json!({"identifier": "other", "title": "Other", "schema": {"properties": {}}});
    let bp_before = app.get("/v1/blueprints/service").await.expect(200, None);
    let perms_before = app
        .get("/v1/blueprints/service/permissions")
        .await
        .expect(200, None);
    for (name, token) in [("alice", &w.alice), ("nora", &w.nora), ("bot", &w.bot)] {
        for (method, path, body) in [
            (Method::POST, "/v1/blueprints", Some(new_bp.clone())),
            (
                Method::PATCH,
                "/v1/blueprints/service",
                Some(json!({"title": "Mine"})),
            ),
            (
                Method::PUT,
                "/v1/blueprints/service",
                Some(service_blueprint()),
            ),
            (
                Method::PATCH,
                "/v1/blueprints/service/permissions",
                Some(json!({"entities": {"unregister": {"roles": ["Member"]}}})),
            ),
            (Method::DELETE, "/v1/blueprints/service/all-entities", None),
            (Method::DELETE, "/v1/blueprints/service", None),
            (
                Method::PATCH,
                "/v1/blueprints/service/properties/tier/rename",
                Some(json!({"newPropertyName": "level"})),
            ),
        ] {
            let res = app.call_as(token, method.clone(), path, body).await;
            assert_eq!(
                res.status.as_u16(),
                403,
                "{name}: {method} {path}: {:?}",
                res.body
            );
            assert_eq!(res.body["error"], json!("forbidden"));
        }
        // A Member may read the permissions, not change them.
        app.call_as(
            token,
            Method::GET,
            "/v1/blueprints/service/permissions",
            None,
        )
        .await
        .expect(200, None);
    }
    app.get("/v1/blueprints/other")
        .await
        .expect(404, Some("not_found"));
    assert_eq!(
        app.get("/v1/blueprints/service").await.expect(200, None),
        bp_before
    );
    assert_eq!(
        app.get("/v1/blueprints/service/permissions")
            .await
            .expect(200, None),
        perms_before
    );
    let count = app
        .get("/v1/blueprints/service/entities-count")
        .await
        .expect(200, None);
    assert_eq!(count["count"], json!(6));

    // The moderator of `service`: not other blueprints, and not new ones.
    let m = &w.moderator;
    app.call_as(m, Method::POST, "/v1/blueprints", Some(new_bp.clone()))
        .await
        .expect(403, Some("forbidden"));
    for (method, path, body) in [
        (
            Method::PATCH,
            "/v1/blueprints/library",
            Some(json!({"title": "Mine"})),
        ),
        (
            Method::PATCH,
            "/v1/blueprints/library/permissions",
            Some(json!({"entities": {"unregister": {"roles": ["Member"]}}})),
        ),
        (Method::DELETE, "/v1/blueprints/library/all-entities", None),
        (Method::DELETE, "/v1/blueprints/library", None),
    ] {
        app.call_as(m, method, path, body)
            .await
            .expect(403, Some("forbidden"));
    }
    // The moderator holds no role that reads `library`: its entities do not exist for it.
    app.call_as(
        m,
        Method::DELETE,
        "/v1/blueprints/library/entities/lib1",
        None,
    )
    .await
    .expect(404, Some("not_found"));
    assert_eq!(
        app.get("/v1/blueprints/library").await.expect(200, None)["blueprint"]["title"],
        json!("Library")
    );
    app.get("/v1/blueprints/library/entities/lib1")
        .await
        .expect(200, None);
    // ... but `service` is its own.
    let patched = app
        .call_as(
            m,
            Method::PATCH,
            "/v1/blueprints/service",
            Some(json!({"title": "Services"})),
        )
        .await
        .expect(200, None);
    assert_eq!(patched["blueprint"]["title"], json!("Services"));
    app.call_as(
        m,
        Method::PATCH,
        "/v1/blueprints/service/permissions",
        Some(json!({"entities": {"unregister": {"roles": ["Member"]}}})),
    )
    .await
    .expect(200, None);
    // The change applies at once: Members may now delete what they can read (n2 is gold);
    // what they cannot read does not exist for them (n1).
    app.call_as(
        &w.nora,
        Method::DELETE,
        "/v1/blueprints/service/entities/n2",
        None,
    )
    .await
    .expect(200, None);
    app.call_as(
        &w.nora,
        Method::DELETE,
        "/v1/blueprints/service/entities/n1",
        None,
    )
    .await
    .expect(404, Some("not_found"));
    let res = app
        .call_as(
            m,
            Method::DELETE,
            "/v1/blueprints/service/all-entities",
            None,
        )
        .await
        .expect(202, None);
    let id = res["migrationId"].as_str().unwrap().to_owned();
    let mut status = Value::Null;
    for _ in 0..200 {
        let got = app
            .call_as(m, Method::GET, &format!("/v1/migrations/{id}"), None)
            .await
            .expect(200, None);
        status = got["migration"]["status"].clone();
        if status == json!("COMPLETED") || status == json!("FAILURE") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, json!("COMPLETED"));
    // Members do not see the migration.
    app.call_as(&w.alice, Method::GET, &format!("/v1/migrations/{id}"), None)
        .await
        .expect(404, Some("not_found"));
    let list = app
        .call_as(&w.alice, Method::GET, "/v1/migrations", None)
        .await
        .expect(200, None);
    assert_eq!(list["migrations"], json!([]));
    let count = app
        .get("/v1/blueprints/service/entities-count")
        .await
        .expect(200, None);
    assert_eq!(count["count"], json!(0));
    app.get("/v1/blueprints/library/entities/lib1")
        .await
        .expect(200, None);
    app.stop().await;
}

#[tokio::test]
async fn on_sqlite_reads_and_writes_follow_the_same_permissions() {
    let app = spawn_sqlite().await;
    app.blueprint(service_blueprint()).await;
    let alice = app
        .user_token("alice@example.com", &["Member"], &["alpha"])
        .await;
    let nora = app.user_token("nora@example.com", &["Member"], &[]).await;
    app.post("/v1/teams", json!({"name": "beta"}))
        .await
        .expect(201, None);
    for (id, team, tier, port) in ENTITIES {
        app.post(
            "/v1/blueprints/service/entities",
            json!({"identifier": id, "team": team,
                   "properties": {"tier": tier, "port": port}}),
        )
        .await
        .expect(201, None);
    }
    app.patch("/v1/blueprints/service/permissions", permissions())
        .await
        .expect(200, None);
    for (name, token, reads) in [
        ("alice", alice.as_str(), &["a1", "a2", "b1", "n2"][..]),
        ("nora", nora.as_str(), &["a1", "b1", "n2"][..]),
    ] {
        let want: Vec<String> = reads.iter().map(|s| (*s).to_owned()).collect();
        let list = app
            .call_as(token, Method::GET, "/v1/blueprints/service/entities", None)
            .await
            .expect(200, None);
        assert_eq!(ids(&list["entities"]), want, "{name}: list");
        let found = app
            .call_as(
                token,
                Method::POST,
                "/v1/entities/search",
                Some(of_service()),
            )
            .await
            .expect(200, None);
        assert_eq!(ids(&found["entities"]), want, "{name}: search");
        let sum = app
            .call_as(
                token,
                Method::POST,
                "/v1/entities/aggregate",
                Some(json!({"func": "sum", "property": "port", "query": of_service()})),
            )
            .await
            .expect(200, None);
        assert_eq!(sum["result"].as_f64(), Some(sum_of(reads)), "{name}: sum");
        app.call_as(
            token,
            Method::GET,
            "/v1/blueprints/service/entities/b2",
            None,
        )
        .await
        .expect(404, Some("not_found"));
    }
    app.call_as(
        &alice,
        Method::PATCH,
        "/v1/blueprints/service/entities/a1",
        Some(json!({"properties": {"language": "go"}})),
    )
    .await
    .expect(200, None);
    let res = app
        .call_as(
            &alice,
            Method::PATCH,
            "/v1/blueprints/service/entities/a1",
            Some(json!({"properties": {"tier": "bronze"}})),
        )
        .await
        .expect(403, Some("forbidden"));
    assert!(res["message"].as_str().unwrap().contains("tier"));
    app.call_as(
        &alice,
        Method::POST,
        "/v1/blueprints/service/entities",
        Some(json!({"identifier": "x", "team": "beta"})),
    )
    .await
    .expect(403, Some("forbidden"));
    app.get("/v1/blueprints/service/entities/x")
        .await
        .expect(404, Some("not_found"));
    let a1 = app
        .get("/v1/blueprints/service/entities/a1")
        .await
        .expect(200, None);
    assert_eq!(a1["entity"]["properties"]["tier"], json!("gold"));
    assert_eq!(a1["entity"]["properties"]["language"], json!("go"));
    app.stop().await;
}
