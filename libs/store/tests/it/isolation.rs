//! Tenant isolation: an org's tenant transaction sees none of another org's data through any
//! read function, and cannot touch it through any write.

use portolan_store::entities::{self, ReadOptions, WriteMode};
use portolan_store::events::{self, AuditQuery};
use portolan_store::{StoreError, blueprints, jobs};
use serde_json::json;

use crate::support::{
    actor, both, create_blueprints, domain_bp, entity_count, get_entity, new_org, seed_targets,
    svc, tenant, write_err, write_ok,
};

fn not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::NotFound { .. }))
}

#[tokio::test]
async fn another_org_sees_nothing() {
    both(|store| async move {
        let a = new_org(&store).await;
        let b = new_org(&store).await;
        seed_targets(&store, a).await;
        let t = tenant(&store, a).await;
        write_ok(
            &t,
            "service",
            svc("api", "go", json!({"team": "t1", "domain": "d1"})),
            WriteMode::Create,
        )
        .await;
        let job = jobs::create_delete_all(&t, "domain", false, &actor())
            .await
            .expect("job");
        let job_id = job["id"].as_str().expect("id").to_owned();
        t.commit().await.expect("commit");

        let t = tenant(&store, b).await;
        assert_eq!(t.org(), b);
        assert!(blueprints::list(&t).await.expect("list").is_empty());
        for bp in ["service", "team", "domain"] {
            assert!(not_found(blueprints::get(&t, bp).await), "{bp}");
            assert!(
                not_found(blueprints::load(&t, bp).await.map(|_| ())),
                "{bp}"
            );
            assert!(
                not_found(entities::list(&t, bp, &ReadOptions::default()).await),
                "{bp}"
            );
            assert!(not_found(entities::count(&t, bp).await), "{bp}");
        }
        assert!(not_found(
            entities::get(&t, "service", "api", &ReadOptions::default()).await
        ));
        assert!(jobs::list(&t).await.expect("jobs").is_empty());
        assert!(not_found(jobs::get(&t, &job_id).await));
        assert!(not_found(jobs::cancel(&t, &job_id, &actor()).await));
        assert_eq!(jobs::active_count(&t).await.expect("active"), 0);
        let own = events::all_for_org(&t).await.expect("events");
        assert!(own.iter().all(|e| e.org_id == b.0));
        assert_eq!(
            own.iter().map(|e| e.r#type.as_str()).collect::<Vec<_>>(),
            ["organization.created", "credential.created"]
        );
        let (page, _) = events::audit_log(
            &t,
            &AuditQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit");
        assert_eq!(page.len(), 2);
        let (page, _) = events::audit_log(
            &t,
            &AuditQuery {
                blueprint: Some("service".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("audit");
        assert!(page.is_empty());
        let (page, _) = events::audit_log(
            &t,
            &AuditQuery {
                entity: Some("api".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("audit");
        assert!(page.is_empty());

        // Writes and deletes cannot reach A's data.
        assert!(not_found(
            entities::write(
                &t,
                "service",
                vec![crate::support::request(0, json!({"identifier": "x"}))],
                &crate::support::opts(WriteMode::Create),
                &actor()
            )
            .await
        ));
        assert!(not_found(
            entities::delete(&t, "service", "api", true, &actor()).await
        ));
        assert!(not_found(blueprints::delete(&t, "domain", &actor()).await));
        assert!(not_found(
            blueprints::patch(&t, "domain", &json!({"title": "Hijacked"}), false, &actor()).await
        ));
        assert!(not_found(
            blueprints::rename_property(&t, "domain", "owner", "lead", false, &actor()).await
        ));
        assert!(not_found(
            jobs::create_delete_all(&t, "domain", false, &actor()).await
        ));
        // A blueprint relating to one that only exists in A is refused.
        let rel = blueprints::create(
            &t,
            &json!({"identifier": "svc", "title": "Svc", "schema": {"properties": {}},
                    "relations": {"team": {"target": "team"}}}),
            false,
            &actor(),
        )
        .await;
        assert!(matches!(rel, Err(StoreError::Invalid(_))), "{rel:?}");
        t.commit().await.expect("commit");

        // A's data is intact.
        let api = get_entity(&store, a, "service", "api").await.expect("api");
        assert_eq!(api["relations"]["domain"], "d1");
        let t = tenant(&store, a).await;
        assert_eq!(
            blueprints::get(&t, "domain").await.expect("domain")["title"],
            "Domain"
        );
        assert_eq!(jobs::active_count(&t).await.expect("active"), 1);
    })
    .await;
}

#[tokio::test]
async fn two_orgs_can_use_the_same_identifiers_independently() {
    both(|store| async move {
        let a = new_org(&store).await;
        let b = new_org(&store).await;
        seed_targets(&store, a).await;
        create_blueprints(
            &store,
            b,
            &[json!({"identifier": "domain", "title": "B's domain",
                     "schema": {"properties": {"budget": {"type": "number"}}}})],
        )
        .await;
        let t = tenant(&store, b).await;
        // B's `domain` has a different schema: A's blueprint is not used to validate.
        let err = write_err(
            &t,
            "domain",
            json!({"identifier": "d1", "properties": {"owner": "x"}}),
            WriteMode::Create,
        )
        .await;
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        let w = write_ok(
            &t,
            "domain",
            json!({"identifier": "d1", "title": "B", "properties": {"budget": 3}}),
            WriteMode::Create,
        )
        .await;
        assert!(w.created, "A's d1 does not make B's d1 an update");
        // A relation target in A does not satisfy B's relation.
        blueprints::create(
            &t,
            &json!({"identifier": "service", "title": "S", "schema": {"properties": {}},
                    "relations": {"team": {"target": "domain"}}}),
            false,
            &actor(),
        )
        .await
        .expect("B's service");
        let err = write_err(
            &t,
            "service",
            json!({"identifier": "s", "relations": {"team": "d2"}}),
            WriteMode::Create,
        )
        .await;
        assert!(err.to_string().contains("was not found"), "{err}");
        t.commit().await.expect("commit");

        let a_d1 = get_entity(&store, a, "domain", "d1").await.expect("A's d1");
        let b_d1 = get_entity(&store, b, "domain", "d1").await.expect("B's d1");
        assert_eq!(a_d1["title"], json!(null));
        assert_eq!(b_d1["title"], "B");
        assert!(b_d1["properties"].get("owner").is_none());
        assert_eq!(entity_count(&store, b).await, 1);

        // Deleting B's d1 and B's blueprint leaves A's alone.
        let t = tenant(&store, b).await;
        entities::delete(&t, "domain", "d1", false, &actor())
            .await
            .expect("delete");
        blueprints::delete(&t, "service", &actor())
            .await
            .expect("delete service");
        blueprints::delete(&t, "domain", &actor())
            .await
            .expect("delete domain");
        t.commit().await.expect("commit");
        assert!(get_entity(&store, a, "domain", "d1").await.is_some());
        let t = tenant(&store, a).await;
        let domain = blueprints::get(&t, "domain").await.expect("A's domain");
        assert_eq!(domain["title"], domain_bp()["title"]);
        assert!(domain["schema"]["properties"].get("owner").is_some());
    })
    .await;
}
