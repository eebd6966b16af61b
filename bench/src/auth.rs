//! `portolan-bench auth`: what authorization adds to an entity read.
//!
//! One database: the environment's `service` blueprint is replaced by a small one (five
//! string/number properties, direct team ownership), 10 teams are created with
//! `POST /v1/teams`, and `--entities` services (entity `i` owned by `team-<i mod 10>`) are
//! loaded through the HTTP bulk route, then `VACUUM ANALYZE`. A Member user in `team-0` is
//! invited and accepts the invitation. Then the same random identifiers (all owned by
//! `team-0`) are read with `GET /v1/blueprints/service/entities/{id}`, and the same searches
//! (`POST /v1/blueprints/service/entities/search`, a page of 50, one equality rule) are run:
//!
//! 1. as the Admin app token (no permission work),
//! 2. as the Member with the default permissions (the read grant passes by role),
//! 3. as the Member with read `{roles: ["Admin"], ownedByTeam: true}` (a filter query),
//! 4. as the Member with read `ownedByTeam` plus a `policy` (`tier = gold`),
//! 5. as the Member under (4), reading entities it may not read (404; GET only).
//!
//! Every phase is checked before it is timed (status, identifiers, the page size, and that
//! the filter holds: (3) answers only `team-0`'s entities, (4) also gold ones of other
//! teams, (1) and (2) entities of other teams too).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::future::try_join_all;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::env::{Common, Env, admin_connection, http_client, send};
use crate::probe::{Probe, SpanTotals};
use crate::report::{self, Phase};

#[derive(clap::Args, Debug, Clone)]
pub struct AuthArgs {
    /// `service` entities, spread over 10 teams.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    pub entities: u64,
    /// Timed requests per phase (after a warm-up of a tenth of that, at least 50).
    #[arg(long, default_value_t = 4_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub requests: u64,
    /// Concurrent clients, each with its own keep-alive connection.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: u64,
    /// Entities per bulk request while loading.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub batch: u64,
    /// Seed of the data and of the random identifiers.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

const TEAMS: usize = 10;
/// The Member's team.
const MY_TEAM: &str = "team-0";
const MEMBER_EMAIL: &str = "member@bench.example.com";
const PAGE: usize = 50;
const LANGUAGES: [&str; 5] = ["rust", "go", "python", "java", "typescript"];
const TIERS: [&str; 3] = ["gold", "silver", "bronze"];
const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "ap-south-1", "sa-east-1"];
/// Checked (not timed) before each phase.
const SANITY: usize = 20;

/// splitmix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A deterministic pick in `0..n` for (`seed`, `what`, `i`).
fn pick(seed: u64, what: u64, i: usize, n: usize) -> usize {
    (mix(seed ^ mix(what) ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)) % n as u64) as usize
}

fn team_name(t: usize) -> String {
    format!("team-{t}")
}

fn identifier(i: usize) -> String {
    format!("svc-{i:07}")
}

fn team_of(i: usize) -> usize {
    i % TEAMS
}

fn language(seed: u64, i: usize) -> &'static str {
    LANGUAGES[pick(seed, 1, i, LANGUAGES.len())]
}

fn tier(seed: u64, i: usize) -> &'static str {
    TIERS[pick(seed, 2, i, TIERS.len())]
}

fn blueprint() -> Value {
    json!({
        "identifier": "service", "title": "Service", "icon": "Service",
        "schema": {
            "properties": {
                "language": {"type": "string", "title": "Language", "enum": LANGUAGES},
                "tier": {"type": "string", "title": "Tier", "enum": TIERS},
                "region": {"type": "string", "title": "Region"},
                "port": {"type": "number", "title": "Port", "minimum": 1, "maximum": 65535},
                "replicas": {"type": "number", "title": "Replicas", "minimum": 0}
            },
            "required": ["language", "tier"]
        },
        "ownership": {"type": "Direct"},
        "relations": {}
    })
}

fn entity(seed: u64, i: usize) -> Value {
    json!({
        "identifier": identifier(i),
        "title": format!("Service {i}"),
        "team": [team_name(team_of(i))],
        "properties": {
            "language": language(seed, i),
            "tier": tier(seed, i),
            "region": REGIONS[pick(seed, 3, i, REGIONS.len())],
            "port": 1024 + pick(seed, 4, i, 60_000),
            "replicas": 1 + pick(seed, 5, i, 12),
        }
    })
}

