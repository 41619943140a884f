//! Watch details: metadata-only watches of Secrets (all, or one by name), bookmarks.

use std::time::Duration;

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::widgets;

async fn apply_secret(api: &Api<Secret>, name: &str, value: &str) -> Secret {
    let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                      "stringData": {"token": value}});
    api.patch(name, &PatchParams::apply("test"), &Patch::Apply(&body))
        .await
        .unwrap()
}

/// The next watcher event (within 5 s).
async fn next<K>(
    events: &mut (impl Stream<Item = watcher::Result<watcher::Event<K>>> + Unpin),
) -> watcher::Event<K> {
    let next = tokio::time::timeout(Duration::from_secs(5), events.try_next());
    next.await.unwrap().unwrap().expect("stream open")
}

fn applied<K: std::fmt::Debug>(event: watcher::Event<K>) -> K {
    match event {
        watcher::Event::Apply(k) | watcher::Event::InitApply(k) => k,
        other => panic!("expected Apply or InitApply, got {other:?}"),
    }
}

#[tokio::test]
async fn metadata_watch_of_all_secrets() {
    let srv = super::server();
    let client = srv.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}});
    let apply = PatchParams::apply("test");
    namespaces
        .patch("team-a", &apply, &Patch::Apply(&ns))
        .await
        .unwrap();
    let in_default: Api<Secret> = Api::namespaced(client.clone(), "default");
    let in_team: Api<Secret> = Api::namespaced(client.clone(), "team-a");
    apply_secret(&in_default, "a", "one").await;
    apply_secret(&in_team, "b", "one").await;

    let all: Api<PartialObjectMeta<Secret>> = Api::all(client.clone());
    let mut events = watcher(all, watcher::Config::default()).boxed();
    assert!(matches!(next(&mut events).await, watcher::Event::Init));
    let listed = [next(&mut events).await, next(&mut events).await].map(applied);
    let names = listed.map(|m| (m.namespace().unwrap(), m.name_any()));
    assert_eq!(
        names,
        [
            ("default".into(), "a".into()),
            ("team-a".into(), "b".into())
        ]
    );
    assert!(matches!(next(&mut events).await, watcher::Event::InitDone));
    let rotated = apply_secret(&in_team, "b", "two").await;
    let seen = applied(next(&mut events).await);
    assert_eq!(seen.name_any(), "b");
    assert_eq!(seen.resource_version(), rotated.resource_version());

    // Metadata only: the Secret's data never leaves the server on these requests.
    let req = http::Request::get("/api/v1/secrets")
        .header(
            "accept",
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        )
        .body(vec![])
        .unwrap();
    let list: serde_json::Value = client.request(req).await.unwrap();
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    for item in list["items"].as_array().unwrap() {
        assert_eq!(item["kind"], "PartialObjectMetadata");
        assert!(item.get("data").is_none(), "{item}");
    }
}

#[tokio::test]
async fn metadata_watch_of_one_secret_by_name() {
    let srv = super::server();
    let api: Api<Secret> = Api::namespaced(srv.client(), "default");
    apply_secret(&api, "creds", "one").await;
    apply_secret(&api, "other", "one").await;
    let config = watcher::Config::default().fields("metadata.name=creds");
    let metadata: Api<PartialObjectMeta<Secret>> = Api::namespaced(srv.client(), "default");
    let mut events = watcher(metadata, config).boxed();
    assert!(matches!(next(&mut events).await, watcher::Event::Init));
    assert_eq!(applied(next(&mut events).await).name_any(), "creds");
    assert!(matches!(next(&mut events).await, watcher::Event::InitDone));
    apply_secret(&api, "other", "two").await;
    let rotated = apply_secret(&api, "creds", "two").await;
    let seen = applied(next(&mut events).await);
    assert_eq!(seen.name_any(), "creds", "other Secrets are not seen");
    assert_eq!(seen.resource_version(), rotated.resource_version());
}

#[tokio::test]
async fn watch_ends_with_bookmark_at_timeout() {
    let srv = super::server();
    let api = widgets(&srv.client());
    let listed = api.list(&ListParams::default()).await.unwrap();
    let rv = listed.metadata.resource_version.unwrap();
    let wp = WatchParams::default().timeout(1);
    let events: Vec<_> = api
        .watch(&wp, &rv)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    match &events[0] {
        WatchEvent::Bookmark(b) => assert_eq!(b.metadata.resource_version, rv),
        other => panic!("expected bookmark, got {other:?}"),
    }
}
