//! Watch details: streaming lists, metadata-only watches, selector transitions, bookmarks.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::Api;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher;
use serde_json::json;

use super::{Widget, server, widget, widgets};

#[tokio::test]
async fn streaming_list_and_metadata_watchers() {
    let srv = server();
    let api = widgets(&srv.client());
    api.create(&PostParams::default(), &widget("a", "first"))
        .await
        .unwrap();
    let mut stream = watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut kinds = vec![];
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match ev {
            watcher::Event::Init => kinds.push("Init".to_string()),
            watcher::Event::InitApply(w) => kinds.push(format!("InitApply:{}", w.name_any())),
            watcher::Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, ["Init", "InitApply:a"]);
    assert!(
        srv.requests()
            .iter()
            .any(|r| r.path.contains("sendInitialEvents=true"))
    );

    let meta_api: Api<PartialObjectMeta<Widget>> = Api::namespaced(srv.client(), "default");
    let mut meta = watcher(meta_api, watcher::Config::default()).boxed();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(5), meta.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let watcher::Event::InitApply(m) = &ev {
            assert_eq!(m.name_any(), "a");
            assert!(m.metadata.uid.is_some());
        }
        if matches!(ev, watcher::Event::InitDone) {
            break;
        }
    }
    assert!(
        srv.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("watch=true"))
    );
}

#[tokio::test]
async fn label_selector_watch_sees_objects_enter_and_leave() {
    let srv = server();
    let api = widgets(&srv.client());
    api.create(&PostParams::default(), &widget("w", "labels"))
        .await
        .unwrap();
    let rv = srv.resource_version().to_string();
    let wp = WatchParams::default().labels("team=a").timeout(5);
    let mut stream = api.watch(&wp, &rv).await.unwrap().boxed();
    let label = |v: serde_json::Value| json!({"metadata": {"labels": {"team": v}}});
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(label(json!("a"))),
    )
    .await
    .unwrap();
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(label(json!("b"))),
    )
    .await
    .unwrap();
    let mut seen = vec![];
    while seen.len() < 2 {
        match stream.try_next().await.unwrap().expect("open") {
            WatchEvent::Added(w) => seen.push(format!("ADDED:{}", w.labels()["team"])),
            WatchEvent::Modified(w) => seen.push(format!("MODIFIED:{}", w.labels()["team"])),
            WatchEvent::Deleted(w) => seen.push(format!("DELETED:{}", w.labels()["team"])),
            _ => {}
        }
    }
    assert_eq!(seen, ["ADDED:a", "DELETED:b"]);
}

#[tokio::test]
async fn watch_ends_with_bookmark_at_timeout() {
    let srv = server();
    let api = widgets(&srv.client());
    let rv = srv.resource_version().to_string();
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
