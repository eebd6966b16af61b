//! Organizations and their catalogs, loaded through the HTTP bulk route.
//!
//! The measured organization is the environment's bootstrap organization: its environment
//! already created the write benchmark's `team`, `domain` and `service` blueprints (and one
//! team and one domain), so `service` is replaced by this benchmark's definition and `domain`
//! is removed. The other organizations are created in the store (like the bootstrap does),
//! get their own credentials and token, and their blueprints through the API.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use portolan_domain::event::Actor;
use portolan_store::orgs::NewCredential;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use super::catalog::{self, Catalog};
use crate::env::{Env, send};

/// One organization of the run and its catalog.
pub struct Org {
    pub name: String,
    pub id: Uuid,
    pub token: String,
    pub catalog: Catalog,
}

/// What loading one organization took.
pub struct Loaded {
    pub entities: usize,
    pub wall: Duration,
}

impl Loaded {
    pub fn rate(&self) -> f64 {
        self.entities as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

async fn call(
    env: &Env,
    token: &str,
    method: Method,
    path: &str,
    body: &Value,
    status: u16,
    what: &str,
) -> anyhow::Result<Value> {
    send(&env.http, token, method, &env.base, path, body)
        .await?
        .expect(status, what)
}

fn other_blueprints() -> [Value; 4] {
    [
        catalog::environment_blueprint(),
        catalog::service_blueprint(),
        catalog::repository_blueprint(),
        catalog::deployment_blueprint(),
    ]
}

/// Turns the environment's organization into this benchmark's catalog (no entities yet).
pub async fn prepare_main(env: &Env, seed: u64, n: usize) -> anyhow::Result<Org> {
    let t = &env.token;
    call(
        env,
        t,
        Method::PUT,
        "/v1/blueprints/service",
        &catalog::service_blueprint(),
        200,
        "replace the service blueprint",
    )
    .await?;
    for path in [
        "/v1/blueprints/domain/entities/domain-000",
        "/v1/blueprints/domain",
        "/v1/blueprints/team/entities/team-000",
    ] {
        call(
            env,
            t,
            Method::DELETE,
            path,
            &Value::Null,
            200,
            "remove the write benchmark's leftovers",
        )
        .await
        .with_context(|| format!("DELETE {path}"))?;
    }
    for bp in other_blueprints()
        .into_iter()
        .filter(|b| b["identifier"] != catalog::SERVICE)
    {
        call(
            env,
            t,
            Method::POST,
            "/v1/blueprints",
            &bp,
            201,
            "create a blueprint",
        )
        .await?;
    }
    Ok(Org {
        name: "default".into(),
        id: env.org,
        token: env.token.clone(),
        catalog: Catalog::new(seed, n),
    })
}

/// The measured organization of a database an earlier run loaded (see `--reuse-database`).
pub fn existing_main(env: &Env, seed: u64, n: usize) -> Org {
    Org {
        name: "default".into(),
        id: env.org,
        token: env.token.clone(),
        catalog: Catalog::new(seed, n),
    }
}

/// Creates organization number `k` (1-based) with an admin credential, a token and the
/// blueprints.
pub async fn create_other(env: &Env, k: usize, seed: u64, n: usize) -> anyhow::Result<Org> {
    let client_id = format!("bench-org{k}-{}", Uuid::new_v4().simple());
    let secret = format!("bench-secret-{}", Uuid::new_v4().simple());
    let secret_hash = portolan_auth::secret::hash_secret(SecretString::from(secret.clone()))
        .await
        .context("cannot hash a secret")?;
    let name = format!("tenant-{k:02}");
    let id = env
        .store
        .create_organization(
            &name,
            NewCredential {
                client_id: client_id.clone(),
                secret_hash,
                name: "bench admin".into(),
                role: "Admin".into(),
            },
            &Actor::system(),
        )
        .await
        .with_context(|| format!("cannot create organization {name}"))?
        .0;
    let reply = env
        .http
        .post(env.url("/v1/auth/access_token"))
        .json(&json!({"clientId": client_id, "clientSecret": secret}))
        .send()
        .await
        .context("token request failed")?;
    let status = reply.status();
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    ensure!(
        status.as_u16() == 200,
        "token exchange for {name}: HTTP {status}: {body}"
    );
    let token = body["accessToken"]
        .as_str()
        .context("the token response holds no accessToken")?
        .to_owned();
    let mut bps = vec![catalog::team_blueprint()];
    bps.extend(other_blueprints());
    for bp in bps {
        call(
            env,
            &token,
            Method::POST,
            "/v1/blueprints",
            &bp,
            201,
            "create a blueprint",
        )
        .await?;
    }
    Ok(Org {
        name,
        id,
        token,
        catalog: Catalog::new(seed.wrapping_add(k as u64), n),
    })
}

/// One bulk request's worth of entities: blueprint, index range, generator.
#[derive(Clone, Copy)]
enum Kind {
    Team,
    Environment,
    Service,
    Repository,
    Deployment,
}

impl Kind {
    fn blueprint(self) -> &'static str {
        match self {
            Kind::Team => catalog::TEAM,
            Kind::Environment => catalog::ENVIRONMENT,
            Kind::Service => catalog::SERVICE,
            Kind::Repository => catalog::REPOSITORY,
            Kind::Deployment => catalog::DEPLOYMENT,
        }
    }

    fn entity(self, c: &Catalog, i: usize) -> Value {
        match self {
            Kind::Team => c.team(i),
            Kind::Environment => c.environment(i),
            Kind::Service => c.service(i),
            Kind::Repository => c.repository(i),
            Kind::Deployment => c.deployment(i),
        }
    }
}

/// Batches of `[start, end)` of `kind`.
fn batches(kind: Kind, start: usize, end: usize, batch: usize) -> Vec<(Kind, usize, usize)> {
    (start..end)
        .step_by(batch)
        .map(|s| (kind, s, (s + batch).min(end)))
        .collect()
}

async fn send_batch(
    env: &Env,
    org: &Org,
    kind: Kind,
    start: usize,
    end: usize,
) -> anyhow::Result<()> {
    let entities: Vec<Value> = (start..end).map(|i| kind.entity(&org.catalog, i)).collect();
    let body =
        serde_json::to_vec(&json!({ "entities": entities })).context("cannot encode a batch")?;
    let bp = kind.blueprint();
    let res = env
        .http
        .post(env.url(&format!("/v1/blueprints/{bp}/entities/bulk?upsert=true")))
        .bearer_auth(&org.token)
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("{}: bulk request for {bp} {start}.. failed", org.name))?;
    let status = res.status();
    let text = res.bytes().await.context("cannot read a bulk response")?;
    if status.as_u16() != 200 {
        let mut body = String::from_utf8_lossy(&text).into_owned();
        body.truncate(2_000);
        bail!(
            "{}: bulk request for {bp} {start}..{end}: HTTP {status}: {body}",
            org.name
        );
    }
    let reply: Value = serde_json::from_slice(&text).context("a bulk response is not JSON")?;
    let n = reply["entities"].as_array().map_or(0, Vec::len);
    ensure!(
        n == end - start,
        "{}: bulk request for {bp} {start}..{end}: {n} entities acknowledged",
        org.name
    );
    Ok(())
}

