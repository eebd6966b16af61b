//! The settings table drives the README; it must list every field with its real default.

use std::collections::BTreeSet;

use figment::Figment;
use figment::value::{Dict, Value};
use portolan_config::Config;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

#[test]
fn the_settings_table_lists_every_field_once() {
    let settings: Vec<String> = Config::settings()
        .iter()
        .map(|(name, _, _)| name.to_string())
        .collect();
    let unique: BTreeSet<&String> = settings.iter().collect();
    assert_eq!(unique.len(), settings.len(), "duplicate setting names");

    let fields: BTreeSet<String> = config_field_names()
        .iter()
        .map(|field| format!("PORTOLAN_{}", field.to_ascii_uppercase()))
        .collect();
    assert_eq!(unique.into_iter().cloned().collect::<BTreeSet<_>>(), fields);
}

#[test]
fn the_settings_table_defaults_are_the_real_defaults() {
    let dict: Dict = Config::settings()
        .into_iter()
        .filter(|(_, default, _)| !default.is_empty())
        .map(|(name, default, _)| {
            let key = name.trim_start_matches("PORTOLAN_").to_ascii_lowercase();
            (key, Value::from(default.to_owned()))
        })
        .collect();
    let config = Config::from_figment(Figment::from(figment::providers::Serialized::defaults(
        dict,
    )))
    .expect("table defaults are valid");
    assert_eq!(format!("{config:?}"), format!("{:?}", Config::default()));
}

#[test]
fn every_setting_has_a_description() {
    for (name, _, description) in Config::settings() {
        assert!(description.ends_with('.'), "{name}: {description}");
    }
}

/// The field names serde asks for when deserializing [`Config`].
fn config_field_names() -> &'static [&'static str] {
    struct FieldNames;
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Found(&[])
        }
    }
    impl<'de> Deserializer<'de> for FieldNames {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    match Config::deserialize(FieldNames) {
        Err(Found(fields)) => fields,
        Ok(_) => panic!("the probe deserializer never succeeds"),
    }
}
