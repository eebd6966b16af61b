use portolan_config::Config;

use crate::{jailed, load_error_with_env};

#[test]
fn an_invalid_socket_address_is_rejected_naming_the_key() {
    assert_eq!(
        load_error_with_env("PORTOLAN_HTTP_ADDR", "x"),
        "PORTOLAN_HTTP_ADDR: invalid socket address 'x'"
    );
    assert_eq!(
        load_error_with_env("PORTOLAN_INGESTION_HEALTH_ADDR", "localhost"),
        "PORTOLAN_INGESTION_HEALTH_ADDR: invalid socket address 'localhost'"
    );
    assert_eq!(
        load_error_with_env("PORTOLAN_AUTOMATION_HEALTH_ADDR", "1.2.3.4"),
        "PORTOLAN_AUTOMATION_HEALTH_ADDR: invalid socket address '1.2.3.4'"
    );
}

#[test]
fn out_of_range_numbers_are_rejected_naming_the_key() {
    let cases = [
        ("PORTOLAN_DB_MAX_CONNECTIONS", "0"),
        ("PORTOLAN_DB_MAX_CONNECTIONS", "1001"),
        ("PORTOLAN_TOKEN_LIFETIME_SECS", "59"),
        ("PORTOLAN_TOKEN_LIFETIME_SECS", "86401"),
        ("PORTOLAN_BULK_MAX_ENTITIES", "0"),
        ("PORTOLAN_BULK_MAX_ENTITIES", "100001"),
        ("PORTOLAN_MAX_BODY_BYTES", "10"),
        ("PORTOLAN_SHUTDOWN_TIMEOUT_SECS", "3601"),
    ];
    for (key, value) in cases {
        let message = load_error_with_env(key, value);
        assert!(
            message.starts_with(&format!("{key}: must be between ")),
            "{key}={value}: {message}"
        );
        assert!(message.ends_with(&format!("got {value}")), "{message}");
    }
}

#[test]
fn the_range_bounds_themselves_are_accepted() {
    jailed(|_| {
        let figment = Config::defaults_figment()
            .merge(("db_max_connections", 1000))
            .merge(("token_lifetime_secs", 60))
            .merge(("bulk_max_entities", 100_000));
        Config::from_figment(figment).map_err(|e| e.to_string())?;
        Ok(())
    });
}

#[test]
fn values_of_the_wrong_type_are_rejected_naming_the_key() {
    let message = load_error_with_env("PORTOLAN_DB_MAX_CONNECTIONS", "many");
    assert!(
        message.starts_with("PORTOLAN_DB_MAX_CONNECTIONS: "),
        "{message}"
    );
    assert!(message.contains("many"), "{message}");

    let message = load_error_with_env("PORTOLAN_LOG_FORMAT", "xml");
    assert!(message.starts_with("PORTOLAN_LOG_FORMAT: "), "{message}");
}

#[test]
fn urls_with_an_unexpected_scheme_are_rejected_without_echoing_them() {
    for key in [
        "PORTOLAN_DATABASE_URL",
        "PORTOLAN_AMQP_URL",
        "PORTOLAN_REDIS_URL",
    ] {
        let message = load_error_with_env(key, "mysql://user:hunter2@db");
        assert!(
            message.starts_with(&format!("{key}: must start with ")),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
    }
    let message = load_error_with_env("PORTOLAN_PUBLIC_URL", "portal.example.com");
    assert!(message.starts_with("PORTOLAN_PUBLIC_URL: "), "{message}");
}

#[test]
fn accepted_url_schemes() {
    jailed(|jail| {
        jail.set_env("PORTOLAN_DATABASE_URL", "postgresql://u:p@db:5432/portolan");
        jail.set_env("PORTOLAN_AMQP_URL", "amqps://u:p@mq/%2f");
        jail.set_env("PORTOLAN_REDIS_URL", "rediss://cache:6380/0");
        jail.set_env("PORTOLAN_PUBLIC_URL", "http://localhost:8080/portal");
        Config::load().map_err(|e| e.to_string())?;
        Ok(())
    });
}

#[test]
fn empty_names_and_bad_log_filters_are_rejected() {
    let config = Config {
        jwt_issuer: " ".to_owned(),
        ..Config::default()
    };
    let message = config.validate().expect_err("empty issuer").to_string();
    assert_eq!(message, "PORTOLAN_JWT_ISSUER: must not be empty");

    let message = load_error_with_env("PORTOLAN_LOG", "info,=[");
    assert!(
        message.starts_with("PORTOLAN_LOG: invalid log filter"),
        "{message}"
    );
}

#[test]
fn bootstrap_credentials_come_in_pairs() {
    assert_eq!(
        load_error_with_env("PORTOLAN_BOOTSTRAP_CLIENT_ID", "admin"),
        "PORTOLAN_BOOTSTRAP_CLIENT_SECRET: must be set when PORTOLAN_BOOTSTRAP_CLIENT_ID is set"
    );
    assert_eq!(
        load_error_with_env("PORTOLAN_BOOTSTRAP_CLIENT_SECRET", "s3cret"),
        "PORTOLAN_BOOTSTRAP_CLIENT_ID: must be set when PORTOLAN_BOOTSTRAP_CLIENT_SECRET is set"
    );
}
