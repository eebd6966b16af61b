//! Start-up checks. Each error names the setting; secret values are never echoed.

use std::net::SocketAddr;
use std::ops::RangeInclusive;

use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;

use crate::{Config, ConfigError};

impl Config {
    /// Checks every setting, failing on the first invalid one with an error naming it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        socket_addr("http_addr", &self.http_addr)?;
        socket_addr("ingestion_health_addr", &self.ingestion_health_addr)?;
        socket_addr("automation_health_addr", &self.automation_health_addr)?;
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }

        secret_url(
            "database_url",
            self.database_url.as_ref(),
            &["postgres://", "postgresql://", "sqlite:"],
        )?;
        in_range("db_max_connections", self.db_max_connections, 1..=1000)?;

        secret_url("amqp_url", self.amqp_url.as_ref(), &["amqp://", "amqps://"])?;
        not_empty("amqp_exchange", &self.amqp_exchange)?;
        not_empty("amqp_queue_prefix", &self.amqp_queue_prefix)?;

        secret_url(
            "redis_url",
            self.redis_url.as_ref(),
            &["redis://", "rediss://", "redis+unix://", "unix://"],
        )?;

        if let Some(url) = &self.public_url {
            public_url(url)?;
        }
        self.validate_bootstrap()?;

        in_range("token_lifetime_secs", self.token_lifetime_secs, 60..=86_400)?;
        not_empty("jwt_issuer", &self.jwt_issuer)?;
        not_empty("jwt_audience", &self.jwt_audience)?;

        in_range("bulk_max_entities", self.bulk_max_entities, 1..=100_000)?;
        in_range("max_body_bytes", self.max_body_bytes, 1024..=1 << 30)?;
        in_range(
            "shutdown_timeout_secs",
            self.shutdown_timeout_secs,
            0..=3600,
        )?;

        in_range(
            "rate_limit_window_secs",
            self.rate_limit_window_secs,
            1..=86_400,
        )?;
        in_range(
            "rate_limit_entities",
            self.rate_limit_entities,
            1..=100_000_000,
        )?;
        in_range("rate_limit_other", self.rate_limit_other, 1..=100_000_000)?;
        in_range(
            "rate_limit_unauthenticated",
            self.rate_limit_unauthenticated,
            1..=100_000_000,
        )?;
        in_range(
            "idempotency_ttl_secs",
            self.idempotency_ttl_secs,
            60..=604_800,
        )?;
        in_range(
            "login_max_failures_per_account",
            self.login_max_failures_per_account,
            1..=1000,
        )?;
        in_range(
            "login_max_failures_per_address",
            self.login_max_failures_per_address,
            1..=100_000,
        )?;
        if let Some(token) = &self.operator_token
            && token.expose_secret().len() < 32
        {
            return Err(ConfigError::invalid(
                "operator_token",
                "must be at least 32 characters (value not shown)",
            ));
        }

        not_empty("log", &self.log)?;
        if let Err(error) = EnvFilter::try_new(&self.log) {
            return Err(ConfigError::invalid(
                "log",
                format!("invalid log filter '{}': {error}", self.log),
            ));
        }
        Ok(())
    }

    fn validate_bootstrap(&self) -> Result<(), ConfigError> {
        match (&self.bootstrap_client_id, &self.bootstrap_client_secret) {
            (None, None) => Ok(()),
            (Some(id), Some(secret)) => {
                not_empty("bootstrap_client_id", id)?;
                not_empty("bootstrap_client_secret", secret.expose_secret())
            }
            (Some(_), None) => Err(ConfigError::invalid(
                "bootstrap_client_secret",
                "must be set when PORTOLAN_BOOTSTRAP_CLIENT_ID is set",
            )),
            (None, Some(_)) => Err(ConfigError::invalid(
                "bootstrap_client_id",
                "must be set when PORTOLAN_BOOTSTRAP_CLIENT_SECRET is set",
            )),
        }
    }
}

fn socket_addr(key: &str, value: &str) -> Result<(), ConfigError> {
    value
        .parse::<SocketAddr>()
        .map(drop)
        .map_err(|_| ConfigError::invalid(key, format!("invalid socket address '{value}'")))
}

fn not_empty(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(ConfigError::invalid(key, "must not be empty"));
    }
    Ok(())
}

fn in_range<T>(key: &str, value: T, range: RangeInclusive<T>) -> Result<(), ConfigError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        key,
        format!(
            "must be between {} and {}, got {value}",
            range.start(),
            range.end()
        ),
    ))
}

/// Only the scheme is checked, and the value is never part of the message: URLs carry passwords.
fn secret_url(
    key: &str,
    value: Option<&SecretString>,
    schemes: &[&str],
) -> Result<(), ConfigError> {
    let Some(value) = value else {
        return Ok(());
    };
    let url = value.expose_secret();
    if schemes.iter().any(|scheme| url.starts_with(scheme)) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        key,
        format!("must start with {} (value not shown)", schemes.join(", ")),
    ))
}

fn public_url(url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty() && !rest.starts_with('/') && !url.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(ConfigError::invalid(
            "public_url",
            format!("invalid URL '{url}': expected http://host[:port][/path] or https://..."),
        )),
    }
}
