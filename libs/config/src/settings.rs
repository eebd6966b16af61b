//! The settings table, used to generate the README's configuration section.

use crate::Config;

impl Config {
    /// Every setting as (environment variable, default, description), in field order. An empty
    /// default means the setting is unset unless configured. The descriptions repeat the field
    /// documentation of [`Config`]; a test checks that the names and defaults match.
    pub fn settings() -> Vec<(&'static str, &'static str, &'static str)> {
        vec![
            (
                "PORTOLAN_HTTP_ADDR",
                "127.0.0.1:8080",
                "Socket address the HTTP API listens on.",
            ),
            (
                "PORTOLAN_DATA_DIR",
                "./data",
                "Directory for local state, such as the SQLite database used when no database URL is set.",
            ),
            (
                "PORTOLAN_DATABASE_URL",
                "",
                "Database URL (`postgres://...` or `sqlite:...`). Unset: a SQLite file in the data directory. Secret.",
            ),
            (
                "PORTOLAN_DB_MAX_CONNECTIONS",
                "10",
                "Maximum number of pooled database connections (1 to 1000): the shared pool's size; the API's HTTP workers divide as many again between their own pools (one per worker, each used only by its worker).",
            ),
            (
                "PORTOLAN_AMQP_URL",
                "",
                "RabbitMQ URL (`amqp://...` or `amqps://...`). Unset: an in-process event bus. Secret.",
            ),
            (
                "PORTOLAN_AMQP_EXCHANGE",
                "portolan.events",
                "RabbitMQ exchange that events are published to.",
            ),
            (
                "PORTOLAN_AMQP_QUEUE_PREFIX",
                "portolan",
                "Prefix of the RabbitMQ queue names.",
            ),
            (
                "PORTOLAN_REDIS_URL",
                "",
                "Redis URL (`redis://...` or `rediss://...`). Unset: in-memory caches and rate limits. Secret.",
            ),
            (
                "PORTOLAN_REDIS_KEY_PREFIX",
                "portolan:",
                "Prefix of every Redis key.",
            ),
            (
                "PORTOLAN_PUBLIC_URL",
                "",
                "Base URL clients use to reach the API. Unset: `http://` followed by the HTTP address.",
            ),
            (
                "PORTOLAN_BOOTSTRAP_CLIENT_ID",
                "",
                "Client id of the credentials created at first start (set together with the secret).",
            ),
            (
                "PORTOLAN_BOOTSTRAP_CLIENT_SECRET",
                "",
                "Client secret of the credentials created at first start (set together with the id). Secret.",
            ),
            (
                "PORTOLAN_TOKEN_LIFETIME_SECS",
                "10800",
                "Lifetime of issued access tokens, in seconds (60 to 86400).",
            ),
            (
                "PORTOLAN_JWT_ISSUER",
                "portolan",
                "`iss` claim of issued access tokens.",
            ),
            (
                "PORTOLAN_JWT_AUDIENCE",
                "portolan-api",
                "`aud` claim of issued access tokens.",
            ),
            (
                "PORTOLAN_BULK_MAX_ENTITIES",
                "1000",
                "Maximum number of entities in one bulk request (1 to 100000).",
            ),
            (
                "PORTOLAN_MAX_BODY_BYTES",
                "1048576",
                "Maximum size of a request body, in bytes (1024 to 1073741824).",
            ),
            (
                "PORTOLAN_SHUTDOWN_TIMEOUT_SECS",
                "30",
                "Time allowed for in-flight work to finish on shutdown, in seconds (0 to 3600).",
            ),
            (
                "PORTOLAN_INGESTION_HEALTH_ADDR",
                "127.0.0.1:8081",
                "Socket address of the ingestion worker's health and metrics endpoint.",
            ),
            (
                "PORTOLAN_AUTOMATION_HEALTH_ADDR",
                "127.0.0.1:8082",
                "Socket address of the automation worker's health and metrics endpoint.",
            ),
            (
                "PORTOLAN_OPERATOR_TOKEN",
                "",
                "Token that authenticates the operator API (`/operator/...`). Unset: the operator API is off. Secret.",
            ),
            (
                "PORTOLAN_SECRETS_KEYS",
                "",
                "Keys that encrypt organization secrets at rest: `kid:base64(32 bytes)` entries separated by commas, the first encrypts and all decrypt. Unset: a key file in the data directory, created on first start. Secret.",
            ),
            (
                "PORTOLAN_OIDC_ISSUERS",
                "",
                "Trusted OIDC issuers for single sign-on, as a JSON array of `{issuer, audience, org, jwksUrl?, emailClaim?, groupsClaim?}`. Unset: no SSO.",
            ),
            (
                "PORTOLAN_RATE_LIMIT_WINDOW_SECS",
                "300",
                "Rate-limit window, in seconds (1 to 86400).",
            ),
            (
                "PORTOLAN_RATE_LIMIT_ENTITIES",
                "35000",
                "Default per-org budget of entity routes per window (1 to 100000000).",
            ),
            (
                "PORTOLAN_RATE_LIMIT_OTHER",
                "15000",
                "Default per-org budget of all other authenticated routes per window (1 to 100000000).",
            ),
            (
                "PORTOLAN_RATE_LIMIT_UNAUTHENTICATED",
                "100",
                "Budget of unauthenticated requests per source address per window (1 to 100000000).",
            ),
            (
                "PORTOLAN_IDEMPOTENCY_TTL_SECS",
                "86400",
                "How long a response is replayed for a repeated `Idempotency-Key`, in seconds (60 to 604800).",
            ),
            (
                "PORTOLAN_LOGIN_MAX_FAILURES_PER_ACCOUNT",
                "5",
                "Failed password logins allowed per account in 15 minutes before further attempts are refused (1 to 1000).",
            ),
            (
                "PORTOLAN_LOGIN_MAX_FAILURES_PER_ADDRESS",
                "50",
                "Failed password logins allowed per source address in 15 minutes before further attempts are refused (1 to 100000).",
            ),
            (
                "PORTOLAN_LOG",
                "info",
                "Log filter, as a `tracing` `EnvFilter` directive (for example `info,portolan_api=debug`).",
            ),
            (
                "PORTOLAN_LOG_FORMAT",
                "text",
                "Log output format: `text` or `json`.",
            ),
        ]
    }
}
