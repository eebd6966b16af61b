use std::time::Duration;

use portolan_cache::{Begin, MAX_STORED_BODY_BYTES, StoredResponse};

use crate::both;

const DAY: Duration = Duration::from_secs(86_400);

fn created() -> StoredResponse {
    StoredResponse {
        status: 201,
        content_type: Some("application/json".into()),
        body: br#"{"ok":true,"entity":{"identifier":"a"}}"#.to_vec(),
    }
}

#[tokio::test]
async fn a_key_is_fresh_then_in_progress_then_replayed() {
    for cache in both().await {
        let store = cache.idempotency();
        assert_eq!(store.begin("k1", "fp-a").await, Begin::Fresh, "{cache:?}");
        assert_eq!(store.begin("k1", "fp-a").await, Begin::InProgress);
        assert_eq!(store.begin("k1", "fp-b").await, Begin::Mismatch);
        assert!(store.complete("k1", "fp-a", &created(), DAY).await);
        assert_eq!(store.begin("k1", "fp-a").await, Begin::Replay(created()));
        assert_eq!(store.begin("k1", "fp-a").await, Begin::Replay(created()));
        assert_eq!(store.begin("k1", "fp-b").await, Begin::Mismatch);
        // Other keys are independent.
        assert_eq!(store.begin("k2", "fp-b").await, Begin::Fresh);
    }
}

#[tokio::test]
async fn responses_without_content_type_or_body_replay_as_they_were() {
    for cache in both().await {
        let store = cache.idempotency();
        let empty = StoredResponse {
            status: 204,
            content_type: None,
            body: Vec::new(),
        };
        assert_eq!(store.begin("e", "fp").await, Begin::Fresh);
        assert!(store.complete("e", "fp", &empty, DAY).await);
        assert_eq!(store.begin("e", "fp").await, Begin::Replay(empty));
    }
}

#[tokio::test]
async fn an_abandoned_key_is_fresh_again_but_a_completed_one_stays() {
    for cache in both().await {
        let store = cache.idempotency();
        assert_eq!(store.begin("k", "fp").await, Begin::Fresh);
        store.abandon("k").await;
        assert_eq!(store.begin("k", "fp").await, Begin::Fresh, "{cache:?}");
        assert!(store.complete("k", "fp", &created(), DAY).await);
        store.abandon("k").await;
        assert_eq!(store.begin("k", "fp").await, Begin::Replay(created()));
    }
}

#[tokio::test]
async fn an_oversized_response_is_not_stored_and_releases_the_key() {
    for cache in both().await {
        let store = cache.idempotency();
        let big = StoredResponse {
            status: 200,
            content_type: Some("application/json".into()),
            body: vec![b'x'; MAX_STORED_BODY_BYTES + 1],
        };
        assert_eq!(store.begin("big", "fp").await, Begin::Fresh);
        assert!(!store.complete("big", "fp", &big, DAY).await);
        assert_eq!(store.begin("big", "fp").await, Begin::Fresh, "{cache:?}");
    }
}

#[tokio::test]
async fn locks_and_records_expire() {
    for cache in both().await {
        let store = cache
            .idempotency()
            .with_lock_ttl(Duration::from_millis(200));
        assert_eq!(store.begin("lock", "fp").await, Begin::Fresh);
        tokio::time::sleep(Duration::from_millis(350)).await;
        // The request that held it died: the key is free again.
        assert_eq!(store.begin("lock", "fp").await, Begin::Fresh, "{cache:?}");
        assert!(
            store
                .complete("lock", "fp", &created(), Duration::from_millis(200))
                .await
        );
        assert_eq!(store.begin("lock", "fp").await, Begin::Replay(created()));
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(store.begin("lock", "fp").await, Begin::Fresh);
    }
}
