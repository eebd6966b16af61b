//! portolan-cache against the real Redis (each test under its own key prefix) and in memory.

#![allow(clippy::unwrap_used)]

mod counters;
mod idempotency;
mod outage;
mod rate_limit;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portolan_cache::{Backend, Cache};
use portolan_test_support::{redis_url, unique_suffix};

pub fn prefix() -> String {
    format!("t{}:", unique_suffix())
}

/// A cache on the test Redis under a fresh prefix.
pub async fn on_redis() -> Cache {
    let cache = Cache::connect(Some(&redis_url()), prefix()).await.unwrap();
    assert_eq!(cache.backend(), Backend::Redis, "the test Redis answers");
    cache
}

/// The same cache on each backend: Redis, then memory.
pub async fn both() -> Vec<Cache> {
    vec![on_redis().await, Cache::memory(prefix())]
}

/// A direct connection to the test Redis, to look behind the cache's back.
pub async fn direct() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

pub async fn get(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> Option<u64> {
    redis::cmd("GET").arg(key).query_async(conn).await.unwrap()
}

/// Sleeps until a window of `window` has just started, so a burst fits in one window.
pub async fn window_start(window: Duration) {
    let w = window.as_millis();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let left = w - now % w;
    tokio::time::sleep(Duration::from_millis(u64::try_from(left).unwrap() + 20)).await;
}

/// Sleeps past the end of the current window when it ends within `margin`.
pub async fn not_near_window_end(window: Duration, margin: Duration) {
    let w = window.as_millis();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    if w - now % w < margin.as_millis() {
        window_start(window).await;
    }
}
