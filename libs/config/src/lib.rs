//! Portolan's configuration: built-in defaults, then an optional TOML file named by
//! `PORTOLAN_CONFIG_FILE`, then `PORTOLAN_*` environment variables. The result is validated
//! once at start-up and every error names the offending setting. Secrets are
//! [`SecretString`]s, so `Debug` output never contains them.

mod error;
mod load;
mod settings;
mod validate;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use error::ConfigError;

/// Prefix of every environment variable read by [`Config::load`].
pub const ENV_PREFIX: &str = "PORTOLAN_";

/// Environment variable naming the optional TOML configuration file.
pub const CONFIG_FILE_ENV: &str = "PORTOLAN_CONFIG_FILE";

/// Every Portolan setting. Each field is read from the TOML file under its own name and from
/// the environment as `PORTOLAN_<FIELD NAME IN UPPER CASE>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Socket address the HTTP API listens on.
    pub http_addr: String,
    /// Directory for local state, such as the SQLite database used when no database URL is set.
    pub data_dir: PathBuf,
    /// Database URL (`postgres://...` or `sqlite:...`). Unset: a SQLite file in the data directory.
    pub database_url: Option<SecretString>,
    /// Maximum number of pooled database connections (1 to 1000): the shared pool's size; the
    /// API's HTTP workers divide as many again between their own pools.
    pub db_max_connections: u32,
    /// RabbitMQ URL (`amqp://...` or `amqps://...`). Unset: an in-process event bus.
    pub amqp_url: Option<SecretString>,
    /// RabbitMQ exchange that events are published to.
    pub amqp_exchange: String,
    /// Prefix of the RabbitMQ queue names.
    pub amqp_queue_prefix: String,
    /// Redis URL (`redis://...` or `rediss://...`). Unset: in-memory caches and rate limits.
    pub redis_url: Option<SecretString>,
    /// Prefix of every Redis key.
    pub redis_key_prefix: String,
    /// Base URL clients use to reach the API. Unset: `http://` followed by the HTTP address.
    pub public_url: Option<String>,
    /// Client id of the credentials created at first start (set together with the secret).
    pub bootstrap_client_id: Option<String>,
    /// Client secret of the credentials created at first start (set together with the id).
    pub bootstrap_client_secret: Option<SecretString>,
    /// Lifetime of issued access tokens, in seconds (60 to 86400).
    pub token_lifetime_secs: u64,
    /// `iss` claim of issued access tokens.
    pub jwt_issuer: String,
    /// `aud` claim of issued access tokens.
    pub jwt_audience: String,
    /// Maximum number of entities in one bulk request (1 to 100000).
    pub bulk_max_entities: usize,
    /// Maximum size of a request body, in bytes (1024 to 1073741824).
    pub max_body_bytes: usize,
    /// Time allowed for in-flight work to finish on shutdown, in seconds (0 to 3600).
    pub shutdown_timeout_secs: u64,
    /// Socket address of the ingestion worker's health and metrics endpoint.
    pub ingestion_health_addr: String,
    /// Socket address of the automation worker's health and metrics endpoint.
    pub automation_health_addr: String,
    /// Token that authenticates the operator API (`/operator/...`). Unset: the operator API is off.
    pub operator_token: Option<SecretString>,
    /// Keys that encrypt organization secrets at rest: `kid:base64(32 bytes)` entries separated by commas, the first encrypts and all decrypt. Unset: a key file in the data directory, created on first start.
    pub secrets_keys: Option<SecretString>,
    /// Trusted OIDC issuers for single sign-on, as a JSON array of `{issuer, audience, org, jwksUrl?, emailClaim?, groupsClaim?}`. Unset: no SSO.
    pub oidc_issuers: Option<String>,
    /// Rate-limit window, in seconds (1 to 86400).
    pub rate_limit_window_secs: u64,
    /// Default per-org budget of entity routes per window (1 to 100000000).
    pub rate_limit_entities: u64,
    /// Default per-org budget of all other authenticated routes per window (1 to 100000000).
    pub rate_limit_other: u64,
    /// Budget of unauthenticated requests per source address per window (1 to 100000000).
    pub rate_limit_unauthenticated: u64,
    /// How long a response is replayed for a repeated `Idempotency-Key`, in seconds (60 to 604800).
    pub idempotency_ttl_secs: u64,
    /// Failed password logins allowed per account in 15 minutes before further attempts are refused (1 to 1000).
    pub login_max_failures_per_account: u64,
    /// Failed password logins allowed per source address in 15 minutes before further attempts are refused (1 to 100000).
    pub login_max_failures_per_address: u64,
    /// Log filter, as a `tracing` `EnvFilter` directive (for example `info,portolan_api=debug`).
    pub log: String,
    /// Log output format: `text` or `json`.
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http_addr: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            db_max_connections: 10,
            amqp_url: None,
            amqp_exchange: "portolan.events".to_owned(),
            amqp_queue_prefix: "portolan".to_owned(),
            redis_url: None,
            redis_key_prefix: "portolan:".to_owned(),
            public_url: None,
            bootstrap_client_id: None,
            bootstrap_client_secret: None,
            token_lifetime_secs: 10_800,
            jwt_issuer: "portolan".to_owned(),
            jwt_audience: "portolan-api".to_owned(),
            bulk_max_entities: 1000,
            max_body_bytes: 1_048_576,
            shutdown_timeout_secs: 30,
            ingestion_health_addr: "127.0.0.1:8081".to_owned(),
            automation_health_addr: "127.0.0.1:8082".to_owned(),
            operator_token: None,
            secrets_keys: None,
            oidc_issuers: None,
            rate_limit_window_secs: 300,
            rate_limit_entities: 35_000,
            rate_limit_other: 15_000,
            rate_limit_unauthenticated: 100,
            idempotency_ttl_secs: 86_400,
            login_max_failures_per_account: 5,
            login_max_failures_per_address: 50,
            log: "info".to_owned(),
            log_format: LogFormat::Text,
        }
    }
}

impl Config {
    /// URL of the SQLite database used when `database_url` is unset:
    /// `sqlite://<data_dir>/portolan.db?mode=rwc`.
    pub fn sqlite_url(&self) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self.data_dir.join("portolan.db").display()
        )
    }

    /// The configured database URL (secret exposed), or [`Config::sqlite_url`] when unset.
    pub fn database_url_or_default(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose_secret().to_owned(),
            None => self.sqlite_url(),
        }
    }

    /// The public base URL without a trailing slash. When unset it is `http://<http_addr>`,
    /// with an unspecified listen address (`0.0.0.0`, `::`) replaced by loopback.
    pub fn public_url_or_default(&self) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        match self.http_addr.parse::<SocketAddr>() {
            Ok(mut addr) => {
                if addr.ip().is_unspecified() {
                    let loopback = match addr.ip() {
                        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                    };
                    addr.set_ip(loopback);
                }
                format!("http://{addr}")
            }
            Err(_) => format!("http://{}", self.http_addr),
        }
    }
}
