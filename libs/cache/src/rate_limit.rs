//! Fixed-window rate limits: one counter per key and window, the windows aligned to multiples
//! of their length (since the Unix epoch) so every instance counts in the same window.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Cache;

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request is within the budget.
    pub allowed: bool,
    /// The budget of the window.
    pub limit: u64,
    /// Requests left in the window after this one.
    pub remaining: u64,
    /// Whole seconds until the window ends (at least 1).
    pub reset_secs: u64,
}

/// Counts requests against budgets. Get one from [`Cache::rate_limiter`].
#[derive(Debug, Clone)]
pub struct RateLimiter {
    cache: Cache,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl RateLimiter {
    pub(crate) fn new(cache: Cache) -> Self {
        RateLimiter { cache }
    }

    /// Counts one request under `key` and says whether it fits in `limit` per `window`
    /// (windows shorter than a millisecond count as one millisecond). Requests over the budget
    /// are counted too, so a client that keeps hammering stays limited until the window ends.
    pub async fn hit(&self, key: &str, limit: u64, window: Duration) -> Decision {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let now = now_ms();
        let start = now - now % window_ms;
        let left_ms = start + window_ms - now;
        let key = self.cache.key("rl", &format!("{key}:{window_ms}:{start}"));
        // The counter outlives its window by a second, against clock skew between instances.
        let ttl = Duration::from_millis(left_ms + 1000);
        let count = self
            .cache
            .run(async |r| r.incr(&key, ttl).await, |m| m.incr(&key, ttl))
            .await;
        Decision {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset_secs: left_ms.div_ceil(1000).max(1),
        }
    }
}
