use std::time::Duration;

use crate::{both, direct, get, on_redis};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn failures_are_counted_read_and_cleared() {
    for cache in both().await {
        let c = cache.counters();
        assert_eq!(c.failures("login:ann").await, 0);
        assert_eq!(c.count_failure("login:ann", MINUTE).await, 1);
        assert_eq!(c.count_failure("login:ann", MINUTE).await, 2);
        assert_eq!(c.count_failure("login:bob", MINUTE).await, 1);
        assert_eq!(c.failures("login:ann").await, 2, "{cache:?}");
        c.clear("login:ann").await;
        assert_eq!(c.failures("login:ann").await, 0);
        assert_eq!(c.failures("login:bob").await, 1);
    }
}

#[tokio::test]
async fn counters_expire_one_window_after_the_first_failure() {
    for cache in both().await {
        let c = cache.counters();
        let window = Duration::from_millis(300);
        c.count_failure("ip:1", window).await;
        c.count_failure("ip:1", window).await;
        assert_eq!(c.failures("ip:1").await, 2);
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(c.failures("ip:1").await, 0, "{cache:?}");
        assert_eq!(c.count_failure("ip:1", window).await, 1);
    }
}

#[tokio::test]
async fn counters_live_in_redis_under_the_prefix() {
    let cache = on_redis().await;
    cache.counters().count_failure("x", MINUTE).await;
    let mut conn = direct().await;
    assert_eq!(
        get(&mut conn, &format!("{}cnt:x", cache.prefix())).await,
        Some(1)
    );
}
