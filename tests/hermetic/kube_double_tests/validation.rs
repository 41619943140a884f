//! CRD schema validation (422 naming the field) and pruning of unknown fields.

use kube::Api;
use kube::api::{ApiResource, DynamicObject, PostParams};
use serde_json::json;

use super::{WIDGET_AV, Widget, api_error, server, widgets};

fn dynamic(client: &kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::erase::<Widget>(&());
    Api::namespaced_with(client.clone(), "default", &ar)
}

fn dyn_widget(name: &str, spec: serde_json::Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": WIDGET_AV, "kind": "Widget",
        "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap()
}

#[tokio::test]
async fn schema_violations_are_rejected_with_field_paths() {
    let srv = server();
    let api = dynamic(&srv.client());
    let cases = [
        (
            json!({"name": "ab"}),
            "spec.name",
            "should be at least 3 chars long",
        ),
        (
            json!({"name": "abcdefghijklmnopqrstuvwxyz"}),
            "spec.name",
            "Too long",
        ),
        (json!({"name": 42}), "spec.name", "must be of type string"),
        (json!({}), "spec.name", "Required value"),
        (
            json!({"name": "okay", "replicas": 11}),
            "spec.replicas",
            "less than or equal to 10",
        ),
        (
            json!({"name": "okay", "replicas": -1}),
            "spec.replicas",
            "greater than or equal to 0",
        ),
        (
            json!({"name": "okay", "mode": "Turbo"}),
            "spec.mode",
            "Unsupported value: \"Turbo\"",
        ),
    ];
    for (spec, field, why) in cases {
        let err = api_error(
            api.create(&PostParams::default(), &dyn_widget("bad", spec.clone()))
                .await,
        );
        assert_eq!(
            (err.code, err.reason.as_str()),
            (422, "Invalid"),
            "{spec}: {}",
            err.message
        );
        assert!(
            err.message.contains(&format!("{field}: ")),
            "{spec}: {}",
            err.message
        );
        assert!(err.message.contains(why), "{spec}: {}", err.message);
        assert!(
            err.message
                .starts_with("Widget.test.roleplane.dev \"bad\" is invalid"),
            "{}",
            err.message
        );
    }
    assert!(
        srv.object(WIDGET_AV, "widgets", Some("default"), "bad")
            .is_none()
    );
}

#[tokio::test]
async fn unknown_fields_are_pruned() {
    let srv = server();
    let client = srv.client();
    let api = dynamic(&client);
    let mut obj = dyn_widget("p", json!({"name": "pruned", "extra": {"deep": 1}}));
    obj.data["topLevelJunk"] = json!(true);
    obj.data["status"] = json!({"ready": true});
    let created = api.create(&PostParams::default(), &obj).await.unwrap();
    assert!(
        created.data["spec"].get("extra").is_none(),
        "{:?}",
        created.data
    );
    assert!(created.data.get("topLevelJunk").is_none());
    assert!(created.data.get("status").is_none(), "create drops status");
    let stored = srv
        .object(WIDGET_AV, "widgets", Some("default"), "p")
        .unwrap();
    assert_eq!(stored["spec"], json!({"name": "pruned"}));
    // The typed client reads the pruned object fine.
    assert_eq!(widgets(&client).get("p").await.unwrap().spec.name, "pruned");

    let req = http::Request::post(
        "/apis/test.roleplane.dev/v1/namespaces/default/widgets?fieldValidation=Strict",
    )
    .header("content-type", "application/json")
    .body(serde_json::to_vec(&dyn_widget("s", json!({"name": "strict", "extra": 1}))).unwrap())
    .unwrap();
    let err = api_error(client.request::<serde_json::Value>(req).await);
    assert_eq!(err.code, 400);
    assert!(
        err.message.contains("unknown field \"spec.extra\""),
        "{}",
        err.message
    );
}

fn gadget_crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.test.roleplane.dev"},
        "spec": {
            "group": "test.roleplane.dev", "scope": "Cluster",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "maxProperties": 6, "properties": {
                    "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "items": {"type": "array", "maxItems": 2, "items": {"type": "object", "required": ["id"],
                        "properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}}}},
                    "size": {"type": "integer", "default": 3},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "when": {"type": "string", "format": "date-time"}
                }}}
            }}}]
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn schema_features_int_or_string_preserve_defaults_arrays_formats() {
    let srv = super::ApiServer::new(vec![gadget_crd()]);
    let ar = ApiResource {
        group: "test.roleplane.dev".into(),
        version: "v1".into(),
        api_version: WIDGET_AV.into(),
        kind: "Gadget".into(),
        plural: "gadgets".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(srv.client(), &ar);
    let gadget = |name: &str, spec: serde_json::Value| -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": WIDGET_AV, "kind": "Gadget",
            "metadata": {"name": name}, "spec": spec}))
        .unwrap()
    };
    let ok = api
        .create(
            &PostParams::default(),
            &gadget(
                "ok",
                json!({
            "port": "http", "free": {"any": {"thing": [1, 2]}}, "items": [{"id": "abc", "junk": 1}],
            "labels": {"a": "b"}, "when": "2024-01-02T03:04:05Z"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(ok.data["spec"]["size"], 3, "default applied");
    assert_eq!(
        ok.data["spec"]["free"],
        json!({"any": {"thing": [1, 2]}}),
        "preserved"
    );
    assert_eq!(
        ok.data["spec"]["items"],
        json!([{"id": "abc"}]),
        "pruned inside arrays"
    );
    api.create(
        &PostParams::default(),
        &gadget("num", json!({"port": 8080})),
    )
    .await
    .unwrap();
    let cases = [
        (json!({"port": true}), "spec.port"),
        (
            json!({"items": [{"id": "ok"}, {"id": "NOPE"}]}),
            "spec.items[1].id",
        ),
        (
            json!({"items": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}),
            "spec.items: Too many",
        ),
        (json!({"items": [{}]}), "spec.items[0].id: Required value"),
        (json!({"labels": {"x": 1}}), "spec.labels.x"),
        (json!({"when": "yesterday"}), "spec.when"),
        (json!({"size": 1.5}), "spec.size"),
    ];
    for (spec, needle) in cases {
        let err = api_error(
            api.create(&PostParams::default(), &gadget("bad", spec.clone()))
                .await,
        );
        assert_eq!(err.code, 422, "{spec}: {}", err.message);
        assert!(err.message.contains(needle), "{spec}: {}", err.message);
    }
}
