//! Entity writes in every mode, validation only, missing related entities, reads, deletes.

use portolan_store::StoreError;
use portolan_store::entities::{self, ReadOptions, WriteMode, WriteOptions};
use serde_json::json;

use crate::support::{
    actor, both, create_blueprints, entity_count, entity_events, entity_rows, ev, get_entity,
    new_org, opts, seed_targets, svc, tenant, write, write_err, write_ok,
};

#[tokio::test]
async fn create_applies_defaults_and_refuses_an_existing_identifier() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        let w = write_ok(
            &t,
            "service",
            json!({"identifier": "api", "title": "API", "team": ["platform"],
                   "properties": {"language": "rust"}, "relations": {"team": "t1"}}),
            WriteMode::Create,
        )
        .await;
        assert!(w.created);
        assert_eq!(w.identifier, "api");
        assert_eq!(w.entity["properties"]["port"], 8080, "default applied");
        assert_eq!(w.entity["properties"]["tier"], json!(null));
        assert_eq!(w.entity["relations"]["deps"], json!([]));
        assert_eq!(w.entity["relations"]["domain"], json!(null));
        let again = write_err(
            &t,
            "service",
            svc("api", "go", json!({"team": "t1"})),
            WriteMode::Create,
        )
        .await;
        assert!(
            matches!(
                again,
                StoreError::AlreadyExists { resource: "entity", ref identifier }
                    if identifier == "api"
            ),
            "{again:?}"
        );
        // Without an identifier, one is generated.
        let generated =
            write_ok(&t, "team", json!({"title": "Anonymous"}), WriteMode::Create).await;
        assert!(
            generated.identifier.starts_with("e_"),
            "{}",
            generated.identifier
        );
        t.commit().await.expect("commit");

        let got = get_entity(&store, org, "service", "api")
            .await
            .expect("api");
        assert_eq!(got["title"], "API");
        assert_eq!(got["team"], json!(["platform"]));
        assert_eq!(got["properties"]["language"], "rust");
        assert_eq!(got["properties"]["port"], 8080);
        assert_eq!(got["relations"]["team"], "t1");
        assert_eq!(got["blueprint"], "service");
        assert_eq!(got["createdBy"], "tester");
        assert_eq!(got["properties"], w.entity["properties"]);
        assert!(
            get_entity(&store, org, "team", &generated.identifier)
                .await
                .is_some()
        );
    })
    .await;
}

