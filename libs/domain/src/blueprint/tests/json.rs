//! `to_json`, the parse/to_json round trip, merge patch and type helpers.

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::json;

use super::super::*;
use super::{full_body, parse_ok};

#[test]
fn to_json_is_ports_shape() {
    let bp = parse_ok(&full_body());
    assert_eq!(
        bp.to_json(),
        json!({
            "identifier": "service",
            "title": "Service",
            "icon": "Microservice",
            "description": "A deployable unit",
            "schema": {
                "properties": full_body()["schema"]["properties"].clone(),
                "required": ["language"],
            },
            "relations": {
                "domain": {"title": "Domain", "target": "domain", "required": true, "many": false},
                "deps": {"description": "Dependencies", "target": "service", "required": false, "many": true},
            },
            "mirrorProperties": {},
            "calculationProperties": {},
            "aggregationProperties": {},
            "ownership": {"type": "Inherited", "path": "domain.team"},
            "changelogDestination": {"type": "WEBHOOK", "url": "https://hooks.example.com/x"},
            "x-vendor": {"kept": true},
        })
    );
    let keys: Vec<String> = bp
        .to_json()
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(&keys[..4], ["identifier", "title", "icon", "description"]);
}

#[test]
fn to_json_minimal_and_legacy_ownership() {
    let bp = parse_ok(&json!({
        "identifier": "x", "title": "X", "schema": {"properties": {}},
        "relations": {"owner": {"target": "team"}}, "teamInheritance": {"path": "owner"},
    }));
    assert_eq!(
        bp.to_json(),
        json!({
            "identifier": "x", "title": "X",
            "schema": {"properties": {}, "required": []},
            "relations": {"owner": {"target": "team", "required": false, "many": false}},
            "mirrorProperties": {}, "calculationProperties": {}, "aggregationProperties": {},
            "ownership": {"type": "Inherited", "path": "owner"},
        })
    );
    assert_eq!(Ownership::Direct.to_json(), json!({"type": "Direct"}));
}

#[test]
fn extras_never_shadow_known_members() {
    let mut bp = parse_ok(&full_body());
    bp.extra.insert("identifier".into(), json!("evil"));
    assert_eq!(bp.to_json()["identifier"], json!("service"));
}

fn assert_round_trip(bp: &Blueprint) {
    let json = bp.to_json();
    match Blueprint::parse(&json) {
        Ok(again) => assert_eq!(&again, bp, "{json}"),
        Err(issues) => panic!("to_json output should parse: {issues:?}\n{json}"),
    }
}

