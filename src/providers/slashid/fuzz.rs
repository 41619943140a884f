//! Fuzzing what SlashID sends back: the `{result}` envelopes of a role (with its ETag), of the
//! role and permission listings, the bodiless writes and error bodies, through the real client
//! (see `providers::fuzz::contract`), and the drift of any decodable mutation of a role.

use std::sync::LazyLock;

use serde_json::{Value, json};

use super::SlashId;
use super::model::{Envelope, Role, Tagged};
use crate::crd::{ProductSettings, ProviderSettings, SlashIdRole, SlashIdSettings};
use crate::providers::fuzz::contract::{Op, Product, Route, contract_tests};
use crate::providers::fuzz::server::{Answer, Req};
use crate::providers::{Account, Credentials};

const NAME: &str = "billing";
const PERMISSIONS: [&str; 2] = ["audit.read", "billing.read"];

fn spec() -> SlashIdRole {
    SlashIdRole {
        description: Some("Billing viewers".into()),
        permissions: PERMISSIONS.iter().map(|p| p.to_string()).collect(),
    }
}

fn role() -> Value {
    json!({"name": "sim-org/billing", "description": "Billing viewers",
        "permissions": ["billing.read", "audit.read"], "created": "2024-01-01T00:00:00Z"})
}

/// In line: the manifest's description and exactly its permissions, in any order.
fn in_sync(t: &Tagged) -> bool {
    let mut have = t.role.permissions.clone();
    have.sort();
    have.dedup();
    have == PERMISSIONS && t.role.description.as_deref() == Some("Billing viewers")
}

fn is(method: &str, path: &str, req: &Req) -> bool {
    req.method == method && req.path == path
}

static PRODUCT: LazyLock<Product<SlashId>> = LazyLock::new(|| Product {
    account: |base, key| {
        Account::of::<SlashId>(
            base,
            ProviderSettings {
                products: ProductSettings {
                    slashid: Some(SlashIdSettings {
                        org_id: "sim-org".into(),
                        consistency: None,
                        consistency_timeout_seconds: Some(1),
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
            Credentials::new([("apiKey".to_string(), "slashid-secret".to_string())]),
            key,
        )
    },
    name: NAME,
    spec: spec(),
    id: NAME,
    current: Tagged {
        role: serde_json::from_value(role()).expect("a role"),
        etag: Some("\"v3\"".into()),
    },
    routes: vec![
        Route {
            name: "list roles",
            matches: |r| is("GET", "/rbac/roles", r),
            answer: Answer::json(
                200,
                json!({"result": ["sim-org/billing", "sim-org/ops", "parent-org/shared"]}),
            ),
        },
        Route {
            name: "get role",
            matches: |r| is("GET", "/rbac/roles/sim-org%2Fbilling", r),
            answer: Answer::json(200, json!({"result": role()})).with_header("etag", b"\"v3\""),
        },
        Route {
            name: "create role",
            matches: |r| is("POST", "/rbac/roles", r),
            answer: Answer::empty(204),
        },
        Route {
            name: "update role",
            matches: |r| is("PATCH", "/rbac/roles/sim-org%2Fbilling", r),
            answer: Answer::empty(204),
        },
        Route {
            name: "delete role",
            matches: |r| is("DELETE", "/rbac/roles/sim-org%2Fbilling", r),
            answer: Answer::empty(204),
        },
        Route {
            name: "list permissions",
            matches: |r| is("GET", "/rbac/permissions", r),
            answer: Answer::json(200, json!({"result": ["audit.read"]})),
        },
        Route {
            name: "create permission",
            matches: |r| is("POST", "/rbac/permissions", r),
            answer: Answer::json(201, json!({"result": {"name": "billing.read"}})),
        },
    ],
    error_body: json!({"meta": {}, "errors": [{"httpcode": 400, "message": "invalid role name"}]}),
    in_sync,
});

contract_tests!(PRODUCT, json!({"result": role()}), |b| {
    serde_json::from_slice::<Envelope<Role>>(b)
        .map(|r| Tagged {
            role: r.result,
            etag: None,
        })
        .into_iter()
        .collect()
});

#[test]
fn an_answer_about_another_role_is_an_error() {
    // Found by the fuzz: the name `" im-org/billing"` (one byte flipped) was taken for the role.
    let mut other = role();
    other["name"] = json!(" im-org/billing");
    let answer = Answer::json(200, json!({"result": other}));
    assert!(PRODUCT.outcome(Op::Observe, "get role", answer).is_err());
}
