//! HTTP handlers, one file per resource. Every `/v1` handler takes a [`Caller`], opens a
//! tenant transaction for the caller's org, calls the store, commits, and answers in Port's
//! envelope.
//!
//! [`Caller`]: crate::auth::Caller

pub mod apps;
pub mod audit;
pub mod auth;
pub mod blueprints;
pub mod entities;
pub mod health;
pub mod migrations;
pub mod operator;
pub mod organization;
pub mod search;
pub mod teams;
pub mod users;

use actix_web::HttpResponse;
use serde_json::{Map, Value};

/// `{"ok": true, <key>: <value>}`.
pub(crate) fn ok(key: &str, value: impl Into<Value>) -> HttpResponse {
    HttpResponse::Ok().json(envelope(key, value))
}

pub(crate) fn envelope(key: &str, value: impl Into<Value>) -> Value {
    let mut m = Map::new();
    m.insert("ok".into(), Value::Bool(true));
    m.insert(key.into(), value.into());
    Value::Object(m)
}
