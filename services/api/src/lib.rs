//! The Portolan HTTP API (actix-web): Port's `/v1` routes, health, metrics, OpenAPI and docs.
//!
//! [`start`] binds and runs the server; [`openapi`] builds the OpenAPI document from the same
//! route table, so the committed `openapi/openapi.json` can be checked against the code.

pub mod access;
pub mod auth;
pub mod body;
pub mod bootstrap;
pub mod error;
pub mod limits;
pub mod login_throttle;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod schemas;
pub mod state;
pub mod write_access;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::web::{self, Data};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use actix_web_prom::PrometheusMetricsBuilder;
use portolan_bus::Bus;
use portolan_config::Config;
use portolan_store::Store;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::routes::{
    apps, audit, auth as auth_routes, blueprints, entities, health, migrations, operator,
    organization, search, teams, users,
};
use crate::state::AppState;

/// Registers every route. The one route table of the API: the server and the OpenAPI
/// document are both built from it.
fn routes(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(
            utoipa_actix_web::scope("/operator")
                .service(operator::list_organizations)
                .service(operator::create_organization)
                .service(operator::get_organization)
                .service(operator::patch_organization)
                .service(operator::delete_organization)
                .service(operator::rotate_signing_key),
        )
        .service(
            // actix tries a scope's routes in order, matching each dynamic one with a
            // regex: the busiest routes, the searches, come first (the paths of the ones
            // before them do not overlap theirs).
            utoipa_actix_web::scope("/v1")
                .service(search::search_blueprint)
                .service(search::search_entities)
                .service(search::aggregate)
                .service(auth_routes::access_token)
                .service(auth_routes::login)
                .service(auth_routes::accept_invite)
                .service(auth_routes::sso)
                .service(users::list_users)
                .service(users::invite_user)
                .service(users::get_user)
                .service(users::patch_user)
                .service(users::delete_user)
                .service(users::set_password)
                .service(users::rotate_credentials)
                .service(teams::list_teams)
                .service(teams::create_team)
                .service(teams::get_team)
                .service(teams::replace_team)
                .service(teams::patch_team)
                .service(teams::delete_team)
                .service(apps::list_apps)
                .service(apps::create_app)
                .service(apps::get_app)
                .service(apps::update_app)
                .service(apps::delete_app)
                .service(apps::rotate_secret)
                .service(blueprints::list_blueprints)
                .service(blueprints::create_blueprint)
                .service(blueprints::get_blueprint)
                .service(blueprints::replace_blueprint)
                .service(blueprints::patch_blueprint)
                .service(blueprints::delete_blueprint)
                .service(blueprints::rename_property)
                .service(blueprints::rename_relation)
                .service(blueprints::rename_mirror)
                .service(blueprints::entities_count)
                .service(blueprints::get_permissions)
                .service(blueprints::patch_permissions)
                .service(blueprints::delete_all_entities)
                .service(entities::create_entity)
                .service(entities::bulk_entities)
                .service(entities::list_entities)
                .service(entities::get_entity)
                .service(entities::replace_entity)
                .service(entities::patch_entity)
                .service(entities::delete_entity)
                .service(entities::bulk_delete_entities)
                .service(migrations::list_migrations)
                .service(migrations::get_migration)
                .service(migrations::cancel_migration)
                .service(audit::audit_log)
                .service(organization::get_own_organization)
                .service(organization::replace_own_organization)
                .service(organization::patch_own_organization)
                .service(organization::create_organization_secret)
                .service(organization::list_organization_secrets)
                .service(organization::get_organization_secret)
                .service(organization::patch_organization_secret)
                .service(organization::delete_organization_secret),
        );
}

/// The OpenAPI document of the API, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    doc
}

/// The pretty JSON text committed as `openapi/openapi.json`.
pub fn openapi_json() -> anyhow::Result<String> {
    Ok(format!("{}\n", openapi().to_pretty_json()?))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound(format!(
        "{} {}",
        req.method(),
        req.path()
    )))
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/docs/"))
        .finish()
}

/// A running API server.
pub struct Api {
    /// Where it listens (useful with port 0).
    pub addr: SocketAddr,
    /// Await it to run; `handle().stop(true)` stops it gracefully.
    pub server: Server,
}

