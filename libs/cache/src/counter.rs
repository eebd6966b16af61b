//! Failure counters (e.g. login throttling per account or per address): a counter starts at
//! the first failure and expires one window later.

use std::time::Duration;

use crate::Cache;

/// Counts failures per key. Get one from [`Cache::counters`].
#[derive(Debug, Clone)]
pub struct Counters {
    cache: Cache,
}

impl Counters {
    pub(crate) fn new(cache: Cache) -> Self {
        Counters { cache }
    }

    /// Counts one failure and answers the count so far. The counter expires `window` after
    /// the first failure it holds.
    pub async fn count_failure(&self, key: &str, window: Duration) -> u64 {
        let key = self.cache.key("cnt", key);
        self.cache
            .run(
                async |r| r.incr(&key, window).await,
                |m| m.incr(&key, window),
            )
            .await
    }

    /// The failures counted under `key` (0 when none or expired).
    pub async fn failures(&self, key: &str) -> u64 {
        let key = self.cache.key("cnt", key);
        self.cache
            .run(async |r| r.get_count(&key).await, |m| m.get_count(&key))
            .await
    }

    /// Forgets the failures under `key` (e.g. after a successful login).
    pub async fn clear(&self, key: &str) {
        let key = self.cache.key("cnt", key);
        self.cache
            .run(async |r| r.del(&key).await, |m| m.del(&key))
            .await;
        // Failures counted in memory while Redis was lost go too.
        self.cache.local().del(&key);
    }
}