#[tokio::test]
async fn invalid_entities_fail_one_by_one() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        let (ok, failed) = write(
            &t,
            "service",
            vec![
                svc("good", "go", json!({"team": "t1"})),
                svc("bad-enum", "cobol", json!({"team": "t1"})),
                json!({"identifier": "no-team", "properties": {"language": "go"}}),
                json!({"identifier": "bad-port", "properties": {"language": "go", "port": 0},
                       "relations": {"team": "t1"}}),
                svc("ghost-team", "go", json!({"team": "nobody"})),
                svc("good", "go", json!({"team": "t1"})),
            ],
            &opts(WriteMode::Create),
        )
        .await;
        assert_eq!(ok.iter().map(|w| w.index).collect::<Vec<_>>(), [0]);
        let mut failures: Vec<(usize, String)> = failed
            .iter()
            .map(|f| {
                let StoreError::Invalid(issues) = &f.error else {
                    panic!("item {} failed with {:?}", f.index, f.error);
                };
                (f.index, issues.0[0].pointer.clone())
            })
            .collect();
        failures.sort();
        assert_eq!(
            failures,
            [
                (1, "/properties/language".to_owned()),
                (2, "/relations/team".to_owned()),
                (3, "/properties/port".to_owned()),
                (4, "/relations/team".to_owned()),
                (5, "/identifier".to_owned()),
            ]
        );
        t.commit().await.expect("commit");
        let rows = entity_rows(&store, org, "service").await;
        assert_eq!(
            rows.iter()
                .map(|r| r.identifier.as_str())
                .collect::<Vec<_>>(),
            ["good"]
        );
        assert_eq!(
            entity_events(&store, org)
                .await
                .into_iter()
                .filter(|e| e.1 == "service")
                .collect::<Vec<_>>(),
            [ev("CREATE", "service", "good")]
        );
        // An unknown blueprint fails the whole request.
        let t = tenant(&store, org).await;
        let whole = entities::write(
            &t,
            "nope",
            vec![crate::support::request(0, json!({"identifier": "x"}))],
            &opts(WriteMode::Create),
            &actor(),
        )
        .await;
        assert!(
            matches!(
                whole,
                Err(StoreError::NotFound {
                    resource: "blueprint",
                    ..
                })
            ),
            "{whole:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn replace_overwrites_the_whole_entity() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            json!({"identifier": "api", "title": "API",
                   "properties": {"language": "go", "tier": "gold", "port": 9000},
                   "relations": {"team": "t1", "domain": "d1"}}),
            WriteMode::Create,
        )
        .await;
        t.commit().await.expect("commit");
        let created = get_entity(&store, org, "service", "api")
            .await
            .expect("api");

        let t = tenant(&store, org).await;
        let w = write_ok(
            &t,
            "service",
            svc("api", "rust", json!({"team": "t2"})),
            WriteMode::Replace,
        )
        .await;
        assert!(!w.created);
        // Replace also creates.
        let n = write_ok(
            &t,
            "service",
            svc("web", "go", json!({"team": "t1"})),
            WriteMode::Replace,
        )
        .await;
        assert!(n.created);
        t.commit().await.expect("commit");

        let got = get_entity(&store, org, "service", "api")
            .await
            .expect("api");
        assert_eq!(got["title"], json!(null), "not sent: gone");
        assert_eq!(got["properties"]["language"], "rust");
        assert_eq!(got["properties"]["tier"], json!(null), "not sent: gone");
        assert_eq!(
            got["properties"]["port"], 8080,
            "not sent: back to the default"
        );
        assert_eq!(got["relations"]["team"], "t2");
        assert_eq!(got["relations"]["domain"], json!(null));
        assert_eq!(got["createdAt"], created["createdAt"], "creation time kept");
        assert!(get_entity(&store, org, "service", "web").await.is_some());
        let evts: Vec<_> = entity_events(&store, org)
            .await
            .into_iter()
            .filter(|e| e.1 == "service")
            .collect();
        assert_eq!(
            evts,
            [
                ev("CREATE", "service", "api"),
                ev("UPDATE", "service", "api"),
                ev("CREATE", "service", "web"),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn merge_updates_only_what_is_sent() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            json!({"identifier": "api", "title": "API",
                   "properties": {"language": "go", "tier": "gold"},
                   "relations": {"team": "t1", "domain": "d1"}}),
            WriteMode::Create,
        )
        .await;
        let w = write_ok(
            &t,
            "service",
            json!({"identifier": "api", "properties": {"port": 443, "tier": null},
                   "relations": {"domain": "d2"}}),
            WriteMode::Merge,
        )
        .await;
        assert!(!w.created);
        // Merge creates a missing entity (with defaults).
        let n = write_ok(
            &t,
            "service",
            svc("new", "python", json!({"team": "t2"})),
            WriteMode::Merge,
        )
        .await;
        assert!(n.created);
        assert_eq!(n.entity["properties"]["port"], 8080);
        t.commit().await.expect("commit");

        let got = get_entity(&store, org, "service", "api")
            .await
            .expect("api");
        assert_eq!(got["title"], "API", "kept");
        assert_eq!(got["properties"]["language"], "go", "kept");
        assert_eq!(got["properties"]["port"], 443, "updated");
        assert_eq!(got["properties"]["tier"], json!(null), "removed by null");
        assert_eq!(got["relations"]["team"], "t1", "kept");
        assert_eq!(got["relations"]["domain"], "d2", "updated");
        assert_eq!(
            get_entity(&store, org, "service", "new")
                .await
                .expect("new")["properties"]["language"],
            "python"
        );
    })
    .await;
}

#[tokio::test]
async fn patch_updates_an_existing_entity_only() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "service",
            svc("api", "go", json!({"team": "t1"})),
            WriteMode::Create,
        )
        .await;
        let w = write_ok(
            &t,
            "service",
            json!({"identifier": "api", "title": "Patched", "relations": {"deps": ["api"]}}),
            WriteMode::Patch,
        )
        .await;
        assert!(!w.created);
        assert_eq!(w.entity["title"], "Patched");
        assert_eq!(w.entity["properties"]["language"], "go");
        let missing = write_err(
            &t,
            "service",
            json!({"identifier": "ghost", "title": "x"}),
            WriteMode::Patch,
        )
        .await;
        assert!(
            matches!(
                missing,
                StoreError::NotFound {
                    resource: "entity",
                    ..
                }
            ),
            "{missing:?}"
        );
        // A patch that makes the entity invalid is refused.
        let invalid = write_err(
            &t,
            "service",
            json!({"identifier": "api", "properties": {"language": null}}),
            WriteMode::Patch,
        )
        .await;
        assert!(matches!(invalid, StoreError::Invalid(_)), "{invalid:?}");
        t.commit().await.expect("commit");
        let got = get_entity(&store, org, "service", "api")
            .await
            .expect("api");
        assert_eq!(got["title"], "Patched");
        assert_eq!(got["properties"]["language"], "go");
        assert_eq!(got["relations"]["deps"], json!(["api"]));
        assert!(get_entity(&store, org, "service", "ghost").await.is_none());
    })
    .await;
}

