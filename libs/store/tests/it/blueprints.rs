//! Blueprint CRUD: create, get, list, replace, patch, delete.

use portolan_store::entities::WriteMode;
use portolan_store::{StoreError, blueprints};
use serde_json::{Value, json};

use crate::support::{
    actor, both, create_blueprints, domain_bp, new_org, seed_targets, service_bp, team_bp, tenant,
    write_ok,
};

fn ids(list: &[Value]) -> Vec<&str> {
    list.iter()
        .map(|b| b["identifier"].as_str().expect("identifier"))
        .collect()
}

#[tokio::test]
async fn create_get_list() {
    both(|store| async move {
        let org = new_org(&store).await;
        let t = tenant(&store, org).await;
        let created = blueprints::create(&t, &domain_bp(), false, &actor())
            .await
            .expect("create domain");
        assert_eq!(created["identifier"], "domain");
        assert_eq!(created["title"], "Domain");
        assert_eq!(created["createdBy"], "tester");
        assert_eq!(created["updatedBy"], "tester");
        assert!(created["createdAt"].is_string());
        blueprints::create(&t, &team_bp(), false, &actor())
            .await
            .expect("create team");
        blueprints::create(&t, &service_bp(), false, &actor())
            .await
            .expect("create service");
        t.commit().await.expect("commit");

        let t = tenant(&store, org).await;
        let got = blueprints::get(&t, "domain").await.expect("get");
        assert_eq!(got, created, "get returns what create returned");
        let service = blueprints::get(&t, "service").await.expect("get service");
        assert_eq!(service["relations"]["team"]["target"], "team");
        assert_eq!(service["relations"]["team"]["required"], true);
        assert_eq!(service["schema"]["required"], json!(["language"]));
        let list = blueprints::list(&t).await.expect("list");
        assert_eq!(
            ids(&list),
            ["domain", "service", "team"],
            "sorted by identifier"
        );
        let stored = blueprints::load(&t, "service").await.expect("load");
        assert_eq!(stored.model.version, 1);
        assert!(matches!(
            blueprints::get(&t, "nope").await,
            Err(StoreError::NotFound {
                resource: "blueprint",
                ..
            })
        ));
    })
    .await;
}

#[tokio::test]
async fn create_refuses_duplicates_bad_bodies_and_unknown_targets() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[domain_bp()]).await;
        let t = tenant(&store, org).await;
        let dup = blueprints::create(&t, &domain_bp(), false, &actor()).await;
        assert!(
            matches!(
                dup,
                Err(StoreError::AlreadyExists { resource: "blueprint", ref identifier })
                    if identifier == "domain"
            ),
            "{dup:?}"
        );
        let bad = blueprints::create(&t, &json!({"identifier": "x"}), false, &actor()).await;
        let Err(StoreError::Invalid(issues)) = bad else {
            panic!("missing title and schema accepted: {bad:?}");
        };
        let pointers: Vec<&str> = issues.0.iter().map(|i| i.pointer.as_str()).collect();
        assert!(pointers.contains(&"/title"), "{pointers:?}");
        assert!(pointers.contains(&"/schema"), "{pointers:?}");
        // `service` relates to `team`, which does not exist in this org.
        let dangling = blueprints::create(&t, &service_bp(), false, &actor()).await;
        let Err(StoreError::Invalid(issues)) = dangling else {
            panic!("relation to a missing blueprint accepted: {dangling:?}");
        };
        assert_eq!(issues.0.len(), 1, "{issues:?}");
        assert_eq!(issues.0[0].pointer, "/relations/team/target");
        drop(t);
        let t = tenant(&store, org).await;
        assert_eq!(ids(&blueprints::list(&t).await.expect("list")), ["domain"]);
    })
    .await;
}

#[tokio::test]
async fn create_dry_run_writes_nothing() {
    both(|store| async move {
        let org = new_org(&store).await;
        let t = tenant(&store, org).await;
        let out = blueprints::create(&t, &domain_bp(), true, &actor())
            .await
            .expect("dry run");
        assert_eq!(out["identifier"], "domain");
        t.commit().await.expect("commit");
        let t = tenant(&store, org).await;
        assert!(blueprints::list(&t).await.expect("list").is_empty());
        drop(t);
        let evts = crate::support::events(&store, org).await;
        assert!(evts.iter().all(|e| e.resource_type != "blueprint"));
    })
    .await;
}