/// Loads an organization's catalog: teams and environments, then the platform services,
/// then the other services (they depend on platform services), then repositories, then
/// deployments. `conc` bulk requests of `batch` entities are in flight at once.
///
/// With `analyze`, each step runs in waves with an `ANALYZE` after each
/// ([`crate::env::in_waves`]).
pub async fn load(
    env: &Env,
    org: &Org,
    batch: usize,
    conc: usize,
    analyze: bool,
) -> anyhow::Result<Loaded> {
    let s = org.catalog.sizes;
    let mut first = batches(Kind::Team, 0, s.teams, batch);
    first.extend(batches(Kind::Environment, 0, s.environments, batch));
    // One blueprint per step (but the five environments): each starts with a small wave.
    let phases = [
        first,
        batches(Kind::Service, 0, s.platform, batch),
        batches(Kind::Service, s.platform, s.services, batch),
        batches(Kind::Repository, 0, s.repositories, batch),
        batches(Kind::Deployment, 0, s.deployments, batch),
    ];
    let start = Instant::now();
    for phase in phases {
        crate::env::in_waves(&env.store, &phase, conc, analyze, |(kind, a, b)| {
            send_batch(env, org, kind, a, b)
        })
        .await?;
    }
    Ok(Loaded {
        entities: s.total(),
        wall: start.elapsed(),
    })
}
