//! `X-Trace-Id` on every response, and a tracing span per request that carries it.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;

pub const TRACE_HEADER: &str = "x-trace-id";

/// The request's trace id (from the client's `X-Trace-Id` when it is sane, else new).
#[derive(Debug, Clone)]
pub struct TraceId(pub String);

fn sane(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

pub async fn trace_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(TRACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    req.extensions_mut().insert(TraceId(id.clone()));
    let span =
        tracing::info_span!("request", trace_id = %id, method = %req.method(), path = %req.path());
    let mut res = next.call(req).instrument(span).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(TRACE_HEADER), v);
    }
    Ok(res)
}