#[tokio::test]
async fn validation_only_reports_and_writes_nothing() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let before_entities = entity_count(&store, org).await;
        let before_events = crate::support::events(&store, org).await.len();
        let t = tenant(&store, org).await;
        let o = WriteOptions {
            validation_only: true,
            ..opts(WriteMode::Replace)
        };
        let (ok, failed) = write(
            &t,
            "service",
            vec![
                svc("api", "go", json!({"team": "t1", "domain": "d1"})),
                svc("bad", "cobol", json!({"team": "t1"})),
                svc("orphan", "go", json!({"team": "t9"})),
            ],
            &o,
        )
        .await;
        assert_eq!(ok.len(), 1);
        assert!(ok[0].created);
        assert_eq!(ok[0].entity["properties"]["port"], 8080);
        assert_eq!(failed.len(), 2);
        // Also with create_missing_related: nothing is created either.
        let o = WriteOptions {
            validation_only: true,
            create_missing_related: true,
            ..opts(WriteMode::Create)
        };
        let (ok, failed) = write(
            &t,
            "service",
            vec![svc("x", "go", json!({"team": "t9"}))],
            &o,
        )
        .await;
        assert_eq!((ok.len(), failed.len()), (1, 0));
        t.commit().await.expect("commit");
        assert_eq!(entity_count(&store, org).await, before_entities);
        assert_eq!(
            crate::support::events(&store, org).await.len(),
            before_events
        );
        assert!(
            crate::support::edges_from(&store, org, "service", "api")
                .await
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn create_missing_related_creates_bare_targets() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        create_blueprints(
            &store,
            org,
            &[
                json!({
                    "identifier": "strict",
                    "title": "Strict",
                    "schema": {"properties": {"code": {"type": "string"}}, "required": ["code"]},
                }),
                json!({
                    "identifier": "app",
                    "title": "App",
                    "schema": {"properties": {}},
                    "relations": {"strict": {"target": "strict", "many": false}},
                }),
            ],
        )
        .await;
        let t = tenant(&store, org).await;
        let o = WriteOptions {
            create_missing_related: true,
            ..opts(WriteMode::Create)
        };
        let (ok, failed) = write(
            &t,
            "service",
            vec![
                json!({"identifier": "api", "properties": {"language": "go"},
                       "relations": {"team": "t-new", "domain": "d-new", "deps": ["web"]}}),
                svc("web", "go", json!({"team": "t-new"})),
            ],
            &o,
        )
        .await;
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(ok.len(), 2);
        // A bare target must itself be valid: `strict` requires a property.
        let (ok, failed) = write(
            &t,
            "app",
            vec![json!({"identifier": "a1", "relations": {"strict": "s-new"}})],
            &o,
        )
        .await;
        assert!(ok.is_empty());
        assert_eq!(failed.len(), 1);
        assert!(
            failed[0]
                .error
                .to_string()
                .contains("cannot create missing related entity"),
            "{}",
            failed[0].error
        );
        t.commit().await.expect("commit");

        let team = get_entity(&store, org, "team", "t-new")
            .await
            .expect("bare team created");
        assert_eq!(team["properties"]["size"], 1, "bare entities get defaults");
        assert_eq!(team["title"], json!(null));
        assert!(get_entity(&store, org, "domain", "d-new").await.is_some());
        assert!(get_entity(&store, org, "strict", "s-new").await.is_none());
        assert!(get_entity(&store, org, "app", "a1").await.is_none());
        let evts = entity_events(&store, org).await;
        for e in [
            ev("CREATE", "team", "t-new"),
            ev("CREATE", "domain", "d-new"),
            ev("CREATE", "service", "api"),
            ev("CREATE", "service", "web"),
        ] {
            assert_eq!(
                evts.iter().filter(|x| **x == e).count(),
                1,
                "{e:?} in {evts:?}"
            );
        }
        // `web` is written by the same request: not created bare.
        assert_eq!(evts.iter().filter(|x| x.2 == "web").count(), 1);

        // Without the flag, the dangling target fails the item.
        let t = tenant(&store, org).await;
        let err = write_err(
            &t,
            "service",
            svc("db", "go", json!({"team": "t-other"})),
            WriteMode::Create,
        )
        .await;
        assert!(err.to_string().contains("was not found"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn items_pointing_at_a_failed_item_of_the_same_request_fail_too() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        let (ok, failed) = write(
            &t,
            "service",
            vec![
                svc("a", "go", json!({"team": "t1", "deps": ["b"]})),
                svc("b", "cobol", json!({"team": "t1"})),
                svc("c", "go", json!({"team": "t1", "deps": ["a"]})),
                svc("d", "go", json!({"team": "t1"})),
            ],
            &opts(WriteMode::Create),
        )
        .await;
        assert_eq!(
            ok.iter().map(|w| w.identifier.as_str()).collect::<Vec<_>>(),
            ["d"]
        );
        let mut f: Vec<usize> = failed.iter().map(|f| f.index).collect();
        f.sort_unstable();
        assert_eq!(f, [0, 1, 2]);
        t.commit().await.expect("commit");
        let rows = entity_rows(&store, org, "service").await;
        assert_eq!(
            rows.iter()
                .map(|r| r.identifier.as_str())
                .collect::<Vec<_>>(),
            ["d"]
        );
    })
    .await;
}

