//! One benchmark environment: a fresh PostgreSQL database (`portolan_bench_<suffix>_<label>`),
//! migrated and bootstrapped, the API running in-process on a free port, a token, and the
//! catalog (blueprints and relation targets) created through the API.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use portolan_config::Config;
use portolan_store::Store;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::data;

/// Statistics for the catalog's tables (autovacuum is off on the benchmark server).
pub const ANALYZE_CATALOG: &str =
    "ANALYZE entities, entity_values, entity_numbers, entity_dates, entity_relations";

/// Sends `items` through `send` in waves of 1, 2, 4, 8, ... items (`conc` in flight within a
/// wave), with an `ANALYZE` of the catalog's tables after each wave when `analyze` (all at
/// once without). A stand-in for autovacuum's auto-analyze, which is off on this server:
/// without fresh statistics (a blueprint the statistics say is empty) the planner checks the
/// foreign keys of the index tables and `entity_relations` through an `(org_id, blueprint)`
/// index, reading every entity of the blueprint per checked row, and loading turns quadratic
/// (docs/benchmarks.md).
pub async fn in_waves<T, F, Fut>(
    store: &Store,
    items: &[T],
    conc: usize,
    analyze: bool,
    send: F,
) -> anyhow::Result<()>
where
    T: Copy,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    use futures::stream::{self, StreamExt, TryStreamExt};
    let mut at = 0;
    let mut wave = if analyze { 1 } else { items.len() };
    while at < items.len() {
        let end = (at + wave).min(items.len());
        stream::iter(items[at..end].iter().copied())
            .map(&send)
            .buffer_unordered(conc.max(1))
            .try_collect::<Vec<()>>()
            .await?;
        if analyze {
            store
                .connection()
                .execute_unprepared(ANALYZE_CATALOG)
                .await
                .context("ANALYZE failed")?;
        }
        at = end;
        wave *= 2;
    }
    Ok(())
}

/// Every database the benchmark creates starts with this (drop leftovers by this prefix).
pub const DB_PREFIX: &str = "portolan_bench_";

/// Settings shared by every environment of a run.
#[derive(Clone, Debug)]
pub struct Common {
    /// Admin URL (its database is only used to create and drop the benchmark databases).
    pub admin_url: String,
    /// Connection pool size of each environment's store.
    pub pool: u32,
    /// Unique per run.
    pub suffix: String,
}

/// The URL of database `name` on the server of `admin_url` (query parameters kept).
fn database_url(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let (server, _) = base
        .rsplit_once('/')
        .filter(|(s, _)| s.contains("://") && !s.ends_with('/'))
        .with_context(|| format!("database URL {admin_url:?} names no database"))?;
    Ok(match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    })
}

pub async fn admin_connection(admin_url: &str) -> anyhow::Result<DatabaseConnection> {
    Database::connect(admin_url)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {admin_url}"))
}

/// A database created for the benchmark; [`BenchDb::drop_database`] removes it.
pub struct BenchDb {
    pub name: String,
    pub url: String,
    admin_url: String,
    /// An earlier run's database, measured again: never dropped.
    pub reused: bool,
}

impl BenchDb {
    pub async fn create(common: &Common, label: &str) -> anyhow::Result<BenchDb> {
        let name = format!("{DB_PREFIX}{}_{label}", common.suffix);
        let url = database_url(&common.admin_url, &name)?;
        let admin = admin_connection(&common.admin_url).await?;
        let created = admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .with_context(|| format!("cannot create database {name}"));
        let _ = admin.close().await;
        created?;
        Ok(BenchDb {
            name,
            url,
            admin_url: common.admin_url.clone(),
            reused: false,
        })
    }

    /// A database kept by an earlier run (`--keep-databases`), named
    /// `portolan_bench_<suffix>_<label>`; returns it and the earlier run's suffix.
    pub fn existing(common: &Common, name: &str, label: &str) -> anyhow::Result<(BenchDb, String)> {
        let suffix = name
            .strip_prefix(DB_PREFIX)
            .and_then(|rest| rest.strip_suffix(&format!("_{label}")))
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()))
            .with_context(|| {
                format!("{name:?} is not a database of an earlier `{label}` run ({DB_PREFIX}<suffix>_{label})")
            })?;
        Ok((
            BenchDb {
                name: name.to_owned(),
                url: database_url(&common.admin_url, name)?,
                admin_url: common.admin_url.clone(),
                reused: true,
            },
            suffix.to_owned(),
        ))
    }

    /// Best effort: open connections are terminated first.
    pub async fn drop_database(self) {
        let result = async {
            let admin = admin_connection(&self.admin_url).await?;
            let dropped = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                ))
                .await;
            let _ = admin.close().await;
            dropped?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = result {
            eprintln!("warning: cannot drop database {}: {e:#}", self.name);
        }
    }
}

