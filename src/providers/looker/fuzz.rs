//! Fuzzing what Looker sends back: the login answer, roles (get, search, create, update),
//! permission and model sets (search, create, update), the permission catalogue and error
//! bodies, through the real client (see `providers::fuzz::contract`), and the drift of any
//! decodable mutation of a role.

use std::sync::LazyLock;

use serde_json::{Value, json};

use super::Looker;
use super::model::Role;
use crate::crd::{LookerPermissionSet, LookerRole, LookerSetRef, ProviderSettings};
use crate::providers::fuzz::contract::{Op, Outcome, Product, Route, contract_tests};
use crate::providers::fuzz::server::{Answer, Req};
use crate::providers::{Account, Credentials, Desired, Http, Provider};

const NAME: &str = "Analyst";
const PERMISSIONS: [&str; 2] = ["access_data", "see_looks"];

fn spec() -> LookerRole {
    LookerRole {
        permission_set: Some(LookerPermissionSet {
            permissions: PERMISSIONS.iter().map(|p| p.to_string()).collect(),
        }),
        model_set_ref: Some(LookerSetRef {
            id: None,
            name: Some("All".into()),
        }),
        ..Default::default()
    }
}

fn permission_set() -> Value {
    json!({"id": "3", "name": "roleplane:Analyst", "permissions": ["see_looks", "access_data"],
        "built_in": false, "all_access": false, "url": null})
}

fn model_set() -> Value {
    json!({"id": "4", "name": "All", "models": ["thelook"], "built_in": true, "all_access": true})
}

fn role() -> Value {
    json!({"id": "9", "name": NAME, "permission_set": permission_set(), "model_set": model_set(),
        "user_count": 2, "url": null, "users_url": null, "can": {"show": true}})
}

/// In line: the manifest's name, an owned permission set (not built in, named after the role)
/// with exactly its permissions, and the model set it names.
fn in_sync(role: &Role) -> bool {
    let owned = role.permission_set.as_ref().is_some_and(|s| {
        let mut have = s.items.clone().unwrap_or_default();
        have.sort();
        have.dedup();
        !s.built_in && s.name() == "roleplane:Analyst" && have == PERMISSIONS
    });
    let model = role.model_set.as_ref().is_some_and(|s| s.name() == "All");
    role.name.as_deref() == Some(NAME) && owned && model
}

fn is(method: &str, path: &str, req: &Req) -> bool {
    req.method == method && req.path == path
}

static PRODUCT: LazyLock<Product<Looker>> = LazyLock::new(|| Product {
    account: |base, key| {
        Account::of::<Looker>(
            base,
            ProviderSettings::default(),
            Credentials::new([
                ("clientId".to_string(), "looker-client".to_string()),
                ("clientSecret".to_string(), "looker-secret".to_string()),
            ]),
            key,
        )
    },
    name: NAME,
    spec: spec(),
    id: "9",
    // As read before an update: a permission missing, another model set.
    current: serde_json::from_value(json!({"id": "9", "name": NAME,
        "permission_set": {"id": "3", "name": "roleplane:Analyst", "permissions": ["access_data"]},
        "model_set": {"id": "5", "name": "Marketing", "models": ["ads"]}}))
    .expect("a role"),
    routes: vec![
        Route {
            name: "login",
            matches: |r| is("POST", "/api/4.0/login", r),
            answer: Answer::json(
                200,
                json!({"access_token": "looker-token-0123456789", "token_type": "Bearer",
                    "expires_in": 3600, "refresh_token": null}),
            ),
        },
        Route {
            name: "search roles",
            matches: |r| is("GET", "/api/4.0/roles/search", r),
            answer: Answer::json(200, json!([role()])),
        },
        Route {
            name: "role",
            matches: |r| r.path == "/api/4.0/roles/9" && r.method != "DELETE",
            answer: Answer::json(200, role()),
        },
        Route {
            name: "create role",
            matches: |r| is("POST", "/api/4.0/roles", r),
            answer: Answer::json(200, role()),
        },
        Route {
            name: "delete role",
            matches: |r| is("DELETE", "/api/4.0/roles/9", r),
            answer: Answer::empty(204),
        },
        Route {
            name: "permission catalogue",
            matches: |r| is("GET", "/api/4.0/permissions", r),
            answer: Answer::json(
                200,
                json!([{"permission": "access_data", "parent": null, "description": "d"},
                    {"permission": "see_looks", "parent": "access_data", "description": "d"}]),
            ),
        },
        Route {
            name: "search permission sets",
            matches: |r| is("GET", "/api/4.0/permission_sets/search", r),
            answer: Answer::json(200, json!([])),
        },
        Route {
            name: "search model sets",
            matches: |r| is("GET", "/api/4.0/model_sets/search", r),
            answer: Answer::json(200, json!([model_set()])),
        },
        Route {
            name: "write permission set",
            matches: |r| {
                is("POST", "/api/4.0/permission_sets", r)
                    || is("PATCH", "/api/4.0/permission_sets/3", r)
            },
            answer: Answer::json(200, permission_set()),
        },
        Route {
            name: "delete permission set",
            matches: |r| is("DELETE", "/api/4.0/permission_sets/3", r),
            answer: Answer::empty(204),
        },
    ],
    error_body: json!({"message": "Validation Failed", "documentation_url": "https://x",
        "errors": [{"field": "name", "code": "invalid", "message": "is taken"}]}),
    in_sync,
});

