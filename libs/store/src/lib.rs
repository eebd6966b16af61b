//! The blueprint store: sea-orm models and tenant-scoped repositories over PostgreSQL
//! (production) and SQLite (embedded default), one code path for both.
//!
//! Every repository function takes a [`Tenant`] transaction, which carries the org; on
//! PostgreSQL the transaction also runs under row-level security for that org, so a forgotten
//! filter cannot leak another tenant's rows.

pub mod blueprints;
mod cache;
pub mod entities;
pub mod error;
pub mod events;
pub mod identity;
pub mod jobs;
pub mod models;
pub mod org_settings;
pub mod orgs;
pub mod search;
pub mod secrets;
mod sql;
mod tenant;

use std::sync::Arc;
use std::time::Duration;

use portolan_migrations::MigratorTrait;
use sea_orm::DatabaseConnection;

pub use error::StoreError;
pub use portolan_domain::OrgId;
pub use tenant::{Plans, Tenant};

/// Which database engine is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A handle on the database plus the caches that sit in front of it. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    backend: Backend,
    cache: Arc<cache::Caches>,
    jobs: Arc<tokio::sync::Notify>,
    /// PostgreSQL: how to connect (for [`Store::worker_pool`]).
    pg_options: Option<sea_orm::sqlx::postgres::PgConnectOptions>,
}

/// A connection of a [`Store::worker_pool`] used within this long is handed out without a
/// ping first (a connection idle for longer is pinged, as sqlx always does).
pub const RECENTLY_USED: Duration = Duration::from_millis(500);

/// The `application_name` of a [`Store::worker_pool`]'s connections (as `pg_stat_activity`
/// shows them).
pub const WORKER_POOL_NAME: &str = "portolan-http-worker";

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Connects to `url` (`postgres://...` or `sqlite://...`). SQLite runs in WAL mode with a
    /// single connection (one writer at a time is what SQLite can do anyway).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        if backend == Backend::Sqlite {
            ensure_sqlite_dir(url)?;
        }
        // The pools are built here rather than by `Database::connect`, whose trace span
        // prints its options, URL and password included.
        let mut pg_options = None;
        let db = match backend {
            Backend::Sqlite => {
                // Set on the connect options so that every (re)opened connection has them.
                // `synchronous=FULL`: an acknowledged write survives a crash of the machine too.
                use sea_orm::sqlx::ConnectOptions as _;
                use sea_orm::sqlx::sqlite::{
                    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
                };
                let opts = url
                    .parse::<SqliteConnectOptions>()
                    .map_err(|e| StoreError::Internal(format!("invalid SQLite URL: {e}")))?
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
                    .disable_statement_logging();
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await
                    .map_err(|e| {
                        StoreError::Db(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
                            e.into(),
                        )))
                    })?;
                sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
            }
            Backend::Postgres => {
                // No JIT: once a plan's estimated cost passes `jit_above_cost` (a recursive
                // `relatedTo` walk at 1M entities does), PostgreSQL compiles it first, which
                // took 17 to 200 ms for a query that runs in 8 (docs/benchmarks.md, "Search").
                // Plans: PostgreSQL's default (a prepared statement gets a generic plan once
                // that is no worse than the custom ones) suits the system's own lookups (a
                // credential, an org, a job); tenant transactions plan every statement with
                // its values ([`Store::tenant`]).
                use sea_orm::sqlx::ConnectOptions as _;
                use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
                let opts = url
                    .parse::<PgConnectOptions>()
                    .map_err(|_| StoreError::Internal("invalid PostgreSQL URL (not shown)".into()))?
                    .options([("jit", "off")])
                    .disable_statement_logging();
                // sqlx pings a connection before handing it out (a round trip per
                // transaction and per pooled read). This pool is shared by every runtime of
                // the process, and a connection dies with the runtime that opened it, so it
                // keeps the ping (see [`Store::worker_pool`] for one that need not).
                pg_options = Some(opts.clone());
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections.max(1))
                    .min_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await
                    .map_err(|e| {
                        StoreError::Db(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
                            e.into(),
                        )))
                    })?;
                sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool)
            }
        };
        Ok(Store {
            db,
            backend,
            cache: Arc::new(cache::Caches::new()),
            jobs: Arc::new(tokio::sync::Notify::new()),
            pg_options,
        })
    }

    /// A store with a pool of its own, of at most `max_connections`, for one runtime (an HTTP
    /// worker): the caches are shared with `self`. Connections are opened when first needed.
    /// Must be called within the runtime that will use it.
    ///
    /// A connection is driven by the runtime that opened it and dies with it. The shared pool
    /// is used from every runtime, so it pings each connection before handing it out (a round
    /// trip per transaction); this one is used from one runtime, whose end ends the pool too,
    /// so it hands out a connection used within [`RECENTLY_USED`] as it is (a connection
    /// idle for longer is pinged: the server may have closed it). SQLite: `self` (one
    /// connection for everyone).
    pub fn worker_pool(&self, max_connections: u32) -> Store {
        let Some(opts) = self.pg_options.clone() else {
            return self.clone();
        };
        use sea_orm::sqlx::Connection as _;
        let pool = sea_orm::sqlx::postgres::PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= RECENTLY_USED {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(opts.application_name(WORKER_POOL_NAME));
        Store {
            db: sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
            ..self.clone()
        }
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        portolan_migrations::Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Reverts every migration (tests of the `down` paths).
    pub async fn migrate_down_all(&self) -> Result<(), StoreError> {
        portolan_migrations::Migrator::down(&self.db, None).await?;
        Ok(())
    }

    /// Is the database reachable? (`/readyz`)
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How many times a tenant transaction switched its plan mode (a round trip each) since
    /// the store was connected, over every pool sharing its caches ([`Store::worker_pool`]).
    pub fn plan_switches(&self) -> u64 {
        self.cache
            .plan_switches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The raw connection, for system work that is not tenant-scoped (and for tests).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes the pool (graceful shutdown).
    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await?;
        Ok(())
    }
}

fn ensure_sqlite_dir(url: &str) -> Result<(), StoreError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::Internal(format!(
                "cannot create data directory {}: {e}",
                parent.display()
            ))
        })?;
    }
    Ok(())
}

/// Now, cut to whole milliseconds: entity timestamps are shown with millisecond precision
/// (Port's shape), so they are stored that way too and a query on `$createdAt` sees exactly
/// what a client saw.
pub(crate) fn now_ms() -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
