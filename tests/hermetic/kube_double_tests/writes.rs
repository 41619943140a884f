//! Updates: status subresource, server-side apply, generation, optimistic concurrency,
//! patch formats and Leases.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{WIDGET_AV, WidgetStatus, api_error, server, widget, widgets};

#[tokio::test]
async fn patch_status_apply_changes_only_status() {
    let srv = server();
    let api = widgets(&srv.client());
    let created = api
        .create(&PostParams::default(), &widget("w", "status"))
        .await
        .unwrap();
    assert!(created.status.is_none(), "create cannot set status");
    let apply = json!({
        "apiVersion": WIDGET_AV, "kind": "Widget",
        "spec": {"name": "ignored-here"},
        "metadata": {"labels": {"ignored": "yes"}},
        "status": {"ready": true, "message": "done"},
    });
    let pp = PatchParams::apply("mgr").force();
    let after = api
        .patch_status("w", &pp, &Patch::Apply(&apply))
        .await
        .unwrap();
    assert_eq!(
        after.status,
        Some(WidgetStatus {
            ready: true,
            message: Some("done".into())
        })
    );
    assert_eq!(after.spec.name, "status", "status writes never change spec");
    assert!(
        after.labels().get("ignored").is_none(),
        "status writes never change labels"
    );
    assert_eq!(after.metadata.generation, Some(1));
    let mf = after.metadata.managed_fields.unwrap_or_default();
    assert!(
        mf.iter()
            .any(|m| m.manager.as_deref() == Some("mgr")
                && m.subresource.as_deref() == Some("status"))
    );

    // Omitting a field the manager applied before removes it.
    let again = json!({"apiVersion": WIDGET_AV, "kind": "Widget", "status": {"ready": false}});
    let after = api
        .patch_status("w", &pp, &Patch::Apply(&again))
        .await
        .unwrap();
    assert_eq!(
        after.status,
        Some(WidgetStatus {
            ready: false,
            message: None
        })
    );

    // Another manager applying an owned field with a different value conflicts unless forced.
    let other = json!({"apiVersion": WIDGET_AV, "kind": "Widget", "status": {"ready": true}});
    let err = api_error(
        api.patch_status("w", &PatchParams::apply("other"), &Patch::Apply(&other))
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains("conflict with \"mgr\""),
        "{}",
        err.message
    );
    api.patch_status(
        "w",
        &PatchParams::apply("other").force(),
        &Patch::Apply(&other),
    )
    .await
    .unwrap();

    for bad in [
        json!({"status": {"ready": true}}),
        json!({"apiVersion": WIDGET_AV, "status": {}}),
        json!({"apiVersion": "v1", "kind": "Widget", "status": {}}),
    ] {
        let err = api_error(api.patch_status("w", &pp, &Patch::Apply(&bad)).await);
        assert_eq!(
            (err.code, err.reason.as_str()),
            (400, "BadRequest"),
            "{}",
            err.message
        );
    }
}

#[tokio::test]
async fn apply_requires_field_manager_and_creates_on_main_resource() {
    let srv = server();
    let client = srv.client();
    let body = serde_json::to_vec(&json!({"apiVersion": WIDGET_AV, "kind": "Widget",
        "metadata": {"name": "applied"}, "spec": {"name": "by-apply"}}))
    .unwrap();
    let req =
        http::Request::patch("/apis/test.roleplane.dev/v1/namespaces/default/widgets/applied")
            .header("content-type", "application/apply-patch+yaml")
            .body(body.clone())
            .unwrap();
    let err = api_error(client.request::<serde_json::Value>(req).await);
    assert_eq!(err.code, 422, "{}", err.message);
    assert!(
        err.message.contains("fieldManager: Required value"),
        "{}",
        err.message
    );

    let api = widgets(&client);
    let cfg: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let created = api
        .patch("applied", &PatchParams::apply("mgr"), &Patch::Apply(&cfg))
        .await
        .unwrap();
    assert_eq!(created.spec.name, "by-apply");
    assert_eq!(created.metadata.generation, Some(1));

    let with_replicas = json!({"apiVersion": WIDGET_AV, "kind": "Widget",
        "metadata": {"name": "applied"}, "spec": {"name": "by-apply", "replicas": 4}});
    let w = api
        .patch(
            "applied",
            &PatchParams::apply("mgr"),
            &Patch::Apply(&with_replicas),
        )
        .await
        .unwrap();
    assert_eq!((w.spec.replicas, w.metadata.generation), (Some(4), Some(2)));
    let w = api
        .patch("applied", &PatchParams::apply("mgr"), &Patch::Apply(&cfg))
        .await
        .unwrap();
    assert_eq!(
        w.spec.replicas, None,
        "fields a manager stops applying are removed"
    );

    // A field set by another writer (an Update manager) conflicts for a different applier.
    let merge = json!({"spec": {"replicas": 7}});
    api.patch("applied", &PatchParams::default(), &Patch::Merge(&merge))
        .await
        .unwrap();
    let take = json!({"apiVersion": WIDGET_AV, "kind": "Widget", "spec": {"name": "by-apply", "replicas": 1}});
    let err = api_error(
        api.patch("applied", &PatchParams::apply("mgr"), &Patch::Apply(&take))
            .await,
    );
    assert_eq!(err.code, 409, "{}", err.message);
    assert!(err.message.contains(".spec.replicas"), "{}", err.message);
}