fn usize_of(v: u64) -> anyhow::Result<usize> {
    usize::try_from(v).context("number too large")
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

async fn send_batch(env: &Env, seed: u64, start: usize, end: usize) -> anyhow::Result<()> {
    let entities: Vec<Value> = (start..end).map(|i| entity(seed, i)).collect();
    let reply = call(
        env,
        &env.token,
        Method::POST,
        "/v1/blueprints/service/entities/bulk?upsert=true",
        &json!({ "entities": entities }),
        200,
        &format!("bulk request {start}..{end}"),
    )
    .await?;
    let n = reply["entities"].as_array().map_or(0, Vec::len);
    ensure!(
        n == end - start,
        "bulk request {start}..{end}: {n} entities acknowledged"
    );
    Ok(())
}

/// Loads the entities in waves with `ANALYZE` after each ([`crate::env::in_waves`], 2 bulk
/// requests in flight), then `VACUUM ANALYZE`.
async fn load(env: &Env, seed: u64, n: usize, batch: usize) -> anyhow::Result<Duration> {
    let batches: Vec<(usize, usize)> = (0..n)
        .step_by(batch)
        .map(|s| (s, (s + batch).min(n)))
        .collect();
    let start = Instant::now();
    crate::env::in_waves(&env.store, &batches, 2, true, |(a, b)| {
        send_batch(env, seed, a, b)
    })
    .await?;
    let wall = start.elapsed();
    env.store
        .connection()
        .execute_unprepared(&format!(
            "VACUUM {}, blueprints",
            crate::env::ANALYZE_CATALOG
        ))
        .await
        .context("VACUUM ANALYZE failed")?;
    Ok(wall)
}

/// Invites the Member (in `team-0`), accepts the invitation, answers its token.
async fn member_token(env: &Env) -> anyhow::Result<String> {
    let invited = call(
        env,
        &env.token,
        Method::POST,
        "/v1/users/invite",
        &json!({"invitee": {"email": MEMBER_EMAIL, "roles": ["Member"], "teams": [MY_TEAM]}}),
        201,
        "invite the member",
    )
    .await?;
    let invite = invited["inviteToken"]
        .as_str()
        .context("the invitation holds no inviteToken")?;
    let res = env
        .http
        .post(env.url("/v1/auth/accept-invite"))
        .json(&json!({"inviteToken": invite, "password": "correct horse battery staple"}))
        .send()
        .await
        .context("accept-invite failed")?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    ensure!(
        status.as_u16() == 200,
        "accept-invite: HTTP {status}: {body}"
    );
    body["accessToken"]
        .as_str()
        .map(str::to_owned)
        .context("accept-invite answered no accessToken")
}

async fn set_read_permission(env: &Env, read: Value) -> anyhow::Result<()> {
    call(
        env,
        &env.token,
        Method::PATCH,
        "/v1/blueprints/service/permissions",
        &json!({"entities": {"read": read}}),
        200,
        "set the read permission",
    )
    .await?;
    Ok(())
}

/// Which route a phase measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Get,
    Search,
}

impl Route {
    fn label(self) -> &'static str {
        match self {
            Route::Get => "GET entity",
            Route::Search => "search (page of 50)",
        }
    }
}

/// What the entities a phase may see must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visible {
    /// Everything: a page holds entities of other teams.
    All,
    /// `team-0`'s only.
    MyTeam,
    /// `team-0`'s and gold ones: a page holds gold entities of other teams.
    MyTeamOrGold,
}

/// One request of a phase, prepared before timing.
struct Req {
    method: Method,
    path: String,
    body: Option<Vec<u8>>,
    /// The identifier asked for (GET) or the language searched for.
    key: String,
}

fn get_requests(ids: &[usize]) -> Vec<Req> {
    ids.iter()
        .map(|&i| Req {
            method: Method::GET,
            path: format!("/v1/blueprints/service/entities/{}", identifier(i)),
            body: None,
            key: identifier(i),
        })
        .collect()
}

