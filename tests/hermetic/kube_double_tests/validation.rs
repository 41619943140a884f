//! CRD schema validation (422 naming the field) and pruning of unknown fields.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
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
}

fn gadget_crd(schema: serde_json::Value) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.test.roleplane.dev"},
        "spec": {
            "group": "test.roleplane.dev", "scope": "Cluster",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                          "schema": {"openAPIV3Schema": schema}}]
        }
    }))
    .unwrap()
}

/// The Gadgets of `srv` (a cluster-scoped kind of [`gadget_crd`]).
fn gadgets(srv: &super::ApiServer) -> Api<DynamicObject> {
    let ar = ApiResource {
        group: "test.roleplane.dev".into(),
        version: "v1".into(),
        api_version: WIDGET_AV.into(),
        kind: "Gadget".into(),
        plural: "gadgets".into(),
    };
    Api::all_with(srv.client(), &ar)
}

fn gadget_schema() -> serde_json::Value {
    let spec = json!({
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "!has(self.size) || self.size <= 10", "message": "size is at most 10"},
            {"rule": "!has(oldSelf.owner) || self.owner == oldSelf.owner",
             "message": "owner is immutable"}
        ],
        "properties": {
            "owner": {"type": "string"},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "items": {"type": "array", "maxItems": 2, "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["id"],
                      "items": {"type": "object", "required": ["id"],
                                "properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}}}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "size": {"type": "integer", "default": 3},
            "labels": {"type": "object", "maxProperties": 2,
                       "additionalProperties": {"type": "string"}},
            "when": {"type": "string", "format": "date-time"}
        }
    });
    json!({"type": "object", "properties": {"spec": spec}})
}

#[tokio::test]
async fn schema_features_preserve_defaults_lists_formats_and_cel() {
    let srv = super::ApiServer::new(vec![gadget_crd(gadget_schema())]);
    let api = gadgets(&srv);
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
                json!({"owner": "me", "free": {"any": {"thing": [1, 2]}},
                       "items": [{"id": "abc", "junk": 1}], "tags": ["a", "b"],
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
    let cases = [
        (json!({"size": true}), "spec.size: Invalid value"),
        (
            json!({"items": [{"id": "ok"}, {"id": "NOPE"}]}),
            "spec.items[1].id",
        ),
        (
            json!({"items": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}),
            "spec.items: Too many",
        ),
        (json!({"items": [{}]}), "spec.items[0].id: Required value"),
        (
            json!({"items": [{"id": "a"}, {"id": "a"}]}),
            "spec.items[1]: Duplicate value",
        ),
        (json!({"tags": ["x", "x"]}), "spec.tags[1]: Duplicate value"),
        (json!({"labels": {"x": 1}}), "spec.labels.x"),
        (
            json!({"labels": {"a": "1", "b": "2", "c": "3"}}),
            "spec.labels: Too many",
        ),
        (json!({"when": "yesterday"}), "spec.when"),
        (json!({"size": 1.5}), "spec.size"),
        (json!({"size": 11}), "size is at most 10"),
    ];
    for (spec, needle) in cases {
        let err = api_error(
            api.create(&PostParams::default(), &gadget("bad", spec.clone()))
                .await,
        );
        assert_eq!(err.code, 422, "{spec}: {}", err.message);
        assert!(err.message.contains(needle), "{spec}: {}", err.message);
    }
    // Transition rules see the stored object on updates.
    let patch = |spec: serde_json::Value| Patch::Merge(json!({"spec": spec}));
    let pp = PatchParams::default();
    let err = api_error(api.patch("ok", &pp, &patch(json!({"owner": "you"}))).await);
    assert_eq!(err.code, 422, "{}", err.message);
    assert!(
        err.message.contains("owner is immutable"),
        "{}",
        err.message
    );
    api.patch("ok", &pp, &patch(json!({"size": 4})))
        .await
        .unwrap();
}

/// The double leaves out the rules that see only an unchanged spec (they passed when it was
/// stored); what an update changes is still checked, and transition rules still run.
#[tokio::test]
async fn updates_that_leave_the_spec_alone_still_check_what_they_change() {
    let mut schema = gadget_schema();
    schema["properties"]["status"] = json!({
        "type": "object",
        "properties": {"phase": {"type": "string", "maxLength": 20}},
        "x-kubernetes-validations": [
            {"rule": "self.phase.matches('^[A-Z][a-z]+$')", "message": "phase is a word"}
        ]
    });
    schema["properties"]["spec"]["properties"]["items"]["items"]["x-kubernetes-validations"] =
        json!([{"rule": "self.id != 'zz'", "message": "zz is taken"}]);
    let srv = super::ApiServer::new(vec![gadget_crd(schema)]);
    let api = gadgets(&srv);
    let gadget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": WIDGET_AV, "kind": "Gadget", "metadata": {"name": "g"},
        "spec": {"owner": "me", "size": 10, "items": [{"id": "ab"}]},
        "status": {"phase": "Ready"},
    }))
    .unwrap();
    api.create(&PostParams::default(), &gadget).await.unwrap();
    let pp = PatchParams::default();
    // Metadata and status changes with the spec as it was.
    api.patch(
        "g",
        &pp,
        &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
    )
    .await
    .unwrap();
    api.patch(
        "g",
        &pp,
        &Patch::Merge(json!({"status": {"phase": "Done"}})),
    )
    .await
    .unwrap();
    let err = api_error(
        api.patch("g", &pp, &Patch::Merge(json!({"status": {"phase": "no"}})))
            .await,
    );
    assert_eq!(err.code, 422, "{}", err.message);
    assert!(err.message.contains("phase is a word"), "{}", err.message);
    // A changed spec is checked against every rule, nested ones too.
    for (spec, needle) in [
        (json!({"size": 11}), "size is at most 10"),
        (json!({"items": [{"id": "zz"}]}), "zz is taken"),
        (json!({"owner": "you"}), "owner is immutable"),
    ] {
        let err = api_error(
            api.patch("g", &pp, &Patch::Merge(json!({"spec": spec.clone()})))
                .await,
        );
        assert_eq!(err.code, 422, "{spec}: {}", err.message);
        assert!(err.message.contains(needle), "{spec}: {}", err.message);
    }
    let stored = api.get("g").await.unwrap();
    assert_eq!(stored.data["spec"]["size"], 10);
    assert_eq!(stored.data["status"]["phase"], "Done");
}

#[test]
#[should_panic(expected = "schema keyword \"anyOf\" at \"spec.port\" is not supported")]
fn crd_with_an_unsupported_schema_keyword_is_refused() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "port": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}}});
    super::ApiServer::new(vec![gadget_crd(schema)]);
}

#[test]
#[should_panic(expected = "serving other than exactly one version is not supported")]
fn crd_serving_two_versions_is_refused() {
    let mut crd = gadget_crd(gadget_schema());
    let mut v2 = crd.spec.versions[0].clone();
    v2.name = "v2".into();
    v2.storage = false;
    crd.spec.versions.push(v2);
    super::ApiServer::new(vec![crd]);
}
