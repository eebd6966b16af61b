//! The search routes over HTTP: Port's bodies and answers, paging, sorting, aggregation,
//! queries in writes, 422s with the rule's pointer, and tenant isolation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

async fn seed(app: &TestApp) {
    catalog(app).await;
    for team in ["core", "edge"] {
        app.post(
            "/v1/blueprints/team/entities",
            json!({"identifier": team, "title": team}),
        )
        .await
        .expect(201, None);
    }
    let services = [
        ("api", "rust", 8080, "core", vec![]),
        ("web", "go", 80, "edge", vec!["api"]),
        ("jobs", "python", 9000, "core", vec!["api"]),
        ("cron", "rust", 9100, "core", vec!["jobs"]),
    ];
    for team in ["core", "edge"] {
        app.post("/v1/teams", json!({"name": team}))
            .await
            .expect(201, None);
    }
    for (id, lang, port, owner, deps) in services {
        app.post(
            "/v1/blueprints/service/entities",
            json!({"identifier": id, "title": id.to_uppercase(), "team": [owner],
                   "properties": {"language": lang, "port": port, "tags": [lang, "prod"]},
                   "relations": {"owner": owner, "dependsOn": deps}}),
        )
        .await
        .expect(201, None);
    }
}

fn ids(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["identifier"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn blueprint_search_filters_projects_and_pages() {
    let app = spawn_app().await;
    seed(&app).await;
    let r = app
        .post(
            "/v1/blueprints/service/entities/search",
            json!({"query": {"combinator": "and", "rules": [
                {"property": "language", "operator": "=", "value": "rust"}]},
                "include": ["identifier", "properties.port"]}),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&r), ["api", "cron"]);
    assert_eq!(
        r["entities"][0],
        json!({"identifier": "api", "properties": {"port": 8080}})
    );
    assert!(r.get("next").is_none(), "one page only: {r}");

    // Every operator family in one query.
    let r = app
        .post(
            "/v1/blueprints/service/entities/search",
            json!({"query": {"combinator": "or", "rules": [
                {"property": "port", "operator": ">", "value": 9000},
                {"combinator": "and", "rules": [
                    {"property": "tags", "operator": "containsAny", "value": ["go"]},
                    {"property": "$title", "operator": "beginsWith", "value": "WE"}]}]}}),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&r), ["cron", "web"]);

    // Paging: limit 1, follow `next`, sorted by port descending.
    let mut seen = Vec::new();
    let mut from: Option<String> = None;
    loop {
        let mut body = json!({"limit": 1, "sort": {"property": "port", "order": "desc"}});
        if let Some(f) = &from {
            body["from"] = json!(f);
        }
        let r = app
            .post("/v1/blueprints/service/entities/search", body)
            .await
            .expect(200, None);
        seen.extend(ids(&r));
        match r.get("next").and_then(Value::as_str) {
            Some(n) => from = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["cron", "jobs", "api", "web"]);
}

#[tokio::test]
async fn relation_rules_and_cross_blueprint_search() {
    let app = spawn_app().await;
    seed(&app).await;
    // Everything related to `api` that depends on it, at any depth.
    let r = app
        .post(
            "/v1/entities/search",
            json!({"combinator": "and", "rules": [
                {"operator": "relatedTo", "blueprint": "service", "value": "api", "direction": "downstream"}]}),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&r), ["cron", "jobs", "web"]);
    assert_eq!(r["matchingBlueprints"], json!(["service"]));
    // Upstream of `cron`: jobs, api and their owner teams.
    let r = app
        .post(
            "/v1/entities/search",
            json!({"combinator": "and", "rules": [
                {"operator": "relatedTo", "blueprint": "service", "value": "cron", "direction": "upstream"}]}),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&r), ["api", "core", "jobs"]);
    // matchAny over a two-step path: services depending on a service owned by `edge`... none;
    // owned by `core` through dependsOn.owner: web (-> api -> core), jobs, cron.
    let r = app
        .post(
            "/v1/blueprints/service/entities/search",
            json!({"query": {"combinator": "and", "rules": [
                {"property": {"path": ["dependsOn", "owner"]}, "operator": "matchAny", "value": "core"}]}}),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&r), ["cron", "jobs", "web"]);
    // Down mode: from team `edge` through... services reached from `api` by dependsOn? Use
    // the relation rule of the blueprint search instead.
    let r = app
        .post(
            "/v1/blueprints/service/entities/search",
            json!({"query": {"combinator": "and", "rules": [
                {"relation": "owner", "operator": "=", "value": "edge"}]}}),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&r), ["web"]);
    // Cross-blueprint paging with ?limit and ?from.
    let mut seen = Vec::new();
    let mut path = "/v1/entities/search?limit=2".to_owned();
    loop {
        let r = app
            .post(&path, json!({"combinator": "and", "rules": []}))
            .await
            .expect(200, None);
        seen.extend(ids(&r));
        match r.get("next").and_then(Value::as_str) {
            Some(n) => path = format!("/v1/entities/search?limit=2&from={n}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["api", "core", "cron", "edge", "jobs", "web"]);
}

#[tokio::test]
async fn aggregate_counts_and_sums() {
    let app = spawn_app().await;
    seed(&app).await;
    let rust = json!({"combinator": "and", "rules": [
        {"property": "$blueprint", "operator": "=", "value": "service"},
        {"property": "language", "operator": "=", "value": "rust"}]});
    for (func, expected) in [
        ("count", json!(2.0)),
        ("sum", json!(17180.0)),
        ("min", json!(8080.0)),
        ("max", json!(9100.0)),
        ("average", json!(8590.0)),
        ("median", json!(8590.0)),
    ] {
        let mut body = json!({"func": func, "query": rust});
        if func != "count" {
            body["property"] = json!("port");
        }
        let r = app
            .post("/v1/entities/aggregate", body)
            .await
            .expect(200, None);
        assert_eq!(r["result"], expected, "{func}");
    }
    let none = json!({"combinator": "and", "rules": [
        {"property": "$blueprint", "operator": "=", "value": "service"},
        {"property": "language", "operator": "=", "value": "go"},
        {"property": "port", "operator": "<", "value": 0}]});
    let r = app
        .post(
            "/v1/entities/aggregate",
            json!({"func": "max", "property": "port", "query": none}),
        )
        .await
        .expect(200, None);
    assert_eq!(r["result"], Value::Null);
    app.post(
        "/v1/entities/aggregate",
        json!({"func": "sum", "property": "language", "query": rust}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.post(
        "/v1/entities/aggregate",
        json!({"func": "sum", "query": rust}),
    )
    .await
    .expect(422, Some("invalid_request"));
}

#[tokio::test]
async fn bad_queries_are_422_with_the_rules_pointer_and_change_nothing() {
    let app = spawn_app().await;
    seed(&app).await;
    let before = app.count_rows("events").await;
    let cases = [
        (
            json!({"query": {"combinator": "and", "rules": [
            {"property": "nope", "operator": "=", "value": "x"}]}}),
            "/query/rules/0",
        ),
        (
            json!({"query": {"combinator": "and", "rules": [{"combinator": "or", "rules": [
            {"property": "language", "operator": ">", "value": "x"}]}]}}),
            "/query/rules/0/rules/0",
        ),
        (
            json!({"query": {"combinator": "and", "rules": [
            {"property": "port", "operator": "=", "value": "eighty"}]}}),
            "/query/rules/0",
        ),
        (
            json!({"query": {"combinator": "xor", "rules": []}}),
            "/query/combinator",
        ),
        (json!({"limit": 0}), "/limit"),
        (json!({"limit": 1001}), "/limit"),
        (json!({"from": "not-a-cursor"}), "/from"),
        (json!({"sort": {"property": "tags"}}), "/sort/property"),
        (json!({"surprise": true}), "/surprise"),
    ];
    for (body, pointer) in cases {
        let r = app
            .post("/v1/blueprints/service/entities/search", body.clone())
            .await
            .expect(422, Some("invalid_request"));
        let pointers: Vec<&str> = r["details"]["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["pointer"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            pointers.iter().any(|p| p.starts_with(pointer)),
            "{body}: expected a pointer under {pointer}, got {r}"
        );
    }
    app.post("/v1/blueprints/nope/entities/search", json!({}))
        .await
        .expect(404, Some("not_found"));
    // A cursor of one query is refused for another.
    let r = app
        .post(
            "/v1/blueprints/service/entities/search",
            json!({"limit": 1}),
        )
        .await
        .expect(200, None);
    let next = r["next"].as_str().unwrap();
    app.post(
        "/v1/blueprints/service/entities/search",
        json!({"limit": 1, "from": next, "sort": {"property": "port"}}),
    )
    .await
    .expect(422, Some("invalid_request"));
    assert_eq!(app.count_rows("events").await, before);
}

#[tokio::test]
async fn queries_in_writes_resolve_identifiers_and_relations() {
    let app = spawn_app().await;
    seed(&app).await;
    // The identifier as a query: exactly one match, which is updated.
    let e = app
        .post(
            "/v1/blueprints/service/entities?upsert=true&merge=true",
            json!({"identifier": {"combinator": "and", "rules": [
                {"property": "port", "operator": "=", "value": 80}]},
                "properties": {"language": "rust"}}),
        )
        .await
        .expect(200, None)["entity"]
        .clone();
    assert_eq!(e["identifier"], json!("web"));
    assert_eq!(e["properties"]["language"], json!("rust"));
    // A many relation as a query (at most 100), a single one (exactly one).
    let e = app
        .post(
            "/v1/blueprints/service/entities",
            json!({"identifier": "new", "properties": {"language": "go"},
                   "relations": {
                       "owner": {"combinator": "and", "rules": [
                           {"property": "$title", "operator": "=", "value": "edge"}]},
                       "dependsOn": {"combinator": "and", "rules": [
                           {"property": "language", "operator": "=", "value": "rust"}]}}}),
        )
        .await
        .expect(201, None)["entity"]
        .clone();
    assert_eq!(e["relations"]["owner"], json!("edge"));
    assert_eq!(e["relations"]["dependsOn"], json!(["api", "cron", "web"]));
    // Zero or several matches for an identifier are refused and change nothing.
    let before = app.count_rows("entities").await;
    for q in [
        json!({"combinator": "and", "rules": [{"property": "language", "operator": "=", "value": "rust"}]}),
        json!({"combinator": "and", "rules": [{"property": "port", "operator": "=", "value": 1}]}),
    ] {
        app.post(
            "/v1/blueprints/service/entities?upsert=true",
            json!({"identifier": q, "properties": {"language": "go"}, "relations": {"owner": "core"}}),
        )
        .await
        .expect(422, Some("invalid_request"));
    }
    // A single relation whose query matches two entities.
    app.post(
        "/v1/blueprints/service/entities",
        json!({"identifier": "other", "properties": {"language": "go"},
               "relations": {"owner": {"combinator": "or", "rules": []},
                             "dependsOn": []}}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.post(
        "/v1/blueprints/service/entities",
        json!({"identifier": "other2", "properties": {"language": "go"},
               "relations": {"owner": {"combinator": "and", "rules": []}}}),
    )
    .await
    .expect(422, Some("invalid_request"));
    assert_eq!(app.count_rows("entities").await, before);
    // In bulk, a failing lookup fails that item only.
    let r = app
        .post(
            "/v1/blueprints/service/entities/bulk",
            json!({"entities": [
                {"identifier": "b1", "properties": {"language": "go"}, "relations": {"owner": "core"}},
                {"identifier": "b2", "properties": {"language": "go"},
                 "relations": {"owner": {"combinator": "and", "rules": []}}}]}),
        )
        .await
        .expect(207, None);
    assert_eq!(r["errors"][0]["index"], json!(1));
    assert_eq!(r["entities"][0]["identifier"], json!("b1"));
}

#[tokio::test]
async fn a_bulk_write_resolves_a_repeated_query_the_same_for_every_entity() {
    let app = spawn_app().await;
    seed(&app).await;
    let edge = json!({"combinator": "and", "rules": [
        {"property": "$title", "operator": "=", "value": "edge"}]});
    let rust = json!({"combinator": "and", "rules": [
        {"property": "language", "operator": "=", "value": "rust"}]});
    // 30 entities naming their owner and dependencies by the same two queries; the
    // resolution of one body is reused for the others (one search per distinct query).
    let mut items: Vec<Value> = (0..30)
        .map(|i| {
            json!({"identifier": format!("bulk-{i:02}"), "properties": {"language": "go"},
                   "relations": {"owner": edge, "dependsOn": rust}})
        })
        .collect();
    // The same query text as a single relation matches three entities: refused for that
    // item only, though the same text resolved for `dependsOn` (many) in the other items.
    items.push(
        json!({"identifier": "bulk-bad", "properties": {"language": "go"},
                      "relations": {"owner": rust}}),
    );
    let r = app
        .post(
            "/v1/blueprints/service/entities/bulk",
            json!({"entities": items}),
        )
        .await
        .expect(207, None);
    assert_eq!(r["errors"].as_array().unwrap().len(), 1);
    assert_eq!(r["errors"][0]["index"], json!(30));
    assert_eq!(r["entities"].as_array().unwrap().len(), 30);
    for i in [0, 17, 29] {
        let e = app
            .get(&format!("/v1/blueprints/service/entities/bulk-{i:02}"))
            .await
            .expect(200, None);
        assert_eq!(e["entity"]["relations"]["owner"], json!("edge"));
        assert_eq!(
            e["entity"]["relations"]["dependsOn"],
            json!(["api", "cron"])
        );
    }
}

#[tokio::test]
async fn search_never_crosses_organizations() {
    let app = spawn_app().await;
    seed(&app).await;
    let (_, other) = app.other_org().await;
    // The other org has the same blueprint name and no entities.
    let r = app
        .call_as(
            &other,
            Method::POST,
            "/v1/blueprints",
            Some(
                json!({"identifier": "service", "title": "S", "schema": {"properties": {
                "language": {"type": "string"}}}}),
            ),
        )
        .await;
    r.expect(201, None);
    let r = app
        .call_as(
            &other,
            Method::POST,
            "/v1/entities/search",
            Some(json!({"combinator": "and", "rules": []})),
        )
        .await
        .expect(200, None);
    assert_eq!(r["entities"], json!([]));
    let r = app
        .call_as(
            &other,
            Method::POST,
            "/v1/entities/aggregate",
            Some(json!({"func": "count", "query": {"combinator": "and", "rules": []}})),
        )
        .await
        .expect(200, None);
    assert_eq!(r["result"], json!(0.0));
    // relatedTo naming another org's entity finds nothing.
    let r = app
        .call_as(
            &other,
            Method::POST,
            "/v1/entities/search",
            Some(json!({"combinator": "and", "rules": [
                {"operator": "relatedTo", "blueprint": "service", "value": "api"}]})),
        )
        .await
        .expect(200, None);
    assert_eq!(r["entities"], json!([]));
}

#[tokio::test]
async fn search_works_on_sqlite_too() {
    let app = spawn_sqlite().await;
    seed(&app).await;
    let r = app
        .post(
            "/v1/blueprints/service/entities/search",
            json!({"query": {"combinator": "and", "rules": [
                {"property": "tags", "operator": "containsAny", "value": ["python", "go"]},
                {"property": "$createdAt", "operator": "between", "value": {"preset": "lastDay"}}]}}),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&r), ["jobs", "web"]);
}

/// `portolan_plan_switches_total` as `/metrics` reports it.
async fn plan_switches(app: &TestApp) -> u64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix("portolan_plan_switches_total "))
        .unwrap_or_else(|| panic!("no plan switch counter in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// A page of walks on the blueprint route begins planned once per connection (the guess
/// from its body), so it switches nothing; the same query on the cross-blueprint route,
/// which is not guessed, switches once; a value rule switches nothing either way.
#[tokio::test]
async fn a_walk_page_is_planned_from_its_set_up_on() {
    let app = spawn_app().await;
    seed(&app).await;
    let walk = json!({"combinator": "and", "rules": [
        {"operator": "relatedTo", "blueprint": "service", "value": "api", "direction": "downstream"}]});
    let start = plan_switches(&app).await;
    let r = app
        .post(
            "/v1/blueprints/service/entities/search",
            json!({"query": walk}),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&r), ["cron", "jobs", "web"]);
    assert_eq!(plan_switches(&app).await, start);
    let r = app
        .post(
            "/v1/blueprints/service/entities/search",
            json!({"query": {"combinator": "and", "rules": [
                {"property": "language", "operator": "=", "value": "rust"}]}}),
        )
        .await
        .expect(200, None);
    assert_eq!(ids(&r), ["api", "cron"]);
    assert_eq!(plan_switches(&app).await, start);
    let r = app
        .post("/v1/entities/search", walk)
        .await
        .expect(200, None);
    assert_eq!(ids(&r), ["cron", "jobs", "web"]);
    assert_eq!(plan_switches(&app).await, start + 1);
}
