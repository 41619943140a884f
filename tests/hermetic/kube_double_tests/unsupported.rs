//! What the double does not implement is answered `501 NotImplemented` naming it, never
//! ignored: a test relying on it fails loudly instead of passing against a forgiving server.

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};
use kube::{Api, Resource};
use serde_json::json;

use super::{api_error, raw_error, server, widget, widgets};

#[tokio::test]
async fn unimplemented_features_answer_501_naming_them() {
    let srv = server();
    let client = srv.client();
    let api = widgets(&client);
    let owner = api
        .create(&PostParams::default(), &widget("owner", "owner"))
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some("team-a".into());
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let secret = |name: &str| {
        let mut s = Secret::default();
        s.metadata.name = Some(name.into());
        s
    };
    let nameless = {
        let mut w = widget("", "generated");
        w.metadata.name = None;
        w.metadata.generate_name = Some("gen-".into());
        w
    };
    let owned = {
        let mut s = secret("owned");
        s.metadata.owner_references = Some(vec![owner.controller_owner_ref(&()).unwrap()]);
        s
    };
    let tls = {
        let mut s = secret("tls");
        s.type_ = Some("kubernetes.io/tls".into());
        s
    };
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let strict = PatchParams::apply("test").validation_strict();
    let smp = Patch::Strategic(json!({"metadata": {"labels": {"a": "b"}}}));
    let raw = |path: &str, accept: &str| {
        http::Request::get(path)
            .header("accept", accept)
            .body(vec![])
            .unwrap()
    };
    let widgets_path = "/apis/test.roleplane.dev/v1/namespaces/default/widgets";
    let cases: Vec<(&str, Result<(), kube::Error>)> = vec![
        (
            "\"labelSelector\"",
            api.list(&ListParams::default().labels("a=b"))
                .await
                .map(drop),
        ),
        (
            "\"spec.name\"",
            api.list(&ListParams::default().fields("spec.name=x"))
                .await
                .map(drop),
        ),
        (
            "\"resourceVersion\", \"resourceVersionMatch\" on list",
            api.list(&ListParams::default().match_any()).await.map(drop),
        ),
        (
            "a watch without resourceVersion",
            api.watch(&WatchParams::default(), "0").await.map(drop),
        ),
        (
            "\"sendInitialEvents\" on watch",
            api.watch(&WatchParams::default().initial_events(), "0")
                .await
                .map(drop),
        ),
        (
            "\"dryRun\"",
            api.create(&dry, &widget("d", "dry")).await.map(drop),
        ),
        (
            "\"fieldValidation\"",
            api.patch("owner", &strict, &Patch::Apply(&owner))
                .await
                .map(drop),
        ),
        (
            "generateName",
            api.create(&PostParams::default(), &nameless)
                .await
                .map(drop),
        ),
        (
            "ownerReferences",
            secrets
                .create(&PostParams::default(), &owned)
                .await
                .map(drop),
        ),
        (
            "kubernetes.io/tls",
            secrets.create(&PostParams::default(), &tls).await.map(drop),
        ),
        (
            "strategic merge patch",
            secrets
                .create(&PostParams::default(), &secret("plain"))
                .await
                .map(drop)
                .and(
                    secrets
                        .patch("plain", &PatchParams::default(), &smp)
                        .await
                        .map(drop),
                ),
        ),
        (
            "DeleteOptions.propagationPolicy",
            api.delete("owner", &DeleteParams::background())
                .await
                .map(drop),
        ),
        (
            "deletecollection",
            api.delete_collection(&DeleteParams::default(), &ListParams::default())
                .await
                .map(drop),
        ),
        (
            "Accept",
            client
                .request::<serde_json::Value>(raw(
                    widgets_path,
                    "application/json;as=Table;v=v1;g=meta.k8s.io",
                ))
                .await
                .map(drop),
        ),
    ];
    for (needle, result) in cases {
        let err = api_error(result);
        assert_eq!(
            (err.code, err.reason.as_str()),
            (501, "NotImplemented"),
            "{needle}: {}",
            err.message
        );
        assert!(err.message.contains(needle), "{needle}: {}", err.message);
    }
    // Nothing was written by the refused requests.
    assert!(secrets.get_opt("owned").await.unwrap().is_none());
    assert!(api.get_opt("d").await.unwrap().is_none());
    assert!(api.get_opt("owner").await.unwrap().is_some());
    let err = raw_error(&client, raw("/apis", "application/json")).await;
    assert_eq!(err.code, 404, "discovery is not served: {}", err.message);
}
