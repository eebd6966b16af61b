//! Test fixtures shared by every crate's tests: a fresh PostgreSQL database per test, a
//! SQLite file per test, and unique names for queues, exchanges and Redis key prefixes, so
//! tests run in parallel and never see each other.
//!
//! The servers are the real ones (never mocks): `PORTOLAN_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), `PORTOLAN_TEST_AMQP_URL` (default
//! `amqp://guest:guest@127.0.0.1:5672/%2f`) and `PORTOLAN_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`).

use sea_orm::{ConnectionTrait, Database};

pub mod proxy;

/// Every database a test creates starts with this, so `scripts/test` can sweep leftovers.
pub const TEST_DB_PREFIX: &str = "portolan_test_";

pub fn admin_database_url() -> String {
    std::env::var("PORTOLAN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn amqp_url() -> String {
    std::env::var("PORTOLAN_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

pub fn redis_url() -> String {
    std::env::var("PORTOLAN_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A short unique token for queue, exchange and key-prefix names.
pub fn unique_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// A PostgreSQL database created for one test and dropped by [`TestDatabase::drop_database`]
/// (or swept by `scripts/test` if the test panicked first).
pub struct TestDatabase {
    pub url: String,
    pub name: String,
}

/// Creates an empty PostgreSQL database with a unique name and returns its URL.
pub async fn fresh_postgres() -> TestDatabase {
    let admin = admin_database_url();
    let name = format!("{TEST_DB_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let conn = Database::connect(&admin).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {admin}: {e} (start it, or set PORTOLAN_TEST_DATABASE_URL)"
        )
    });
    conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    let _ = conn.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    TestDatabase {
        url: format!("{base}/{name}"),
        name,
    }
}

impl TestDatabase {
    /// Drops the database (best effort: open connections are terminated first).
    pub async fn drop_database(self) {
        if let Ok(conn) = Database::connect(&admin_database_url()).await {
            let _ = conn
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                ))
                .await;
            let _ = conn.close().await;
        }
    }
}

/// A SQLite database file inside `dir`.
pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("portolan.db").display()
    )
}
