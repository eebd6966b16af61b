//! The one error of this crate: a Redis URL the client cannot use. Everything else falls
//! back to memory instead of failing.

/// Why [`crate::Cache::connect`] refused its Redis URL. The message never contains the URL
/// (it may carry a password).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "redis_url is not a Redis URL this build can use (redis:// or redis+unix://, no TLS): {0}"
    )]
    InvalidUrl(String),
}
