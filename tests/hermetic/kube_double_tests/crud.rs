//! Create/get/list/delete, selectors, pagination, routing and built-in kinds.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;

use super::{WIDGET_AV, api_error, server, widget, widgets};

#[tokio::test]
async fn create_get_list_delete() {
    let srv = server();
    let api = widgets(&srv.client());
    let created = api
        .create(&PostParams::default(), &widget("w1", "first"))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let rv1: u64 = created.resource_version().unwrap().parse().unwrap();

    let dup = api_error(
        api.create(&PostParams::default(), &widget("w1", "first"))
            .await,
    );
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));

    let mut w2 = widget("w2", "second");
    w2.labels_mut().insert("tier".into(), "gold".into());
    let created2 = api.create(&PostParams::default(), &w2).await.unwrap();
    let rv2: u64 = created2.resource_version().unwrap().parse().unwrap();
    assert!(rv2 > rv1, "resourceVersion must increase");

    let got = api.get("w1").await.unwrap();
    assert_eq!(got.spec.name, "first");
    let all = api.list(&ListParams::default()).await.unwrap();
    let names: Vec<_> = all.items.iter().map(|w| w.name_any()).collect();
    assert_eq!(names, ["w1", "w2"]);
    for (sel, want) in [
        ("tier=gold", vec!["w2"]),
        ("tier!=gold", vec!["w1"]),
        ("tier in (gold,silver)", vec!["w2"]),
        ("tier notin (gold)", vec!["w1"]),
        ("tier", vec!["w2"]),
        ("!tier", vec!["w1"]),
    ] {
        let l = api.list(&ListParams::default().labels(sel)).await.unwrap();
        let got: Vec<_> = l.items.iter().map(|w| w.name_any()).collect();
        assert_eq!(got, want, "selector {sel}");
    }
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=w1"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    let bad = api_error(api.list(&ListParams::default().fields("spec.name=x")).await);
    assert_eq!(bad.code, 400);

    api.delete("w1", &DeleteParams::default()).await.unwrap();
    let gone = api_error(api.get("w1").await);
    assert_eq!((gone.code, gone.reason.as_str()), (404, "NotFound"));
    assert!(
        srv.object(WIDGET_AV, "widgets", Some("default"), "w1")
            .is_none()
    );
    assert!(
        srv.object(WIDGET_AV, "widgets", Some("default"), "w2")
            .is_some()
    );
    let missing = api_error(api.delete("w1", &DeleteParams::default()).await);
    assert_eq!(missing.code, 404);

    let reqs = srv.requests();
    assert!(
        reqs.iter()
            .any(|r| r.method == "POST" && r.status == Some(201))
    );
    assert!(
        reqs.iter()
            .any(|r| r.method == "DELETE" && r.status == Some(404))
    );
}

#[tokio::test]
async fn pagination_and_generate_name() {
    let srv = server();
    let api = widgets(&srv.client());
    for _ in 0..5 {
        let mut w = widget("", "gen");
        w.metadata.name = None;
        w.metadata.generate_name = Some("auto-".into());
        let c = api.create(&PostParams::default(), &w).await.unwrap();
        assert!(c.name_any().starts_with("auto-") && c.name_any().len() == 10);
    }
    let page = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("continue token");
    let rest = api
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3);
    assert!(rest.metadata.continue_.as_deref().unwrap_or("").is_empty());
    let unnamed = api_error(
        api.create(&PostParams::default(), &{
            let mut w = widget("", "x-name");
            w.metadata.name = None;
            w
        })
        .await,
    );
    assert_eq!(unnamed.code, 422);
    assert!(
        unnamed.message.contains("metadata.name: Required value"),
        "{}",
        unnamed.message
    );
}

#[tokio::test]
async fn namespace_mismatch_and_unknown_routes() {
    let srv = server();
    let client = srv.client();
    let other: kube::Api<super::Widget> = Api::namespaced(client.clone(), "other");
    let err = api_error(
        other
            .create(&PostParams::default(), &widget("w", "abc"))
            .await,
    );
    assert_eq!(err.code, 400, "{}", err.message);

    let req = http::Request::get("/apis/nope.example.com/v1/things")
        .body(vec![])
        .unwrap();
    let err = api_error(client.request::<serde_json::Value>(req).await);
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    let req = http::Request::get("/apis/test.roleplane.dev/v1/namespaces/default/gadgets")
        .body(vec![])
        .unwrap();
    assert_eq!(
        api_error(client.request::<serde_json::Value>(req).await).code,
        404
    );
}

#[tokio::test]
async fn namespaces_secrets_configmaps() {
    let srv = server();
    let client = srv.client();
    let nss: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some("team-a".into());
    ns.metadata.labels = Some(BTreeMap::from([(
        "roleplane.dev/enabled".into(),
        "true".into(),
    )]));
    nss.create(&PostParams::default(), &ns).await.unwrap();
    let got = nss.get("team-a").await.unwrap();
    assert_eq!(got.labels()["roleplane.dev/enabled"], "true");
    assert_eq!(got.labels()["kubernetes.io/metadata.name"], "team-a");
    assert_eq!(got.status.unwrap().phase.as_deref(), Some("Active"));
    let bad = api_error(
        nss.create(&PostParams::default(), &{
            let mut n = Namespace::default();
            n.metadata.name = Some("Bad_Name".into());
            n
        })
        .await,
    );
    assert_eq!(bad.code, 422);

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-a");
    let mut s = Secret::default();
    s.metadata.name = Some("creds".into());
    s.string_data = Some(BTreeMap::from([("token".into(), "hunter2".into())]));
    let created = secrets.create(&PostParams::default(), &s).await.unwrap();
    assert!(created.string_data.is_none());
    assert_eq!(
        created.data.unwrap()["token"],
        ByteString(b"hunter2".to_vec())
    );
    assert_eq!(created.type_.as_deref(), Some("Opaque"));

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("cfg".into());
    cm.data = Some(BTreeMap::from([("bad key".into(), "v".into())]));
    let err = api_error(cms.create(&PostParams::default(), &cm).await);
    assert_eq!(err.code, 422);
    assert!(err.message.contains("data[bad key]"), "{}", err.message);

    // Deleting the namespace deletes its content, then the namespace itself.
    nss.delete("team-a", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        srv.object("v1", "secrets", Some("team-a"), "creds")
            .is_none()
    );
    assert!(srv.object("v1", "namespaces", None, "team-a").is_none());
}

#[tokio::test]
async fn owner_references_are_garbage_collected() {
    use kube::Resource;
    let srv = server();
    let client = srv.client();
    let api = widgets(&client);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    for (owner, child) in [("o1", "s1"), ("o2", "s2")] {
        let w = api
            .create(&PostParams::default(), &widget(owner, "owner"))
            .await
            .unwrap();
        let mut s = Secret::default();
        s.metadata.name = Some(child.into());
        s.metadata.owner_references = Some(vec![w.controller_owner_ref(&()).unwrap()]);
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    api.delete("o1", &DeleteParams::background()).await.unwrap();
    assert!(
        srv.object("v1", "secrets", Some("default"), "s1").is_none(),
        "dependent collected"
    );
    api.delete("o2", &DeleteParams::orphan()).await.unwrap();
    let kept = secrets.get("s2").await.unwrap();
    assert!(
        kept.metadata.owner_references.is_none(),
        "orphaned dependent loses its owner reference"
    );
}
