//! Inherited ownership: teams derived through the ownership path on write, re-derived when an
//! entity on the path changes its teams or relations, and searchable as `$team`.

use portolan_domain::query::{self, ParseScope, QueryContext};
use portolan_store::entities::{self, ReadOptions, WriteMode};
use portolan_store::search;
use serde_json::{Value, json};

use crate::support::*;

fn blueprints() -> Vec<Value> {
    vec![
        json!({"identifier": "domain", "title": "Domain", "schema": {"properties": {}}}),
        json!({"identifier": "svc", "title": "Service", "schema": {"properties": {}},
               "relations": {"domain": {"target": "domain", "many": false}},
               "ownership": {"type": "Inherited", "path": "domain"}}),
        json!({"identifier": "deploy", "title": "Deployment", "schema": {"properties": {}},
               "relations": {"svc": {"target": "svc", "many": false}},
               "ownership": {"type": "Inherited", "path": "svc.domain"}}),
    ]
}

async fn team_of(
    store: &portolan_store::Store,
    org: portolan_domain::OrgId,
    bp: &str,
    id: &str,
) -> Value {
    let t = tenant(store, org).await;
    let e = entities::get(&t, bp, id, &ReadOptions::default())
        .await
        .expect("get");
    e["team"].clone()
}

async fn owned_by(
    store: &portolan_store::Store,
    org: portolan_domain::OrgId,
    bp: &str,
    team: &str,
) -> u64 {
    let t = tenant(store, org).await;
    let all = search::blueprints(&t).await.expect("blueprints");
    let parsed = query::parse(
        &json!({"combinator": "and", "rules": [{"property": "$team", "operator": "containsAny", "value": [team]}]}),
        &ParseScope { blueprints: &all, blueprint: Some(bp), pointer: "" },
    )
    .expect("parse");
    let q = query::bind(&parsed.query, &QueryContext::default());
    search::count(&t, &q, None, &all, &parsed.blueprints)
        .await
        .expect("count")
}

#[tokio::test]
async fn inherited_teams_follow_the_path_and_its_changes() {
    both(|store| async move {
        let org = new_org(&store).await;
        create_blueprints(&store, org, &blueprints()).await;
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "domain",
            json!({"identifier": "d1", "team": ["alpha"]}),
            WriteMode::Create,
        )
        .await;
        write_ok(
            &t,
            "domain",
            json!({"identifier": "d2", "team": ["beta", "gamma"]}),
            WriteMode::Create,
        )
        .await;
        // A team sent with an inheriting entity is replaced by the derived one.
        write_ok(
            &t,
            "svc",
            json!({"identifier": "s1", "team": ["beta"], "relations": {"domain": "d1"}}),
            WriteMode::Create,
        )
        .await;
        write_ok(&t, "svc", json!({"identifier": "s2"}), WriteMode::Create).await;
        write_ok(
            &t,
            "deploy",
            json!({"identifier": "p1", "relations": {"svc": "s1"}}),
            WriteMode::Create,
        )
        .await;
        t.commit().await.expect("commit");
        assert_eq!(team_of(&store, org, "svc", "s1").await, json!(["alpha"]));
        assert_eq!(
            team_of(&store, org, "svc", "s2").await,
            json!([]),
            "no path, no team"
        );
        assert_eq!(
            team_of(&store, org, "deploy", "p1").await,
            json!(["alpha"]),
            "two hops"
        );
        assert_eq!(owned_by(&store, org, "deploy", "alpha").await, 1);

        // The domain changes teams: both heirs follow, in the same transaction.
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "domain",
            json!({"identifier": "d1", "team": ["delta"]}),
            WriteMode::Merge,
        )
        .await;
        t.commit().await.expect("commit");
        assert_eq!(team_of(&store, org, "svc", "s1").await, json!(["delta"]));
        assert_eq!(team_of(&store, org, "deploy", "p1").await, json!(["delta"]));
        assert_eq!(
            owned_by(&store, org, "deploy", "alpha").await,
            0,
            "the index follows"
        );
        assert_eq!(owned_by(&store, org, "deploy", "delta").await, 1);

        // A service on the path moves to another domain: its deployment follows.
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "svc",
            json!({"identifier": "s1", "relations": {"domain": "d2"}}),
            WriteMode::Merge,
        )
        .await;
        t.commit().await.expect("commit");
        assert_eq!(
            team_of(&store, org, "svc", "s1").await,
            json!(["beta", "gamma"])
        );
        assert_eq!(
            team_of(&store, org, "deploy", "p1").await,
            json!(["beta", "gamma"])
        );
        assert_eq!(owned_by(&store, org, "deploy", "gamma").await, 1);

        // Deleting the domain on the path clears the optional relation: the heirs lose it.
        let t = tenant(&store, org).await;
        entities::delete(&t, "domain", "d2", false, &actor())
            .await
            .expect("delete d2");
        t.commit().await.expect("commit");
        assert_eq!(team_of(&store, org, "svc", "s1").await, json!([]));
        assert_eq!(team_of(&store, org, "deploy", "p1").await, json!([]));
        assert_eq!(owned_by(&store, org, "deploy", "gamma").await, 0);

        // Back on a domain, then cutting the path leaves the heirs with no team.
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "svc",
            json!({"identifier": "s1", "relations": {"domain": "d1"}}),
            WriteMode::Merge,
        )
        .await;
        t.commit().await.expect("commit");
        assert_eq!(team_of(&store, org, "deploy", "p1").await, json!(["delta"]));
        let t = tenant(&store, org).await;
        write_ok(
            &t,
            "svc",
            json!({"identifier": "s1", "relations": {"domain": null}}),
            WriteMode::Merge,
        )
        .await;
        t.commit().await.expect("commit");
        assert_eq!(team_of(&store, org, "deploy", "p1").await, json!([]));
    })
    .await;
}
