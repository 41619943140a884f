//! Watch details: metadata-only watches of one Secret by name, bookmarks.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
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

#[tokio::test]
async fn metadata_watch_of_one_secret_by_name() {
    let srv = super::server();
    let api: Api<Secret> = Api::namespaced(srv.client(), "default");
    apply_secret(&api, "creds", "one").await;
    apply_secret(&api, "other", "one").await;
    let config = watcher::Config::default().fields("metadata.name=creds");
    let metadata: Api<PartialObjectMeta<Secret>> = Api::namespaced(srv.client(), "default");
    let mut events = watcher(metadata, config).boxed();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };
    assert!(matches!(next().await, watcher::Event::Init));
    let first = match next().await {
        watcher::Event::InitApply(m) => m,
        other => panic!("expected InitApply, got {other:?}"),
    };
    assert_eq!(first.name_any(), "creds");
    assert!(first.metadata.uid.is_some());
    assert!(matches!(next().await, watcher::Event::InitDone));

    apply_secret(&api, "other", "two").await;
    let rotated = apply_secret(&api, "creds", "two").await;
    match next().await {
        watcher::Event::Apply(m) => {
            assert_eq!(m.name_any(), "creds", "other Secrets are not seen");
            assert_eq!(m.resource_version(), rotated.resource_version());
        }
        other => panic!("expected Apply, got {other:?}"),
    }
    let requests = srv.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path.contains("watch=true") && r.path.contains("fieldSelector")),
        "{requests:?}"
    );
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
