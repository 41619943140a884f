//! Fuzzing what Statsig sends back: the role envelope (get, create, update), the paged listing
//! and error bodies, through the real client (see `providers::fuzz::contract`), and the drift of
//! any decodable mutation of a role.

use std::sync::LazyLock;

use serde_json::{Value, json};

use super::Statsig;
use super::model::{Envelope, RoleDto};
use crate::crd::{NamedFlag, ProviderSettings, StatsigPermissions, StatsigRole};
use crate::providers::fuzz::contract::{Op, Outcome, Product, Route, contract_tests};
use crate::providers::fuzz::server::{Answer, Req};
use crate::providers::{Account, Credentials};

const NAME: &str = "Analyst";

fn spec() -> StatsigRole {
    StatsigRole {
        permissions: StatsigPermissions {
            create_configs: Some(true),
            launch_to_production: Some(false),
            ..Default::default()
        },
        additional_permissions: vec![NamedFlag {
            name: "brand_new_flag".into(),
            enabled: true,
        }],
    }
}

/// The role as Statsig holds it, in line with `spec` (one flag the manifest leaves alone).
fn role() -> Value {
    json!({"name": NAME, "permissions": {"create_configs": true, "launch_to_production": false,
        "brand_new_flag": true, "invitation_access": true}})
}

/// In line: every managed flag Statsig reports has its manifest value (unreported ones are
/// unknown, not drift).
fn in_sync(role: &RoleDto) -> bool {
    super::desired_flags(&spec())
        .iter()
        .all(|(flag, want)| role.permissions.get(flag).is_none_or(|have| have == want))
}

fn is(method: &str, path: &str, req: &Req) -> bool {
    req.method == method && req.path == path
}

static PRODUCT: LazyLock<Product<Statsig>> = LazyLock::new(|| Product {
    account: |base, key| {
        Account::of::<Statsig>(
            base,
            ProviderSettings::default(),
            Credentials::new([("apiKey".to_string(), "console-secret".to_string())]),
            key,
        )
    },
    name: NAME,
    spec: spec(),
    id: NAME,
    current: serde_json::from_value(role()).expect("a role"),
    routes: vec![
        Route {
            name: "list roles",
            matches: |r| is("GET", "/console/v1/roles", r),
            answer: Answer::json(
                200,
                json!({"message": "Roles listed successfully.", "data": [role()],
                    "pagination": {"itemsPerPage": 100, "pageNumber": 1, "totalItems": 1,
                        "nextPage": null, "previousPage": null, "all": "/console/v1/roles"}}),
            ),
        },
        Route {
            name: "get role",
            matches: |r| is("GET", "/console/v1/roles/Analyst", r),
            answer: Answer::json(200, json!({"message": "Role fetched.", "data": role()})),
        },
        Route {
            name: "create role",
            matches: |r| is("POST", "/console/v1/roles", r),
            answer: Answer::json(
                201,
                json!({"message": "Role created successfully.", "data": role()}),
            ),
        },
        Route {
            name: "update role",
            matches: |r| is("PATCH", "/console/v1/roles/Analyst", r),
            answer: Answer::json(
                200,
                json!({"message": "Role updated successfully.", "data": role()}),
            ),
        },
        Route {
            name: "delete role",
            matches: |r| is("DELETE", "/console/v1/roles/Analyst", r),
            answer: Answer::json(200, json!({"message": "Role deleted successfully."})),
        },
    ],
    error_body: json!({"status": 400, "message": "Invalid request."}),
    in_sync,
});

contract_tests!(
    PRODUCT,
    json!({"message": "Role fetched.", "data": role()}),
    |b| {
        serde_json::from_slice::<Envelope<RoleDto>>(b)
            .map(|e| e.data)
            .into_iter()
            .collect()
    }
);

#[test]
fn flags_sent_as_strings_are_an_error_not_a_role() {
    let body = json!({"data": {"name": NAME, "permissions": {"create_configs": "true"}}});
    assert!(serde_json::from_value::<Envelope<RoleDto>>(body).is_err());
}

#[test]
fn an_answer_about_another_role_is_an_error() {
    // Found by the fuzz: `"name": ""` in the answer for role Analyst became its id.
    let answer = Answer::json(200, json!({"data": {"name": "", "permissions": {}}}));
    for (op, route) in [
        (Op::Observe, "get role"),
        (Op::Create, "create role"),
        (Op::Update, "update role"),
    ] {
        assert!(
            PRODUCT.outcome(op, route, answer.clone()).is_err(),
            "{op:?}"
        );
    }
}

#[test]
fn a_listing_that_ignores_paging_ends() {
    let roles: Vec<Value> = (0..100)
        .map(|i| json!({"name": format!("r{i}"), "permissions": {}}))
        .collect();
    let page = json!({"data": roles, "pagination": {"nextPage": "/console/v1/roles?page=2"}});
    match PRODUCT.outcome(Op::List, "list roles", Answer::json(200, page)) {
        Ok(Outcome::Listing(listed)) => assert_eq!(listed.len(), 100),
        other => panic!("{other:?}"),
    }
}
