//! Rate limits, idempotency keys and failure counters shared by every instance through Redis,
//! with an in-memory fallback.
//!
//! [`Cache::connect`] with a Redis URL uses Redis for every call, each under a short timeout
//! ([`CALL_TIMEOUT`]). A call that fails or times out is answered from memory instead, and
//! Redis is marked lost (one `warn!`); while it is lost, calls go to memory at once and at
//! most one call per second tries Redis again; the first that succeeds marks it back (one
//! `info!`). Without a URL, memory only. Nothing here ever fails a caller.
//!
//! Keys in Redis, all under the configured prefix:
//! - `<prefix>rl:<key>:<window ms>:<window start ms>`: a rate-limit counter (fixed windows
//!   aligned to the window length, so instances agree on where a window starts);
//! - `<prefix>idem:<key>`: an idempotency record (`P<fingerprint>` while in progress, then
//!   the stored response);
//! - `<prefix>cnt:<key>`: a failure counter.
//!
//! The URL is never logged: it may carry a password.

mod counter;
mod error;
mod health;
mod idempotency;
mod memory;
mod rate_limit;
mod redis_backend;

use std::sync::Arc;
use std::time::Duration;

pub use counter::Counters;
pub use error::CacheError;
pub use health::PROBE_EVERY;
pub use idempotency::{
    Begin, DEFAULT_LOCK_TTL, IdempotencyStore, MAX_STORED_BODY_BYTES, StoredResponse,
};
pub use memory::MEMORY_MAX_BYTES;
pub use rate_limit::{Decision, RateLimiter};

use health::Health;
use memory::Memory;
use redis_backend::RedisBackend;

/// The longest any one Redis call may take before memory answers instead.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);

/// Which backend answers calls right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Redis,
    Memory,
}

/// The shared handle (cheap to clone): Redis when configured and reachable, else memory.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("prefix", &self.inner.prefix)
            .field("backend", &self.backend())
            .finish()
    }
}

struct Inner {
    prefix: String,
    memory: Memory,
    redis: Option<RedisBackend>,
    health: Health,
}

impl Cache {
    /// Redis at `redis_url` (with the in-memory fallback), or memory only when `None`. Fails
    /// only on a URL the client cannot use; an unreachable Redis is a warning, and calls use
    /// memory until it answers. Must run inside a Tokio runtime.
    pub async fn connect(
        redis_url: Option<&str>,
        prefix: impl Into<String>,
    ) -> Result<Cache, CacheError> {
        let Some(url) = redis_url else {
            return Ok(Cache::memory(prefix));
        };
        let cache = Cache::build(prefix.into(), Some(RedisBackend::new(url)?));
        let inner = &cache.inner;
        if let Some(redis) = &inner.redis {
            match tokio::time::timeout(CALL_TIMEOUT * 4, redis.ping()).await {
                Ok(Ok(())) => tracing::debug!("Redis answers"),
                Ok(Err(e)) => inner.health.failed(&e),
                Err(_) => inner.health.failed(&"no answer to PING"),
            }
        }
        Ok(cache)
    }

    /// Memory only: limits and idempotency keys are per process.
    pub fn memory(prefix: impl Into<String>) -> Cache {
        Cache::build(prefix.into(), None)
    }

    fn build(prefix: String, redis: Option<RedisBackend>) -> Cache {
        Cache {
            inner: Arc::new(Inner {
                prefix,
                memory: Memory::new(),
                redis,
                health: Health::new(),
            }),
        }
    }

    /// The prefix of every key.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Which backend answers calls now (Memory while Redis is lost).
    pub fn backend(&self) -> Backend {
        if self.inner.redis.is_some() && !self.inner.health.is_down() {
            Backend::Redis
        } else {
            Backend::Memory
        }
    }

    pub fn rate_limiter(&self) -> RateLimiter {
        RateLimiter::new(self.clone())
    }

    pub fn idempotency(&self) -> IdempotencyStore {
        IdempotencyStore::new(self.clone())
    }

    pub fn counters(&self) -> Counters {
        Counters::new(self.clone())
    }

    /// The in-memory backend itself (to tidy up what a fallback left there).
    pub(crate) fn local(&self) -> &Memory {
        &self.inner.memory
    }

    /// `<prefix><namespace>:<key>`.
    pub(crate) fn key(&self, namespace: &str, key: &str) -> String {
        format!("{}{namespace}:{key}", self.inner.prefix)
    }

    /// Runs `redis` when Redis is configured and not lost (or due a probe), within
    /// [`CALL_TIMEOUT`]; otherwise, or when it fails, `memory`.
    pub(crate) async fn run<T>(
        &self,
        redis: impl AsyncFnOnce(&RedisBackend) -> redis::RedisResult<T>,
        memory: impl FnOnce(&Memory) -> T,
    ) -> T {
        let inner = &self.inner;
        if let Some(backend) = &inner.redis
            && inner.health.should_try()
        {
            match tokio::time::timeout(CALL_TIMEOUT, redis(backend)).await {
                Ok(Ok(v)) => {
                    inner.health.succeeded();
                    return v;
                }
                Ok(Err(e)) => inner.health.failed(&e),
                Err(_) => inner.health.failed(&format_args!(
                    "no answer within {} ms",
                    CALL_TIMEOUT.as_millis()
                )),
            }
        }
        memory(&inner.memory)
    }
}