/// Binds `config.http_addr` (port 0 picks a free one) and builds the server. Signals are left
/// to the caller, which stops the server through `server.handle()`.
pub async fn start(config: Arc<Config>, store: Store, bus: Arc<dyn Bus>) -> anyhow::Result<Api> {
    let (issuer, verifier) = auth::signing(&store, &config).await?;
    let decoy_hash =
        portolan_auth::secret::hash_secret(portolan_auth::secret::generate_client_secret()).await?;
    let secrets = portolan_auth::seal::KeyRing::load_or_create(
        config.secrets_keys.as_ref(),
        &config.data_dir,
    )
    .map_err(|e| anyhow::anyhow!("organization secrets keys (PORTOLAN_SECRETS_KEYS): {e}"))?;
    let cache = portolan_cache::Cache::connect(
        config
            .redis_url
            .as_ref()
            .map(secrecy::ExposeSecret::expose_secret),
        config.redis_key_prefix.clone(),
    )
    .await?;
    let state = Data::new(AppState {
        store,
        config: config.clone(),
        oidc: match &config.oidc_issuers {
            Some(json) => Some(
                portolan_auth::oidc::OidcVerifier::from_setting(json)
                    .map_err(|e| anyhow::anyhow!("PORTOLAN_OIDC_ISSUERS: {e}"))?,
            ),
            None => None,
        },
        issuer: std::sync::RwLock::new(Arc::new(issuer)),
        verifier,
        bus,
        decoy_hash,
        cache,
        org_status: Default::default(),
        secrets,
    });
    let doc = openapi();
    let metrics = PrometheusMetricsBuilder::new("portolan")
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build metrics: {e}"))?;
    metrics
        .registry
        .register(Box::new(PlanSwitches::new(state.store.clone())?))
        .map_err(|e| anyhow::anyhow!("cannot register a metric: {e}"))?;
    let listener = TcpListener::bind(&config.http_addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.http_addr))?;
    let addr = listener.local_addr()?;
    // One pool per HTTP worker, each used only by its worker's runtime (so it hands out a
    // recently used connection without a ping: `Store::worker_pool`); together they hold
    // about `db_max_connections`.
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per_worker = config
        .db_max_connections
        .div_ceil(u32::try_from(workers).unwrap_or(u32::MAX))
        .max(1);
    let shared = state.store.clone();
    let server = HttpServer::new(move || {
        let worker_store = Data::new(crate::state::WorkerStore(shared.worker_pool(per_worker)));
        let (app, _) = App::new()
            .into_utoipa_app()
            .openapi(openapi::ApiDoc::openapi())
            .app_data(state.clone())
            .app_data(worker_store)
            .configure(routes)
            .split_for_parts();
        app.wrap(from_fn(limits::limits))
            .wrap(metrics.clone())
            .wrap(from_fn(middleware::trace_id))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc.clone()))
            .route("/docs", web::get().to(docs_redirect))
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(config.shutdown_timeout_secs)
    .client_request_timeout(Duration::from_secs(60))
    .run();
    Ok(Api { addr, server })
}

/// `portolan_plan_switches_total`: plan-mode switches inside tenant transactions, read from the
/// store at each scrape. Each is a round trip that a right guess at the transaction's set-up
/// saves (`routes::search::plans_for`), so a rising rate means the guess is often wrong.
struct PlanSwitches {
    store: Store,
    /// Describes the metric; each scrape reports a fresh counter set to the store's count.
    described: prometheus::IntCounter,
}

const PLAN_SWITCHES: (&str, &str) = (
    "portolan_plan_switches_total",
    "Plan-mode switches inside tenant transactions (a database round trip each)",
);

impl PlanSwitches {
    fn new(store: Store) -> anyhow::Result<Self> {
        let described = prometheus::IntCounter::new(PLAN_SWITCHES.0, PLAN_SWITCHES.1)?;
        Ok(PlanSwitches { store, described })
    }
}

impl prometheus::core::Collector for PlanSwitches {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.described.desc()
    }
    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        match prometheus::IntCounter::new(PLAN_SWITCHES.0, PLAN_SWITCHES.1) {
            Ok(counter) => {
                counter.inc_by(self.store.plan_switches());
                counter.collect()
            }
            Err(_) => Vec::new(),
        }
    }
}