contract_tests!(PRODUCT, role(), |b| serde_json::from_slice::<Role>(b)
    .into_iter()
    .collect());

#[test]
fn a_role_without_its_sets_drifts() {
    let l = Looker::new(Http::new(Default::default(), Default::default()));
    let r: Role = serde_json::from_value(json!({"id": "9", "name": NAME})).expect("a role");
    let desired = Desired {
        name: NAME,
        spec: &PRODUCT.spec,
    };
    assert_eq!(
        l.drift(desired, &r),
        vec!["looker.permissionSet", "looker.modelSetRef"]
    );
}

#[test]
fn an_answer_about_another_role_is_an_error() {
    // Found by the fuzz: `[""]` read as a role (serde takes a struct from an array) with id "".
    for body in [json!([""]), json!({"id": "8", "name": NAME})] {
        let answer = Answer::json(200, body.clone());
        assert!(
            PRODUCT.outcome(Op::Observe, "role", answer).is_err(),
            "{body}"
        );
    }
    let created = Answer::json(200, json!({"id": "a/b", "name": NAME}));
    assert!(PRODUCT.outcome(Op::Create, "create role", created).is_err());
}

#[test]
fn a_listed_role_without_a_proper_id_is_an_error() {
    // Found by the fuzz: a search result with id "[]" was listed (and could be adopted).
    let mut listed = role();
    listed["id"] = json!("[]");
    let answer = Answer::json(200, json!([listed]));
    assert!(
        PRODUCT
            .outcome(Op::FindNamed, "search roles", answer)
            .is_err()
    );
}

#[test]
fn a_search_that_ignores_paging_ends() {
    let roles: Vec<Value> = (0..100)
        .map(|i| json!({"id": i.to_string(), "name": format!("r{i}")}))
        .collect();
    match PRODUCT.outcome(Op::List, "search roles", Answer::json(200, json!(roles))) {
        Ok(Outcome::Listing(listed)) => assert_eq!(listed.len(), 100),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_endless_token_lifetime_is_no_overflow() {
    // Found by the fuzz: `expires_in: 9223372036854766566` overflowed `Instant` at login.
    let answer = Answer::json(
        200,
        json!({"access_token": "looker-token-0123456789", "expires_in": 9223372036854766566u64}),
    );
    PRODUCT.outcome(Op::Delete, "login", answer).unwrap();
}

#[test]
fn catalogue_names_are_quoted_short() {
    // Found by the fuzz: a parent of 2 KiB was quoted whole in the error (4 KiB of status).
    let parent = "ü".repeat(1024);
    let answer = Answer::json(
        200,
        json!([{"permission": "access_data"}, {"permission": "see_looks", "parent": parent}]),
    );
    let err = match PRODUCT.outcome(Op::Update, "permission catalogue", answer) {
        Err(e) => e,
        other => panic!("{other:?}"),
    };
    assert!(err.to_string().len() < 400, "{err}");
    let none = Answer::json(200, json!([{"description": "no name"}]));
    let err = match PRODUCT.outcome(Op::Update, "permission catalogue", none) {
        Err(e) => e,
        other => panic!("{other:?}"),
    };
    assert_ne!(
        err.class(),
        crate::providers::ErrorClass::InvalidSpec,
        "{err}"
    );
}