#[tokio::test]
async fn main_resource_writes_keep_status_and_generation_tracks_spec() {
    let srv = server();
    let api = widgets(&srv.client());
    api.create(&PostParams::default(), &widget("w", "gen"))
        .await
        .unwrap();
    let st = json!({"status": {"ready": true}});
    api.patch_status("w", &PatchParams::default(), &Patch::Merge(&st))
        .await
        .unwrap();
    let w = api.get("w").await.unwrap();
    assert_eq!(
        w.metadata.generation,
        Some(1),
        "status change keeps generation"
    );

    let mut replaced = w.clone();
    replaced.status = Some(WidgetStatus {
        ready: false,
        message: Some("hacked".into()),
    });
    replaced.labels_mut().insert("a".into(), "b".into());
    let after = api
        .replace("w", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert_eq!(
        after.status,
        Some(WidgetStatus {
            ready: true,
            message: None
        }),
        "PUT ignores status"
    );
    assert_eq!(
        after.metadata.generation,
        Some(1),
        "label change keeps generation"
    );

    let merge = json!({"status": {"ready": false}, "spec": {"replicas": 5}});
    let after = api
        .patch("w", &PatchParams::default(), &Patch::Merge(&merge))
        .await
        .unwrap();
    assert!(
        after.status.as_ref().unwrap().ready,
        "main-resource patch ignores status"
    );
    assert_eq!(
        after.metadata.generation,
        Some(2),
        "spec change bumps generation"
    );

    // No-op write: nothing changes, not even the resourceVersion.
    let noop = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(noop.resource_version(), after.resource_version());
}

#[tokio::test]
async fn stale_resource_version_conflicts() {
    let srv = server();
    let api = widgets(&srv.client());
    let v1 = api
        .create(&PostParams::default(), &widget("w", "occ"))
        .await
        .unwrap();
    let mut v2 = v1.clone();
    v2.spec.replicas = Some(2);
    api.replace("w", &PostParams::default(), &v2).await.unwrap();
    let mut stale = v1.clone();
    stale.spec.replicas = Some(3);
    let err = api_error(api.replace("w", &PostParams::default(), &stale).await);
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));

    let p =
        json!({"metadata": {"resourceVersion": v1.resource_version()}, "spec": {"replicas": 4}});
    let err = api_error(
        api.patch("w", &PatchParams::default(), &Patch::Merge(&p))
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));

    let mut no_rv = v1.clone();
    no_rv.metadata.resource_version = None;
    let err = api_error(api.replace("w", &PostParams::default(), &no_rv).await);
    assert_eq!(
        err.code, 422,
        "custom resources need resourceVersion on PUT: {}",
        err.message
    );
    assert_eq!(api.get("w").await.unwrap().spec.replicas, Some(2));
}

#[tokio::test]
async fn json_patch_test_failure_and_strategic_merge_on_crd() {
    let srv = server();
    let api = widgets(&srv.client());
    api.create(&PostParams::default(), &widget("w", "patchy"))
        .await
        .unwrap();
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/name", "value": "other"},
        {"op": "replace", "path": "/spec/name", "value": "changed"}
    ]))
    .unwrap();
    let err = api_error(
        api.patch("w", &PatchParams::default(), &Patch::Json::<()>(ops))
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/name", "value": "patchy"},
        {"op": "replace", "path": "/spec/name", "value": "changed"}
    ]))
    .unwrap();
    let ok = api
        .patch("w", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert_eq!(ok.spec.name, "changed");
    let smp = json!({"spec": {"replicas": 2}});
    let err = api_error(
        api.patch("w", &PatchParams::default(), &Patch::Strategic(&smp))
            .await,
    );
    assert_eq!(
        (err.code, err.reason.as_str()),
        (415, "UnsupportedMediaType")
    );
}

