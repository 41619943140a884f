//! Create/get/list/delete, field selectors, pagination, routing and the built-in kinds.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;

use super::{WIDGET_AV, api_error, raw_error, server, widget, widgets};

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

    let created2 = api
        .create(&PostParams::default(), &widget("w2", "second"))
        .await
        .unwrap();
    let rv2: u64 = created2.resource_version().unwrap().parse().unwrap();
    assert!(rv2 > rv1, "resourceVersion must increase");

    let got = api.get("w1").await.unwrap();
    assert_eq!(got.spec.name, "first");
    let all = api.list(&ListParams::default()).await.unwrap();
    let names: Vec<_> = all.items.iter().map(|w| w.name_any()).collect();
    assert_eq!(names, ["w1", "w2"]);
    for (sel, want) in [
        ("metadata.name=w1", vec!["w1"]),
        ("metadata.name!=w1", vec!["w2"]),
        ("metadata.namespace==default", vec!["w1", "w2"]),
    ] {
        let l = api.list(&ListParams::default().fields(sel)).await.unwrap();
        let got: Vec<_> = l.items.iter().map(|w| w.name_any()).collect();
        assert_eq!(got, want, "selector {sel}");
    }
    let bad = api_error(
        api.list(&ListParams::default().fields("metadata.name"))
            .await,
    );
    assert_eq!(bad.code, 400, "{}", bad.message);

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
async fn pagination_serves_one_snapshot_until_compaction() {
    let srv = server();
    let api = widgets(&srv.client());
    for i in 0..5 {
        api.create(&PostParams::default(), &widget(&format!("w{i}"), "paged"))
            .await
            .unwrap();
    }
    let page = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("continue token");
    api.create(&PostParams::default(), &widget("late", "paged"))
        .await
        .unwrap();
    let rest = api
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3, "later writes are not in the snapshot");
    assert_eq!(
        rest.metadata.resource_version,
        page.metadata.resource_version
    );
    assert!(rest.metadata.continue_.as_deref().unwrap_or("").is_empty());

    let page = api.list(&ListParams::default().limit(2)).await.unwrap();
    srv.compact();
    let token = page.metadata.continue_.expect("continue token");
    let err = api_error(
        api.list(&ListParams::default().limit(2).continue_token(&token))
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (410, "Expired"));
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

    for path in [
        "/apis/nope.example.com/v1/things",
        "/apis/test.roleplane.dev/v1/namespaces/default/gadgets",
        "/apis/test.roleplane.dev/v2/namespaces/default/widgets",
        "/apis/test.roleplane.dev/v1/widgets/w",
        "/api/v1/configmaps",
    ] {
        let req = http::Request::get(path).body(vec![]).unwrap();
        let err = raw_error(&client, req).await;
        assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"), "{path}");
    }
}

#[tokio::test]
async fn namespaces_and_secrets() {
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

    s.metadata.name = Some("bad".into());
    s.string_data = Some(BTreeMap::from([("bad key".into(), "v".into())]));
    let err = api_error(secrets.create(&PostParams::default(), &s).await);
    assert_eq!(err.code, 422);
    assert!(err.message.contains("data[bad key]"), "{}", err.message);
}