/// A running environment.
pub struct Env {
    pub db: BenchDb,
    pub store: Store,
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub org: Uuid,
    pub client_id: String,
    /// The stored version of the `service` blueprint (the raw baseline writes it too).
    pub service_version: i64,
    handle: actix_web::dev::ServerHandle,
}

struct Running {
    store: Store,
    base: String,
    http: reqwest::Client,
    token: String,
    org: Uuid,
    client_id: String,
    service_version: i64,
    handle: actix_web::dev::ServerHandle,
}

/// What a fresh environment creates: this many teams and domains (relation targets).
struct Fresh {
    teams: usize,
    domains: usize,
}

/// The result of one HTTP call: status and body (Null when not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn expect(self, status: u16, what: &str) -> anyhow::Result<Value> {
        if self.status.as_u16() != status {
            let mut body = self.body.to_string();
            body.truncate(2_000);
            bail!(
                "{what}: expected HTTP {status}, got {}: {body}",
                self.status
            );
        }
        Ok(self.body)
    }
}

pub fn http_client(pool_per_host: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(pool_per_host)
        // Below actix-web's keep-alive (5 s): a connection idle through an `ANALYZE` between
        // loading waves is dropped here rather than reused as the server closes it (a 1M run
        // failed with "connection closed before message completed").
        .pool_idle_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(300))
        .tcp_nodelay(true)
        .build()
        .context("cannot build the HTTP client")
}

impl Env {
    /// Creates the database and everything on top of it; drops the database again if a
    /// later step fails.
    pub async fn setup(
        common: &Common,
        label: &str,
        bulk_max: usize,
        teams: usize,
        domains: usize,
    ) -> anyhow::Result<Env> {
        let db = BenchDb::create(common, label).await?;
        let fresh = Fresh { teams, domains };
        match Self::start_on(db.url.clone(), common, bulk_max, Some(fresh)).await {
            Ok(r) => Ok(Env::on(db, r)),
            Err(e) => {
                db.drop_database().await;
                Err(e)
            }
        }
    }

    /// Starts the API on a database kept by an earlier run (see [`BenchDb::existing`]):
    /// migrates it (a no-op unless the code has new migrations), gives the earlier run's
    /// bootstrap credential a new secret and takes a token with it. Nothing is created.
    pub async fn reuse(
        common: &Common,
        name: &str,
        label: &str,
        bulk_max: usize,
    ) -> anyhow::Result<Env> {
        let (db, suffix) = BenchDb::existing(common, name, label)?;
        let common = Common {
            suffix,
            ..common.clone()
        };
        let r = Self::start_on(db.url.clone(), &common, bulk_max, None).await?;
        Ok(Env::on(db, r))
    }

    fn on(db: BenchDb, r: Running) -> Env {
        Env {
            db,
            store: r.store,
            base: r.base,
            http: r.http,
            token: r.token,
            org: r.org,
            client_id: r.client_id,
            service_version: r.service_version,
            handle: r.handle,
        }
    }