fn search_requests(seed: u64, ids: &[usize]) -> anyhow::Result<Vec<Req>> {
    ids.iter()
        .map(|&i| {
            let lang = language(seed, i);
            let body = json!({
                "query": {"combinator": "and", "rules": [{"property": "language", "operator": "=", "value": lang}]},
                "limit": PAGE,
            });
            Ok(Req {
                method: Method::POST,
                path: "/v1/blueprints/service/entities/search".into(),
                body: Some(serde_json::to_vec(&body).context("cannot encode")?),
                key: lang.to_owned(),
            })
        })
        .collect()
}

/// Sends one request; answers the time to the full response, the status and the body.
async fn one(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    r: &Req,
) -> anyhow::Result<(Duration, u16, actix_web::web::Bytes)> {
    let t0 = Instant::now();
    let mut req = client
        .request(r.method.clone(), format!("{base}{}", r.path))
        .bearer_auth(token);
    if let Some(b) = &r.body {
        req = req.header(CONTENT_TYPE, "application/json").body(b.clone());
    }
    let res = req
        .send()
        .await
        .with_context(|| format!("request to {} failed", r.path))?;
    let status = res.status().as_u16();
    let bytes = res
        .bytes()
        .await
        .with_context(|| format!("cannot read the response of {}", r.path))?;
    Ok((t0.elapsed(), status, bytes))
}

fn fail(r: &Req, status: u16, body: &[u8], expect: u16) -> anyhow::Error {
    let mut text = String::from_utf8_lossy(body).into_owned();
    text.truncate(2_000);
    anyhow::anyhow!(
        "{} {} ({}): expected HTTP {expect}, got {status}: {text}",
        r.method,
        r.path,
        r.key
    )
}

fn teams_of(e: &Value) -> Vec<String> {
    match &e["team"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

/// How many services of `language` the caller sees.
fn visible_matches(cx: &Ctx<'_>, visible: Visible, lang: &str) -> usize {
    (0..cx.n)
        .filter(|&i| language(cx.seed, i) == lang)
        .filter(|&i| match visible {
            Visible::All => true,
            Visible::MyTeam => team_of(i) == 0,
            Visible::MyTeamOrGold => team_of(i) == 0 || tier(cx.seed, i) == "gold",
        })
        .count()
}

/// Checks the first requests of a phase (untimed): status, and what the answers hold.
async fn sanity(
    cx: &Ctx<'_>,
    client: &reqwest::Client,
    token: &str,
    route: Route,
    expect: u16,
    visible: Visible,
    reqs: &[Req],
) -> anyhow::Result<()> {
    let mut foreign = false;
    for r in reqs.iter().take(SANITY) {
        let (_, status, bytes) = one(client, &cx.env.base, token, r).await?;
        if status != expect {
            return Err(fail(r, status, &bytes, expect));
        }
        if expect != 200 {
            continue;
        }
        let body: Value = serde_json::from_slice(&bytes).context("the answer is not JSON")?;
        match route {
            Route::Get => ensure!(
                body["entity"]["identifier"].as_str() == Some(r.key.as_str()),
                "GET {}: answered {}",
                r.key,
                body["entity"]["identifier"]
            ),
            Route::Search => {
                let page = body["entities"].as_array().context("no entities")?;
                let want = visible_matches(cx, visible, &r.key).min(PAGE);
                ensure!(
                    page.len() == want,
                    "search {}: {} entities, expected {want}",
                    r.key,
                    page.len()
                );
                for e in page {
                    let teams = teams_of(e);
                    let mine = teams.iter().any(|t| t == MY_TEAM);
                    let gold = e["properties"]["tier"].as_str() == Some("gold");
                    ensure!(
                        e["properties"]["language"].as_str() == Some(r.key.as_str()),
                        "search {}: answered {e}",
                        r.key
                    );
                    match visible {
                        Visible::All => {}
                        Visible::MyTeam => ensure!(mine, "the filter let through {e}"),
                        Visible::MyTeamOrGold => {
                            ensure!(mine || gold, "the filter let through {e}")
                        }
                    }
                    foreign |= !mine;
                }
            }
        }
    }
    if route == Route::Search && visible != Visible::MyTeam {
        ensure!(
            foreign,
            "no page held an entity of another team: the read is narrower than expected"
        );
    }
    Ok(())
}

/// A guard against the rate limit (per org, fixed windows of `rate_limit_window_secs`):
/// waits for the next window when fewer than `needed` entity requests remain in this one,
/// so no timed request is refused (the environment raises the budgets; this holds if not).
async fn ensure_budget(env: &Env, probe_path: &str, needed: u64) -> anyhow::Result<()> {
    let res = env
        .http
        .get(env.url(probe_path))
        .bearer_auth(&env.token)
        .send()
        .await
        .context("rate-limit probe failed")?;
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let (Some(remaining), Some(reset)) =
        (header("x-ratelimit-remaining"), header("x-ratelimit-reset"))
    else {
        return Ok(());
    };
    if remaining < needed {
        eprintln!(
            "  {remaining} entity requests left in this rate-limit window, {needed} needed: waiting {reset} s for the next"
        );
        tokio::time::sleep(Duration::from_secs(reset + 1)).await;
    }
    Ok(())
}

/// `n` requests from `clients` concurrent clients taking the next request from a shared
/// counter; answers the wall time and every latency.
async fn timed(
    clients: &[reqwest::Client],
    env: &Env,
    token: &str,
    reqs: &[Req],
    n: usize,
    expect: u16,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let per_client = try_join_all(clients.iter().map(|client| {
        let next = &next;
        async move {
            let mut lat = Vec::with_capacity(n / clients.len() + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = &reqs[i % reqs.len()];
                let (d, status, bytes) = one(client, &env.base, token, r).await?;
                if status != expect {
                    return Err(fail(r, status, &bytes, expect));
                }
                lat.push(d);
            }
            anyhow::Ok(lat)
        }
    }))
    .await?;
    Ok((start.elapsed(), per_client.into_iter().flatten().collect()))
}

/// One measured line of the table.
pub struct Line {
    pub key: &'static str,
    pub caller: &'static str,
    pub permission: &'static str,
    pub route: &'static str,
    pub status: u16,
    pub phase: Phase,
}

struct Scenario<'a> {
    key: &'static str,
    caller: &'static str,
    permission: &'static str,
    token: &'a str,
    expect: u16,
    visible: Visible,
    routes: &'a [Route],
}

struct Ctx<'a> {
    common: &'a Common,
    env: &'a Env,
    totals: &'a Arc<SpanTotals>,
    seed: u64,
    n: usize,
    requests: usize,
    warmup: usize,
    conc: usize,
}