#[tokio::test]
async fn rewriting_the_same_entity_is_a_no_op_without_an_event() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let body = svc("api", "go", json!({"team": "t1"}));
        let t = tenant(&store, org).await;
        write_ok(&t, "service", body.clone(), WriteMode::Create).await;
        t.commit().await.expect("commit");
        let before = get_entity(&store, org, "service", "api")
            .await
            .expect("api");
        let n = crate::support::events(&store, org).await.len();
        let t = tenant(&store, org).await;
        for mode in [WriteMode::Replace, WriteMode::Merge, WriteMode::Patch] {
            let w = write_ok(&t, "service", body.clone(), mode).await;
            assert!(!w.created);
        }
        t.commit().await.expect("commit");
        assert_eq!(crate::support::events(&store, org).await.len(), n);
        let after = get_entity(&store, org, "service", "api")
            .await
            .expect("api");
        assert_eq!(after["updatedAt"], before["updatedAt"]);
    })
    .await;
}

#[tokio::test]
async fn reads_list_count_and_projections() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        for (id, lang) in [("b", "go"), ("a", "rust"), ("c", "python")] {
            write_ok(
                &t,
                "service",
                svc(id, lang, json!({"team": "t1", "domain": "d1"})),
                WriteMode::Create,
            )
            .await;
        }
        t.commit().await.expect("commit");
        let t = tenant(&store, org).await;
        let all = entities::list(&t, "service", &ReadOptions::default())
            .await
            .expect("list");
        let ids: Vec<&str> = all
            .iter()
            .map(|e| e["identifier"].as_str().expect("id"))
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(entities::count(&t, "service").await.expect("count"), 3);
        assert_eq!(entities::count(&t, "team").await.expect("count"), 2);
        let with_titles = entities::get(
            &t,
            "service",
            "a",
            &ReadOptions {
                attach_title_to_relation: true,
                ..Default::default()
            },
        )
        .await
        .expect("get");
        assert_eq!(
            with_titles["relations"]["team"],
            json!({"identifier": "t1", "title": null})
        );
        let projected = entities::get(
            &t,
            "service",
            "a",
            &ReadOptions {
                include: vec!["identifier".into(), "properties.language".into()],
                ..Default::default()
            },
        )
        .await
        .expect("get");
        assert_eq!(
            projected,
            json!({"identifier": "a", "properties": {"language": "rust"}})
        );
        assert!(matches!(
            entities::get(&t, "service", "zzz", &ReadOptions::default()).await,
            Err(StoreError::NotFound {
                resource: "entity",
                ..
            })
        ));
        assert!(matches!(
            entities::list(&t, "nope", &ReadOptions::default()).await,
            Err(StoreError::NotFound {
                resource: "blueprint",
                ..
            })
        ));
    })
    .await;
}

#[tokio::test]
async fn bulk_delete_is_all_or_nothing() {
    both(|store| async move {
        let org = new_org(&store).await;
        seed_targets(&store, org).await;
        let t = tenant(&store, org).await;
        let ids = ["d1".to_owned(), "ghost".to_owned()];
        let missing = entities::bulk_delete(&t, "domain", &ids, false, &actor()).await;
        assert!(
            matches!(
                missing,
                Err(StoreError::NotFound { resource: "entity", ref identifier })
                    if identifier == "ghost"
            ),
            "{missing:?}"
        );
        t.commit().await.expect("commit");
        assert!(get_entity(&store, org, "domain", "d1").await.is_some());
        let t = tenant(&store, org).await;
        let ids = ["d2".to_owned(), "d1".to_owned()];
        let deleted = entities::bulk_delete(&t, "domain", &ids, false, &actor())
            .await
            .expect("delete");
        assert_eq!(
            deleted,
            [
                ("domain".to_owned(), "d1".to_owned()),
                ("domain".to_owned(), "d2".to_owned())
            ]
        );
        t.commit().await.expect("commit");
        assert!(entity_rows(&store, org, "domain").await.is_empty());
        let evts = entity_events(&store, org).await;
        assert!(evts.contains(&ev("DELETE", "domain", "d1")));
        assert!(evts.contains(&ev("DELETE", "domain", "d2")));
    })
    .await;
}
