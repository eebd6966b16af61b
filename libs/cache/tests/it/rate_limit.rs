use std::time::Duration;

use portolan_cache::{Cache, Decision};

use crate::{both, direct, get, not_near_window_end, on_redis, window_start};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn requests_count_down_the_budget_and_are_refused_past_it() {
    for cache in both().await {
        not_near_window_end(HOUR, Duration::from_secs(5)).await;
        let limiter = cache.rate_limiter();
        for remaining in [2, 1, 0] {
            let d = limiter.hit("org:a", 3, HOUR).await;
            assert!(d.allowed, "{cache:?}: {d:?}");
            assert_eq!((d.limit, d.remaining), (3, remaining), "{cache:?}");
            assert!((1..=3600).contains(&d.reset_secs), "{d:?}");
        }
        for _ in 0..3 {
            let d = limiter.hit("org:a", 3, HOUR).await;
            assert!(!d.allowed, "{cache:?}: {d:?}");
            assert_eq!((d.limit, d.remaining), (3, 0));
        }
        // Another key has its own budget.
        let d = limiter.hit("org:b", 3, HOUR).await;
        assert_eq!((d.allowed, d.remaining), (true, 2), "{cache:?}");
    }
}

#[tokio::test]
async fn a_new_window_restores_the_budget() {
    let window = Duration::from_secs(1);
    for cache in both().await {
        let limiter = cache.rate_limiter();
        window_start(window).await;
        assert!(limiter.hit("k", 2, window).await.allowed);
        assert!(limiter.hit("k", 2, window).await.allowed);
        let refused = limiter.hit("k", 2, window).await;
        assert!(!refused.allowed, "{cache:?}");
        assert_eq!(refused.reset_secs, 1);
        tokio::time::sleep(Duration::from_secs(refused.reset_secs)).await;
        let d = limiter.hit("k", 2, window).await;
        assert_eq!(
            d,
            Decision {
                allowed: true,
                limit: 2,
                remaining: 1,
                reset_secs: 1
            },
            "{cache:?}"
        );
    }
}

#[tokio::test]
async fn a_limit_of_zero_refuses_everything() {
    for cache in both().await {
        let d = cache.rate_limiter().hit("z", 0, HOUR).await;
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
    }
}

#[tokio::test]
async fn instances_on_one_redis_share_their_counts_under_the_prefix() {
    not_near_window_end(HOUR, Duration::from_secs(5)).await;
    let a = on_redis().await;
    let b = Cache::connect(Some(&portolan_test_support::redis_url()), a.prefix())
        .await
        .unwrap();
    assert!(a.rate_limiter().hit("shared", 2, HOUR).await.allowed);
    assert!(b.rate_limiter().hit("shared", 2, HOUR).await.allowed);
    assert!(!a.rate_limiter().hit("shared", 2, HOUR).await.allowed);
    // The counter lives under the prefix and expires with its window.
    let mut conn = direct().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}rl:shared:*", a.prefix()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(get(&mut conn, &keys[0]).await, Some(3));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 3_601_000, "ttl {ttl}");
}
