//! The layering: built-in defaults, then the TOML file, then `PORTOLAN_*` variables.

use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Serialize;

use crate::{CONFIG_FILE_ENV, Config, ConfigError, ENV_PREFIX, LogFormat};

impl Config {
    /// Loads defaults, then the file named by `PORTOLAN_CONFIG_FILE` (if set), then `PORTOLAN_*`
    /// environment variables, and validates the result.
    pub fn load() -> Result<Config, ConfigError> {
        Self::from_figment(Self::defaults_figment())
    }

    /// Extracts and validates a configuration from any figment; tests use it to supply their own
    /// layers. Keys missing from the figment take their built-in default. Numbers and booleans
    /// may be given as strings, as environment variables always are.
    pub fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment.extract_lossy().map_err(ConfigError::from_figment)?;
        config.validate()?;
        Ok(config)
    }

    /// The standard layering: built-in defaults, then the TOML file named by
    /// `PORTOLAN_CONFIG_FILE` (which must exist when the variable is set), then `PORTOLAN_*`
    /// environment variables. Empty environment variables count as unset.
    pub fn defaults_figment() -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Defaults::from(&Config::default())));
        if let Some(path) = std::env::var_os(CONFIG_FILE_ENV).filter(|path| !path.is_empty()) {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment.merge(PortolanEnv)
    }
}

/// `PORTOLAN_*` variables as plain strings. figment's own `Env` provider guesses types, which
/// turns a numeric client id or password into a number that no longer deserializes as a
/// string; here every value stays a string and [`Config::from_figment`] converts numbers.
struct PortolanEnv;

impl Provider for PortolanEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("`{ENV_PREFIX}` environment variable(s)"))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let config_file_key = CONFIG_FILE_ENV
            .trim_start_matches(ENV_PREFIX)
            .to_ascii_lowercase();
        let dict: Dict = Env::prefixed(ENV_PREFIX)
            .iter()
            .filter(|(key, value)| key.as_str() != config_file_key && !value.is_empty())
            .map(|(key, value)| (key.as_str().to_owned(), Value::from(value)))
            .collect();
        Ok(Profile::Default.collect(dict))
    }
}

/// The non-secret defaults, so the bottom layer of the figment can be inspected.
#[derive(Serialize)]
struct Defaults {
    http_addr: String,
    data_dir: PathBuf,
    db_max_connections: u32,
    amqp_exchange: String,
    amqp_queue_prefix: String,
    redis_key_prefix: String,
    token_lifetime_secs: u64,
    jwt_issuer: String,
    jwt_audience: String,
    bulk_max_entities: usize,
    max_body_bytes: usize,
    shutdown_timeout_secs: u64,
    ingestion_health_addr: String,
    automation_health_addr: String,
    log: String,
    log_format: LogFormat,
}

impl From<&Config> for Defaults {
    fn from(config: &Config) -> Self {
        Defaults {
            http_addr: config.http_addr.clone(),
            data_dir: config.data_dir.clone(),
            db_max_connections: config.db_max_connections,
            amqp_exchange: config.amqp_exchange.clone(),
            amqp_queue_prefix: config.amqp_queue_prefix.clone(),
            redis_key_prefix: config.redis_key_prefix.clone(),
            token_lifetime_secs: config.token_lifetime_secs,
            jwt_issuer: config.jwt_issuer.clone(),
            jwt_audience: config.jwt_audience.clone(),
            bulk_max_entities: config.bulk_max_entities,
            max_body_bytes: config.max_body_bytes,
            shutdown_timeout_secs: config.shutdown_timeout_secs,
            ingestion_health_addr: config.ingestion_health_addr.clone(),
            automation_health_addr: config.automation_health_addr.clone(),
            log: config.log.clone(),
            log_format: config.log_format,
        }
    }
}
