//! The one error shape and the one code table. Every error the API can answer is a variant
//! here, and `parts` maps each to (HTTP status, Port error code) in one exhaustive match: a
//! new variant does not compile until it has its row.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use portolan_domain::Issues;
use portolan_store::StoreError;
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{resource} '{identifier}' was not found")]
    NotFound {
        resource: &'static str,
        identifier: String,
    },
    #[error("no route for {0}")]
    RouteNotFound(String),
    #[error("{resource} '{identifier}' already exists")]
    AlreadyExists {
        resource: &'static str,
        identifier: String,
    },
    #[error("{message}")]
    HasDependents {
        message: String,
        dependents: Vec<Value>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// Query or path parameters that do not parse.
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Invalid(Issues),
    #[error("{message}")]
    WouldInvalidate { message: String, impact: Value },
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("internal error (trace id in the X-Trace-Id header)")]
    Internal(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(
        "rate limit exceeded: {limit} requests per {period} seconds; retry in {retry_after} seconds"
    )]
    RateLimited {
        limit: u64,
        period: u64,
        retry_after: u64,
    },
}

/// The error body of every failed request (Port's shape, plus `details`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Always false.
    pub ok: bool,
    /// Snake-case error code, e.g. `not_found`, `invalid_request`.
    pub error: String,
    pub message: String,
    /// Where it helps: each validation failure with its JSON pointer, dependents, impact.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl ApiError {
    /// (status, Port error code): the one code table.
    pub fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound { .. } | ApiError::RouteNotFound(_) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            ApiError::AlreadyExists { .. } => (StatusCode::CONFLICT, "identifier_taken"),
            ApiError::HasDependents { .. } => (StatusCode::CONFLICT, "has_dependents"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::InvalidParameter(_) | ApiError::Invalid(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
            }
            ApiError::WouldInvalidate { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "entities_would_be_invalid",
            ),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        }
    }

    pub fn details(&self) -> Option<Value> {
        match self {
            ApiError::Invalid(issues) => Some(json!({ "errors": issues.0 })),
            ApiError::HasDependents { dependents, .. } => Some(json!({ "dependents": dependents })),
            ApiError::WouldInvalidate { impact, .. } => Some(json!({ "impact": impact })),
            ApiError::NotFound {
                resource,
                identifier,
            }
            | ApiError::AlreadyExists {
                resource,
                identifier,
            } => Some(json!({ "resource": resource, "identifier": identifier })),
            ApiError::RateLimited {
                limit,
                period,
                retry_after,
            } => Some(json!({ "limit": limit, "period": period, "retryAfter": retry_after })),
            _ => None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let (_, code) = self.parts();
        ErrorBody {
            ok: false,
            error: code.to_owned(),
            message: self.to_string(),
            details: self.details(),
        }
    }

    pub fn invalid(pointer: &str, message: impl Into<String>) -> Self {
        let mut issues = Issues::default();
        issues.push(pointer, message);
        ApiError::Invalid(issues)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            // The cause stays in the log (with the request's trace id); the client gets none of it.
            tracing::error!(error = %cause, "internal error");
        }
        let mut res = HttpResponse::build(self.status_code());
        if let ApiError::RateLimited { retry_after, .. } = self {
            res.insert_header((actix_web::http::header::RETRY_AFTER, *retry_after));
        }
        res.json(self.body())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound {
                resource,
                identifier,
            } => ApiError::NotFound {
                resource,
                identifier,
            },
            StoreError::AlreadyExists {
                resource,
                identifier,
            } => ApiError::AlreadyExists {
                resource,
                identifier,
            },
            StoreError::Invalid(issues) => ApiError::Invalid(issues),
            StoreError::WouldInvalidate { message, impact } => ApiError::WouldInvalidate {
                message,
                impact: serde_json::to_value(&*impact).unwrap_or(Value::Null),
            },
            StoreError::HasDependents {
                message,
                dependents,
            } => ApiError::HasDependents {
                message,
                dependents,
            },
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::BadCredentials => ApiError::Unauthorized("invalid credentials".into()),
            e @ StoreError::Db(_) => {
                ApiError::Internal(format!("{e}: {:?}", std::error::Error::source(&e)))
            }
            StoreError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<Issues> for ApiError {
    fn from(i: Issues) -> Self {
        ApiError::Invalid(i)
    }
}
