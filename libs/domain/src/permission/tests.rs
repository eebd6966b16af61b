//! Table-driven tests of the permission decisions.
//!
//! The fixture org: blueprint `svc` (properties `tier`, `owner`, `name`, `port`; relations
//! `domain` -> `domain`, `deps` -> `svc`) and blueprint `domain`. The callers: an Admin, a
//! `svc` moderator, a `domain` moderator, Ann (Member, team `alpha`), Ben (Member, team
//! `beta`), Cat (no role, teams `alpha` and `beta`), Dan (Member, no team) and two apps
//! (Member, Admin).

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::model::MAX_GRANT_ENTRIES;
use super::*;
use crate::Issues;
use crate::blueprint::Blueprint;
use crate::query::{self, NoGraph, ParseScope, QueryContext};

const BP: &str = "svc";
const NOW: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn user(roles: &[&str], teams: &[&str]) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        id: "u1".into(),
        email: Some("ann@example.com".into()),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        teams: teams.iter().map(|t| (*t).to_owned()).collect(),
    }
}

fn person(email: &str, roles: &[&str], teams: &[&str]) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        id: format!("id-{email}"),
        email: Some(email.to_owned()),
        roles: strings(roles),
        teams: strings(teams),
    }
}

fn app(roles: &[&str]) -> Principal {
    Principal {
        kind: PrincipalKind::App,
        id: "client-1".into(),
        email: None,
        roles: strings(roles),
        teams: Vec::new(),
    }
}

fn admin() -> Principal {
    person("root@example.com", &[ADMIN], &[])
}
fn moderator() -> Principal {
    person("mo@example.com", &["svc-moderator"], &[])
}
fn other_moderator() -> Principal {
    person("dora@example.com", &["domain-moderator"], &[])
}
fn ann() -> Principal {
    person("ann@example.com", &[MEMBER], &["alpha"])
}
fn ben() -> Principal {
    person("ben@example.com", &[MEMBER], &["beta"])
}
fn cat() -> Principal {
    person("cat@example.com", &[], &["alpha", "beta"])
}
fn dan() -> Principal {
    person("dan@example.com", &[MEMBER], &[])
}
fn app_member() -> Principal {
    app(&[MEMBER])
}
fn app_admin() -> Principal {
    app(&[ADMIN])
}

fn grant(roles: &[&str], users: &[&str], teams: &[&str], owned_by_team: bool) -> Grant {
    Grant {
        roles: strings(roles),
        users: strings(users),
        teams: strings(teams),
        owned_by_team,
    }
}

fn owned() -> Grant {
    grant(&[], &[], &[], true)
}

/// Nobody but Admin and the moderators may do anything.
fn closed() -> BlueprintPermissions {
    BlueprintPermissions {
        read: PolicyGrant::default(),
        register: Grant::default(),
        update: Grant::default(),
        unregister: Grant::default(),
        update_properties: Default::default(),
        update_relations: Default::default(),
    }
}

fn blueprint(body: Value) -> Blueprint {
    match Blueprint::parse(&body) {
        Ok(b) => b,
        Err(issues) => panic!("fixture blueprint should parse: {issues:?}"),
    }
}

fn svc() -> Blueprint {
    blueprint(json!({
        "identifier": "svc",
        "title": "Service",
        "schema": {"properties": {
            "tier": {"type": "string"},
            "owner": {"type": "string"},
            "name": {"type": "string"},
            "port": {"type": "number"}
        }},
        "relations": {
            "domain": {"target": "domain", "many": false},
            "deps": {"target": "svc", "many": true}
        }
    }))
}

fn org() -> IndexMap<String, Blueprint> {
    let domain = blueprint(json!({
        "identifier": "domain",
        "title": "Domain",
        "schema": {"properties": {"name": {"type": "string"}}}
    }));
    [svc(), domain]
        .into_iter()
        .map(|b| (b.identifier.clone(), b))
        .collect()
}

fn gold() -> Value {
    json!({"combinator": "and", "rules": [{"property": "tier", "operator": "=", "value": "gold"}]})
}

fn mine() -> Value {
    json!({"combinator": "and", "rules": [{
        "property": "owner",
        "operator": "=",
        "value": {"context": "user", "property": "$identifier"}
    }]})
}

#[test]
fn defaults_let_admins_and_moderators_write_and_members_read() {
    let perms = BlueprintPermissions::defaults("svc");
    let t: Vec<String> = vec![];
    for (roles, write, read) in [
        (vec![ADMIN], true, true),
        (vec!["svc-moderator"], true, true),
        (vec!["other-moderator"], false, false),
        (vec![MEMBER], false, true),
        (vec![], false, false),
    ] {
        let p = user(&roles, &[]);
        assert_eq!(
            can_register(&p, &perms, "svc", &t).allowed(),
            write,
            "{roles:?}"
        );
        assert_eq!(
            can_unregister(&p, &perms, "svc", &t).allowed(),
            write,
            "{roles:?}"
        );
        let access = read_access(&p, &perms, "svc");
        assert_eq!(access == ReadAccess::All, read, "{roles:?}");
    }
}

// ---------------------------------------------------------------------------------------
// 1. Register, unregister, update.
// ---------------------------------------------------------------------------------------

#[test]
fn principal_helpers() {
    let cases: Vec<(&str, Principal, bool, bool, bool)> = vec![
        // (name, caller, is_admin, moderates svc, moderates domain)
        ("admin", admin(), true, true, true),
        ("svc moderator", moderator(), false, true, false),
        ("domain moderator", other_moderator(), false, false, true),
        ("member", ann(), false, false, false),
        ("app admin", app_admin(), true, true, true),
        ("app member", app_member(), false, false, false),
        (
            "bare -moderator",
            person("x@example.com", &["-moderator"], &[]),
            false,
            false,
            false,
        ),
    ];
    for (name, p, is_admin, svc_mod, domain_mod) in cases {
        assert_eq!(p.is_admin(), is_admin, "{name}");
        assert_eq!(p.moderates(BP), svc_mod, "{name}");
        assert_eq!(full_control(&p, BP), svc_mod, "{name}");
        assert_eq!(p.moderates("domain"), domain_mod, "{name}");
    }
    assert_eq!(moderator_role("svc"), "svc-moderator");
    assert_eq!(moderated_blueprint("svc-moderator"), Some("svc"));
    assert_eq!(
        moderated_blueprint("a-moderator-moderator"),
        Some("a-moderator")
    );
    assert_eq!(moderated_blueprint("-moderator"), None);
    assert_eq!(moderated_blueprint("Member"), None);
    assert!(cat().in_any(&strings(&["gamma", "beta"])));
    assert!(!cat().in_any(&[]));
    assert!(!app_member().in_any(&strings(&["alpha"])));
}

/// Every caller × grant × owning teams, for `register` and `unregister`. Each cell of a row
/// gives the decision for the entity teams `[]`, `[alpha]`, `[beta]`, `[alpha, beta]`
/// (`Y` allow, `N` deny).
#[test]
fn register_and_unregister_over_callers_grants_and_owners() {
    let callers: [(&str, Principal); 9] = [
        ("admin", admin()),
        ("svc moderator", moderator()),
        ("domain moderator", other_moderator()),
        ("ann", ann()),
        ("ben", ben()),
        ("cat", cat()),
        ("dan", dan()),
        ("app", app_member()),
        ("app admin", app_admin()),
    ];
    let owners: [Vec<String>; 4] = [
        vec![],
        strings(&["alpha"]),
        strings(&["beta"]),
        strings(&["alpha", "beta"]),
    ];
    #[rustfmt::skip]
    let table: Vec<(&str, Grant, [&str; 9])> = vec![
        //                                                        admin   svc-mod dom-mod ann     ben     cat     dan     app     app-adm
        ("nobody", Grant::default(),                             ["YYYY", "YYYY", "NNNN", "NNNN", "NNNN", "NNNN", "NNNN", "NNNN", "YYYY"]),
        ("role Member", Grant::roles(&[MEMBER]),                 ["YYYY", "YYYY", "NNNN", "YYYY", "YYYY", "NNNN", "YYYY", "YYYY", "YYYY"]),
        ("role Admin", Grant::roles(&[ADMIN]),                   ["YYYY", "YYYY", "NNNN", "NNNN", "NNNN", "NNNN", "NNNN", "NNNN", "YYYY"]),
        ("role domain-moderator", Grant::roles(&["domain-moderator"]),
                                                                 ["YYYY", "YYYY", "YYYY", "NNNN", "NNNN", "NNNN", "NNNN", "NNNN", "YYYY"]),
        ("ownedByTeam", owned(),                                 ["YYYY", "YYYY", "NNNN", "NYNY", "NNYY", "NYYY", "NNNN", "NNNN", "YYYY"]),
        ("user ann", grant(&[], &["ann@example.com"], &[], false),
                                                                 ["YYYY", "YYYY", "NNNN", "YYYY", "NNNN", "NNNN", "NNNN", "NNNN", "YYYY"]),
        ("team beta", grant(&[], &[], &["beta"], false),         ["YYYY", "YYYY", "NNNN", "NNNN", "YYYY", "YYYY", "NNNN", "NNNN", "YYYY"]),
        ("ownedByTeam or user dan", grant(&[], &["dan@example.com"], &[], true),
                                                                 ["YYYY", "YYYY", "NNNN", "NYNY", "NNYY", "NYYY", "YYYY", "NNNN", "YYYY"]),
        ("team alpha or user ben", grant(&[], &["ben@example.com"], &["alpha"], false),
                                                                 ["YYYY", "YYYY", "NNNN", "YYYY", "YYYY", "YYYY", "NNNN", "NNNN", "YYYY"]),
        ("team gamma, ownedByTeam", grant(&[], &[], &["gamma"], true),
                                                                 ["YYYY", "YYYY", "NNNN", "NYNY", "NNYY", "NYYY", "NNNN", "NNNN", "YYYY"]),
    ];
    let mut decisions = 0;
    for (gname, g, row) in &table {
        for ((cname, p), cells) in callers.iter().zip(row) {
            assert_eq!(cells.len(), owners.len(), "{gname} / {cname}");
            for (teams, cell) in owners.iter().zip(cells.chars()) {
                let want = cell == 'Y';
                let ctx = format!("grant {gname}, caller {cname}, owners {teams:?}");
                // The grant under test on `register` only, then on `unregister` only: each
                // decision reads its own grant and no other.
                let mut on_register = closed();
                on_register.register = g.clone();
                let mut on_unregister = closed();
                on_unregister.unregister = g.clone();
                let full = full_control(p, BP);
                for (what, got, other) in [
                    (
                        "register",
                        can_register(p, &on_register, BP, teams),
                        can_register(p, &on_unregister, BP, teams),
                    ),
                    (
                        "unregister",
                        can_unregister(p, &on_unregister, BP, teams),
                        can_unregister(p, &on_register, BP, teams),
                    ),
                ] {
                    decisions += 1;
                    if want {
                        assert_eq!(got, Decision::Allow, "{what}: {ctx}");
                    } else {
                        assert_eq!(
                            got,
                            Decision::Deny(format!(
                                "you may not {what} entities of blueprint `svc`"
                            )),
                            "{what}: {ctx}"
                        );
                    }
                    assert_eq!(other.allowed(), full, "{what} with the other grant: {ctx}");
                }
            }
        }
    }
    assert_eq!(decisions, 10 * 9 * 4 * 2);
}

