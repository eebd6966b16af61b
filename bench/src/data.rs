//! The benchmark's catalog: blueprints `team`, `domain` and `service`, and a deterministic
//! generator of service entities (10 properties, 2 relations), so the API run and the raw
//! SQL run write exactly the same rows.

use serde_json::{Map, Value, json};

pub const TEAM: &str = "team";
pub const DOMAIN: &str = "domain";
pub const SERVICE: &str = "service";

pub fn team_blueprint() -> Value {
    json!({
        "identifier": TEAM, "title": "Team", "icon": "Team",
        "schema": {
            "properties": {
                "size": {"type": "number", "title": "Size", "minimum": 0},
                "slack": {"type": "string", "title": "Slack channel", "format": "url"},
                "manager": {"type": "string", "title": "Manager", "format": "email"}
            },
            "required": []
        }
    })
}

pub fn domain_blueprint() -> Value {
    json!({
        "identifier": DOMAIN, "title": "Domain", "icon": "Cloud",
        "schema": {
            "properties": {
                "description": {"type": "string", "title": "Description"},
                "criticality": {"type": "string", "title": "Criticality", "enum": ["low", "medium", "high"]}
            },
            "required": []
        }
    })
}

/// Ten properties of every JSON type (strings incl. an enum and a url format, numbers with
/// bounds, a boolean, an array, an object), two relations (`owner` required).
pub fn service_blueprint() -> Value {
    json!({
        "identifier": SERVICE, "title": "Service", "icon": "Service",
        "schema": {
            "properties": {
                "language": {"type": "string", "title": "Language",
                    "enum": ["rust", "go", "python", "java", "typescript"]},
                "url": {"type": "string", "title": "URL", "format": "url"},
                "description": {"type": "string", "title": "Description", "maxLength": 500},
                "lifecycle": {"type": "string", "title": "Lifecycle",
                    "enum": ["production", "staging", "deprecated"]},
                "port": {"type": "number", "title": "Port", "minimum": 1, "maximum": 65535},
                "replicas": {"type": "number", "title": "Replicas", "minimum": 0},
                "slo": {"type": "number", "title": "SLO (%)", "minimum": 0, "maximum": 100},
                "onCall": {"type": "boolean", "title": "On call"},
                "tags": {"type": "array", "title": "Tags", "items": {"type": "string"}},
                "config": {"type": "object", "title": "Runtime config"}
            },
            "required": ["language", "url"]
        },
        "relations": {
            "owner": {"title": "Owner", "target": TEAM, "required": true, "many": false},
            "domain": {"title": "Domain", "target": DOMAIN, "required": false, "many": false}
        }
    })
}

pub fn team_id(i: usize) -> String {
    format!("team-{i:03}")
}

pub fn domain_id(i: usize) -> String {
    format!("domain-{i:03}")
}

const CRITICALITY: [&str; 3] = ["low", "medium", "high"];

/// The relation targets, as bulk bodies (`team-000`..., `domain-000`...).
pub fn target_bodies(teams: usize, domains: usize) -> (Value, Value) {
    let teams: Vec<Value> = (0..teams)
        .map(|i| {
            json!({
                "identifier": team_id(i), "title": format!("Team {i}"),
                "properties": {"size": 3 + i % 9, "slack": format!("https://slack.example.com/archives/T{i:03}"),
                    "manager": format!("manager{i}@example.com")}
            })
        })
        .collect();
    let domains: Vec<Value> = (0..domains)
        .map(|i| {
            json!({
                "identifier": domain_id(i), "title": format!("Domain {i}"),
                "properties": {"description": format!("Business domain {i}"),
                    "criticality": CRITICALITY[i % CRITICALITY.len()]}
            })
        })
        .collect();
    (json!({"entities": teams}), json!({"entities": domains}))
}

/// One service entity. `rev` 0 is the first write; other revisions change every property
/// and the title but keep the relation targets (so the raw baseline's `ON CONFLICT DO
/// NOTHING` on the edges stays correct).
pub struct Row {
    pub identifier: String,
    pub title: String,
    pub properties: Value,
    pub owner: String,
    pub domain: String,
}

const LANGUAGES: [&str; 5] = ["rust", "go", "python", "java", "typescript"];
const LIFECYCLES: [&str; 3] = ["production", "staging", "deprecated"];
const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "ap-south-1", "sa-east-1"];

pub fn service_row(prefix: &str, i: usize, rev: usize, teams: usize, domains: usize) -> Row {
    let r = i + rev;
    let mut p = Map::new();
    p.insert("language".into(), json!(LANGUAGES[r % LANGUAGES.len()]));
    p.insert(
        "url".into(),
        json!(format!(
            "https://{prefix}-{i:06}.internal.example.com/v{rev}"
        )),
    );
    p.insert(
        "description".into(),
        json!(format!(
            "Service {i} of the order pipeline: receives events, enriches them and forwards them downstream (revision {rev})."
        )),
    );
    p.insert("lifecycle".into(), json!(LIFECYCLES[r % LIFECYCLES.len()]));
    p.insert("port".into(), json!(1024 + (i * 7 + rev) % 60_000));
    p.insert("replicas".into(), json!(1 + r % 12));
    p.insert("slo".into(), json!(99.0 + (r % 10) as f64 / 10.0));
    p.insert("onCall".into(), json!(r.is_multiple_of(2)));
    p.insert(
        "tags".into(),
        json!([
            format!("tier-{}", r % 3),
            REGIONS[r % REGIONS.len()],
            format!("rev-{rev}")
        ]),
    );
    p.insert(
        "config".into(),
        json!({
            "region": REGIONS[(i / 3 + rev) % REGIONS.len()],
            "timeoutMs": 250 + 50 * (r % 8),
            "retries": r % 4,
            "features": {"canary": r.is_multiple_of(5), "tracing": true}
        }),
    );
    Row {
        identifier: format!("{prefix}-{i:06}"),
        title: format!("Service {i} (rev {rev})"),
        properties: Value::Object(p),
        owner: team_id(i % teams.max(1)),
        domain: domain_id((i / 7) % domains.max(1)),
    }
}

impl Row {
    /// Port's relation shape, as the API stores it.
    pub fn relations(&self) -> Value {
        json!({"owner": self.owner, "domain": self.domain})
    }

    /// The entity as a client sends it.
    pub fn api_json(&self) -> Value {
        json!({
            "identifier": self.identifier,
            "title": self.title,
            "properties": self.properties,
            "relations": self.relations(),
        })
    }
}