#[tokio::test]
async fn lease_replace_conflicts_when_stale_and_creates_when_missing() {
    let srv = server();
    let leases: Api<Lease> = Api::namespaced(srv.client(), "default");
    let mut lease = Lease::default();
    lease.metadata.name = Some("leader".into());
    lease.spec = Some(LeaseSpec {
        holder_identity: Some("a".into()),
        lease_duration_seconds: Some(15),
        ..Default::default()
    });
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    let mut next = created.clone();
    next.spec.as_mut().unwrap().holder_identity = Some("b".into());
    leases
        .replace("leader", &PostParams::default(), &next)
        .await
        .unwrap();
    let mut stale = created.clone();
    stale.spec.as_mut().unwrap().holder_identity = Some("c".into());
    let err = api_error(
        leases
            .replace("leader", &PostParams::default(), &stale)
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    let holder = srv
        .object(
            "coordination.k8s.io/v1",
            "leases",
            Some("default"),
            "leader",
        )
        .unwrap();
    assert_eq!(holder["spec"]["holderIdentity"], "b");

    // PUT creates a missing Lease (kube-apiserver allows create-on-update for leases).
    let mut other = lease.clone();
    other.metadata.name = Some("other".into());
    let put = leases
        .replace("other", &PostParams::default(), &other)
        .await
        .unwrap();
    assert!(put.metadata.uid.is_some());
    let puts: Vec<_> = srv
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.last().and_then(|r| r.status), Some(201), "{puts:?}");
    let mut bad = Lease::default();
    bad.metadata.name = Some("bad".into());
    bad.spec = Some(LeaseSpec {
        lease_duration_seconds: Some(0),
        ..Default::default()
    });
    let err = api_error(leases.create(&PostParams::default(), &bad).await);
    assert_eq!(err.code, 422);
    assert!(
        err.message.contains("spec.leaseDurationSeconds"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_content_refuses_new_content_and_ends_when_empty() {
    use k8s_openapi::api::core::v1::{Namespace, Secret};
    use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
    let server = super::server();
    let client = server.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant"}});
    namespaces
        .patch("tenant", &PatchParams::apply("test"), &Patch::Apply(&ns))
        .await
        .expect("namespace");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "tenant");
    let widgets: Api<super::Widget> = Api::namespaced(client.clone(), "tenant");
    let secret = |name: &str, finalizers: &[&str]| {
        serde_json::from_value::<Secret>(serde_json::json!({
            "metadata": {"name": name, "finalizers": finalizers},
            "stringData": {"k": "v"},
        }))
        .expect("a secret")
    };
    secrets
        .create(&PostParams::default(), &secret("plain", &[]))
        .await
        .expect("plain secret");
    secrets
        .create(&PostParams::default(), &secret("held", &["test/hold"]))
        .await
        .expect("held secret");
    let mut w = super::widget("w1", "first");
    w.metadata.namespace = Some("tenant".into());
    w.metadata.finalizers = Some(vec!["test/cleanup".into()]);
    widgets
        .create(&PostParams::default(), &w)
        .await
        .expect("widget");

    namespaces
        .delete("tenant", &DeleteParams::default())
        .await
        .expect("deletion accepted");
    let terminating = namespaces.get("tenant").await.expect("still there");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(
        terminating.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    assert!(secrets.get_opt("plain").await.expect("get").is_none());
    let held = secrets
        .get("held")
        .await
        .expect("held while its finalizer stays");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(
        widgets
            .get("w1")
            .await
            .expect("held")
            .metadata
            .deletion_timestamp
            .is_some()
    );
    let refused = super::api_error(
        secrets
            .create(&PostParams::default(), &secret("new", &[]))
            .await,
    );
    assert_eq!(refused.code, 403);
    assert!(
        refused.message.contains("being terminated"),
        "{}",
        refused.message
    );

    let release = serde_json::json!({"metadata": {"finalizers": null}});
    secrets
        .patch("held", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .expect("released");
    assert!(
        namespaces.get_opt("tenant").await.expect("get").is_some(),
        "a widget is left"
    );
    widgets
        .patch("w1", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .expect("released");
    assert!(
        namespaces.get_opt("tenant").await.expect("get").is_none(),
        "an empty terminating namespace goes"
    );
}