#[tokio::test]
async fn replace_bumps_the_version_and_keeps_the_creation_metadata() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[domain_bp()]).await;
        let t = tenant(&store, org).await;
        let before = blueprints::get(&t, "domain").await.expect("get");
        let body = json!({
            "title": "Business domain",
            "schema": {"properties": {"budget": {"type": "number"}}},
        });
        let out = blueprints::replace(
            &t,
            "domain",
            &body,
            false,
            &crate::support::actor_with("editor", "UI"),
        )
        .await
        .expect("replace");
        assert!(!out.dry_run);
        assert_eq!(out.blueprint["title"], "Business domain");
        assert_eq!(out.impact.removed_properties, ["owner"]);
        t.commit().await.expect("commit");

        let t = tenant(&store, org).await;
        let after = blueprints::get(&t, "domain").await.expect("get");
        assert_eq!(
            after["identifier"], "domain",
            "identifier taken from the path"
        );
        assert_eq!(after["title"], "Business domain");
        assert!(after["schema"]["properties"].get("owner").is_none());
        assert_eq!(after["schema"]["properties"]["budget"]["type"], "number");
        assert_eq!(after["createdAt"], before["createdAt"]);
        assert_eq!(after["createdBy"], "tester");
        assert_eq!(after["updatedBy"], "editor");
        assert_eq!(
            blueprints::load(&t, "domain")
                .await
                .expect("load")
                .model
                .version,
            2
        );

        // The identifier cannot change, and a missing blueprint is not found.
        let renamed = blueprints::replace(
            &t,
            "domain",
            &json!({"identifier": "other", "title": "X", "schema": {"properties": {}}}),
            false,
            &actor(),
        )
        .await;
        assert!(
            matches!(renamed, Err(StoreError::Invalid(_))),
            "{renamed:?}"
        );
        let missing = blueprints::replace(&t, "ghost", &body, false, &actor()).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound { .. })),
            "{missing:?}"
        );
        assert_eq!(
            blueprints::load(&t, "domain")
                .await
                .expect("load")
                .model
                .version,
            2,
            "failed replaces change nothing"
        );
    })
    .await;
}

#[tokio::test]
async fn replace_dry_run_writes_nothing() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[domain_bp()]).await;
        let t = tenant(&store, org).await;
        let out = blueprints::replace(
            &t,
            "domain",
            &json!({"title": "New", "schema": {"properties": {}}}),
            true,
            &actor(),
        )
        .await
        .expect("dry run");
        assert!(out.dry_run);
        assert_eq!(out.blueprint["title"], "New");
        t.commit().await.expect("commit");
        let t = tenant(&store, org).await;
        let got = blueprints::get(&t, "domain").await.expect("get");
        assert_eq!(got["title"], "Domain");
        assert_eq!(
            blueprints::load(&t, "domain")
                .await
                .expect("load")
                .model
                .version,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn patch_merges_onto_the_stored_definition() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        let out = blueprints::patch(
            &t,
            "service",
            &json!({
                "title": "Microservice",
                "schema": {"properties": {
                    "tier": null,
                    "repo": {"type": "string", "format": "url"},
                }},
            }),
            false,
            &actor(),
        )
        .await
        .expect("patch");
        assert_eq!(out.impact.removed_properties, ["tier"]);
        t.commit().await.expect("commit");
        let t = tenant(&store, org).await;
        let got = blueprints::get(&t, "service").await.expect("get");
        assert_eq!(got["title"], "Microservice");
        let props = got["schema"]["properties"].as_object().expect("properties");
        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["language", "port", "repo"],
            "merged, key removed by null"
        );
        assert_eq!(got["schema"]["required"], json!(["language"]), "untouched");
        assert_eq!(got["relations"]["team"]["target"], "team", "untouched");
        assert_eq!(
            blueprints::load(&t, "service")
                .await
                .expect("load")
                .model
                .version,
            2
        );
        let not_object = blueprints::patch(&t, "service", &json!([1]), false, &actor()).await;
        assert!(
            matches!(not_object, Err(StoreError::Invalid(_))),
            "{not_object:?}"
        );
        let missing = blueprints::patch(&t, "ghost", &json!({}), false, &actor()).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound { .. })),
            "{missing:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn delete_refuses_blueprints_with_entities_or_incoming_relations() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        // `team` holds entities (and `service` relates to it).
        let Err(StoreError::HasDependents { dependents, .. }) =
            blueprints::delete(&t, "team", &actor()).await
        else {
            panic!("a blueprint holding entities was deleted");
        };
        assert_eq!(dependents, [json!({"entities": 2})]);
        // Delete the teams: `service.team` still points at the blueprint.
        portolan_store::entities::bulk_delete(
            &t,
            "team",
            &["t1".into(), "t2".into()],
            false,
            &actor(),
        )
        .await
        .expect("delete teams");
        let Err(StoreError::HasDependents { dependents, .. }) =
            blueprints::delete(&t, "team", &actor()).await
        else {
            panic!("a blueprint other blueprints relate to was deleted");
        };
        assert_eq!(
            dependents,
            [json!({"blueprint": "service", "relation": "team"})]
        );
        t.commit().await.expect("commit");

        let t = tenant(&store, org).await;
        let Err(StoreError::HasDependents { .. }) =
            blueprints::delete(&t, "domain", &actor()).await
        else {
            panic!("domain with entities deleted");
        };
        // `service` has no entities; only its own self-relation points at it.
        blueprints::delete(&t, "service", &actor())
            .await
            .expect("delete service");
        t.commit().await.expect("commit");
        let t = tenant(&store, org).await;
        assert!(matches!(
            blueprints::get(&t, "service").await,
            Err(StoreError::NotFound { .. })
        ));
        // With `service` gone, `team` (now empty) can go too.
        blueprints::delete(&t, "team", &actor())
            .await
            .expect("delete team");
        assert!(matches!(
            blueprints::delete(&t, "team", &actor()).await,
            Err(StoreError::NotFound { .. })
        ));
        let list = blueprints::list(&t).await.expect("list");
        assert_eq!(ids(&list), ["domain"]);
        t.commit().await.expect("commit");
        let deletes: Vec<String> = crate::support::events(&store, org)
            .await
            .into_iter()
            .filter(|e| e.r#type == "blueprint.deleted")
            .map(|e| e.resource_id)
            .collect();
        assert_eq!(deletes, ["service", "team"]);
    })
    .await;
}

