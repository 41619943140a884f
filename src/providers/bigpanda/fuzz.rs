//! Fuzzing what BigPanda sends back: roles bare or wrapped in `{status, data}` (get, create,
//! update), the paged listing and error bodies, through the real client (see
//! `providers::fuzz::contract`), and the drift of any decodable mutation of a role (`actions` of
//! every type included).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde_json::{Value, json};

use super::BigPanda;
use super::model::{self, RoleDto};
use crate::crd::{BigPandaAction, BigPandaPermission, BigPandaRole, ProviderSettings};
use crate::providers::fuzz::contract::{Op, Product, Route, contract_tests};
use crate::providers::fuzz::server::{Answer, Req};
use crate::providers::{Account, Credentials};

const NAME: &str = "Ops";
const ID: &str = "60c5238222fa55553d93d52f";
const ENV: &str = "624e114fb4d7581100179111";

fn spec() -> BigPandaRole {
    BigPandaRole {
        // Members are not managed: a PUT sends back the ones read.
        users: None,
        permissions: vec![
            BigPandaPermission {
                resource_type: "users".into(),
                resource_id: None,
                actions: vec![BigPandaAction::Read],
            },
            BigPandaPermission {
                resource_type: "environments".into(),
                resource_id: Some(ENV.into()),
                actions: vec![BigPandaAction::Read, BigPandaAction::IncidentActions],
            },
        ],
    }
}

/// As the API answers: actions as a string where there is one, a list otherwise.
fn role() -> Value {
    json!({"id": ID, "name": NAME, "users": ["60c5238222fa63633d935555"],
        "permissions": [
            {"resource_type": "users", "actions": "read"},
            {"resource_type": "environments", "resource_id": ENV,
                "actions": ["incident_actions", "read"]},
        ],
        "created_by": "60c5238222fa63633d935555", "created_at": 1620000000, "updated_at": 1620500000})
}

/// In line: the name, and per (resource type, resource id) exactly the manifest's actions.
fn in_sync(role: &RoleDto) -> bool {
    let mut have: BTreeMap<(String, Option<String>), BTreeSet<String>> = BTreeMap::new();
    for p in &role.permissions {
        have.entry((p.resource_type.clone(), p.resource_id.clone()))
            .or_default()
            .extend(p.actions.iter().cloned());
    }
    let want = BTreeMap::from([
        (("users".into(), None), BTreeSet::from(["read".into()])),
        (
            ("environments".into(), Some(ENV.into())),
            BTreeSet::from(["read".into(), "incident_actions".into()]),
        ),
    ]);
    role.name == NAME && have == want
}

fn is(method: &str, path: &str, req: &Req) -> bool {
    req.method == method && req.path == path
}

fn wrapped(data: Value) -> Value {
    json!({"status": 200, "data": data})
}

static PRODUCT: LazyLock<Product<BigPanda>> = LazyLock::new(|| Product {
    account: |base, key| {
        Account::of::<BigPanda>(
            base,
            ProviderSettings::default(),
            Credentials::new([("apiKey".to_string(), "bigpanda-secret".to_string())]),
            key,
        )
    },
    name: NAME,
    spec: spec(),
    id: ID,
    current: serde_json::from_value(role()).expect("a role"),
    routes: vec![
        Route {
            name: "list roles",
            matches: |r| is("GET", "/resources/v2.1/roles", r),
            answer: Answer::json(200, wrapped(json!([role()]))),
        },
        Route {
            name: "get role",
            matches: |r| is("GET", &format!("/resources/v2.1/roles/{ID}"), r),
            answer: Answer::json(200, wrapped(role())),
        },
        Route {
            name: "create role",
            matches: |r| is("POST", "/resources/v2.1/roles", r),
            answer: Answer::json(201, wrapped(role())),
        },
        Route {
            name: "update role",
            matches: |r| is("PUT", &format!("/resources/v2.1/roles/{ID}"), r),
            answer: Answer::json(200, role()),
        },
        Route {
            name: "delete role",
            matches: |r| is("DELETE", &format!("/resources/v2.1/roles/{ID}"), r),
            answer: Answer::empty(204),
        },
    ],
    error_body: json!({"status": 400, "errors": ["users[0]: not a user id"]}),
    in_sync,
});

contract_tests!(PRODUCT, wrapped(role()), |b| {
    let Ok(body) = serde_json::from_slice::<Value>(b) else {
        return Vec::new();
    };
    let listed = model::roles(json!([body.clone()]));
    let single = serde_json::from_value::<RoleDto>(model::unwrap(body));
    single
        .into_iter()
        .chain(listed.into_iter().flatten())
        .collect()
});

#[test]
fn actions_of_the_wrong_type_are_an_error() {
    for actions in [
        json!(1),
        json!({"read": true}),
        json!([1]),
        json!([["read"]]),
    ] {
        let mut r = role();
        r["permissions"][0]["actions"] = actions.clone();
        assert!(
            serde_json::from_value::<RoleDto>(r).is_err(),
            "{actions} read as actions"
        );
    }
}

#[test]
fn an_answer_about_another_role_is_an_error() {
    // Found by the fuzz: id `" 0c5238222fa55553d93d52f"` (one byte flipped) in the PUT answer.
    let mut other = role();
    other["id"] = json!(" 0c5238222fa55553d93d52f");
    for (op, route) in [(Op::Update, "update role"), (Op::Observe, "get role")] {
        let answer = Answer::json(200, other.clone());
        assert!(PRODUCT.outcome(op, route, answer).is_err(), "{op:?}");
    }
    let listed = Answer::json(200, json!([other]));
    assert!(
        PRODUCT
            .outcome(Op::FindNamed, "list roles", listed)
            .is_err()
    );
}

#[test]
fn a_read_without_the_role_is_an_error() {
    for body in [json!({}), json!([]), json!({"status": 200, "data": {}})] {
        let answer = Answer::json(200, body.clone());
        assert!(
            PRODUCT.outcome(Op::Observe, "get role", answer).is_err(),
            "{body}"
        );
    }
    assert!(
        PRODUCT
            .outcome(Op::Observe, "get role", Answer::empty(200))
            .is_err()
    );
}
