//! `events::audit_log`: filters and paging.

use std::collections::BTreeSet;

use portolan_store::entities::{self, WriteMode, WriteOptions};
use portolan_store::events::{self, AuditQuery};
use portolan_store::{OrgId, Store, blueprints};
use serde_json::{Value, json};

use crate::support::{
    actor, actor_with, both, create_blueprints, domain_bp, new_org, opts, request, tenant,
};

/// A known history: blueprint created, 3 entities created by an integration run, one of them
/// updated from the UI, one deleted.
async fn history(store: &Store, org: OrgId) {
    create_blueprints(store, org, &[domain_bp()]).await;
    let t = tenant(store, org).await;
    let o = WriteOptions {
        run_id: Some("run-1".into()),
        ..opts(WriteMode::Create)
    };
    let reqs = (1..=3)
        .map(|i| request(i, json!({"identifier": format!("d{i}")})))
        .collect();
    entities::write(&t, "domain", reqs, &o, &actor_with("github", "INTEGRATION"))
        .await
        .expect("write");
    t.commit().await.expect("commit");
    let t = tenant(store, org).await;
    entities::write(
        &t,
        "domain",
        vec![request(0, json!({"identifier": "d2", "title": "Two"}))],
        &opts(WriteMode::Patch),
        &actor_with("alice", "UI"),
    )
    .await
    .expect("patch");
    entities::delete(&t, "domain", "d3", false, &actor())
        .await
        .expect("delete");
    t.commit().await.expect("commit");
}

async fn query(store: &Store, org: OrgId, q: AuditQuery) -> (Vec<Value>, Option<i64>) {
    let t = tenant(store, org).await;
    events::audit_log(&t, &q).await.expect("audit log")
}

fn q() -> AuditQuery {
    AuditQuery {
        limit: 100,
        ..Default::default()
    }
}

/// (action, resourceType, entity or blueprint identifier) of each record.
fn summary(page: &[Value]) -> Vec<(String, String, String)> {
    page.iter()
        .map(|r| {
            let id = r["context"]["entityIdentifier"]
                .as_str()
                .or(r["context"]["blueprintIdentifier"].as_str())
                .or(r["context"]["clientId"].as_str())
                .or(r["context"]["organizationId"].as_str())
                .unwrap_or_default();
            (
                r["action"].as_str().unwrap_or_default().to_owned(),
                r["resourceType"].as_str().unwrap_or_default().to_owned(),
                id.to_owned(),
            )
        })
        .collect()
}

fn s(a: &str, r: &str, id: &str) -> (String, String, String) {
    (a.into(), r.into(), id.into())
}

