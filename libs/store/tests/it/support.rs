//! Shared fixtures: [`both`] runs a test body on a fresh PostgreSQL database and on a SQLite
//! file, plus helpers to create orgs, blueprints and entities and to look at raw rows.
//!
//! SQLite has a single connection: a test must commit or drop its [`Tenant`] before it opens
//! another one or queries [`Store::connection`].

#![allow(dead_code)]

use std::future::Future;

use portolan_domain::OrgId;
use portolan_domain::entity::EntityInput;
use portolan_domain::event::Actor;
use portolan_store::entities::{self, WriteMode, WriteOptions, WriteRequest, Written};
use portolan_store::models::{entity, event, relation};
use portolan_store::orgs::NewCredential;
use portolan_store::{Backend, Store, StoreError, Tenant, blueprints};
use portolan_test_support::{fresh_postgres, sqlite_url};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

/// Runs `f` against a migrated store on a fresh PostgreSQL database and on a fresh SQLite
/// file, concurrently. The PostgreSQL database is dropped afterwards, also when `f` panicked;
/// a panic on either backend fails the test, naming the backend.
pub async fn both<F, Fut>(f: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let pg = async {
        let db = fresh_postgres().await;
        let outcome = match Store::connect(&db.url, 5).await {
            Ok(store) => {
                let outcome = run(&f, store.clone()).await;
                let _ = store.close().await;
                outcome
            }
            Err(e) => Err(format!("connect: {e}")),
        };
        db.drop_database().await;
        outcome
    };
    let sqlite = async {
        let dir = tempfile::tempdir().expect("tempdir");
        match Store::connect(&sqlite_url(&dir), 1).await {
            Ok(store) => {
                let outcome = run(&f, store.clone()).await;
                let _ = store.close().await;
                outcome
            }
            Err(e) => Err(format!("connect: {e}")),
        }
    };
    let (pg, sqlite) = tokio::join!(pg, sqlite);
    let failures: Vec<String> = [("PostgreSQL", pg), ("SQLite", sqlite)]
        .into_iter()
        .filter_map(|(name, r)| r.err().map(|e| format!("{name}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "test failed on\n{}",
        failures.join("\n")
    );
}

async fn run<F, Fut>(f: &F, store: Store) -> Result<(), String>
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    store.migrate().await.map_err(|e| format!("migrate: {e}"))?;
    tokio::spawn(f(store)).await.map_err(panic_message)
}

fn panic_message(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    let payload = e.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

pub fn actor() -> Actor {
    Actor {
        by: "tester".into(),
        origin: "API".into(),
        datasource: None,
    }
}

pub fn actor_with(by: &str, origin: &str) -> Actor {
    Actor {
        by: by.into(),
        origin: origin.into(),
        datasource: Some("portolan-tests/1.0".into()),
    }
}

/// A new organization with one credential.
pub async fn new_org(store: &Store) -> OrgId {
    store
        .create_organization(
            "acme",
            NewCredential {
                client_id: format!("client-{}", uuid::Uuid::new_v4().simple()),
                secret_hash: "$argon2id$not-a-real-hash".into(),
                name: "bootstrap".into(),
                role: "admin".into(),
            },
            &actor(),
        )
        .await
        .expect("create organization")
}

pub async fn tenant(store: &Store, org: OrgId) -> Tenant {
    store.tenant(org).await.expect("open tenant transaction")
}

pub fn opts(mode: WriteMode) -> WriteOptions {
    WriteOptions {
        mode,
        validation_only: false,
        create_missing_related: false,
        run_id: None,
    }
}

/// `domain`: no relations; `service`: an optional single relation to a domain, a many
/// relation to other services, a required single relation to a team.
pub fn domain_bp() -> Value {
    json!({
        "identifier": "domain",
        "title": "Domain",
        "schema": {"properties": {"owner": {"type": "string"}}},
    })
}

pub fn team_bp() -> Value {
    json!({
        "identifier": "team",
        "title": "Team",
        "schema": {"properties": {"size": {"type": "number", "default": 1}}},
    })
}

pub fn service_bp() -> Value {
    json!({
        "identifier": "service",
        "title": "Service",
        "schema": {
            "properties": {
                "language": {"type": "string", "enum": ["go", "rust", "python"]},
                "port": {"type": "number", "minimum": 1, "maximum": 65535, "default": 8080},
                "tier": {"type": "string"},
            },
            "required": ["language"],
        },
        "relations": {
            "domain": {"target": "domain", "required": false, "many": false},
            "deps": {"target": "service", "many": true},
            "team": {"target": "team", "required": true, "many": false},
        },
    })
}

/// Creates the blueprints and commits.
pub async fn create_blueprints(store: &Store, org: OrgId, bodies: &[Value]) {
    let t = tenant(store, org).await;
    for b in bodies {
        blueprints::create(&t, b, false, &actor())
            .await
            .unwrap_or_else(|e| panic!("create blueprint {}: {e}", b["identifier"]));
    }
    t.commit().await.expect("commit");
}

pub fn request(index: usize, body: Value) -> WriteRequest {
    WriteRequest {
        index,
        input: EntityInput::parse(&body).unwrap_or_else(|e| panic!("entity body {body}: {e:?}")),
    }
}

/// Writes entities; panics if the whole request fails.
pub async fn write(
    t: &Tenant,
    bp: &str,
    bodies: Vec<Value>,
    o: &WriteOptions,
) -> (Vec<Written>, Vec<entities::Failed>) {
    let reqs = bodies
        .into_iter()
        .enumerate()
        .map(|(i, b)| request(i, b))
        .collect();
    entities::write(t, bp, reqs, o, &actor())
        .await
        .unwrap_or_else(|e| panic!("write to {bp}: {e}"))
}

/// Writes one entity that must succeed.
pub async fn write_ok(t: &Tenant, bp: &str, body: Value, mode: WriteMode) -> Written {
    let (mut ok, failed) = write(t, bp, vec![body.clone()], &opts(mode)).await;
    assert!(
        failed.is_empty(),
        "{mode:?} {body} failed: {:?}",
        failed
            .iter()
            .map(|f| f.error.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(ok.len(), 1);
    ok.remove(0)
}

/// Writes one entity that must fail; returns its error.
pub async fn write_err(t: &Tenant, bp: &str, body: Value, mode: WriteMode) -> StoreError {
    let (ok, mut failed) = write(t, bp, vec![body.clone()], &opts(mode)).await;
    assert!(ok.is_empty(), "{mode:?} {body} should have failed");
    assert_eq!(failed.len(), 1);
    failed.remove(0).error
}

/// A team `t1` and a domain `d1` (the usual targets), committed.
pub async fn seed_targets(store: &Store, org: OrgId) {
    create_blueprints(store, org, &[domain_bp(), team_bp(), service_bp()]).await;
    let t = tenant(store, org).await;
    write_ok(&t, "team", json!({"identifier": "t1"}), WriteMode::Create).await;
    write_ok(&t, "team", json!({"identifier": "t2"}), WriteMode::Create).await;
    write_ok(&t, "domain", json!({"identifier": "d1"}), WriteMode::Create).await;
    write_ok(&t, "domain", json!({"identifier": "d2"}), WriteMode::Create).await;
    t.commit().await.expect("commit");
}

pub async fn get_entity(store: &Store, org: OrgId, bp: &str, id: &str) -> Option<Value> {
    let t = tenant(store, org).await;
    match entities::get(&t, bp, id, &Default::default()).await {
        Ok(v) => Some(v),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => panic!("get {bp}/{id}: {e}"),
    }
}

/// One relation edge: (source blueprint, source, relation, target blueprint, target, required).
pub type Edge = (String, String, String, String, String, bool);

pub fn edge(sbp: &str, s: &str, rel: &str, tbp: &str, tgt: &str, required: bool) -> Edge {
    (
        sbp.into(),
        s.into(),
        rel.into(),
        tbp.into(),
        tgt.into(),
        required,
    )
}

fn to_edge(m: relation::Model) -> Edge {
    (
        m.source_blueprint,
        m.source_identifier,
        m.relation,
        m.target_blueprint,
        m.target_identifier,
        m.required,
    )
}

/// Every edge of the org, sorted (read as the owner, outside any tenant transaction).
pub async fn edges(store: &Store, org: OrgId) -> Vec<Edge> {
    let mut v: Vec<Edge> = relation::Entity::find()
        .filter(relation::Column::OrgId.eq(org.0))
        .all(store.connection())
        .await
        .expect("read edges")
        .into_iter()
        .map(to_edge)
        .collect();
    v.sort();
    v
}

/// Edges leaving one entity (the forward index).
pub async fn edges_from(store: &Store, org: OrgId, bp: &str, id: &str) -> Vec<Edge> {
    let mut v: Vec<Edge> = relation::Entity::find()
        .filter(relation::Column::OrgId.eq(org.0))
        .filter(relation::Column::SourceBlueprint.eq(bp))
        .filter(relation::Column::SourceIdentifier.eq(id))
        .all(store.connection())
        .await
        .expect("read edges")
        .into_iter()
        .map(to_edge)
        .collect();
    v.sort();
    v
}

/// Edges pointing at one entity (the reverse index).
pub async fn edges_to(store: &Store, org: OrgId, bp: &str, id: &str) -> Vec<Edge> {
    let mut v: Vec<Edge> = relation::Entity::find()
        .filter(relation::Column::OrgId.eq(org.0))
        .filter(relation::Column::TargetBlueprint.eq(bp))
        .filter(relation::Column::TargetIdentifier.eq(id))
        .all(store.connection())
        .await
        .expect("read edges")
        .into_iter()
        .map(to_edge)
        .collect();
    v.sort();
    v
}

/// Raw entity rows of one blueprint (owner connection).
pub async fn entity_rows(store: &Store, org: OrgId, bp: &str) -> Vec<entity::Model> {
    entity::Entity::find()
        .filter(entity::Column::OrgId.eq(org.0))
        .filter(entity::Column::Blueprint.eq(bp))
        .order_by_asc(entity::Column::Identifier)
        .all(store.connection())
        .await
        .expect("read entities")
}

pub async fn entity_count(store: &Store, org: OrgId) -> u64 {
    entity::Entity::find()
        .filter(entity::Column::OrgId.eq(org.0))
        .count(store.connection())
        .await
        .expect("count entities")
}

/// Every event of the org in log order (owner connection).
pub async fn events(store: &Store, org: OrgId) -> Vec<event::Model> {
    event::Entity::find()
        .filter(event::Column::OrgId.eq(org.0))
        .order_by_asc(event::Column::Seq)
        .all(store.connection())
        .await
        .expect("read events")
}

/// Events about entities: (action, blueprint, identifier), in log order.
pub async fn entity_events(store: &Store, org: OrgId) -> Vec<(String, String, String)> {
    events(store, org)
        .await
        .into_iter()
        .filter(|e| e.resource_type == "entity")
        .map(|e| (e.action, e.blueprint.unwrap_or_default(), e.resource_id))
        .collect()
}

pub fn ev(action: &str, bp: &str, id: &str) -> (String, String, String) {
    (action.into(), bp.into(), id.into())
}

pub fn is_postgres(store: &Store) -> bool {
    store.backend() == Backend::Postgres
}

/// A `service` entity body.
pub fn svc(id: &str, language: impl Into<Value>, relations: Value) -> Value {
    json!({"identifier": id, "properties": {"language": language.into()}, "relations": relations})
}