async fn measure(
    cx: &Ctx<'_>,
    s: &Scenario<'_>,
    ids: &[usize],
    out: &mut Vec<Line>,
) -> anyhow::Result<()> {
    let clients = (0..cx.conc)
        .map(|_| http_client(1))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for &route in s.routes {
        let reqs = match route {
            Route::Get => get_requests(ids),
            Route::Search => search_requests(cx.seed, ids)?,
        };
        eprintln!(
            "({}) {}, {}: {}...",
            s.key,
            s.caller,
            s.permission,
            route.label()
        );
        let probe_path = format!("/v1/blueprints/service/entities/{}", identifier(ids[0]));
        let needed = (SANITY + cx.warmup + cx.requests + 10) as u64;
        ensure_budget(cx.env, &probe_path, needed).await?;
        sanity(cx, &clients[0], s.token, route, s.expect, s.visible, &reqs).await?;
        timed(&clients, cx.env, s.token, &reqs, cx.warmup, s.expect).await?;
        let probe = Probe::new(
            admin_connection(&cx.common.admin_url).await?,
            cx.env.db.name.clone(),
            cx.totals.clone(),
        );
        let before = probe.snapshot().await;
        let (wall, lat) = timed(&clients, cx.env, s.token, &reqs, cx.requests, s.expect).await?;
        let usage = probe.since(&before).await;
        let phase = Phase::new(s.key, route.label(), cx.requests, cx.conc, wall, lat, usage);
        eprintln!(
            "  p50 {} ms, p99 {} ms, {} requests/s",
            report::ms(phase.percentile(50.0)),
            report::ms(phase.percentile(99.0)),
            report::thousands(phase.request_rate())
        );
        out.push(Line {
            key: s.key,
            caller: s.caller,
            permission: s.permission,
            route: route.label(),
            status: s.expect,
            phase,
        });
    }
    Ok(())
}

