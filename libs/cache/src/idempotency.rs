//! Idempotency keys: the first request with a key takes it (in progress, for a short time),
//! then stores its response for the retries to replay; a retry with another fingerprint (a
//! different body) is a mismatch.
//!
//! Records are `P<fingerprint>` while in progress, then `D`, the status (2 bytes), the
//! fingerprint and the content type (each after its 2-byte length) and the body.

use std::time::Duration;

use crate::Cache;

/// Responses with a bigger body are not stored (the key is released instead).
pub const MAX_STORED_BODY_BYTES: usize = 1 << 20;

/// How long a key stays in progress when its request never completes nor abandons it.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(60);

const IN_PROGRESS: u8 = b'P';
const DONE: u8 = b'D';

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What [`IdempotencyStore::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The key was free and is now this request's, in progress: run it, then
    /// [`IdempotencyStore::complete`] or [`IdempotencyStore::abandon`].
    Fresh,
    /// Another request with the key and the same fingerprint is running.
    InProgress,
    /// A request with the key and the same fingerprint completed with this response.
    Replay(StoredResponse),
    /// The key was used with another fingerprint.
    Mismatch,
}

/// Idempotency records. Get one from [`Cache::idempotency`].
#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    cache: Cache,
    lock_ttl: Duration,
}

fn push_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..usize::from(len)]);
}

fn take_short<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, tail) = rest.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    if tail.len() < len {
        return None;
    }
    let (value, tail) = tail.split_at(len);
    *rest = tail;
    Some(value)
}

fn encode_done(fingerprint: &str, response: &StoredResponse) -> Vec<u8> {
    let ct = response.content_type.as_deref().unwrap_or("");
    let mut out = Vec::with_capacity(7 + fingerprint.len() + ct.len() + response.body.len());
    out.push(DONE);
    out.extend_from_slice(&response.status.to_be_bytes());
    push_short(&mut out, fingerprint.as_bytes());
    push_short(&mut out, ct.as_bytes());
    out.extend_from_slice(&response.body);
    out
}

enum Record<'a> {
    InProgress {
        fingerprint: &'a [u8],
    },
    Done {
        fingerprint: &'a [u8],
        response: StoredResponse,
    },
}

fn decode(value: &[u8]) -> Option<Record<'_>> {
    let (&tag, rest) = value.split_first()?;
    match tag {
        IN_PROGRESS => Some(Record::InProgress { fingerprint: rest }),
        DONE => {
            let (status, mut rest) = rest.split_first_chunk::<2>()?;
            let fingerprint = take_short(&mut rest)?;
            let ct = std::str::from_utf8(take_short(&mut rest)?).ok()?;
            Some(Record::Done {
                fingerprint,
                response: StoredResponse {
                    status: u16::from_be_bytes(*status),
                    content_type: (!ct.is_empty()).then(|| ct.to_owned()),
                    body: rest.to_vec(),
                },
            })
        }
        _ => None,
    }
}

impl IdempotencyStore {
    pub(crate) fn new(cache: Cache) -> Self {
        IdempotencyStore {
            cache,
            lock_ttl: DEFAULT_LOCK_TTL,
        }
    }

    /// How long a key stays in progress if its request neither completes nor abandons it.
    pub fn with_lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = ttl;
        self
    }

    /// Takes `key` for a request whose body has `fingerprint`, or says what holds it.
    pub async fn begin(&self, key: &str, fingerprint: &str) -> Begin {
        let key = self.cache.key("idem", key);
        let mut marker = Vec::with_capacity(1 + fingerprint.len());
        marker.push(IN_PROGRESS);
        marker.extend_from_slice(fingerprint.as_bytes());
        let ttl = self.lock_ttl;
        let held = self
            .cache
            .run(
                async |r| r.set_nx_or_get(&key, &marker, ttl).await,
                |m| m.set_nx_or_get(&key, &marker, ttl),
            )
            .await;
        let Some(held) = held else {
            return Begin::Fresh;
        };
        match decode(&held) {
            Some(Record::InProgress { fingerprint: f }) if f == fingerprint.as_bytes() => {
                Begin::InProgress
            }
            Some(Record::Done {
                fingerprint: f,
                response,
            }) if f == fingerprint.as_bytes() => Begin::Replay(response),
            Some(_) => Begin::Mismatch,
            None => {
                // Not a record this code wrote (an older format?): take the key over.
                self.cache
                    .run(
                        async |r| r.set(&key, &marker, ttl).await.map(|()| true),
                        |m| m.set(&key, &marker, ttl),
                    )
                    .await;
                Begin::Fresh
            }
        }
    }

    /// Stores the response of the request that holds `key`, for `ttl`. A body over
    /// [`MAX_STORED_BODY_BYTES`] is not stored and the key is released; answers whether it was
    /// stored.
    pub async fn complete(
        &self,
        key: &str,
        fingerprint: &str,
        response: &StoredResponse,
        ttl: Duration,
    ) -> bool {
        if response.body.len() > MAX_STORED_BODY_BYTES {
            self.abandon(key).await;
            return false;
        }
        let key = self.cache.key("idem", key);
        let record = encode_done(fingerprint, response);
        let stored = self
            .cache
            .run(
                async |r| r.set(&key, &record, ttl).await.map(|()| true),
                |m| m.set(&key, &record, ttl),
            )
            .await;
        // The key may have been taken in memory while Redis was lost: release that copy.
        self.cache.local().del_if_prefix(&key, &[IN_PROGRESS]);
        stored
    }

    /// Releases `key` when it is still in progress (the request failed: a retry may run).
    pub async fn abandon(&self, key: &str) {
        let key = self.cache.key("idem", key);
        self.cache
            .run(
                async |r| r.del_if_prefix(&key, &[IN_PROGRESS]).await,
                |m| m.del_if_prefix(&key, &[IN_PROGRESS]),
            )
            .await;
        self.cache.local().del_if_prefix(&key, &[IN_PROGRESS]);
    }
}
