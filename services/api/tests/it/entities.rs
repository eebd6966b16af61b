use serde_json::json;

use crate::helpers::*;

async fn seed(app: &TestApp) {
    catalog(app).await;
    app.post(
        "/v1/blueprints/team/entities",
        json!({"identifier": "core", "title": "Core"}),
    )
    .await
    .expect(201, None);
}

#[tokio::test]
async fn create_then_409_then_upsert_replaces_and_merge_merges() {
    let app = spawn_app().await;
    seed(&app).await;
    app.post("/v1/teams", json!({"name": "platform"}))
        .await
        .expect(201, None);
    let e = app
        .post("/v1/blueprints/service/entities",
            json!({"identifier": "api", "title": "API", "team": "platform",
                   "properties": {"language": "rust", "port": 8080}, "relations": {"owner": "core"}}))
        .await
        .expect(201, None)["entity"]
        .clone();
    assert_eq!(e["team"], json!(["platform"]));
    assert_eq!(
        e["properties"]["tier"],
        json!("bronze"),
        "defaults apply on create"
    );
    assert_eq!(
        e["properties"]["url"],
        json!(null),
        "every property is present"
    );
    assert_eq!(e["relations"]["dependsOn"], json!([]));
    assert_eq!(e["blueprint"], json!("service"));
    app.post("/v1/blueprints/service/entities", json!({"identifier": "api", "properties": {"language": "go"}, "relations": {"owner": "core"}}))
        .await
        .expect(409, Some("identifier_taken"));
    // upsert replaces: port disappears.
    let e = app
        .post("/v1/blueprints/service/entities?upsert=true",
            json!({"identifier": "api", "properties": {"language": "go"}, "relations": {"owner": "core"}}))
        .await
        .expect(200, None)["entity"]
        .clone();
    assert_eq!(e["properties"]["port"], json!(null));
    assert_eq!(e["title"], json!(null));
    // merge updates only what is sent.
    let e = app
        .post(
            "/v1/blueprints/service/entities?upsert=true&merge=true",
            json!({"identifier": "api", "title": "API v2", "properties": {"port": 9}}),
        )
        .await
        .expect(200, None)["entity"]
        .clone();
    assert_eq!(e["properties"]["language"], json!("go"));
    assert_eq!(e["properties"]["port"], json!(9));
    assert_eq!(e["title"], json!("API v2"));
    // PATCH merges and a null clears.
    let e = app
        .patch(
            "/v1/blueprints/service/entities/api",
            json!({"properties": {"port": null}}),
        )
        .await
        .expect(200, None)["entity"]
        .clone();
    assert_eq!(e["properties"]["port"], json!(null));
    assert_eq!(e["properties"]["language"], json!("go"));
    app.patch(
        "/v1/blueprints/service/entities/ghost",
        json!({"title": "x"}),
    )
    .await
    .expect(404, Some("not_found"));
    // PUT replaces (and creates).
    app.put(
        "/v1/blueprints/service/entities/web",
        json!({"properties": {"language": "python"}, "relations": {"owner": "core"}}),
    )
    .await
    .expect(201, None);
    app.put(
        "/v1/blueprints/service/entities/web",
        json!({"identifier": "other", "properties": {"language": "python"}}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.stop().await;
}

#[tokio::test]
async fn validation_failures_report_every_pointer_and_write_nothing() {
    let app = spawn_app().await;
    seed(&app).await;
    let entities = app.count_rows("entities").await;
    let events = app.count_rows("events").await;
    let err = app
        .post("/v1/blueprints/service/entities",
            json!({"identifier": "bad", "properties": {"language": "cobol", "port": "eighty", "url": "not a url", "extra": 1},
                   "relations": {"owner": ["a", "b"], "nope": "x"}}))
        .await
        .expect(422, Some("invalid_request"));
    let pointers: Vec<String> = err["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_owned())
        .collect();
    for p in [
        "/properties/language",
        "/properties/port",
        "/properties/url",
        "/relations/owner",
        "/relations/nope",
    ] {
        assert!(
            pointers.iter().any(|x| x == p),
            "{p} missing from {pointers:?}"
        );
    }
    // Missing required relation, unknown blueprint, over-long identifier, wrong types.
    app.post(
        "/v1/blueprints/service/entities",
        json!({"identifier": "x", "properties": {"language": "go"}}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.post("/v1/blueprints/ghost/entities", json!({"identifier": "x"}))
        .await
        .expect(404, Some("not_found"));
    app.post(
        "/v1/blueprints/team/entities",
        json!({"identifier": "i".repeat(1001)}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.post("/v1/blueprints/team/entities", json!({"identifier": 5}))
        .await
        .expect(422, Some("invalid_request"));
    app.post(
        "/v1/blueprints/team/entities",
        json!({"identifier": "t", "properties": []}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.post("/v1/blueprints/team/entities", json!("just a string"))
        .await
        .expect(422, Some("invalid_request"));
    // validation_only reports and writes nothing, valid or not.
    app.post(
        "/v1/blueprints/team/entities?validation_only=true",
        json!({"identifier": "ok"}),
    )
    .await
    .expect(200, None);
    app.post(
        "/v1/blueprints/team/entities?validation_only=true",
        json!({"identifier": "ok", "properties": {"size": "big"}}),
    )
    .await
    .expect(422, Some("invalid_request"));
    assert_eq!(app.count_rows("entities").await, entities);
    assert_eq!(app.count_rows("events").await, events);
    app.stop().await;
}

#[tokio::test]
async fn relations_are_checked_and_missing_targets_can_be_created() {
    let app = spawn_app().await;
    seed(&app).await;
    app.post("/v1/blueprints/service/entities",
        json!({"identifier": "a", "properties": {"language": "go"}, "relations": {"owner": "ghost-team"}}))
        .await
        .expect(422, Some("invalid_request"));
    // A bare `service` cannot exist (it requires `language`): refused, nothing created.
    let err = app
        .post("/v1/blueprints/service/entities?create_missing_related_entities=true",
            json!({"identifier": "a", "properties": {"language": "go"}, "relations": {"owner": "new-team", "dependsOn": ["b"]}}))
        .await
        .expect(422, Some("invalid_request"));
    assert!(err["message"].as_str().unwrap().contains("'b'"), "{err}");
    app.get("/v1/blueprints/team/entities/new-team")
        .await
        .expect(404, Some("not_found"));
    // A bare `team` can: it is created with the entity, in the same transaction.
    let e = app
        .post("/v1/blueprints/service/entities?create_missing_related_entities=true",
            json!({"identifier": "a", "properties": {"language": "go"}, "relations": {"owner": "new-team"}}))
        .await
        .expect(201, None)["entity"]
        .clone();
    assert_eq!(e["relations"]["owner"], json!("new-team"));
    let team = app
        .get("/v1/blueprints/team/entities/new-team")
        .await
        .expect(200, None);
    assert_eq!(team["entity"]["title"], json!(null));
    let created = app
        .get("/v1/audit-log?entity=new-team")
        .await
        .expect(200, None);
    assert_eq!(created["audits"][0]["action"], json!("CREATE"));
    app.stop().await;
}

#[tokio::test]
async fn generated_identifiers_and_reads_with_include_exclude_and_titles() {
    let app = spawn_app().await;
    seed(&app).await;
    let e = app
        .post(
            "/v1/blueprints/service/entities",
            json!({"properties": {"language": "rust"}, "relations": {"owner": "core"}}),
        )
        .await
        .expect(201, None)["entity"]
        .clone();
    let id = e["identifier"].as_str().unwrap().to_owned();
    assert!(id.starts_with("e_") && id.len() == 18, "{id}");
    let got = app
        .get(&format!(
            "/v1/blueprints/service/entities/{id}?attach_title_to_relation=true"
        ))
        .await
        .expect(200, None);
    assert_eq!(
        got["entity"]["relations"]["owner"],
        json!({"identifier": "core", "title": "Core"})
    );
    let got = app
        .get(&format!(
            "/v1/blueprints/service/entities/{id}?include=properties.language&include=title"
        ))
        .await
        .expect(200, None);
    let keys: Vec<&String> = got["entity"].as_object().unwrap().keys().collect();
    assert!(
        keys.contains(&&"identifier".to_owned()) && keys.contains(&&"properties".to_owned()),
        "{keys:?}"
    );
    assert!(!keys.contains(&&"relations".to_owned()), "{keys:?}");
    assert_eq!(got["entity"]["properties"], json!({"language": "rust"}));
    let list = app
        .get("/v1/blueprints/service/entities?exclude=relations")
        .await
        .expect(200, None);
    assert_eq!(list["entities"].as_array().unwrap().len(), 1);
    assert!(list["entities"][0].get("relations").is_none());
    app.get("/v1/blueprints/service/entities/ghost")
        .await
        .expect(404, Some("not_found"));
    app.stop().await;
}

#[tokio::test]
async fn bulk_writes_report_partial_results_with_207() {
    let app = spawn_app().await;
    seed(&app).await;
    let body = json!({"entities": [
        {"identifier": "s1", "properties": {"language": "go"}, "relations": {"owner": "core"}},
        {"identifier": "s2", "properties": {"language": "nope"}, "relations": {"owner": "core"}},
        {"identifier": "s3", "properties": {"language": "rust"}, "relations": {"owner": "core", "dependsOn": ["s1"]}},
        {"identifier": 7},
        {"identifier": "s1", "properties": {"language": "go"}, "relations": {"owner": "core"}}
    ]});
    let res = app
        .post("/v1/blueprints/service/entities/bulk", body)
        .await
        .expect(207, None);
    let ok: Vec<&str> = res["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["identifier"].as_str().unwrap())
        .collect();
    assert_eq!(ok, ["s1", "s3"]);
    let errs: Vec<(u64, u64)> = res["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["statusCode"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(errs, [(1, 422), (3, 422), (4, 422)]);
    assert_eq!(
        app.get("/v1/blueprints/service/entities-count")
            .await
            .expect(200, None)["count"],
        json!(2)
    );
    // All good: 200; the same again changes nothing and is still 200 (created: false).
    let body = json!({"entities": [{"identifier": "s4", "properties": {"language": "go"}, "relations": {"owner": "core"}}]});
    let res = app
        .post(
            "/v1/blueprints/service/entities/bulk?upsert=true",
            body.clone(),
        )
        .await
        .expect(200, None);
    assert_eq!(res["entities"][0]["created"], json!(true));
    let events = app.count_rows("events").await;
    let res = app
        .post("/v1/blueprints/service/entities/bulk?upsert=true", body)
        .await
        .expect(200, None);
    assert_eq!(res["entities"][0]["created"], json!(false));
    assert_eq!(
        app.count_rows("events").await,
        events,
        "an unchanged upsert writes no event"
    );
    // Limits.
    app.post(
        "/v1/blueprints/service/entities/bulk",
        json!({"entities": []}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.post("/v1/blueprints/service/entities/bulk", json!({"nope": []}))
        .await
        .expect(422, Some("invalid_request"));
    let many: Vec<_> = (0..1001)
        .map(|i| json!({"identifier": format!("t{i}")}))
        .collect();
    app.post(
        "/v1/blueprints/team/entities/bulk",
        json!({"entities": many}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.stop().await;
}

#[tokio::test]
async fn deletes_respect_required_dependents_and_clear_optional_ones() {
    let app = spawn_app().await;
    seed(&app).await;
    for (id, deps) in [("a", json!([])), ("b", json!(["a"])), ("c", json!(["b"]))] {
        app.post("/v1/blueprints/service/entities",
            json!({"identifier": id, "properties": {"language": "go"}, "relations": {"owner": "core", "dependsOn": deps}}))
            .await
            .expect(201, None);
    }
    // `a` is only an optional target: deleting it clears b.dependsOn.
    app.delete("/v1/blueprints/service/entities/a")
        .await
        .expect(200, None);
    let b = app
        .get("/v1/blueprints/service/entities/b")
        .await
        .expect(200, None);
    assert_eq!(b["entity"]["relations"]["dependsOn"], json!([]));
    // `core` is a required target of b and c.
    let err = app
        .delete("/v1/blueprints/team/entities/core")
        .await
        .expect(409, Some("has_dependents"));
    assert_eq!(err["details"]["dependents"].as_array().unwrap().len(), 2);
    let res = app
        .delete("/v1/blueprints/team/entities/core?delete_dependents=true")
        .await
        .expect(200, None);
    assert_eq!(res["deletedEntities"].as_array().unwrap().len(), 3);
    assert_eq!(app.count_rows("entities").await, 0);
    assert_eq!(app.count_rows("entity_relations").await, 0);
    app.delete("/v1/blueprints/team/entities/core")
        .await
        .expect(404, Some("not_found"));
    app.stop().await;
}

#[tokio::test]
async fn bulk_delete_is_all_or_nothing() {
    let app = spawn_app().await;
    seed(&app).await;
    for i in 0..3 {
        app.post(
            "/v1/blueprints/team/entities",
            json!({"identifier": format!("t{i}")}),
        )
        .await
        .expect(201, None);
    }
    app.post(
        "/v1/blueprints/team/bulk/entities/delete",
        json!({"entities": ["t0", "ghost"]}),
    )
    .await
    .expect(404, Some("not_found"));
    assert_eq!(
        app.get("/v1/blueprints/team/entities-count")
            .await
            .expect(200, None)["count"],
        json!(4)
    );
    let res = app
        .post(
            "/v1/blueprints/team/bulk/entities/delete",
            json!({"entities": ["t0", "t1"]}),
        )
        .await
        .expect(200, None);
    assert_eq!(res["deletedEntities"], json!(["t0", "t1"]));
    let many: Vec<String> = (0..101).map(|i| format!("x{i}")).collect();
    app.post(
        "/v1/blueprints/team/bulk/entities/delete",
        json!({"entities": many}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.post(
        "/v1/blueprints/team/bulk/entities/delete",
        json!({"entities": []}),
    )
    .await
    .expect(422, Some("invalid_request"));
    app.stop().await;
}

#[tokio::test]
async fn the_same_flows_work_on_sqlite() {
    let app = spawn_sqlite().await;
    seed(&app).await;
    app.post("/v1/blueprints/service/entities",
        json!({"identifier": "api", "properties": {"language": "rust"}, "relations": {"owner": "core"}}))
        .await
        .expect(201, None);
    let res = app
        .post("/v1/blueprints/service/entities/bulk?upsert=true&merge=true",
            json!({"entities": [{"identifier": "api", "properties": {"port": 1}}, {"identifier": "bad", "properties": {"language": 1}}]}))
        .await
        .expect(207, None);
    assert_eq!(res["errors"][0]["index"], json!(1));
    let e = app
        .get("/v1/blueprints/service/entities/api?attach_title_to_relation=true")
        .await
        .expect(200, None);
    assert_eq!(e["entity"]["properties"]["port"], json!(1));
    assert_eq!(e["entity"]["relations"]["owner"]["title"], json!("Core"));
    app.delete("/v1/blueprints/team/entities/core")
        .await
        .expect(409, Some("has_dependents"));
    app.patch(
        "/v1/blueprints/service/properties/port/rename",
        json!({"newPropertyName": "p"}),
    )
    .await
    .expect(200, None);
    let e = app
        .get("/v1/blueprints/service/entities/api")
        .await
        .expect(200, None);
    assert_eq!(e["entity"]["properties"]["p"], json!(1));
    app.stop().await;
}

#[tokio::test]
async fn identifiers_with_slashes_and_unicode_work_in_paths() {
    let app = spawn_app().await;
    app.blueprint(
        json!({"identifier": "ns/kind", "title": "Namespaced", "schema": {"properties": {}}}),
    )
    .await;
    app.get("/v1/blueprints/ns%2Fkind").await.expect(200, None);
    for id in ["a/b", "käse:1", "x=y", "a\\b"] {
        app.post(
            "/v1/blueprints/ns%2Fkind/entities",
            json!({"identifier": id}),
        )
        .await
        .expect(201, None);
        let enc: String = id
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let got = app
            .get(&format!("/v1/blueprints/ns%2Fkind/entities/{enc}"))
            .await
            .expect(200, None);
        assert_eq!(got["entity"]["identifier"], json!(id));
    }
    app.delete("/v1/blueprints/ns%2Fkind/entities/a%2Fb")
        .await
        .expect(200, None);
    assert_eq!(
        app.get("/v1/blueprints/ns%2Fkind/entities-count")
            .await
            .expect(200, None)["count"],
        json!(3)
    );
    app.stop().await;
}

#[tokio::test]
async fn concurrent_bulk_upserts_of_overlapping_sets_all_succeed() {
    let app = std::sync::Arc::new(spawn_app().await);
    catalog(&app).await;
    app.post(
        "/v1/blueprints/team/entities",
        json!({"identifier": "core"}),
    )
    .await
    .expect(201, None);
    let mut tasks = Vec::new();
    for w in 0..8u64 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            // Each writer touches the same 200 services, in its own order, three times.
            let mut ids: Vec<u64> = (0..200).collect();
            ids.rotate_left((w * 25) as usize);
            if w % 2 == 1 {
                ids.reverse();
            }
            for round in 0..3 {
                let entities: Vec<_> = ids
                    .iter()
                    .map(|i| json!({"identifier": format!("s{i}"), "properties": {"language": "go", "port": w * 10 + round},
                                    "relations": {"owner": "core", "dependsOn": [format!("s{}", (i + 1) % 200)]}}))
                    .collect();
                let mode = if round == 1 { "upsert=true&merge=true" } else { "upsert=true" };
                let res = app
                    .post(&format!("/v1/blueprints/service/entities/bulk?{mode}&create_missing_related_entities=false"),
                        json!({"entities": entities}))
                    .await;
                // The first round may refer to services another writer has not created yet.
                assert!(res.status == 200 || (round == 0 && res.status == 207), "writer {w} round {round}: {}", res.body);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        app.get("/v1/blueprints/service/entities-count")
            .await
            .expect(200, None)["count"],
        json!(200)
    );
    assert_eq!(app.count_rows("entity_relations").await, 400);
    match std::sync::Arc::try_unwrap(app) {
        Ok(app) => app.stop().await,
        Err(_) => panic!("app still shared"),
    }
}