pub struct AuthReport {
    pub args: AuthArgs,
    pub pool: u32,
    pub load: Duration,
    pub readable: usize,
    pub gold_elsewhere: usize,
    pub lines: Vec<Line>,
}

pub async fn run(
    common: &Common,
    a: &AuthArgs,
    totals: &Arc<SpanTotals>,
    envs: &mut Vec<Env>,
) -> anyhow::Result<AuthReport> {
    let n = usize_of(a.entities)?;
    let batch = usize_of(a.batch)?;
    let requests = usize_of(a.requests)?;
    let seed = a.seed;
    eprintln!("setting up the database...");
    envs.push(Env::setup(common, "auth", batch, 1, 1).await?);
    let env = &envs[0];
    call(
        env,
        &env.token,
        Method::PUT,
        "/v1/blueprints/service",
        &blueprint(),
        200,
        "replace the service blueprint",
    )
    .await?;
    for t in 0..TEAMS {
        call(
            env,
            &env.token,
            Method::POST,
            "/v1/teams",
            &json!({"name": team_name(t)}),
            201,
            "create a team",
        )
        .await?;
    }
    eprintln!(
        "loading {} services through the bulk route...",
        report::thousands(n as f64)
    );
    let load_wall = load(env, seed, n, batch).await?;
    let stored = env
        .scalar_i64("SELECT count(*) FROM entities WHERE blueprint = 'service'")
        .await?;
    ensure!(
        stored == i64::try_from(n)?,
        "{stored} services stored, expected {n}"
    );
    eprintln!("  {:.1} s", load_wall.as_secs_f64());
    let member = member_token(env).await?;

    // The random identifiers: owned by team-0 (readable in every phase but (5)); for (5),
    // owned by another team and not gold (readable under neither (3) nor (4)).
    let readable = n.div_ceil(TEAMS);
    let ids: Vec<usize> = (0..requests)
        .map(|k| TEAMS * pick(seed, 10, k, readable))
        .collect();
    let hidden_pool: Vec<usize> = (0..n)
        .filter(|&i| team_of(i) != 0 && tier(seed, i) != "gold")
        .collect();
    let gold_elsewhere = (0..n)
        .filter(|&i| team_of(i) != 0 && tier(seed, i) == "gold")
        .count();
    ensure!(
        !hidden_pool.is_empty(),
        "no entity is hidden from the member"
    );
    let hidden: Vec<usize> = (0..requests)
        .map(|k| hidden_pool[pick(seed, 11, k, hidden_pool.len())])
        .collect();

    let cx = Ctx {
        common,
        env,
        totals,
        seed,
        n,
        requests,
        warmup: (requests / 10).max(50),
        conc: usize_of(a.concurrency)?,
    };
    let both = [Route::Get, Route::Search];
    let mut lines = Vec::new();
    let s1 = Scenario {
        key: "1",
        caller: "Admin app token",
        permission: "(Admin: no check)",
        token: &env.token,
        expect: 200,
        visible: Visible::All,
        routes: &both,
    };
    measure(&cx, &s1, &ids, &mut lines).await?;
    let s2 = Scenario {
        key: "2",
        caller: "Member (team-0)",
        permission: "default: roles [Admin, Member, service-moderator]",
        token: &member,
        expect: 200,
        visible: Visible::All,
        routes: &both,
    };
    measure(&cx, &s2, &ids, &mut lines).await?;
    set_read_permission(env, json!({"roles": ["Admin"], "ownedByTeam": true})).await?;
    let s3 = Scenario {
        key: "3",
        caller: "Member (team-0)",
        permission: "roles [Admin], ownedByTeam",
        token: &member,
        expect: 200,
        visible: Visible::MyTeam,
        routes: &both,
    };
    measure(&cx, &s3, &ids, &mut lines).await?;
    set_read_permission(
        env,
        json!({"roles": ["Admin"], "ownedByTeam": true,
               "policy": {"combinator": "and", "rules": [{"property": "tier", "operator": "=", "value": "gold"}]}}),
    )
    .await?;
    let s4 = Scenario {
        key: "4",
        caller: "Member (team-0)",
        permission: "roles [Admin], ownedByTeam, policy tier = gold",
        token: &member,
        expect: 200,
        visible: Visible::MyTeamOrGold,
        routes: &both,
    };
    measure(&cx, &s4, &ids, &mut lines).await?;
    let s5 = Scenario {
        key: "5",
        caller: "Member (team-0)",
        permission: "as (4); entities of other teams, not gold",
        token: &member,
        expect: 404,
        visible: Visible::MyTeamOrGold,
        routes: &[Route::Get],
    };
    measure(&cx, &s5, &hidden, &mut lines).await?;
    Ok(AuthReport {
        args: a.clone(),
        pool: common.pool,
        load: load_wall,
        readable,
        gold_elsewhere,
        lines,
    })
}