#[test]
fn round_trip_hand_built() {
    assert_round_trip(&parse_ok(&full_body()));
    let hand_built = [
        Blueprint {
            identifier: "team".into(),
            title: "Team".into(),
            description: None,
            icon: None,
            properties: IndexMap::new(),
            required: vec![],
            relations: IndexMap::new(),
            ownership: Some(Ownership::Direct),
            changelog_destination: None,
            extra: Map::new(),
        },
        Blueprint {
            identifier: "ns/Δοκιμή:v1".into(),
            title: "Ünïcode".into(),
            description: Some(String::new()),
            icon: Some("Team".into()),
            properties: [
                (
                    "a".to_owned(),
                    obj(json!({"type": "boolean", "default": true})),
                ),
                (
                    "b-2".to_owned(),
                    obj(json!({"type": "object", "properties": {"x": {"type": "string"}}})),
                ),
            ]
            .into_iter()
            .collect(),
            required: vec!["b-2".into(), "a".into()],
            relations: [(
                "parent".to_owned(),
                RelationDef {
                    title: None,
                    description: Some("d".into()),
                    target: "ns/Δοκιμή:v1".into(),
                    required: false,
                    many: false,
                },
            )]
            .into_iter()
            .collect(),
            ownership: Some(Ownership::Inherited {
                path: "parent.parent".into(),
            }),
            changelog_destination: Some(json!({"type": "KAFKA"})),
            extra: obj(json!({"blueprintVersion": 2, "nested": {"k": [1, null]}})),
        },
    ];
    for bp in &hand_built {
        assert_round_trip(bp);
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// A random valid property definition.
fn random_property(rng: &mut StdRng) -> Map<String, Value> {
    const FORMATS: [&str; 6] = ["url", "email", "user", "team", "markdown", "yaml"];
    let mut def = match rng.gen_range(0..6) {
        0 => json!({"type": "string", "format": FORMATS[rng.gen_range(0..FORMATS.len())]}),
        1 => {
            json!({"type": "string", "minLength": rng.gen_range(0..3), "maxLength": rng.gen_range(3..9), "pattern": "^.*$"})
        }
        2 => {
            json!({"type": "number", "minimum": rng.gen_range(-5..0), "maximum": rng.gen_range(0..5), "default": 0})
        }
        3 => json!({"type": "boolean", "default": rng.gen_bool(0.5)}),
        4 => {
            json!({"type": "array", "maxItems": rng.gen_range(1..4), "items": {"type": "string", "enum": ["a", "b"]}})
        }
        _ => json!({"type": "string", "enum": ["x", "y"], "enumColors": {"y": "red"}}),
    };
    if rng.gen_bool(0.5) {
        def["title"] = json!(format!("Title {}", rng.gen_range(0..100)));
    }
    if rng.gen_bool(0.3) {
        def["description"] = json!("about it");
    }
    obj(def)
}

#[test]
fn round_trip_random() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for n in 0..200 {
        let properties: IndexMap<String, Map<String, Value>> = (0..rng.gen_range(0..6))
            .map(|i| (format!("p{i}"), random_property(&mut rng)))
            .collect();
        let required: Vec<String> = properties
            .keys()
            .filter(|_| rng.gen_bool(0.4))
            .cloned()
            .collect();
        let relations: IndexMap<String, RelationDef> = (0..rng.gen_range(0..4))
            .map(|i| {
                let many = rng.gen_bool(0.5);
                let def = RelationDef {
                    title: rng.gen_bool(0.5).then(|| format!("Rel {i}")),
                    description: rng.gen_bool(0.3).then(|| "desc".to_owned()),
                    target: format!("target{i}"),
                    required: !many && rng.gen_bool(0.5),
                    many,
                };
                (format!("r{i}"), def)
            })
            .collect();
        let ownership = match (rng.gen_range(0..3), relations.keys().next()) {
            (0, _) => None,
            (1, _) | (_, None) => Some(Ownership::Direct),
            (_, Some(first)) => Some(Ownership::Inherited {
                path: format!("{first}.team"),
            }),
        };
        let bp = Blueprint {
            identifier: format!("bp_{n}"),
            title: format!("Blueprint {n}"),
            description: rng.gen_bool(0.5).then(|| "desc".to_owned()),
            icon: rng.gen_bool(0.5).then(|| "Icon".to_owned()),
            properties,
            required,
            relations,
            ownership,
            changelog_destination: rng.gen_bool(0.2).then(|| json!({"type": "WEBHOOK"})),
            extra: if rng.gen_bool(0.3) {
                obj(json!({"custom": n}))
            } else {
                Map::new()
            },
        };
        assert_round_trip(&bp);
    }
}

#[test]
fn merge_patch_rfc7396() {
    let cases = [
        (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
        (
            json!({"a": "b"}),
            json!({"b": "c"}),
            json!({"a": "b", "b": "c"}),
        ),
        (json!({"a": "b"}), json!({"a": null}), json!({})),
        (
            json!({"a": "b", "b": "c"}),
            json!({"a": null}),
            json!({"b": "c"}),
        ),
        (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
        (
            json!({"a": {"b": "c"}}),
            json!({"a": {"b": "d", "c": null}}),
            json!({"a": {"b": "d"}}),
        ),
        (
            json!({"a": [{"b": "c"}]}),
            json!({"a": [1]}),
            json!({"a": [1]}),
        ),
        (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        (json!({"a": "b"}), json!(["c"]), json!(["c"])),
        (json!({"a": "foo"}), json!(null), json!(null)),
        (
            json!({"e": null}),
            json!({"a": 1}),
            json!({"e": null, "a": 1}),
        ),
        (
            json!([1, 2]),
            json!({"a": "b", "c": null}),
            json!({"a": "b"}),
        ),
        (
            json!({}),
            json!({"a": {"bb": {"ccc": null}}}),
            json!({"a": {"bb": {}}}),
        ),
    ];
    for (target, patch, want) in cases {
        let mut t = target.clone();
        merge_patch(&mut t, &patch);
        assert_eq!(t, want, "{target} + {patch}");
    }
}

#[test]
fn prop_type_reads_type() {
    for (def, want) in [
        (json!({"type": "string"}), Some(PropType::String)),
        (json!({"type": "number"}), Some(PropType::Number)),
        (json!({"type": "boolean"}), Some(PropType::Boolean)),
        (json!({"type": "object"}), Some(PropType::Object)),
        (json!({"type": "array"}), Some(PropType::Array)),
        (json!({"type": "integer"}), None),
        (json!({"type": 1}), None),
        (json!({}), None),
    ] {
        assert_eq!(prop_type(&obj(def.clone())), want, "{def}");
        if let Some(t) = want {
            assert_eq!(def["type"], json!(t.as_str()));
        }
    }
}
