use std::path::PathBuf;

use portolan_config::{Config, LogFormat};

use crate::{jailed, load};

#[test]
fn loading_without_file_or_env_yields_the_built_in_defaults() {
    jailed(|jail| {
        let config = load(jail)?;
        assert_eq!(config.http_addr, "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert!(config.database_url.is_none());
        assert_eq!(config.db_max_connections, 10);
        assert!(config.amqp_url.is_none());
        assert_eq!(config.amqp_exchange, "portolan.events");
        assert_eq!(config.amqp_queue_prefix, "portolan");
        assert!(config.redis_url.is_none());
        assert_eq!(config.redis_key_prefix, "portolan:");
        assert!(config.public_url.is_none());
        assert!(config.bootstrap_client_id.is_none());
        assert!(config.bootstrap_client_secret.is_none());
        assert_eq!(config.token_lifetime_secs, 10_800);
        assert_eq!(config.jwt_issuer, "portolan");
        assert_eq!(config.jwt_audience, "portolan-api");
        assert_eq!(config.bulk_max_entities, 1000);
        assert_eq!(config.max_body_bytes, 1_048_576);
        assert_eq!(config.shutdown_timeout_secs, 30);
        assert_eq!(config.ingestion_health_addr, "127.0.0.1:8081");
        assert_eq!(config.automation_health_addr, "127.0.0.1:8082");
        assert_eq!(config.log, "info");
        assert_eq!(config.log_format, LogFormat::Text);
        Ok(())
    });
}

#[test]
fn the_default_config_is_valid_and_matches_the_loaded_one() {
    jailed(|jail| {
        let default = Config::default();
        default.validate().map_err(|e| e.to_string())?;
        assert_eq!(format!("{default:?}"), format!("{:?}", load(jail)?));
        Ok(())
    });
}

#[test]
fn an_empty_figment_yields_the_defaults() {
    let config = Config::from_figment(figment::Figment::new()).expect("defaults are valid");
    assert_eq!(format!("{config:?}"), format!("{:?}", Config::default()));
}

#[test]
fn the_database_defaults_to_sqlite_in_the_data_dir() {
    let config = Config {
        data_dir: PathBuf::from("/var/lib/portolan"),
        ..Config::default()
    };
    assert_eq!(
        config.sqlite_url(),
        "sqlite:///var/lib/portolan/portolan.db?mode=rwc"
    );
    assert_eq!(config.database_url_or_default(), config.sqlite_url());
    assert_eq!(
        Config::default().sqlite_url(),
        "sqlite://./data/portolan.db?mode=rwc"
    );

    let config = Config {
        database_url: Some("postgres://u:p@db/portolan".into()),
        ..config
    };
    assert_eq!(
        config.database_url_or_default(),
        "postgres://u:p@db/portolan"
    );
}

#[test]
fn the_public_url_defaults_to_the_http_address_without_trailing_slash() {
    assert_eq!(
        Config::default().public_url_or_default(),
        "http://127.0.0.1:8080"
    );

    let wildcard = Config {
        http_addr: "0.0.0.0:9000".to_owned(),
        ..Config::default()
    };
    assert_eq!(wildcard.public_url_or_default(), "http://127.0.0.1:9000");

    let explicit = Config {
        public_url: Some("https://portal.example.com/".to_owned()),
        ..Config::default()
    };
    assert_eq!(
        explicit.public_url_or_default(),
        "https://portal.example.com"
    );
}