/// What `can_update` must answer.
enum Want {
    Allow,
    /// Refused on the title, icon or team (the `update` grant on the stored owners).
    DenyMeta,
    /// Refused on a property.
    DenyProperty(&'static str),
    /// Refused on a relation.
    DenyRelation(&'static str),
    /// Refused because the new owners would not pass `update`.
    DenyGiveAway,
}

fn update_perms(
    update: Grant,
    props: &[(&str, Grant)],
    rels: &[(&str, Grant)],
) -> BlueprintPermissions {
    let mut p = closed();
    p.update = update;
    p.update_properties = props
        .iter()
        .map(|(k, g)| ((*k).to_owned(), g.clone()))
        .collect();
    p.update_relations = rels
        .iter()
        .map(|(k, g)| ((*k).to_owned(), g.clone()))
        .collect();
    p
}

fn meta(owners: &[&str]) -> EntityChange {
    EntityChange {
        teams_before: strings(owners),
        teams_after: strings(owners),
        metadata: true,
        ..EntityChange::default()
    }
}

fn move_to(before: &[&str], after: &[&str]) -> EntityChange {
    EntityChange {
        teams_before: strings(before),
        teams_after: strings(after),
        ..EntityChange::default()
    }
}

fn props(owners: &[&str], keys: &[&str]) -> EntityChange {
    EntityChange {
        teams_before: strings(owners),
        teams_after: strings(owners),
        properties: strings(keys),
        ..EntityChange::default()
    }
}

fn rels(owners: &[&str], keys: &[&str]) -> EntityChange {
    EntityChange {
        teams_before: strings(owners),
        teams_after: strings(owners),
        relations: strings(keys),
        ..EntityChange::default()
    }
}

#[test]
fn update_decisions() {
    use Want::*;
    let member = || Grant::roles(&[MEMBER]);
    let only_admin = || Grant::roles(&[ADMIN]);
    let nobody = Grant::default;
    let by_ann = || grant(&[], &["ann@example.com"], &[], false);
    let everything = EntityChange {
        teams_before: strings(&["alpha"]),
        teams_after: strings(&["gamma"]),
        metadata: true,
        properties: strings(&["tier", "name"]),
        relations: strings(&["deps", "domain"]),
    };
    let cases: Vec<(&str, Principal, BlueprintPermissions, EntityChange, Want)> = vec![
        // --- bypass: Admin and the blueprint's moderators, whatever the document says.
        (
            "admin, closed",
            admin(),
            closed(),
            everything.clone(),
            Allow,
        ),
        (
            "app admin, closed",
            app_admin(),
            closed(),
            everything.clone(),
            Allow,
        ),
        (
            "svc moderator, closed",
            moderator(),
            closed(),
            everything.clone(),
            Allow,
        ),
        (
            "svc moderator, narrowed property",
            moderator(),
            update_perms(nobody(), &[("tier", nobody())], &[("deps", nobody())]),
            everything.clone(),
            Allow,
        ),
        (
            "domain moderator, closed",
            other_moderator(),
            closed(),
            meta(&[]),
            DenyMeta,
        ),
        (
            "domain moderator named by the grant",
            other_moderator(),
            update_perms(Grant::roles(&["domain-moderator"]), &[], &[]),
            everything.clone(),
            Allow,
        ),
        // --- nothing changes: nothing to refuse.
        (
            "no change, closed",
            ann(),
            closed(),
            EntityChange::default(),
            Allow,
        ),
        (
            "same owners in another order is no team change",
            ann(),
            closed(),
            move_to(&["alpha", "beta"], &["beta", "alpha", "beta"]),
            Allow,
        ),
        // --- metadata: `update` on the stored owners.
        (
            "metadata, role",
            ann(),
            update_perms(member(), &[], &[]),
            meta(&[]),
            Allow,
        ),
        (
            "metadata, closed",
            ann(),
            closed(),
            meta(&["alpha"]),
            DenyMeta,
        ),
        (
            "metadata, role not held",
            ann(),
            update_perms(only_admin(), &[], &[]),
            meta(&[]),
            DenyMeta,
        ),
        (
            "metadata, own team's entity",
            ann(),
            update_perms(owned(), &[], &[]),
            meta(&["alpha"]),
            Allow,
        ),
        (
            "metadata, co-owned entity",
            ann(),
            update_perms(owned(), &[], &[]),
            meta(&["beta", "alpha"]),
            Allow,
        ),
        (
            "metadata, other team's entity",
            ann(),
            update_perms(owned(), &[], &[]),
            meta(&["beta"]),
            DenyMeta,
        ),
        (
            "metadata, unowned entity",
            ann(),
            update_perms(owned(), &[], &[]),
            meta(&[]),
            DenyMeta,
        ),
        (
            "metadata, by email",
            ann(),
            update_perms(by_ann(), &[], &[]),
            meta(&["beta"]),
            Allow,
        ),
        (
            "metadata, someone else's email",
            ben(),
            update_perms(by_ann(), &[], &[]),
            meta(&["beta"]),
            DenyMeta,
        ),
        (
            "metadata, by team",
            ben(),
            update_perms(grant(&[], &[], &["beta"], false), &[], &[]),
            meta(&[]),
            Allow,
        ),
        (
            "metadata, granted team the caller is not in",
            ann(),
            update_perms(grant(&[], &[], &["beta"], false), &[], &[]),
            meta(&["alpha"]),
            DenyMeta,
        ),
        (
            "metadata, team-less member, ownedByTeam",
            dan(),
            update_perms(owned(), &[], &[]),
            meta(&[]),
            DenyMeta,
        ),
        (
            "metadata, app by role",
            app_member(),
            update_perms(member(), &[], &[]),
            meta(&["alpha"]),
            Allow,
        ),
        (
            "metadata, app, ownedByTeam",
            app_member(),
            update_perms(owned(), &[], &[]),
            meta(&["alpha"]),
            DenyMeta,
        ),
        (
            "metadata, app, users grant",
            app_member(),
            update_perms(by_ann(), &[], &[]),
            meta(&[]),
            DenyMeta,
        ),
        // --- team changes: `update` must pass before and after.
        (
            "team change, role",
            ann(),
            update_perms(member(), &[], &[]),
            move_to(&["alpha"], &["beta"]),
            Allow,
        ),
        (
            "team change, closed",
            ann(),
            closed(),
            move_to(&["alpha"], &["beta"]),
            DenyMeta,
        ),
        (
            "a team the caller is not in added to its entity",
            ann(),
            update_perms(owned(), &[], &[]),
            move_to(&["alpha"], &["alpha", "beta"]),
            DenyGiveAway,
        ),
        (
            "another of the caller's teams added to its entity",
            cat(),
            update_perms(owned(), &[], &[]),
            move_to(&["alpha"], &["alpha", "beta"]),
            Allow,
        ),
        (
            "own entity handed to another team",
            ann(),
            update_perms(owned(), &[], &[]),
            move_to(&["alpha"], &["beta"]),
            DenyGiveAway,
        ),
        (
            "own entity made team-less",
            ann(),
            update_perms(owned(), &[], &[]),
            move_to(&["alpha"], &[]),
            DenyGiveAway,
        ),
        (
            "other team's entity taken",
            ann(),
            update_perms(owned(), &[], &[]),
            move_to(&["beta"], &["alpha"]),
            DenyMeta,
        ),
        (
            "unowned entity claimed",
            ann(),
            update_perms(owned(), &[], &[]),
            move_to(&[], &["alpha"]),
            DenyMeta,
        ),
        (
            "moved between two of the caller's teams",
            cat(),
            update_perms(owned(), &[], &[]),
            move_to(&["alpha"], &["beta"]),
            Allow,
        ),
        (
            "team change by a granted team",
            ann(),
            update_perms(grant(&[], &[], &["alpha"], false), &[], &[]),
            move_to(&[], &["gamma"]),
            Allow,
        ),
        (
            "team change by email",
            ann(),
            update_perms(by_ann(), &[], &[]),
            move_to(&["beta"], &["gamma"]),
            Allow,
        ),
        (
            "team change by an app, ownedByTeam",
            app_member(),
            update_perms(owned(), &[], &[]),
            move_to(&["alpha"], &[]),
            DenyMeta,
        ),
        // --- properties: their own grant when set, else `update`.
        (
            "property, update grant",
            ann(),
            update_perms(member(), &[], &[]),
            props(&[], &["tier"]),
            Allow,
        ),
        (
            "property, closed",
            ann(),
            closed(),
            props(&[], &["name"]),
            DenyProperty("name"),
        ),
        (
            "property override widens",
            ann(),
            update_perms(nobody(), &[("tier", member())], &[]),
            props(&[], &["tier"]),
            Allow,
        ),
        (
            "widened property and a property without override",
            ann(),
            update_perms(nobody(), &[("tier", member())], &[]),
            props(&[], &["tier", "name"]),
            DenyProperty("name"),
        ),
        (
            "property override narrows",
            ann(),
            update_perms(member(), &[("tier", only_admin())], &[]),
            props(&[], &["tier"]),
            DenyProperty("tier"),
        ),
        (
            "narrowed override leaves other properties to update",
            ann(),
            update_perms(member(), &[("tier", only_admin())], &[]),
            props(&[], &["name", "port"]),
            Allow,
        ),
        (
            "empty override replaces update rather than adding to it",
            ann(),
            update_perms(member(), &[("tier", nobody())], &[]),
            props(&[], &["tier"]),
            DenyProperty("tier"),
        ),
        (
            "the first refused property is named",
            ann(),
            update_perms(nobody(), &[], &[]),
            props(&[], &["port", "name"]),
            DenyProperty("port"),
        ),
        (
            "property override by ownership, own entity",
            ann(),
            update_perms(nobody(), &[("tier", owned())], &[]),
            props(&["alpha"], &["tier"]),
            Allow,
        ),
        (
            "property override by ownership, other team's entity",
            ann(),
            update_perms(nobody(), &[("tier", owned())], &[]),
            props(&["beta"], &["tier"]),
            DenyProperty("tier"),
        ),
        (
            "property override by email",
            ann(),
            update_perms(nobody(), &[("tier", by_ann())], &[]),
            props(&[], &["tier"]),
            Allow,
        ),
        (
            "property override by someone else's email",
            ben(),
            update_perms(member(), &[("tier", by_ann())], &[]),
            props(&[], &["tier"]),
            DenyProperty("tier"),
        ),
        (
            "property override by team",
            cat(),
            update_perms(
                nobody(),
                &[("owner", grant(&[], &[], &["beta"], false))],
                &[],
            ),
            props(&[], &["owner"]),
            Allow,
        ),
        (
            "app, widened property",
            app_member(),
            update_perms(nobody(), &[("tier", member())], &[]),
            props(&["alpha"], &["tier"]),
            Allow,
        ),
        (
            "app, property by email",
            app_member(),
            update_perms(member(), &[("tier", by_ann())], &[]),
            props(&[], &["tier"]),
            DenyProperty("tier"),
        ),
        (
            "metadata is checked before properties",
            ann(),
            update_perms(nobody(), &[("tier", member())], &[]),
            EntityChange {
                metadata: true,
                ..props(&[], &["tier"])
            },
            DenyMeta,
        ),
        (
            "properties are judged on the stored owners",
            ann(),
            update_perms(member(), &[("tier", owned())], &[]),
            EntityChange {
                teams_before: strings(&["beta"]),
                teams_after: strings(&["alpha"]),
                properties: strings(&["tier"]),
                ..EntityChange::default()
            },
            DenyProperty("tier"),
        ),
        // --- relations: likewise, with their own overrides.
        (
            "relation, update grant",
            ann(),
            update_perms(member(), &[], &[]),
            rels(&[], &["deps"]),
            Allow,
        ),
        (
            "relation, closed",
            ann(),
            closed(),
            rels(&[], &["deps"]),
            DenyRelation("deps"),
        ),
        (
            "relation override widens",
            ann(),
            update_perms(nobody(), &[], &[("domain", member())]),
            rels(&[], &["domain"]),
            Allow,
        ),
        (
            "widened relation and one without override",
            ann(),
            update_perms(nobody(), &[], &[("domain", member())]),
            rels(&[], &["domain", "deps"]),
            DenyRelation("deps"),
        ),
        (
            "relation override narrows",
            ann(),
            update_perms(member(), &[], &[("domain", only_admin())]),
            rels(&[], &["domain"]),
            DenyRelation("domain"),
        ),
        (
            "narrowed relation leaves the others to update",
            ann(),
            update_perms(member(), &[], &[("domain", only_admin())]),
            rels(&[], &["deps"]),
            Allow,
        ),
        (
            "a property override does not apply to a relation",
            ann(),
            update_perms(nobody(), &[("domain", member())], &[]),
            rels(&[], &["domain"]),
            DenyRelation("domain"),
        ),
        (
            "a relation override does not apply to a property",
            ann(),
            update_perms(nobody(), &[], &[("tier", member())]),
            props(&[], &["tier"]),
            DenyProperty("tier"),
        ),
        (
            "relation override by ownership",
            ben(),
            update_perms(nobody(), &[], &[("deps", owned())]),
            rels(&["beta"], &["deps"]),
            Allow,
        ),
        (
            "relation override by ownership, other team",
            ann(),
            update_perms(nobody(), &[], &[("deps", owned())]),
            rels(&["beta"], &["deps"]),
            DenyRelation("deps"),
        ),
        (
            "relation override by team",
            ben(),
            update_perms(
                nobody(),
                &[],
                &[("deps", grant(&[], &[], &["beta"], false))],
            ),
            rels(&[], &["deps"]),
            Allow,
        ),
        (
            "relation override by email",
            ann(),
            update_perms(nobody(), &[], &[("deps", by_ann())]),
            rels(&[], &["deps"]),
            Allow,
        ),
        (
            "properties are checked before relations",
            ann(),
            closed(),
            EntityChange {
                relations: strings(&["deps"]),
                ..props(&[], &["tier"])
            },
            DenyProperty("tier"),
        ),
        (
            "allowed properties, refused relation",
            ann(),
            update_perms(nobody(), &[("tier", member())], &[("deps", only_admin())]),
            EntityChange {
                relations: strings(&["deps"]),
                ..props(&[], &["tier"])
            },
            DenyRelation("deps"),
        ),
        (
            "app, relation by role",
            app_member(),
            update_perms(nobody(), &[], &[("deps", member())]),
            rels(&[], &["deps"]),
            Allow,
        ),
        (
            "app, relation by ownership",
            app_member(),
            update_perms(member(), &[], &[("deps", owned())]),
            rels(&["alpha"], &["deps"]),
            DenyRelation("deps"),
        ),
    ];
    assert!(cases.len() >= 60, "{}", cases.len());
    for (name, p, perms, change, want) in cases {
        let got = can_update(&p, &perms, BP, &change);
        let field = |f: &str| {
            Decision::Deny(format!(
                "you may not update {f} of entities of blueprint `svc`"
            ))
        };
        let expected = match want {
            Allow => Decision::Allow,
            DenyMeta => field("the title, icon or team"),
            DenyProperty(k) => field(&format!("property `{k}`")),
            DenyRelation(k) => field(&format!("relation `{k}`")),
            DenyGiveAway => Decision::Deny(
                "you may not give entities of blueprint `svc` to a team you could not update them in"
                    .into(),
            ),
        };
        assert_eq!(got, expected, "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// 2. Reading: All, Nothing, or a filter that means what the rules say.
// ---------------------------------------------------------------------------------------

/// Sample `svc` entities: owned by alpha, beta, both, an empty team list, no team member.
fn samples() -> Vec<Value> {
    let e = |id: &str, team: Option<Value>, tier: &str, owner: Value| {
        let mut v = json!({
            "identifier": id,
            "title": id,
            "blueprint": "svc",
            "properties": {"tier": tier, "owner": owner},
            "relations": {}
        });
        if let Some(t) = team {
            v["team"] = t;
        }
        v
    };
    vec![
        e(
            "a-gold",
            Some(json!(["alpha"])),
            "gold",
            json!("ben@example.com"),
        ),
        e(
            "a-silver",
            Some(json!(["alpha"])),
            "silver",
            json!("ann@example.com"),
        ),
        e(
            "b-gold",
            Some(json!(["beta"])),
            "gold",
            json!("ann@example.com"),
        ),
        e(
            "b-silver",
            Some(json!(["beta"])),
            "silver",
            json!("ben@example.com"),
        ),
        e("n-gold", Some(json!([])), "gold", Value::Null),
        e("x-silver", None, "silver", json!("ann@example.com")),
        e(
            "ab-bronze",
            Some(json!(["alpha", "beta"])),
            "bronze",
            json!("ANN@example.com"),
        ),
        e(
            "g-gold",
            Some(json!(["gamma"])),
            "gold",
            json!("dan@example.com"),
        ),
    ]
}

fn ids(of: &[&str]) -> BTreeSet<String> {
    of.iter().map(|s| (*s).to_owned()).collect()
}

fn all_ids() -> BTreeSet<String> {
    samples()
        .iter()
        .map(|e| e["identifier"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The caller as the query binder sees it: its user entity (none for an app) and its teams.
fn caller_context(p: &Principal) -> QueryContext {
    QueryContext {
        user: p
            .email
            .as_ref()
            .map(|e| json!({"identifier": e, "properties": {}})),
        teams: p.teams.iter().map(|t| json!({"identifier": t})).collect(),
        now: NOW,
    }
}

/// The sample entities `filter` lets `p` see: parsed against `svc`, bound to `p`, evaluated.
fn visible(p: &Principal, filter: &Value) -> BTreeSet<String> {
    let org = org();
    let scope = ParseScope {
        blueprints: &org,
        blueprint: Some(BP),
        pointer: "",
    };
    let parsed = match query::parse(filter, &scope) {
        Ok(parsed) => parsed,
        Err(issues) => panic!("filter {filter} should parse: {issues:?}"),
    };
    assert_eq!(parsed.blueprints, vec![BP.to_owned()]);
    let bound = query::bind(&parsed.query, &caller_context(p));
    samples()
        .iter()
        .filter(|e| query::matches(&bound, e, &NoGraph, NOW))
        .map(|e| e["identifier"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn owners_of(e: &Value) -> Vec<String> {
    e.get("team")
        .and_then(Value::as_array)
        .map(|teams| {
            teams
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

enum Reads {
    All,
    Nothing,
    /// A filter; these sample entities pass it.
    Only(&'static [&'static str]),
}

#[test]
fn read_access_and_what_its_filter_lets_through() {
    use Reads::*;
    let read = |g: Grant, policy: Option<Value>| PolicyGrant { grant: g, policy };
    let on_caller = |email: &str| {
        json!({"combinator": "and", "rules": [{
            "property": {"context": "user", "property": "$identifier"},
            "operator": "=",
            "value": email
        }]})
    };
    let my_teams = json!({"combinator": "and", "rules": [{
        "property": "$team",
        "operator": "containsAny",
        "value": {"context": "userTeams", "property": "$identifier"}
    }]});
    let gold_with_extra_member = json!({
        "combinator": "and",
        "rules": [{"property": "tier", "operator": "=", "value": "gold"}],
        "note": "a root may carry members a nested query may not"
    });
    let nested = json!({"combinator": "or", "rules": [
        {"property": "tier", "operator": "=", "value": "bronze"},
        {"combinator": "and", "rules": [
            {"property": "tier", "operator": "=", "value": "silver"},
            {"property": "$team", "operator": "containsAny", "value": ["beta"]}
        ]}
    ]});
    let cases: Vec<(&str, Principal, PolicyGrant, Reads)> = vec![
        // --- bypass and unconditional grants.
        ("admin, closed", admin(), read(Grant::default(), None), All),
        (
            "app admin, closed",
            app_admin(),
            read(Grant::default(), None),
            All,
        ),
        (
            "svc moderator, closed",
            moderator(),
            read(Grant::default(), None),
            All,
        ),
        (
            "domain moderator, closed",
            other_moderator(),
            read(Grant::default(), None),
            Nothing,
        ),
        (
            "domain moderator, named",
            other_moderator(),
            read(Grant::roles(&["domain-moderator"]), None),
            All,
        ),
        (
            "member, role",
            ann(),
            read(Grant::roles(&[MEMBER]), None),
            All,
        ),
        (
            "member, role and a policy",
            ann(),
            read(Grant::roles(&[MEMBER]), Some(gold())),
            All,
        ),
        (
            "no role, Member grant",
            cat(),
            read(Grant::roles(&[MEMBER]), None),
            Nothing,
        ),
        (
            "app, role",
            app_member(),
            read(Grant::roles(&[MEMBER]), None),
            All,
        ),
        (
            "by email",
            ann(),
            read(grant(&[], &["ann@example.com"], &[], true), Some(gold())),
            All,
        ),
        (
            "someone else's email",
            ben(),
            read(grant(&[], &["ann@example.com"], &[], false), None),
            Nothing,
        ),
        (
            "app, users grant",
            app_member(),
            read(grant(&[], &["ann@example.com"], &[], false), None),
            Nothing,
        ),
        (
            "by team",
            ben(),
            read(grant(&[], &[], &["beta"], false), None),
            All,
        ),
        (
            "granted team not held",
            ann(),
            read(grant(&[], &[], &["beta"], false), None),
            Nothing,
        ),
        ("closed", ann(), read(Grant::default(), None), Nothing),
        // --- ownership alone.
        (
            "ownedByTeam, alpha",
            ann(),
            read(owned(), None),
            Only(&["a-gold", "a-silver", "ab-bronze"]),
        ),
        (
            "ownedByTeam, beta",
            ben(),
            read(owned(), None),
            Only(&["b-gold", "b-silver", "ab-bronze"]),
        ),
        (
            "ownedByTeam, alpha and beta",
            cat(),
            read(owned(), None),
            Only(&["a-gold", "a-silver", "b-gold", "b-silver", "ab-bronze"]),
        ),
        ("ownedByTeam, no team", dan(), read(owned(), None), Nothing),
        (
            "ownedByTeam, app",
            app_member(),
            read(owned(), None),
            Nothing,
        ),
        (
            "ownedByTeam with a granted team the caller is not in",
            ann(),
            read(grant(&[], &[], &["beta"], true), None),
            Only(&["a-gold", "a-silver", "ab-bronze"]),
        ),
        // --- policies, alone and ORed with ownership.
        (
            "policy",
            ann(),
            read(Grant::default(), Some(gold())),
            Only(&["a-gold", "b-gold", "n-gold", "g-gold"]),
        ),
        (
            "ownedByTeam or policy",
            ann(),
            read(owned(), Some(gold())),
            Only(&[
                "a-gold",
                "a-silver",
                "ab-bronze",
                "b-gold",
                "n-gold",
                "g-gold",
            ]),
        ),
        (
            "ownedByTeam or policy, no team",
            dan(),
            read(owned(), Some(gold())),
            Only(&["a-gold", "b-gold", "n-gold", "g-gold"]),
        ),
        (
            "policy, app",
            app_member(),
            read(Grant::default(), Some(gold())),
            Only(&["a-gold", "b-gold", "n-gold", "g-gold"]),
        ),
        (
            "policy on the user, ann",
            ann(),
            read(Grant::default(), Some(mine())),
            Only(&["a-silver", "b-gold", "x-silver"]),
        ),
        (
            "policy on the user, ben",
            ben(),
            read(Grant::default(), Some(mine())),
            Only(&["a-gold", "b-silver"]),
        ),
        (
            "policy on the user, app (no user)",
            app_member(),
            read(Grant::default(), Some(mine())),
            Only(&[]),
        ),
        (
            "ownedByTeam or policy on the user",
            ann(),
            read(owned(), Some(mine())),
            Only(&["a-gold", "a-silver", "ab-bronze", "b-gold", "x-silver"]),
        ),
        (
            "policy on the caller's teams",
            cat(),
            read(Grant::default(), Some(my_teams.clone())),
            Only(&["a-gold", "a-silver", "b-gold", "b-silver", "ab-bronze"]),
        ),
        (
            "policy on the caller's teams, no team",
            dan(),
            read(Grant::default(), Some(my_teams)),
            Only(&[]),
        ),
        (
            "policy about the caller, true",
            ann(),
            read(Grant::default(), Some(on_caller("ann@example.com"))),
            Only(&[
                "a-gold",
                "a-silver",
                "b-gold",
                "b-silver",
                "n-gold",
                "x-silver",
                "ab-bronze",
                "g-gold",
            ]),
        ),
        (
            "policy about the caller, false",
            ben(),
            read(Grant::default(), Some(on_caller("ann@example.com"))),
            Only(&[]),
        ),
        (
            "policy about the caller, ownership still counts",
            ben(),
            read(owned(), Some(on_caller("ann@example.com"))),
            Only(&["b-gold", "b-silver", "ab-bronze"]),
        ),
        (
            "policy with a member only a root may carry, ORed with ownership",
            ann(),
            read(owned(), Some(gold_with_extra_member.clone())),
            Only(&[
                "a-gold",
                "a-silver",
                "ab-bronze",
                "b-gold",
                "n-gold",
                "g-gold",
            ]),
        ),
        (
            "policy with a member only a root may carry, alone",
            dan(),
            read(Grant::default(), Some(gold_with_extra_member)),
            Only(&["a-gold", "b-gold", "n-gold", "g-gold"]),
        ),
        (
            "nested policy",
            dan(),
            read(Grant::default(), Some(nested.clone())),
            Only(&["b-silver", "ab-bronze"]),
        ),
        (
            "nested policy or ownership",
            ann(),
            read(owned(), Some(nested)),
            Only(&["a-gold", "a-silver", "ab-bronze", "b-silver"]),
        ),
        (
            "policy matching nothing",
            ann(),
            read(
                Grant::default(),
                Some(json!({"combinator": "or", "rules": []})),
            ),
            Only(&[]),
        ),
        (
            "policy matching everything",
            ann(),
            read(
                Grant::default(),
                Some(json!({"combinator": "and", "rules": []})),
            ),
            Only(&[
                "a-gold",
                "a-silver",
                "b-gold",
                "b-silver",
                "n-gold",
                "x-silver",
                "ab-bronze",
                "g-gold",
            ]),
        ),
    ];
    assert!(cases.len() >= 40, "{}", cases.len());
    for (name, p, read, want) in cases {
        let mut perms = closed();
        perms.read = read;
        let got = read_access(&p, &perms, BP);
        match (want, got) {
            (All, ReadAccess::All) | (Nothing, ReadAccess::Nothing) => {}
            (Only(expected), ReadAccess::Filter(filter)) => {
                let seen = visible(&p, &filter);
                assert_eq!(seen, ids(expected), "{name}: {filter}");
                assert!(seen.is_subset(&all_ids()), "{name}");
                // Without a policy, the filter is exactly what the write decisions say about
                // ownership: an entity passes when `unregister` with the same grant would.
                if perms.read.policy.is_none() {
                    let mut same = closed();
                    same.unregister = perms.read.grant.clone();
                    for e in samples() {
                        let id = e["identifier"].as_str().unwrap_or_default().to_owned();
                        let allowed = can_unregister(&p, &same, BP, &owners_of(&e)).allowed();
                        assert_eq!(seen.contains(&id), allowed, "{name}: {id}");
                    }
                }
            }
            (_, got) => panic!("{name}: got {got:?}"),
        }
    }
}

#[test]
fn read_filters_are_queries() {
    let mut perms = closed();
    perms.read.grant = owned();
    let team_rule =
        json!({"property": "$team", "operator": "containsAny", "value": ["alpha", "beta"]});
    assert_eq!(
        read_access(&cat(), &perms, BP),
        ReadAccess::Filter(json!({"combinator": "or", "rules": [team_rule.clone()]}))
    );
    perms.read.policy = Some(gold());
    assert_eq!(
        read_access(&cat(), &perms, BP),
        ReadAccess::Filter(json!({"combinator": "or", "rules": [team_rule, gold()]}))
    );
    assert_eq!(
        read_access(&dan(), &perms, BP),
        ReadAccess::Filter(json!({"combinator": "or", "rules": [gold()]}))
    );
    // The filter is checked against the blueprint like any policy: it names only `svc`'s
    // fields, so it parses; every filter the table above produced was parsed the same way.
    assert!(query::is_query(
        &json!({"combinator": "or", "rules": [gold()]})
    ));
}

// ---------------------------------------------------------------------------------------
// 3. PATCH /v1/blueprints/{bp}/permissions.
// ---------------------------------------------------------------------------------------

/// The document the patches apply to: defaults, with a read policy, `update` naming a user
/// and overrides on `tier` and `deps`.
fn current() -> BlueprintPermissions {
    let mut perms = BlueprintPermissions::defaults(BP);
    perms.read.policy = Some(gold());
    perms.update = grant(&[ADMIN], &["lead@example.com"], &[], false);
    perms
        .update_properties
        .insert("tier".into(), Grant::roles(&[ADMIN]));
    perms
        .update_relations
        .insert("deps".into(), grant(&[], &[], &["alpha"], true));
    perms
}

fn patch(body: &Value) -> Result<(BlueprintPermissions, References), Issues> {
    parse_blueprint_patch(&current(), body, &svc(), &org())
}

fn many(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}@example.com")).collect()
}

type Edit = fn(&mut BlueprintPermissions);
/// `(JSON pointer, value)` pairs: references, or issues with a fragment of their message.
type Pairs = &'static [(&'static str, &'static str)];
/// A patch that applies: name, body, the change to the current document, the users and the
/// teams it references.
type PatchCase = (&'static str, Value, Edit, Pairs, Pairs);

#[test]
fn blueprint_patches_that_apply() {
    let cases: Vec<PatchCase> = vec![
        ("nothing", json!({"entities": {}}), |_| {}, &[], &[]),
        (
            "roles replaced, other members kept",
            json!({"entities": {"register": {"roles": ["Member"]}}}),
            |p| p.register.roles = strings(&[MEMBER]),
            &[],
            &[],
        ),
        (
            "duplicate roles kept once",
            json!({"entities": {"unregister": {"roles": ["Member", "svc-moderator", "Member"]}}}),
            |p| p.unregister.roles = strings(&[MEMBER, "svc-moderator"]),
            &[],
            &[],
        ),
        (
            "moderators of existing blueprints",
            json!({"entities": {"update": {"roles": ["domain-moderator", "svc-moderator", "Admin"]}}}),
            |p| p.update.roles = strings(&["domain-moderator", "svc-moderator", ADMIN]),
            &[],
            &[],
        ),
        (
            "no roles at all",
            json!({"entities": {"unregister": {"roles": []}}}),
            |p| p.unregister.roles = Vec::new(),
            &[],
            &[],
        ),
        (
            "users lower-cased, duplicates dropped",
            json!({"entities": {"update": {"users": ["Ann@Example.COM", "ben@example.com", "ann@example.com"]}}}),
            |p| p.update.users = strings(&["ann@example.com", "ben@example.com"]),
            &[
                ("/entities/update/users/0", "ann@example.com"),
                ("/entities/update/users/1", "ben@example.com"),
            ],
            &[],
        ),
        (
            "references point at the body's entries past duplicates",
            json!({"entities": {"register": {
                "users": ["a@example.com", "A@Example.com", "b@example.com"],
                "teams": ["alpha", "alpha", "beta"]
            }}}),
            |p| {
                p.register.users = strings(&["a@example.com", "b@example.com"]);
                p.register.teams = strings(&["alpha", "beta"]);
            },
            &[
                ("/entities/register/users/0", "a@example.com"),
                ("/entities/register/users/2", "b@example.com"),
            ],
            &[
                ("/entities/register/teams/0", "alpha"),
                ("/entities/register/teams/2", "beta"),
            ],
        ),
        (
            "users emptied",
            json!({"entities": {"update": {"users": []}}}),
            |p| p.update.users = Vec::new(),
            &[],
            &[],
        ),
        (
            "teams and ownedByTeam",
            json!({"entities": {"register": {"teams": ["alpha", "beta"], "ownedByTeam": true}}}),
            |p| {
                p.register.teams = strings(&["alpha", "beta"]);
                p.register.owned_by_team = true;
            },
            &[],
            &[
                ("/entities/register/teams/0", "alpha"),
                ("/entities/register/teams/1", "beta"),
            ],
        ),
        (
            "ownedByTeam off",
            json!({"entities": {"updateRelations": {"deps": {"ownedByTeam": false}}}}),
            |p| {
                p.update_relations
                    .insert("deps".into(), grant(&[], &[], &["alpha"], false));
            },
            &[],
            &[],
        ),
        (
            "read grant without policy keeps the policy",
            json!({"entities": {"read": {"roles": ["Admin"], "ownedByTeam": true}}}),
            |p| {
                p.read.grant.roles = strings(&[ADMIN]);
                p.read.grant.owned_by_team = true;
            },
            &[],
            &[],
        ),
        (
            "read policy replaced",
            json!({"entities": {"read": {"policy": mine()}}}),
            |p| p.read.policy = Some(mine()),
            &[],
            &[],
        ),
        (
            "read policy removed",
            json!({"entities": {"read": {"policy": null}}}),
            |p| p.read.policy = None,
            &[],
            &[],
        ),
        (
            "property override changed, other members kept",
            json!({"entities": {"updateProperties": {"tier": {"users": ["X@example.com"]}}}}),
            |p| {
                p.update_properties.insert(
                    "tier".into(),
                    grant(&[ADMIN], &["x@example.com"], &[], false),
                );
            },
            &[("/entities/updateProperties/tier/users/0", "x@example.com")],
            &[],
        ),
        (
            "new property override starts from update",
            json!({"entities": {"updateProperties": {"name": {"roles": ["Member"]}}}}),
            |p| {
                p.update_properties.insert(
                    "name".into(),
                    grant(&[MEMBER], &["lead@example.com"], &[], false),
                );
            },
            &[],
            &[],
        ),
        (
            "property override removed",
            json!({"entities": {"updateProperties": {"tier": null}}}),
            |p| {
                p.update_properties.remove("tier");
            },
            &[],
            &[],
        ),
        (
            "removing an override that is not set",
            json!({"entities": {"updateProperties": {"port": null}, "updateRelations": {"domain": null}}}),
            |_| {},
            &[],
            &[],
        ),
        (
            "relation override added and removed",
            json!({"entities": {"updateRelations": {"domain": {"teams": ["gamma"]}, "deps": null}}}),
            |p| {
                p.update_relations.remove("deps");
                p.update_relations.insert(
                    "domain".into(),
                    grant(&[ADMIN], &["lead@example.com"], &["gamma"], false),
                );
            },
            &[],
            &[("/entities/updateRelations/domain/teams/0", "gamma")],
        ),
        (
            "every grant at once",
            json!({"entities": {
                "read": {"roles": ["Member"], "teams": ["t1"], "policy": null},
                "register": {"users": ["R@example.com"]},
                "update": {"roles": ["Member"], "ownedByTeam": true},
                "unregister": {"teams": ["t2"], "users": ["u@example.com"]},
                "updateProperties": {"owner": {"users": ["O@example.com"]}},
                "updateRelations": {"deps": {"teams": ["t3"]}}
            }}),
            |p| {
                p.read.grant.roles = strings(&[MEMBER]);
                p.read.grant.teams = strings(&["t1"]);
                p.read.policy = None;
                p.register.users = strings(&["r@example.com"]);
                p.update.roles = strings(&[MEMBER]);
                p.update.owned_by_team = true;
                p.unregister.teams = strings(&["t2"]);
                p.unregister.users = strings(&["u@example.com"]);
                // New overrides start from the stored `update`, not the patched one.
                p.update_properties.insert(
                    "owner".into(),
                    grant(&[ADMIN], &["o@example.com"], &[], false),
                );
                p.update_relations
                    .insert("deps".into(), grant(&[], &[], &["t3"], true));
            },
            &[
                ("/entities/register/users/0", "r@example.com"),
                ("/entities/unregister/users/0", "u@example.com"),
                ("/entities/updateProperties/owner/users/0", "o@example.com"),
            ],
            &[
                ("/entities/read/teams/0", "t1"),
                ("/entities/unregister/teams/0", "t2"),
                ("/entities/updateRelations/deps/teams/0", "t3"),
            ],
        ),
        (
            "500 entries is the limit",
            json!({"entities": {"register": {"roles": vec![MEMBER; MAX_GRANT_ENTRIES]}}}),
            |p| p.register.roles = strings(&[MEMBER]),
            &[],
            &[],
        ),
    ];
    let n = cases.len();
    for (name, body, edit, users, teams) in cases {
        let (got, refs) = match patch(&body) {
            Ok(ok) => ok,
            Err(issues) => panic!("{name}: {issues:?}"),
        };
        let mut expected = current();
        edit(&mut expected);
        assert_eq!(got, expected, "{name}");
        let pairs = |v: &[(&str, &str)]| -> BTreeSet<(String, String)> {
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        let got_users: BTreeSet<_> = refs.users.iter().cloned().collect();
        let got_teams: BTreeSet<_> = refs.teams.iter().cloned().collect();
        assert_eq!(got_users, pairs(users), "{name}: users");
        assert_eq!(got_teams, pairs(teams), "{name}: teams");
        assert_eq!(refs.users.len(), users.len(), "{name}: users");
        assert_eq!(refs.teams.len(), teams.len(), "{name}: teams");
    }
    assert!(n >= 19);

    // 500 distinct users: all kept, each one referenced.
    let emails = many("u", MAX_GRANT_ENTRIES);
    let (got, refs) = patch(&json!({"entities": {"read": {"users": emails}}})).expect("500 users");
    assert_eq!(got.read.grant.users, emails);
    assert_eq!(refs.users.len(), MAX_GRANT_ENTRIES);
    assert_eq!(
        refs.users[499],
        ("/entities/read/users/499".to_owned(), emails[499].clone())
    );
}

#[test]
fn blueprint_patches_that_fail() {
    let long = "t".repeat(255);
    let cases: Vec<(&str, Value, Pairs)> = vec![
        // (name, body, every issue: (pointer, a fragment of its message))
        ("array body", json!([]), &[("", "must be an object")]),
        (
            "string body",
            json!("entities"),
            &[("", "must be an object")],
        ),
        ("null body", Value::Null, &[("", "must be an object")]),
        ("no entities", json!({}), &[("/entities", "required")]),
        (
            "entities not an object",
            json!({"entities": []}),
            &[("/entities", "must be an object")],
        ),
        (
            "unknown top-level member",
            json!({"entities": {}, "read": {}}),
            &[("/read", "unknown member")],
        ),
        (
            "unknown member and no entities",
            json!({"a/b": 1}),
            &[("/a~1b", "unknown member"), ("/entities", "required")],
        ),
        (
            "unknown permission",
            json!({"entities": {"delete": {"roles": []}}}),
            &[("/entities/delete", "unknown permission")],
        ),
        (
            "grant not an object",
            json!({"entities": {"register": ["Admin"]}}),
            &[("/entities/register", "must be an object")],
        ),
        (
            "unknown role",
            json!({"entities": {"register": {"roles": ["Member", "Owner"]}}}),
            &[("/entities/register/roles/1", "unknown role `Owner`")],
        ),
        (
            "unknown role after a duplicate",
            json!({"entities": {"register": {"roles": ["Member", "Member", "Owner"]}}}),
            &[("/entities/register/roles/2", "unknown role `Owner`")],
        ),
        (
            "moderator of an unknown blueprint",
            json!({"entities": {"update": {"roles": ["ghost-moderator"]}}}),
            &[("/entities/update/roles/0", "unknown role `ghost-moderator`")],
        ),
        (
            "moderator of nothing",
            json!({"entities": {"update": {"roles": ["-moderator"]}}}),
            &[("/entities/update/roles/0", "unknown role")],
        ),
        (
            "roles are case-sensitive",
            json!({"entities": {"unregister": {"roles": ["admin"]}}}),
            &[("/entities/unregister/roles/0", "unknown role `admin`")],
        ),
        (
            "roles not an array",
            json!({"entities": {"register": {"roles": "Admin"}}}),
            &[("/entities/register/roles", "array of strings")],
        ),
        (
            "users not an array",
            json!({"entities": {"register": {"users": {"a": 1}}}}),
            &[("/entities/register/users", "array of strings")],
        ),
        (
            "teams null",
            json!({"entities": {"register": {"teams": null}}}),
            &[("/entities/register/teams", "array of strings")],
        ),
        (
            "non-string and empty entries",
            json!({"entities": {"read": {"users": ["a@example.com", 7, ""], "teams": [null]}}}),
            &[
                ("/entities/read/users/1", "non-empty string"),
                ("/entities/read/users/2", "non-empty string"),
                ("/entities/read/teams/0", "non-empty string"),
            ],
        ),
        (
            "entry too long",
            json!({"entities": {"read": {"teams": ["ok", long]}}}),
            &[("/entities/read/teams/1", "at most 254")],
        ),
        (
            "ownedByTeam not a boolean",
            json!({"entities": {"update": {"ownedByTeam": "yes"}}}),
            &[("/entities/update/ownedByTeam", "boolean")],
        ),
        (
            "ownedByTeam null",
            json!({"entities": {"read": {"ownedByTeam": null}}}),
            &[("/entities/read/ownedByTeam", "boolean")],
        ),
        (
            "unknown grant member",
            json!({"entities": {"register": {"groups": ["a"]}}}),
            &[("/entities/register/groups", "unknown member")],
        ),
        (
            "policy outside read",
            json!({"entities": {"register": {"policy": gold()}}}),
            &[("/entities/register/policy", "unknown member")],
        ),
        (
            "unknown property in updateProperties",
            json!({"entities": {"updateProperties": {"nope": {"roles": []}}}}),
            &[("/entities/updateProperties/nope", "no property `nope`")],
        ),
        (
            "relation named in updateProperties",
            json!({"entities": {"updateProperties": {"deps": null}}}),
            &[("/entities/updateProperties/deps", "no property `deps`")],
        ),
        (
            "property named in updateRelations",
            json!({"entities": {"updateRelations": {"tier": {}}}}),
            &[("/entities/updateRelations/tier", "no relation `tier`")],
        ),
        (
            "escaped field name",
            json!({"entities": {"updateRelations": {"a~b/c": {}}}}),
            &[("/entities/updateRelations/a~0b~1c", "no relation")],
        ),
        (
            "updateProperties not an object",
            json!({"entities": {"updateProperties": ["tier"]}}),
            &[("/entities/updateProperties", "must be an object")],
        ),
        (
            "override not an object",
            json!({"entities": {"updateProperties": {"tier": "Admin"}}}),
            &[("/entities/updateProperties/tier", "must be an object")],
        ),
        (
            "bad member in an override",
            json!({"entities": {"updateRelations": {"deps": {"roles": ["Owner"], "ownedByTeam": 1}}}}),
            &[
                ("/entities/updateRelations/deps/roles/0", "unknown role"),
                ("/entities/updateRelations/deps/ownedByTeam", "boolean"),
            ],
        ),
        (
            "policy on an unknown property",
            json!({"entities": {"read": {"policy": {"combinator": "and", "rules": [
                {"property": "tier", "operator": "=", "value": "gold"},
                {"property": "nope", "operator": "=", "value": 1}
            ]}}}}),
            &[(
                "/entities/read/policy/rules/1/property",
                "unknown property `nope`",
            )],
        ),
        (
            "policy not a query",
            json!({"entities": {"read": {"policy": "gold"}}}),
            &[("/entities/read/policy", "a query must be an object")],
        ),
        (
            "policy without combinator",
            json!({"entities": {"read": {"policy": {"rules": []}}}}),
            &[("/entities/read/policy/combinator", "combinator is required")],
        ),
        (
            "too many roles",
            json!({"entities": {"register": {"roles": vec![MEMBER; MAX_GRANT_ENTRIES + 1]}}}),
            &[("/entities/register/roles", "at most 500 entries, got 501")],
        ),
        (
            "too many users",
            json!({"entities": {"read": {"users": many("u", MAX_GRANT_ENTRIES + 1)}}}),
            &[("/entities/read/users", "at most 500 entries")],
        ),
        (
            "too many teams in an override",
            json!({"entities": {"updateProperties": {"tier": {"teams": many("t", 600)}}}}),
            &[("/entities/updateProperties/tier/teams", "got 600")],
        ),
        (
            "every problem at once",
            json!({"x": 1, "entities": {
                "register": {"roles": ["Owner"], "ownedByTeam": "no"},
                "update": 5,
                "updateProperties": {"nope": {}, "tier": {"roles": ["Member"]}},
                "bogus": {}
            }}),
            &[
                ("/x", "unknown member"),
                ("/entities/register/roles/0", "unknown role"),
                ("/entities/register/ownedByTeam", "boolean"),
                ("/entities/update", "must be an object"),
                ("/entities/updateProperties/nope", "no property"),
                ("/entities/bogus", "unknown permission"),
            ],
        ),
    ];
    assert!(cases.len() >= 35, "{}", cases.len());
    for (name, body, expected) in cases {
        let issues = match patch(&body) {
            Ok(ok) => panic!("{name}: should fail, got {ok:?}"),
            Err(issues) => issues,
        };
        let got: BTreeSet<&str> = issues.0.iter().map(|i| i.pointer.as_str()).collect();
        let want: BTreeSet<&str> = expected.iter().map(|(p, _)| *p).collect();
        assert_eq!(got, want, "{name}: {issues:?}");
        assert_eq!(issues.0.len(), expected.len(), "{name}: {issues:?}");
        for (pointer, fragment) in expected {
            assert!(
                issues
                    .0
                    .iter()
                    .any(|i| i.pointer == *pointer && i.message.contains(fragment)),
                "{name}: no issue at {pointer:?} saying {fragment:?}: {issues:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// 4. Actions.
// ---------------------------------------------------------------------------------------

#[test]
fn action_defaults() {
    let with_bp = ActionPermissions::defaults(Some(BP));
    assert_eq!(
        with_bp.execute.grant,
        Grant::roles(&[ADMIN, "svc-moderator", MEMBER])
    );
    assert_eq!(
        with_bp.approve.grant,
        Grant::roles(&[ADMIN, "svc-moderator"])
    );
    assert_eq!(
        (
            with_bp.execute.policy.as_ref(),
            with_bp.approve.policy.as_ref()
        ),
        (None, None)
    );
    let without = ActionPermissions::defaults(None);
    assert_eq!(without.execute.grant, Grant::roles(&[ADMIN, MEMBER]));
    assert_eq!(without.approve.grant, Grant::roles(&[ADMIN]));
}

#[test]
fn execute_and_approve_decisions() {
    #[derive(Debug)]
    enum Want {
        All,
        Nothing,
        Filter(Value),
    }
    let team =
        |teams: &[&str]| json!({"property": "$team", "operator": "containsAny", "value": teams});
    let with = |execute: PolicyGrant, approve: PolicyGrant| ActionPermissions { execute, approve };
    let pg = |g: Grant, policy: Option<Value>| PolicyGrant { grant: g, policy };
    let closed_action = || with(PolicyGrant::default(), PolicyGrant::default());
    // (name, caller, perms, the action's blueprint, execute, approve)
    type Case = (
        &'static str,
        Principal,
        ActionPermissions,
        Option<&'static str>,
        Want,
        Want,
    );
    let cases: Vec<Case> = vec![
        (
            "admin, closed",
            admin(),
            closed_action(),
            None,
            Want::All,
            Want::All,
        ),
        (
            "app admin, closed",
            app_admin(),
            closed_action(),
            Some(BP),
            Want::All,
            Want::All,
        ),
        (
            "moderator of the action's blueprint",
            moderator(),
            closed_action(),
            Some(BP),
            Want::All,
            Want::All,
        ),
        (
            "moderator, action without blueprint",
            moderator(),
            closed_action(),
            None,
            Want::Nothing,
            Want::Nothing,
        ),
        (
            "moderator of another blueprint",
            other_moderator(),
            closed_action(),
            Some(BP),
            Want::Nothing,
            Want::Nothing,
        ),
        (
            "member, defaults",
            ann(),
            ActionPermissions::defaults(Some(BP)),
            Some(BP),
            Want::All,
            Want::Nothing,
        ),
        (
            "member, defaults, no blueprint",
            ann(),
            ActionPermissions::defaults(None),
            None,
            Want::All,
            Want::Nothing,
        ),
        (
            "no role, defaults",
            cat(),
            ActionPermissions::defaults(Some(BP)),
            Some(BP),
            Want::Nothing,
            Want::Nothing,
        ),
        (
            "app, defaults",
            app_member(),
            ActionPermissions::defaults(None),
            None,
            Want::All,
            Want::Nothing,
        ),
        (
            "moderator of the blueprint by the defaults, action without blueprint",
            moderator(),
            ActionPermissions::defaults(Some(BP)),
            None,
            Want::All,
            Want::All,
        ),
        (
            "approver by email",
            ann(),
            with(
                PolicyGrant::default(),
                pg(grant(&[], &["ann@example.com"], &[], false), None),
            ),
            None,
            Want::Nothing,
            Want::All,
        ),
        (
            "executor by team",
            ben(),
            with(
                pg(grant(&[], &[], &["beta"], false), None),
                PolicyGrant::default(),
            ),
            Some(BP),
            Want::All,
            Want::Nothing,
        ),
        (
            "executor by ownership",
            cat(),
            with(pg(owned(), None), pg(owned(), Some(gold()))),
            Some(BP),
            Want::Filter(json!({"combinator": "or", "rules": [team(&["alpha", "beta"])]})),
            Want::Filter(json!({"combinator": "or", "rules": [team(&["alpha", "beta"]), gold()]})),
        ),
        (
            "ownership without teams, policy only",
            dan(),
            with(pg(owned(), None), pg(owned(), Some(gold()))),
            Some(BP),
            Want::Nothing,
            Want::Filter(json!({"combinator": "or", "rules": [gold()]})),
        ),
        (
            "app, ownership",
            app_member(),
            with(pg(owned(), Some(mine())), pg(owned(), None)),
            None,
            Want::Filter(json!({"combinator": "or", "rules": [mine()]})),
            Want::Nothing,
        ),
    ];
    let n = cases.len();
    for (name, p, perms, bp, execute, approve) in cases {
        for (what, got, want) in [
            ("execute", can_execute(&p, &perms, bp), execute),
            ("approve", can_approve(&p, &perms, bp), approve),
        ] {
            match (&want, &got) {
                (Want::All, ReadAccess::All) | (Want::Nothing, ReadAccess::Nothing) => {}
                (Want::Filter(w), ReadAccess::Filter(g)) => {
                    assert_eq!(g, w, "{what}: {name}");
                    // It parses (and binds) against the action's blueprint.
                    visible(&p, g);
                }
                _ => panic!("{what}: {name}: got {got:?}, want {want:?}"),
            }
        }
    }
    assert_eq!(n, 15);
}

#[test]
fn action_patches() {
    let org = org();
    let bp = svc();
    let current = ActionPermissions::defaults(Some(BP));
    type ActionEdit = fn(&mut ActionPermissions);
    // (name, body, with the blueprint?, the change, referenced users, referenced teams)
    type Applies = (
        &'static str,
        Value,
        bool,
        ActionEdit,
        &'static [&'static str],
        &'static [&'static str],
    );
    let ok: Vec<Applies> = vec![
        ("nothing", json!({}), true, |_| {}, &[], &[]),
        (
            "execute roles",
            json!({"execute": {"roles": ["Admin"]}}),
            true,
            |a| a.execute.grant.roles = strings(&[ADMIN]),
            &[],
            &[],
        ),
        (
            "approve users and teams",
            json!({"approve": {"users": ["X@Example.com"], "teams": ["alpha"], "ownedByTeam": true}}),
            false,
            |a| {
                a.approve.grant.users = strings(&["x@example.com"]);
                a.approve.grant.teams = strings(&["alpha"]);
                a.approve.grant.owned_by_team = true;
            },
            &["x@example.com"],
            &["alpha"],
        ),
        (
            "policy checked against the blueprint",
            json!({"execute": {"policy": gold()}}),
            true,
            |a| a.execute.policy = Some(gold()),
            &[],
            &[],
        ),
        (
            "policy kept as sent without a blueprint",
            json!({"approve": {"policy": {"combinator": "or", "rules": [{"property": "anything", "operator": "=", "value": 1}]}}}),
            false,
            |a| {
                a.approve.policy = Some(json!({"combinator": "or", "rules": [
                    {"property": "anything", "operator": "=", "value": 1}
                ]}));
            },
            &[],
            &[],
        ),
        (
            "policy removed",
            json!({"execute": {"policy": null}, "approve": {"policy": null}}),
            false,
            |_| {},
            &[],
            &[],
        ),
        (
            "moderator of an existing blueprint",
            json!({"approve": {"roles": ["domain-moderator"]}}),
            false,
            |a| a.approve.grant.roles = strings(&["domain-moderator"]),
            &[],
            &[],
        ),
    ];
    for (name, body, with_bp, edit, users, teams) in &ok {
        let found = parse_action_patch(&current, body, with_bp.then_some(&bp), &org);
        let (got, refs) = match found {
            Ok(ok) => ok,
            Err(issues) => panic!("{name}: {issues:?}"),
        };
        let mut expected = current.clone();
        edit(&mut expected);
        assert_eq!(got, expected, "{name}");
        let emails: Vec<&str> = refs.users.iter().map(|(_, e)| e.as_str()).collect();
        let names: Vec<&str> = refs.teams.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(emails, *users, "{name}");
        assert_eq!(names, *teams, "{name}");
        for (pointer, _) in refs.users.iter().chain(&refs.teams) {
            assert!(
                pointer.starts_with("/approve/") || pointer.starts_with("/execute/"),
                "{pointer}"
            );
        }
    }
    let bad: Vec<(&str, Value, bool, &[&str])> = vec![
        ("array body", json!([]), true, &[""]),
        (
            "unknown permission",
            json!({"run": {}, "execute": {}}),
            true,
            &["/run"],
        ),
        (
            "grant not an object",
            json!({"approve": true}),
            true,
            &["/approve"],
        ),
        (
            "unknown role",
            json!({"execute": {"roles": ["ghost-moderator"]}}),
            false,
            &["/execute/roles/0"],
        ),
        (
            "ownedByTeam not a boolean",
            json!({"approve": {"ownedByTeam": 1}}),
            false,
            &["/approve/ownedByTeam"],
        ),
        (
            "unknown member",
            json!({"approve": {"who": []}}),
            false,
            &["/approve/who"],
        ),
        (
            "policy not a query, no blueprint",
            json!({"execute": {"policy": "x"}}),
            false,
            &["/execute/policy"],
        ),
        (
            "policy not a query, blueprint",
            json!({"execute": {"policy": [1]}}),
            true,
            &["/execute/policy"],
        ),
        (
            "policy on an unknown property",
            json!({"approve": {"policy": {"combinator": "and", "rules": [{"property": "nope", "operator": "=", "value": 1}]}}}),
            true,
            &["/approve/policy/rules/0/property"],
        ),
        (
            "too many users",
            json!({"approve": {"users": many("a", MAX_GRANT_ENTRIES + 1)}}),
            true,
            &["/approve/users"],
        ),
        (
            "several",
            json!({"execute": {"roles": "Admin"}, "approve": {"teams": [""]}}),
            true,
            &["/execute/roles", "/approve/teams/0"],
        ),
    ];
    for (name, body, with_bp, pointers) in &bad {
        let issues = match parse_action_patch(&current, body, with_bp.then_some(&bp), &org) {
            Ok(ok) => panic!("{name}: should fail, got {ok:?}"),
            Err(issues) => issues,
        };
        let got: BTreeSet<&str> = issues.0.iter().map(|i| i.pointer.as_str()).collect();
        assert_eq!(
            got,
            pointers.iter().copied().collect(),
            "{name}: {issues:?}"
        );
        assert_eq!(issues.0.len(), pointers.len(), "{name}: {issues:?}");
    }
    assert_eq!((ok.len(), bad.len()), (7, 11));
}

// ---------------------------------------------------------------------------------------
// 5. Storage and Port's read shape.
// ---------------------------------------------------------------------------------------

#[test]
fn stored_documents_round_trip() {
    let mut full = current();
    full.read.grant = grant(&[MEMBER], &["a@example.com"], &["alpha"], true);
    full.register = grant(&[], &[], &["beta"], true);
    full.update_properties
        .insert("owner".into(), grant(&[], &["o@example.com"], &[], false));
    let cases: Vec<(&str, BlueprintPermissions)> = vec![
        ("defaults", BlueprintPermissions::defaults(BP)),
        ("closed", closed()),
        ("overrides and a policy", current()),
        ("every member set", full),
    ];
    for (name, perms) in cases {
        let stored = perms.to_stored();
        assert_eq!(
            BlueprintPermissions::from_stored(&stored),
            Some(perms.clone()),
            "{name}"
        );
        let entities = &stored["entities"];
        for key in [
            "read",
            "register",
            "update",
            "unregister",
            "updateProperties",
            "updateRelations",
        ] {
            assert!(entities.get(key).is_some(), "{name}: {key}");
        }
        assert_eq!(
            entities["register"]["ownedByTeam"],
            json!(perms.register.owned_by_team),
            "{name}"
        );
        assert_eq!(
            entities["read"].get("policy").cloned(),
            perms.read.policy,
            "{name}"
        );
        // Through text, as the store keeps it.
        let text = serde_json::to_string(&stored).expect("serializes");
        let back: Value = serde_json::from_str(&text).expect("parses");
        assert_eq!(
            BlueprintPermissions::from_stored(&back),
            Some(perms),
            "{name}"
        );
    }
    // Documents that are not permissions, and a minimal one.
    for (doc, ok) in [
        (json!({}), false),
        (json!({"entities": 1}), false),
        (json!({"entities": {"read": {}}}), false),
        (
            json!({"entities": {"read": {}, "register": {}, "update": {}, "unregister": {"roles": "x"}}}),
            false,
        ),
        (
            json!({"entities": {"read": {}, "register": {}, "update": {}, "unregister": {}}}),
            true,
        ),
    ] {
        let got = BlueprintPermissions::from_stored(&doc);
        assert_eq!(got.is_some(), ok, "{doc}");
        if let Some(got) = got {
            assert_eq!(got, closed(), "{doc}");
        }
    }
    // Actions go through serde the same way.
    let mut action = ActionPermissions::defaults(Some(BP));
    action.approve.policy = Some(mine());
    action.execute.grant.users = strings(&["a@example.com"]);
    let value = serde_json::to_value(&action).expect("serializes");
    assert!(value["execute"].get("policy").is_none());
    assert_eq!(value["approve"]["policy"], mine());
    assert_eq!(
        serde_json::from_value::<ActionPermissions>(value).ok(),
        Some(action)
    );
}

#[test]
fn port_shape_lists_every_field_with_its_effective_grant() {
    let bp = svc();
    let perms = current();
    let port = perms.to_port(&bp);
    let entities = &port["entities"];
    let stored = perms.to_stored();
    for key in ["read", "register", "update", "unregister"] {
        assert_eq!(entities[key], stored["entities"][key], "{key}");
    }
    let update = json!(perms.update);
    let tier = json!(Grant::roles(&[ADMIN]));
    let deps = json!(grant(&[], &[], &["alpha"], true));
    assert_eq!(
        entities["updateProperties"],
        json!({"tier": tier, "owner": update, "name": update, "port": update})
    );
    assert_eq!(
        entities["updateRelations"],
        json!({"domain": update, "deps": deps})
    );
    let listed: Vec<&String> = entities["updateProperties"]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        listed,
        bp.properties.keys().collect::<Vec<_>>(),
        "in the blueprint's order"
    );

    // Overrides of fields the blueprint does not have are not shown.
    let mut stale = perms.clone();
    stale
        .update_properties
        .insert("gone".into(), Grant::default());
    stale
        .update_relations
        .insert("gone".into(), Grant::default());
    assert_eq!(stale.to_port(&bp), port);

    // Without properties or relations, the maps are empty.
    let bare = blueprint(json!({"identifier": "svc", "title": "S", "schema": {"properties": {}}}));
    let shape = perms.to_port(&bare);
    assert_eq!(shape["entities"]["updateProperties"], json!({}));
    assert_eq!(shape["entities"]["updateRelations"], json!({}));
}

#[test]
fn prune_drops_overrides_of_removed_fields() {
    let with_stale = || {
        let mut p = current();
        p.update_properties
            .insert("gone".into(), Grant::roles(&[MEMBER]));
        p.update_properties
            .insert("name".into(), Grant::roles(&[MEMBER]));
        p.update_relations
            .insert("old".into(), Grant::roles(&[MEMBER]));
        p
    };
    let fewer = blueprint(json!({
        "identifier": "svc",
        "title": "S",
        "schema": {"properties": {"tier": {"type": "string"}}},
        "relations": {"domain": {"target": "domain", "many": false}}
    }));
    let cases: Vec<(&str, Blueprint, &[&str], &[&str])> = vec![
        // (name, blueprint now, properties kept, relations kept)
        ("same blueprint", svc(), &["name", "tier"], &["deps"]),
        ("fields removed", fewer, &["tier"], &[]),
        (
            "no fields",
            blueprint(json!({"identifier": "svc", "title": "S", "schema": {"properties": {}}})),
            &[],
            &[],
        ),
    ];
    for (name, bp, kept_props, kept_rels) in cases {
        let mut p = with_stale();
        p.prune(&bp);
        let props: Vec<&str> = p.update_properties.keys().map(String::as_str).collect();
        let rels: Vec<&str> = p.update_relations.keys().map(String::as_str).collect();
        assert_eq!(props, kept_props, "{name}");
        assert_eq!(rels, kept_rels, "{name}");
        // The rest of the document is untouched, and kept overrides keep their grants.
        let before = with_stale();
        assert_eq!(
            (&p.read, &p.register, &p.update, &p.unregister),
            (
                &before.read,
                &before.register,
                &before.update,
                &before.unregister
            ),
            "{name}"
        );
        for k in kept_props {
            assert_eq!(
                p.update_properties.get(*k),
                before.update_properties.get(*k),
                "{name}"
            );
        }
        // Pruning twice changes nothing more.
        let once = p.clone();
        p.prune(&bp);
        assert_eq!(p, once, "{name}");
    }
}
