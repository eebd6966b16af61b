//! The store's errors. The API maps each variant to an HTTP status and a Port error code in
//! one exhaustive match.

use portolan_domain::Issues;
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{resource} '{identifier}' was not found")]
    NotFound {
        resource: &'static str,
        identifier: String,
    },
    #[error("{resource} '{identifier}' already exists")]
    AlreadyExists {
        resource: &'static str,
        identifier: String,
    },
    /// The request is well-formed but breaks a rule of the model; `details` says where.
    #[error("{0}")]
    Invalid(Issues),
    /// A blueprint change that would make stored entities invalid.
    #[error("{message}")]
    WouldInvalidate {
        message: String,
        impact: Box<Impact>,
    },
    /// Something else depends on what was to be deleted.
    #[error("{message}")]
    HasDependents {
        message: String,
        dependents: Vec<Value>,
    },
    /// A state conflict other than a duplicate (e.g. cancelling a finished migration).
    #[error("{0}")]
    Conflict(String),
    #[error("invalid credentials")]
    BadCredentials,
    #[error("database error: {0}")]
    Db(#[source] DbErr),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a blueprint change would do to the entities stored under it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Impact {
    /// Entities of the blueprint that were checked.
    pub entities_checked: u64,
    /// Entities the new definition would make invalid.
    pub invalid_count: u64,
    /// The first 100 of them, each with its failures.
    #[schema(value_type = Vec<Object>)]
    pub invalid_entities: Vec<Value>,
    /// Properties whose values the change would drop from every entity.
    pub removed_properties: Vec<String>,
    /// Relations whose values the change would drop from every entity.
    pub removed_relations: Vec<String>,
}

impl StoreError {
    pub fn not_found(resource: &'static str, identifier: impl Into<String>) -> Self {
        StoreError::NotFound {
            resource,
            identifier: identifier.into(),
        }
    }
    pub fn invalid(pointer: &str, message: impl Into<String>) -> Self {
        let mut issues = Issues::default();
        issues.push(pointer, message);
        StoreError::Invalid(issues)
    }
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(msg)) => {
                StoreError::Conflict(format!("a concurrent write created the same record: {msg}"))
            }
            Some(SqlErr::ForeignKeyConstraintViolation(msg)) => StoreError::Conflict(format!(
                "a concurrent write changed a related record: {msg}"
            )),
            _ => StoreError::Db(e),
        }
    }
}

impl From<Issues> for StoreError {
    fn from(i: Issues) -> Self {
        StoreError::Invalid(i)
    }
}
