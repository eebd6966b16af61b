//! The event envelope: the shape of every event on the bus, version 1.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::BusError;

/// The envelope version this code writes and reads.
pub const ENVELOPE_VERSION: u32 = 1;

/// One event, as published on the bus and seen by automations (`{id, org_id, type,
/// occurred_at, actor, context, diff: {before, after}}`). Consumers de-duplicate on `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Envelope format version ([`ENVELOPE_VERSION`]).
    pub v: u32,
    /// The event id, also the AMQP `message_id`.
    pub id: Uuid,
    pub org_id: Uuid,
    /// Position of the event in its org's outbox (ordering hint, not a dense counter).
    pub seq: i64,
    /// What happened, e.g. `entity.created`; also the routing key.
    #[serde(rename = "type")]
    pub r#type: String,
    pub occurred_at: DateTime<Utc>,
    /// Who did it.
    pub actor: Value,
    /// Where it happened (blueprint, entity, run...).
    pub context: Value,
    /// `{before, after}`.
    pub diff: Value,
}

impl Envelope {
    /// A new version-1 event with a fresh time-ordered id, occurring now.
    pub fn new(
        org_id: Uuid,
        seq: i64,
        r#type: impl Into<String>,
        actor: Value,
        context: Value,
        diff: Value,
    ) -> Self {
        Envelope {
            v: ENVELOPE_VERSION,
            id: Uuid::now_v7(),
            org_id,
            seq,
            r#type: r#type.into(),
            occurred_at: Utc::now(),
            actor,
            context,
            diff,
        }
    }

    /// The topic routing key: the event type (`entity.created`).
    pub fn routing_key(&self) -> &str {
        &self.r#type
    }

    /// The JSON body published on the wire.
    pub fn to_json(&self) -> Result<Vec<u8>, BusError> {
        serde_json::to_vec(self).map_err(BusError::Encode)
    }

    /// Reads an envelope from its JSON body, refusing versions this code does not know.
    pub fn from_json(body: &[u8]) -> Result<Self, BusError> {
        let env: Envelope = serde_json::from_slice(body).map_err(BusError::Decode)?;
        if env.v != ENVELOPE_VERSION {
            return Err(BusError::UnsupportedVersion(env.v));
        }
        Ok(env)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Envelope {
        Envelope::new(
            Uuid::new_v4(),
            7,
            "entity.created",
            json!({"type": "user", "id": "u1"}),
            json!({"blueprint": "service", "entity": "checkout"}),
            json!({"before": null, "after": {"identifier": "checkout"}}),
        )
    }

    #[test]
    fn serializes_type_under_its_wire_name_and_round_trips() {
        let env = sample();
        let body = env.to_json().unwrap();
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["type"], "entity.created");
        assert_eq!(value["v"], 1);
        assert!(value.get("r#type").is_none());
        assert_eq!(Envelope::from_json(&body).unwrap(), env);
    }

    #[test]
    fn routing_key_is_the_event_type() {
        assert_eq!(sample().routing_key(), "entity.created");
    }

    #[test]
    fn refuses_an_unknown_version() {
        let mut value = serde_json::to_value(sample()).unwrap();
        value["v"] = json!(2);
        let body = serde_json::to_vec(&value).unwrap();
        assert!(matches!(
            Envelope::from_json(&body),
            Err(BusError::UnsupportedVersion(2))
        ));
    }
}
