//! `--floor`: the least any HTTP API must do for a shape, measured the same way as the API.
//!
//! A bare actix-web server in this process, with as many workers as the API and a pool per
//! worker of the same total size (no ping before a recently used connection is handed out,
//! as the API's). Its one route, `POST /floor/{shape}/{call}`, parses the JSON body (and
//! ignores it), runs the shape's hand-written SQL with the call's values, one statement on a
//! pooled connection as the raw phase does, and writes the rows as the API's response shape
//! (`{"ok":true,"entities":[...]}` or `{"ok":true,"result":n}`), the `jsonb` columns copied
//! as PostgreSQL prints them. No authentication, no tenant transaction or row-level security,
//! no query parsing or compiling, no middleware: what is left of the API's cost is the HTTP
//! exchange, the JSON in and out, and one round trip to PostgreSQL. Its p50 over the raw
//! SQL's is the lowest API/raw ratio an HTTP API can have on this machine for the shape.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value as SqlValue};

use super::shapes::{Answer, Call, Shape};

/// The floor server, running.
pub struct Floor {
    pub base: String,
    handle: ServerHandle,
}

impl Floor {
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// The floor's request for call `i` of `shape`: the API's body, the floor's path.
pub fn call_of(shape: &Shape, i: usize) -> Call {
    let c = &shape.calls[i % shape.calls.len()];
    Call {
        path: format!("/floor/{}/{}", shape.key, i % shape.calls.len()),
        ..c.clone()
    }
}

struct Query {
    sql: String,
    values: Vec<SqlValue>,
    answer: Answer,
}

/// The page's columns as the API sends them; `jsonb` as text, copied into the answer.
fn page_sql(raw: &str) -> String {
    format!(
        "SELECT q.identifier, q.title, q.icon, q.blueprint, q.team::text AS team, \
                q.properties::text AS properties, q.relations::text AS relations, \
                to_char(q.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at, \
                to_char(q.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS updated_at, \
                q.created_by, q.updated_by \
         FROM ({raw}) q"
    )
}

/// Starts the floor server for `shapes` on `url`'s database.
pub async fn start(url: &str, pool: u32, shapes: &[Shape]) -> anyhow::Result<Floor> {
    let mut queries = HashMap::new();
    for s in shapes {
        for (i, c) in s.calls.iter().enumerate() {
            let sql = match s.answer {
                Answer::Page => page_sql(&c.sql),
                Answer::Count => c.sql.clone(),
            };
            queries.insert(
                format!("{}/{i}", s.key),
                Query {
                    sql,
                    values: c.values.clone(),
                    answer: s.answer,
                },
            );
        }
    }
    let queries = Arc::new(queries);
    use sea_orm::sqlx::ConnectOptions as _;
    use sea_orm::sqlx::postgres::PgConnectOptions;
    let opts = url
        .parse::<PgConnectOptions>()
        .context("invalid benchmark database URL")?
        .options([("plan_cache_mode", "force_custom_plan"), ("jit", "off")])
        .disable_statement_logging();
    // As the API: one worker per core, the pool split between them.
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per_worker = pool
        .max(1)
        .div_ceil(u32::try_from(workers).unwrap_or(u32::MAX));
    let server = HttpServer::new(move || {
        let db = sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
            sea_orm::sqlx::postgres::PgPoolOptions::new()
                .max_connections(per_worker)
                .acquire_timeout(Duration::from_secs(30))
                .test_before_acquire(false)
                .connect_lazy_with(opts.clone()),
        );
        App::new()
            .app_data(web::Data::new(db))
            .app_data(web::Data::from(queries.clone()))
            .route("/floor/{shape}/{call}", web::post().to(answer))
    })
    .workers(workers)
    .disable_signals()
    .bind("127.0.0.1:0")
    .context("cannot bind the floor server")?;
    let addr = *server
        .addrs()
        .first()
        .context("the floor server has no address")?;
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok(Floor {
        base: format!("http://{addr}"),
        handle,
    })
}

async fn answer(
    path: web::Path<(String, usize)>,
    body: web::Bytes,
    db: web::Data<DatabaseConnection>,
    queries: web::Data<HashMap<String, Query>>,
) -> HttpResponse {
    let (shape, i) = path.into_inner();
    if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return HttpResponse::BadRequest().finish();
    }
    let Some(q) = queries.get(&format!("{shape}/{i}")) else {
        return HttpResponse::NotFound().finish();
    };
    let rows = match db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            q.sql.clone(),
            q.values.clone(),
        ))
        .await
    {
        Ok(rows) => rows,
        Err(e) => return HttpResponse::InternalServerError().body(e.to_string()),
    };
    let written = match q.answer {
        Answer::Page => page(&rows),
        Answer::Count => count(&rows),
    };
    match written {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

fn page(rows: &[sea_orm::QueryResult]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(rows.len() * 512 + 64);
    out.extend_from_slice(br#"{"ok":true,"entities":["#);
    for (n, r) in rows.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.push(b'{');
        let mut first = true;
        for (key, column) in [
            ("identifier", "identifier"),
            ("title", "title"),
            ("icon", "icon"),
            ("blueprint", "blueprint"),
            ("createdAt", "created_at"),
            ("updatedAt", "updated_at"),
            ("createdBy", "created_by"),
            ("updatedBy", "updated_by"),
        ] {
            if let Some(v) = r.try_get::<Option<String>>("", column)? {
                if !first {
                    out.push(b',');
                }
                first = false;
                serde_json::to_writer(&mut out, key)?;
                out.push(b':');
                serde_json::to_writer(&mut out, &v)?;
            }
        }
        for (key, column) in [
            ("team", "team"),
            ("properties", "properties"),
            ("relations", "relations"),
        ] {
            let v: String = r.try_get("", column)?;
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(v.as_bytes());
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

fn count(rows: &[sea_orm::QueryResult]) -> anyhow::Result<Vec<u8>> {
    let n: i64 = rows
        .first()
        .context("count returned no row")?
        .try_get("", "n")?;
    Ok(format!(r#"{{"ok":true,"result":{n}}}"#).into_bytes())
}