#[tokio::test]
async fn rename_relation_moves_values_and_edges() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            json!({"identifier": "api", "properties": {"language": "go"},
                   "relations": {"team": "t1", "domain": "d1"}}),
            WriteMode::Create,
        )
        .await;
        t.commit().await.expect("commit");
        let t = tenant(&store, org).await;
        blueprints::rename_relation(&t, "service", "domain", "area", false, &actor())
            .await
            .expect("rename relation");
        t.commit().await.expect("commit");
        let api = crate::support::get_entity(&store, org, "service", "api")
            .await
            .expect("api");
        assert_eq!(api["relations"]["area"], "d1");
        assert!(api["relations"].get("domain").is_none());
        assert_eq!(
            crate::support::edges_from(&store, org, "service", "api").await,
            [
                crate::support::edge("service", "api", "area", "domain", "d1", false),
                crate::support::edge("service", "api", "team", "team", "t1", true),
            ]
        );
        let t = tenant(&store, org).await;
        let clash =
            blueprints::rename_relation(&t, "service", "area", "team", false, &actor()).await;
        assert!(
            matches!(clash, Err(StoreError::AlreadyExists { .. })),
            "{clash:?}"
        );
        let missing =
            blueprints::rename_relation(&t, "service", "nope", "x", false, &actor()).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound { .. })),
            "{missing:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn property_order_is_kept() {
    both(|store| async move {
        let org = new_org(&store).await;
        let body = json!({
            "identifier": "ordered",
            "title": "Ordered",
            "schema": {"properties": {
                "zeta": {"type": "string"},
                "alpha": {"type": "string"},
                "mid": {"type": "number"},
                "a_very_long_name": {"type": "boolean"},
                "b": {"type": "string"},
            }},
        });
        let order = ["zeta", "alpha", "mid", "a_very_long_name", "b"];
        create_blueprints(&store, org, std::slice::from_ref(&body)).await;
        let t = tenant(&store, org).await;
        let got = blueprints::get(&t, "ordered").await.expect("get");
        let keys: Vec<&str> = got["schema"]["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys, order,
            "blueprint properties come back in the order they were defined"
        );
        let w = write_ok(
            &t,
            "ordered",
            json!({"identifier": "e", "properties": {"b": "x", "zeta": "y"}}),
            WriteMode::Create,
        )
        .await;
        let keys: Vec<&str> = w.entity["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys, order,
            "entity properties follow the blueprint's order"
        );
    })
    .await;
}