    /// `fresh`: bootstrap the new database and create the write benchmark's catalog; `None`:
    /// a kept database, whose bootstrap credential gets a new secret.
    async fn start_on(
        url: String,
        common: &Common,
        bulk_max: usize,
        fresh: Option<Fresh>,
    ) -> anyhow::Result<Running> {
        let store = Store::connect(&url, common.pool)
            .await
            .context("cannot connect the store")?;
        store.migrate().await.context("cannot migrate")?;
        let client_id = format!("bench-{}", common.suffix);
        let secret = format!("bench-secret-{}", Uuid::new_v4().simple());
        if fresh.is_none() {
            let hash = portolan_auth::secret::hash_secret(SecretString::from(secret.clone()))
                .await
                .context("cannot hash a secret")?;
            let updated = store
                .connection()
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "UPDATE credentials SET secret_hash = $1 WHERE client_id = $2",
                    [hash.into(), client_id.clone().into()],
                ))
                .await
                .context("cannot renew the bootstrap credential")?;
            if updated.rows_affected() != 1 {
                let _ = store.close().await;
                bail!("the database has no credential {client_id}: not one of this benchmark's");
            }
        }
        let config = Config {
            http_addr: "127.0.0.1:0".into(),
            database_url: Some(SecretString::from(url)),
            db_max_connections: common.pool,
            bootstrap_client_id: Some(client_id.clone()),
            bootstrap_client_secret: Some(SecretString::from(secret.clone())),
            bulk_max_entities: bulk_max.max(1_000),
            max_body_bytes: 256 * 1024 * 1024,
            shutdown_timeout_secs: 5,
            // Benchmarks measure the work, not the (in-memory) rate limiter's refusals.
            rate_limit_entities: 100_000_000,
            rate_limit_other: 100_000_000,
            rate_limit_unauthenticated: 100_000_000,
            secrets_keys: Some(portolan_auth::seal::generate_key_base64())
                .map(|k| SecretString::from(format!("bench:{}", k.expose_secret()))),
            ..Config::default()
        };
        if fresh.is_some() {
            portolan_api::bootstrap::bootstrap(&store, &config)
                .await
                .context("cannot bootstrap")?
                .context("the fresh database already had an organization")?;
        }
        let bus: Arc<dyn portolan_bus::Bus> = Arc::new(portolan_bus::InProcessBus::new());
        let config = Arc::new(config);
        let api = portolan_api::start(config, store.clone(), bus)
            .await
            .context("cannot start the API")?;
        let handle = api.server.handle();
        tokio::spawn(api.server);
        let base = format!("http://{}", api.addr);
        let http = http_client(64)?;
        let setup = async {
            let token = get_token(&http, &base, &client_id, &secret).await?;
            let org = store
                .find_credential(&client_id)
                .await
                .context("cannot look up the bootstrap credential")?
                .context("the bootstrap credential is missing")?
                .org_id;
            let Some(Fresh { teams, domains }) = fresh else {
                let version = blueprint_version(store.connection(), org, data::SERVICE).await?;
                return anyhow::Ok((token, org, version));
            };
            for bp in [
                data::team_blueprint(),
                data::domain_blueprint(),
                data::service_blueprint(),
            ] {
                send(
                    &http,
                    &token,
                    reqwest::Method::POST,
                    &base,
                    "/v1/blueprints",
                    &bp,
                )
                .await?
                .expect(201, "create blueprint")?;
            }
            let (team_body, domain_body) = data::target_bodies(teams, domains);
            for (bp, body) in [(data::TEAM, team_body), (data::DOMAIN, domain_body)] {
                send(
                    &http,
                    &token,
                    reqwest::Method::POST,
                    &base,
                    &format!("/v1/blueprints/{bp}/entities/bulk?upsert=true"),
                    &body,
                )
                .await?
                .expect(200, "create relation targets")?;
            }
            let service_version = blueprint_version(store.connection(), org, data::SERVICE).await?;
            anyhow::Ok((token, org, service_version))
        }
        .await;
        match setup {
            Ok((token, org, service_version)) => Ok(Running {
                store,
                base,
                http,
                token,
                org,
                client_id,
                service_version,
                handle,
            }),
            Err(e) => {
                handle.stop(false).await;
                let _ = store.close().await;
                Err(e)
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and closes the pool (the database stays).
    pub async fn stop(self) -> BenchDb {
        self.handle.stop(false).await;
        let _ = self.store.close().await;
        self.db
    }

    /// Stops the server, closes the pool, drops the database.
    pub async fn teardown(self) {
        self.stop().await.drop_database().await;
    }

    /// Runs a query as the owner (no RLS) and returns the first column of the first row.
    pub async fn scalar_i64(&self, sql: &str) -> anyhow::Result<i64> {
        let row = self
            .store
            .connection()
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
            .await
            .with_context(|| format!("query failed: {sql}"))?
            .with_context(|| format!("no row: {sql}"))?;
        row.try_get_by_index::<i64>(0)
            .with_context(|| format!("not a bigint: {sql}"))
    }
}

async fn blueprint_version(
    conn: &DatabaseConnection,
    org: Uuid,
    blueprint: &str,
) -> anyhow::Result<i64> {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT version FROM blueprints WHERE org_id = $1 AND identifier = $2",
            [org.into(), blueprint.into()],
        ))
        .await
        .context("cannot read the blueprint version")?
        .with_context(|| format!("blueprint {blueprint} was not stored"))?;
    row.try_get::<i64>("", "version")
        .context("cannot read the blueprint version")
}

async fn get_token(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    secret: &str,
) -> anyhow::Result<String> {
    let res = http
        .post(format!("{base}/v1/auth/access_token"))
        .json(&json!({"clientId": id, "clientSecret": secret}))
        .send()
        .await
        .context("token request failed")?;
    let reply = Reply {
        status: res.status(),
        body: res.json().await.unwrap_or(Value::Null),
    };
    let body = reply.expect(200, "token exchange")?;
    body["accessToken"]
        .as_str()
        .map(str::to_owned)
        .context("the token response holds no accessToken")
}

/// Sends one JSON request with the bearer token.
pub async fn send(
    http: &reqwest::Client,
    token: &str,
    method: reqwest::Method,
    base: &str,
    path: &str,
    body: &Value,
) -> anyhow::Result<Reply> {
    let res = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .with_context(|| format!("request to {path} failed"))?;
    let status = res.status();
    let bytes = res
        .bytes()
        .await
        .with_context(|| format!("cannot read the response of {path}"))?;
    Ok(Reply {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn swaps_the_database() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "x").ok(),
            Some("postgres://postgres@127.0.0.1:5432/x".to_owned())
        );
        assert_eq!(
            database_url("postgres://u:p@h/db?sslmode=disable", "x").ok(),
            Some("postgres://u:p@h/x?sslmode=disable".to_owned())
        );
        assert!(database_url("postgres://h", "x").is_err());
    }
}