impl AuthReport {
    /// The p50 of phase (1) on the same route.
    fn baseline(&self, route: &str) -> Option<Duration> {
        self.lines
            .iter()
            .find(|l| l.key == "1" && l.route == route)
            .map(|l| l.phase.percentile(50.0))
    }

    fn delta(&self, l: &Line) -> String {
        match self.baseline(l.route) {
            Some(b) if l.key != "1" => {
                let d = l.phase.percentile(50.0).as_secs_f64() - b.as_secs_f64();
                format!("{:+.2}", d * 1e3)
            }
            _ => "".into(),
        }
    }

    pub fn markdown(&self) -> String {
        let a = &self.args;
        let per_req = |v: Option<f64>, p: &Phase| {
            v.map_or_else(
                || "n/a".to_owned(),
                |s| format!("{:.0}", s * 1e6 / p.requests.max(1) as f64),
            )
        };
        let mut out = format!(
            "## Authorization: {} services over {TEAMS} teams, {} requests per phase, {} concurrent clients\n\n\
             Store pool {} connections. The same {} random identifiers (owned by `{MY_TEAM}`: {} of the services) in every phase \
             but (5); search: `{{query: language = <that entity's language>, limit: {PAGE}}}`. \
             Loaded through the bulk route in {} s.\n\n\
             | # | caller | read permission | route | HTTP | requests/s | p50 (ms) | p99 (ms) | p50 − (1) (ms) | bench process CPU (µs/request) | PG backend CPU (µs/request) |\n\
             |---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
            report::thousands(a.entities as f64),
            report::thousands(a.requests as f64),
            a.concurrency,
            self.pool,
            report::thousands(a.requests as f64),
            report::thousands(self.readable as f64),
            report::secs(self.load),
        );
        for l in &self.lines {
            let p = &l.phase;
            out.push_str(&format!(
                "| ({}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                l.key,
                l.caller,
                l.permission,
                l.route,
                l.status,
                report::thousands(p.request_rate()),
                report::ms(p.percentile(50.0)),
                report::ms(p.percentile(99.0)),
                self.delta(l),
                per_req(p.usage.this_cpu, p),
                per_req(p.usage.pg_cpu, p),
            ));
        }
        out.push_str(&format!(
            "\nChecked before each phase: the status, the identifier read, the page (min(50, the matching services the caller may read), all of the language searched for), \
             and the filter: (3) answered only `{MY_TEAM}`'s entities, (4) `{MY_TEAM}`'s and gold ones of other teams \
             ({} gold services outside `{MY_TEAM}`), (1) and (2) entities of other teams.\n",
            report::thousands(self.gold_elsewhere as f64)
        ));
        out
    }

    pub fn json(&self) -> Value {
        let a = &self.args;
        json!({
            "benchmark": "auth",
            "entities": a.entities,
            "teams": TEAMS,
            "requests": a.requests,
            "concurrency": a.concurrency,
            "pool": self.pool,
            "seed": a.seed,
            "loadSeconds": self.load.as_secs_f64(),
            "phases": self.lines.iter().map(|l| {
                let mut p = l.phase.to_json();
                p["scenario"] = json!(l.key);
                p["caller"] = json!(l.caller);
                p["readPermission"] = json!(l.permission);
                p["route"] = json!(l.route);
                p["status"] = json!(l.status);
                p["p50MinusAdminMs"] = match self.baseline(l.route) {
                    Some(b) if l.key != "1" => json!((l.phase.percentile(50.0).as_secs_f64() - b.as_secs_f64()) * 1e3),
                    _ => Value::Null,
                };
                p
            }).collect::<Vec<_>>(),
        })
    }
}
