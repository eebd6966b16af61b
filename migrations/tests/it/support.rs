//! Runs a test body against both backends: a fresh PostgreSQL database (dropped afterwards,
//! also when the body panics) and a SQLite file in a temporary directory.

use std::future::Future;

use portolan_test_support::{fresh_postgres, sqlite_url};
use sea_orm_migration::SchemaManager;
use sea_orm_migration::sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

/// Every table the migrations create.
pub const TABLES: &[&str] = &[
    "organizations",
    "credentials",
    "signing_keys",
    "blueprints",
    "entities",
    "entity_relations",
    "events",
    "data_migrations",
    "entity_values",
    "entity_numbers",
    "entity_dates",
    "users",
    "teams",
    "team_members",
    "permissions",
    "org_secrets",
];

/// Runs `f` on an empty PostgreSQL database and on an empty SQLite file, concurrently; fails
/// (naming the backend) if either run panicked.
pub async fn both<F, Fut>(f: F)
where
    F: Fn(DatabaseConnection) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let pg = async {
        let db = fresh_postgres().await;
        let conn = Database::connect(&db.url)
            .await
            .expect("connect to the test database");
        let outcome = tokio::spawn(f(conn.clone())).await;
        let _ = conn.close().await;
        db.drop_database().await;
        outcome
    };
    let sqlite = async {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = Database::connect(&sqlite_url(&dir))
            .await
            .expect("open the SQLite file");
        let outcome = tokio::spawn(f(conn.clone())).await;
        let _ = conn.close().await;
        drop(dir);
        outcome
    };
    let (pg, sqlite) = tokio::join!(pg, sqlite);
    let failures: Vec<String> = [("PostgreSQL", pg), ("SQLite", sqlite)]
        .into_iter()
        .filter_map(|(name, r)| r.err().map(|e| format!("{name}: {}", panic_message(e))))
        .collect();
    assert!(
        failures.is_empty(),
        "test failed on\n{}",
        failures.join("\n")
    );
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

/// The tables of `TABLES` that exist.
pub async fn existing_tables(db: &DatabaseConnection) -> Vec<&'static str> {
    let m = SchemaManager::new(db);
    let mut out = Vec::new();
    for t in TABLES {
        if m.has_table(*t).await.expect("has_table") {
            out.push(*t);
        }
    }
    out
}

/// Runs a query returning one text column.
pub async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("a text column"))
        .collect()
}

/// Runs a query returning one integer.
pub async fn count(db: &impl ConnectionTrait, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("one row")
        .try_get_by_index::<i64>(0)
        .expect("an integer column")
}

pub fn is_postgres(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}
