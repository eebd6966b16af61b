//! Request extraction with Port-shaped errors: a size-limited JSON body and query strings
//! (which may repeat keys, as Port's `include`/`exclude` do).

use actix_web::dev::Payload;
use actix_web::web::{BytesMut, Data};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body of at most `max_body_bytes` (413 above, 400 when it is not JSON).
pub struct JsonBody(pub Value);

/// Present while a request's [`JsonBody`] is being read; it closes when the reading ends
/// (its sender lives in the reading future). The `Caller` extractor waits for it before it
/// opens the request's tenant transaction.
#[derive(Clone)]
pub(crate) struct BodyInFlight(pub(crate) tokio::sync::watch::Receiver<()>);

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<Data<AppState>>()
            .map_or(1 << 20, |s| s.config.max_body_bytes);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        let (reading, in_flight) = tokio::sync::watch::channel(());
        req.extensions_mut().insert(BodyInFlight(in_flight));
        let req = req.clone();
        Box::pin(async move {
            let _reading = reading;
            if declared.is_some_and(|n| n > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let mut buf = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|e| ApiError::InvalidJson(format!("could not read the body: {e}")))?;
                if buf.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                buf.extend_from_slice(&chunk);
            }
            if buf.is_empty() {
                return Err(ApiError::InvalidJson("the body is empty".into()));
            }
            let body: Value =
                serde_json::from_slice(&buf).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
            // Read by the `Caller` extractor, which waits for this future to end. Only a search
            // is guessed, so other bodies skip the route pattern's lookup (a `String` each).
            if req.path().ends_with("/entities/search") {
                let pattern = req.match_pattern();
                let plans = crate::routes::search::plans_for(pattern.as_deref(), &body);
                req.extensions_mut().insert(plans);
            }
            Ok(JsonBody(body))
        })
    }
}

/// The query string as (key, value) pairs, keys possibly repeated.
pub struct QueryPairs(pub Vec<(String, String)>);

impl FromRequest for QueryPairs {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
                .map(QueryPairs)
                .map_err(|e| {
                    ApiError::InvalidParameter(format!("the query string does not parse: {e}"))
                }),
        )
    }
}

impl QueryPairs {
    /// A boolean flag: absent is false; `true`/`false` (any case) or 1/0; anything else is a 422.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.0.iter().rev().find(|(k, _)| k == name) {
            None => Ok(false),
            Some((_, v)) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "" => Ok(true),
                "false" | "0" => Ok(false),
                other => Err(ApiError::InvalidParameter(format!(
                    "query parameter '{name}' must be true or false, not '{other}'"
                ))),
            },
        }
    }

    /// Every value of a repeated key; a value holding commas is split too (`include=a,b`).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name || k == &format!("{name}[]"))
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