#[tokio::test]
async fn filters() {
    both(|store| async move {
        let org = new_org(&store).await;
        history(&store, org).await;

        let (all, next) = query(&store, org, q()).await;
        assert_eq!(next, None);
        let org_id = org.to_string();
        assert_eq!(
            summary(&all),
            [
                s("DELETE", "entity", "d3"),
                s("UPDATE", "entity", "d2"),
                s("CREATE", "entity", "d3"),
                s("CREATE", "entity", "d2"),
                s("CREATE", "entity", "d1"),
                s("CREATE", "blueprint", "domain"),
                s(
                    "CREATE",
                    "credential",
                    all[6]["context"]["clientId"].as_str().unwrap_or("?")
                ),
                s("CREATE", "organization", &org_id),
            ],
            "newest first"
        );
        let seqs: Vec<i64> = all
            .iter()
            .map(|r| r["seq"].as_i64().expect("seq"))
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] > w[1]));
        let d = &all[0];
        assert_eq!(d["type"], "entity.deleted");
        assert_eq!(d["trigger"]["origin"], "API");
        assert_eq!(d["trigger"]["by"]["userId"], "tester");
        assert_eq!(d["trigger"]["by"]["orgId"], org_id);
        assert_eq!(d["status"], "SUCCESS");
        assert_eq!(d["diff"]["after"], json!(null));
        assert_eq!(d["diff"]["before"]["identifier"], "d3");

        let by = |qq: AuditQuery| {
            let store = store.clone();
            async move { summary(&query(&store, org, qq).await.0) }
        };
        assert_eq!(
            by(AuditQuery {
                identifier: Some("d2".into()),
                ..q()
            })
            .await,
            [s("UPDATE", "entity", "d2"), s("CREATE", "entity", "d2")]
        );
        assert_eq!(
            by(AuditQuery {
                identifier: Some("domain".into()),
                ..q()
            })
            .await,
            [s("CREATE", "blueprint", "domain")]
        );
        assert_eq!(
            by(AuditQuery {
                entity: Some("domain".into()),
                ..q()
            })
            .await,
            [],
            "entity= only matches entities"
        );
        assert_eq!(
            by(AuditQuery {
                entity: Some("d3".into()),
                ..q()
            })
            .await,
            [s("DELETE", "entity", "d3"), s("CREATE", "entity", "d3")]
        );
        assert_eq!(
            by(AuditQuery {
                blueprint: Some("domain".into()),
                ..q()
            })
            .await
            .len(),
            6
        );
        assert!(
            by(AuditQuery {
                blueprint: Some("other".into()),
                ..q()
            })
            .await
            .is_empty()
        );
        assert_eq!(
            by(AuditQuery {
                run_id: Some("run-1".into()),
                ..q()
            })
            .await,
            [
                s("CREATE", "entity", "d3"),
                s("CREATE", "entity", "d2"),
                s("CREATE", "entity", "d1")
            ]
        );
        assert_eq!(
            by(AuditQuery {
                origin: vec!["UI".into(), "INTEGRATION".into()],
                ..q()
            })
            .await
            .len(),
            4
        );
        assert_eq!(
            by(AuditQuery {
                origin: vec!["UI".into()],
                ..q()
            })
            .await,
            [s("UPDATE", "entity", "d2")]
        );
        assert_eq!(
            by(AuditQuery {
                resources: vec!["blueprint".into(), "organization".into()],
                ..q()
            })
            .await,
            [
                s("CREATE", "blueprint", "domain"),
                s("CREATE", "organization", &org_id)
            ]
        );
        assert_eq!(
            by(AuditQuery {
                action: Some("DELETE".into()),
                ..q()
            })
            .await,
            [s("DELETE", "entity", "d3")]
        );
        assert_eq!(
            by(AuditQuery {
                action: Some("UPDATE".into()),
                resources: vec!["entity".into()],
                ..q()
            })
            .await,
            [s("UPDATE", "entity", "d2")]
        );
        assert_eq!(
            by(AuditQuery {
                status: Some("SUCCESS".into()),
                ..q()
            })
            .await
            .len(),
            8
        );
        assert!(
            by(AuditQuery {
                status: Some("FAILURE".into()),
                ..q()
            })
            .await
            .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn time_window() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &[domain_bp()]).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let t = tenant(&store, org).await;
        entities::write(
            &t,
            "domain",
            vec![request(0, json!({"identifier": "d1"}))],
            &opts(WriteMode::Create),
            &actor(),
        )
        .await
        .expect("write");
        t.commit().await.expect("commit");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let t = tenant(&store, org).await;
        blueprints::patch(&t, "domain", &json!({"title": "Area"}), false, &actor())
            .await
            .expect("patch");
        t.commit().await.expect("commit");

        let evts = crate::support::events(&store, org).await;
        let created = evts
            .iter()
            .find(|e| e.r#type == "entity.created")
            .expect("entity event");
        let at = created.occurred_at;
        let ids = |page: &[Value]| -> BTreeSet<String> {
            page.iter()
                .map(|r| r["identifier"].as_str().unwrap_or_default().to_owned())
                .collect()
        };
        let expect = |f: &dyn Fn(&chrono::DateTime<chrono::Utc>) -> bool| -> BTreeSet<String> {
            evts.iter()
                .filter(|e| f(&e.occurred_at))
                .map(|e| e.id.to_string())
                .collect()
        };
        let (from, _) = query(
            &store,
            org,
            AuditQuery {
                from: Some(at),
                ..q()
            },
        )
        .await;
        assert_eq!(ids(&from), expect(&|t| *t >= at));
        assert_eq!(
            summary(&from),
            [
                s("UPDATE", "blueprint", "domain"),
                s("CREATE", "entity", "d1")
            ]
        );
        let (to, _) = query(
            &store,
            org,
            AuditQuery {
                to: Some(at),
                ..q()
            },
        )
        .await;
        assert_eq!(ids(&to), expect(&|t| *t <= at));
        assert_eq!(to.len(), 4);
        let (exact, _) = query(
            &store,
            org,
            AuditQuery {
                from: Some(at),
                to: Some(at),
                ..q()
            },
        )
        .await;
        assert_eq!(summary(&exact), [s("CREATE", "entity", "d1")]);
    })
    .await;
}

#[tokio::test]
async fn paging_with_the_cursor() {
    both(|store| async move {
        let org = new_org(&store).await;
        history(&store, org).await;
        let (all, _) = query(&store, org, q()).await;
        assert_eq!(all.len(), 8);

        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let (page, next) = query(
                &store,
                org,
                AuditQuery {
                    limit: 3,
                    before_seq: cursor,
                    ..Default::default()
                },
            )
            .await;
            pages += 1;
            assert!(page.len() <= 3);
            seen.extend(page.iter().cloned());
            match next {
                Some(n) => {
                    assert_eq!(Some(n), page.last().and_then(|r| r["seq"].as_i64()));
                    cursor = Some(n);
                }
                None => break,
            }
            assert!(pages < 10, "paging does not end");
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, all, "the pages together are the whole log, in order");

        // An exact multiple of the page size ends without an empty extra page.
        let (page, next) = query(
            &store,
            org,
            AuditQuery {
                limit: 8,
                ..Default::default()
            },
        )
        .await;
        assert_eq!((page.len(), next), (8, None));
        // Limit 0 is raised to 1.
        let (page, next) = query(
            &store,
            org,
            AuditQuery {
                limit: 0,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(page.len(), 1);
        assert_eq!(page[0], all[0]);
        assert_eq!(next, all[0]["seq"].as_i64());
        // Filters and the cursor combine.
        let (page, next) = query(
            &store,
            org,
            AuditQuery {
                resources: vec!["entity".into()],
                limit: 2,
                before_seq: all[1]["seq"].as_i64(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            summary(&page),
            [s("CREATE", "entity", "d3"), s("CREATE", "entity", "d2")]
        );
        let (rest, end) = query(
            &store,
            org,
            AuditQuery {
                resources: vec!["entity".into()],
                limit: 2,
                before_seq: next,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(summary(&rest), [s("CREATE", "entity", "d1")]);
        assert_eq!(end, None);
    })
    .await;
}
