//! The PostgreSQL pool: a connection that died while idle is replaced before anyone uses it
//! (a request must not fail because the server restarted or dropped a connection).

use std::time::Duration;

use portolan_store::Store;
use portolan_test_support::fresh_postgres;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

async fn backend_pid(store: &Store) -> Result<i32, String> {
    let row = store
        .connection()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_backend_pid() AS pid",
        ))
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no row")?;
    row.try_get::<i32>("", "pid").map_err(|e| e.to_string())
}

/// Has the server close the backend `pid` (from a connection of its own).
async fn terminate(url: &str, pid: i32) {
    let admin = Database::connect(url).await.expect("admin connection");
    admin
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_terminate_backend({pid})"),
        ))
        .await
        .expect("terminate the pool's connection");
    let _ = admin.close().await;
}

#[tokio::test]
async fn a_connection_killed_while_idle_is_replaced_before_use() {
    let db = fresh_postgres().await;
    let store = Store::connect(&db.url, 1).await.expect("connect");
    let first = backend_pid(&store).await.expect("first query");

    terminate(&db.url, first).await;

    // Let the backend go; the pool checks a connection before it hands it out.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = backend_pid(&store).await;
    let _ = store.close().await;
    db.drop_database().await;
    let second = second.expect("the query after the server closed the idle connection");
    assert_ne!(first, second, "a new connection answered");
}

/// The same for an HTTP worker's own pool, which skips the ping for a connection used a
/// moment ago but not for one idle for longer than that.
#[tokio::test]
async fn a_worker_pools_connection_killed_while_idle_is_replaced_before_use() {
    let db = fresh_postgres().await;
    let shared = Store::connect(&db.url, 1).await.expect("connect");
    let store = shared.worker_pool(1);
    let first = backend_pid(&store).await.expect("first query");
    assert_eq!(
        backend_pid(&store).await.expect("second query"),
        first,
        "the one connection is reused"
    );

    terminate(&db.url, first).await;

    tokio::time::sleep(portolan_store::RECENTLY_USED + Duration::from_millis(300)).await;
    let second = backend_pid(&store).await;
    let _ = store.close().await;
    let _ = shared.close().await;
    db.drop_database().await;
    let second = second.expect("the query after the server closed the idle connection");
    assert_ne!(first, second, "a new connection answered");
}
