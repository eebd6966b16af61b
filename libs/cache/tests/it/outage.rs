use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portolan_cache::{Backend, Begin, Cache, StoredResponse};
use portolan_test_support::proxy::TcpProxy;

use crate::{direct, get, prefix};

const MINUTE: Duration = Duration::from_secs(60);
/// No call may take longer than this, Redis or not.
const BOUND: Duration = Duration::from_secs(1);

/// Log lines written by this test's thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn calls_keep_answering_from_memory_while_redis_is_cut_and_use_redis_again_after() {
    let logs = Logs::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    );
    let mut proxy = TcpProxy::to_redis().await;
    let prefix = prefix();
    let cache = Cache::connect(Some(&proxy.redis_url()), prefix.clone())
        .await
        .unwrap();
    let counters = cache.counters();
    let limiter = cache.rate_limiter();
    let mut conn = direct().await;

    assert_eq!(counters.count_failure("before", MINUTE).await, 1);
    assert_eq!(cache.backend(), Backend::Redis);
    assert_eq!(
        get(&mut conn, &format!("{prefix}cnt:before")).await,
        Some(1)
    );

    proxy.cut().await;
    for i in 1..=20 {
        let t = Instant::now();
        assert_eq!(counters.count_failure("during", MINUTE).await, i);
        let d = limiter.hit("org:x", 1000, MINUTE).await;
        assert!(d.allowed);
        assert!(t.elapsed() < BOUND, "call {i} took {:?}", t.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cache.backend(), Backend::Memory);
    // Idempotency keys work in memory meanwhile.
    let store = cache.idempotency();
    let res = StoredResponse {
        status: 201,
        content_type: None,
        body: b"made".to_vec(),
    };
    assert_eq!(store.begin("during", "fp").await, Begin::Fresh);
    assert!(store.complete("during", "fp", &res, MINUTE).await);
    assert_eq!(store.begin("during", "fp").await, Begin::Replay(res));
    // None of it reached Redis.
    assert_eq!(get(&mut conn, &format!("{prefix}cnt:during")).await, None);

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = Instant::now();
        counters.count_failure("after", MINUTE).await;
        assert!(t.elapsed() < BOUND, "a call took {:?}", t.elapsed());
        if get(&mut conn, &format!("{prefix}cnt:after"))
            .await
            .is_some()
        {
            break;
        }
        assert!(Instant::now() < deadline, "Redis was not used again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cache.backend(), Backend::Redis);
    // Back on Redis, the counter from before the outage is there again.
    assert_eq!(counters.failures("before").await, 1);

    // One warning when lost, one note when back, and never the URL.
    let logs = logs.text();
    assert_eq!(logs.matches("WARN").count(), 1, "{logs}");
    assert_eq!(logs.matches("Redis is unreachable").count(), 1, "{logs}");
    assert_eq!(
        logs.matches("Redis is reachable again").count(),
        1,
        "{logs}"
    );
    assert!(!logs.contains(&proxy.addr().to_string()), "{logs}");
}

#[tokio::test]
async fn an_unreachable_redis_at_start_is_not_an_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = Instant::now();
    let cache = Cache::connect(Some(&format!("redis://127.0.0.1:{port}")), prefix())
        .await
        .unwrap();
    assert_eq!(cache.backend(), Backend::Memory);
    assert_eq!(cache.counters().count_failure("x", MINUTE).await, 1);
    assert_eq!(cache.counters().count_failure("x", MINUTE).await, 2);
    assert!(t.elapsed() < 2 * BOUND, "took {:?}", t.elapsed());
}

#[tokio::test]
async fn a_bad_url_is_refused_without_repeating_it() {
    let err = Cache::connect(Some("http://user:hunter2@example.invalid"), prefix())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("redis_url"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
