//! kube-runtime against the double: raw watches, `watcher` (and its relist after 410),
//! `Controller` + `finalizer`, the event `Recorder`, and watch expiry.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::{WIDGET_AV, Widget, server, widget, widgets};

async fn eventually(mut check: impl FnMut() -> bool, what: &str) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn raw_watch_sees_added_modified_deleted_in_order() {
    let srv = server();
    let api = widgets(&srv.client());
    api.create(&PostParams::default(), &widget("pre", "existing"))
        .await
        .unwrap();
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &widget("w", "watched"))
        .await
        .unwrap();
    let patch = json!({"spec": {"replicas": 3}});
    api.patch("w", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    let mut seen = vec![];
    while seen.len() < 3 {
        match stream.try_next().await.unwrap().expect("stream open") {
            WatchEvent::Added(w) => seen.push(("ADDED", w.name_any(), w.spec.replicas)),
            WatchEvent::Modified(w) => seen.push(("MODIFIED", w.name_any(), w.spec.replicas)),
            WatchEvent::Deleted(w) => seen.push(("DELETED", w.name_any(), w.spec.replicas)),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            ("ADDED", "w".to_string(), Some(1)),
            ("MODIFIED", "w".to_string(), Some(3)),
            ("DELETED", "w".to_string(), Some(3)),
        ]
    );
}

#[tokio::test]
async fn runtime_watcher_sees_changes_in_order() {
    let srv = server();
    let api = widgets(&srv.client());
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };
    assert!(matches!(next().await, watcher::Event::Init));
    assert!(matches!(next().await, watcher::Event::InitDone));
    api.create(&PostParams::default(), &widget("w", "watched"))
        .await
        .unwrap();
    match next().await {
        watcher::Event::Apply(w) => assert_eq!(w.spec.replicas, Some(1)),
        other => panic!("expected Apply, got {other:?}"),
    }
    let patch = json!({"spec": {"replicas": 2}});
    api.patch("w", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    match next().await {
        watcher::Event::Apply(w) => assert_eq!(w.spec.replicas, Some(2)),
        other => panic!("expected Apply, got {other:?}"),
    }
    api.delete("w", &DeleteParams::default()).await.unwrap();
    match next().await {
        watcher::Event::Delete(w) => assert_eq!(w.name_any(), "w"),
        other => panic!("expected Delete, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_from_compacted_resource_version_is_expired() {
    let srv = server();
    let api = widgets(&srv.client());
    api.create(&PostParams::default(), &widget("a", "first"))
        .await
        .unwrap();
    let old_rv = api.get("a").await.unwrap().resource_version().unwrap();
    api.create(&PostParams::default(), &widget("b", "second"))
        .await
        .unwrap();
    srv.compact();
    let mut stream = api
        .watch(&WatchParams::default().timeout(5), &old_rv)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410 ERROR event, got {other:?}"),
    }
}

#[tokio::test]
async fn runtime_watcher_relists_after_410() {
    let srv = server();
    let api = widgets(&srv.client());
    api.create(&PostParams::default(), &widget("a", "first"))
        .await
        .unwrap();
    // Short watches without bookmarks: each resumes from the last Widget event seen.
    let config = watcher::Config::default().timeout(1).disable_bookmarks();
    let mut events = watcher(api.clone(), config).boxed();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .unwrap()
            .unwrap()
    };
    assert!(matches!(next().await, Ok(watcher::Event::Init)));
    assert!(matches!(next().await, Ok(watcher::Event::InitApply(_))));
    assert!(matches!(next().await, Ok(watcher::Event::InitDone)));
    // Other writes move the store past that revision; compaction then expires it.
    let secrets: Api<Secret> = Api::namespaced(srv.client(), "default");
    let mut s = Secret::default();
    s.metadata.name = Some("s".into());
    secrets.create(&PostParams::default(), &s).await.unwrap();
    srv.compact();
    match next().await {
        Err(watcher::Error::WatchError(e)) => assert_eq!(e.code, 410),
        other => panic!("expected the 410 watch error, got {other:?}"),
    }
    assert!(matches!(next().await, Ok(watcher::Event::Init)), "relists");
    match next().await {
        Ok(watcher::Event::InitApply(w)) => assert_eq!(w.name_any(), "a"),
        other => panic!("expected InitApply, got {other:?}"),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("reconcile failed: {0}")]
struct ReconcileError(String);

struct Ctx {
    api: Api<Widget>,
    applies: AtomicUsize,
    cleanups: AtomicUsize,
}

async fn reconcile(w: Arc<Widget>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let counters = ctx.clone();
    finalizer(&ctx.api, "roleplane.dev/cleanup", w, |ev| async move {
        let ctx = counters;
        match ev {
            FinalizerEvent::Apply(_) => ctx.applies.fetch_add(1, Ordering::SeqCst),
            FinalizerEvent::Cleanup(_) => ctx.cleanups.fetch_add(1, Ordering::SeqCst),
        };
        Ok::<_, ReconcileError>(Action::await_change())
    })
    .await
    .map_err(|e| ReconcileError(e.to_string()))
}

#[tokio::test]
async fn controller_with_finalizer_cleans_up_before_removal() {
    let srv = server();
    let api = widgets(&srv.client());
    let ctx = Arc::new(Ctx {
        api: api.clone(),
        applies: AtomicUsize::new(0),
        cleanups: AtomicUsize::new(0),
    });
    let controller = Controller::new(api.clone(), watcher::Config::default())
        .run(
            reconcile,
            |_, _, _| Action::requeue(Duration::from_millis(50)),
            ctx.clone(),
        )
        .for_each(|_| async {});
    let handle = tokio::spawn(controller);

    api.create(&PostParams::default(), &widget("w", "guarded"))
        .await
        .unwrap();
    let has_finalizer = || {
        srv.object(WIDGET_AV, "widgets", Some("default"), "w")
            .is_some_and(|o| o["metadata"]["finalizers"] == json!(["roleplane.dev/cleanup"]))
    };
    eventually(has_finalizer, "finalizer added").await;
    eventually(
        || ctx.applies.load(Ordering::SeqCst) >= 1,
        "apply reconcile",
    )
    .await;
    assert_eq!(ctx.cleanups.load(Ordering::SeqCst), 0);

    let pending = api.delete("w", &DeleteParams::default()).await.unwrap();
    assert!(
        pending.is_left(),
        "object with finalizer must stay until cleanup"
    );
    eventually(
        || {
            srv.object(WIDGET_AV, "widgets", Some("default"), "w")
                .is_none()
        },
        "object removed",
    )
    .await;
    assert_eq!(ctx.cleanups.load(Ordering::SeqCst), 1);
    handle.abort();
}

#[tokio::test]
async fn finalizer_blocks_deletion_and_no_new_finalizers_while_deleting() {
    let srv = server();
    let api = widgets(&srv.client());
    let mut w = widget("w", "blocked");
    w.metadata.finalizers = Some(vec!["roleplane.dev/a".into()]);
    api.create(&PostParams::default(), &w).await.unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    let deleting = api.get("w").await.unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(
        deleting.metadata.generation,
        Some(2),
        "deletion bumps generation of custom resources"
    );
    let add = json!({"metadata": {"finalizers": ["roleplane.dev/a", "roleplane.dev/b"]}});
    let err = super::api_error(
        api.patch("w", &PatchParams::default(), &Patch::Merge(&add))
            .await,
    );
    assert_eq!(err.code, 422, "{}", err.message);
    let clear = json!({"metadata": {"finalizers": null}});
    api.patch("w", &PatchParams::default(), &Patch::Merge(&clear))
        .await
        .unwrap();
    assert!(
        srv.object(WIDGET_AV, "widgets", Some("default"), "w")
            .is_none()
    );
}

#[tokio::test]
async fn recorder_publishes_twice_create_then_patch() {
    let srv = server();
    let client = srv.client();
    let api = widgets(&client);
    let w = api
        .create(&PostParams::default(), &widget("w", "evented"))
        .await
        .unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "roleplane".into(),
            instance: None,
        },
    );
    let ev = Event {
        type_: EventType::Normal,
        reason: "Synced".into(),
        note: Some("all good".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = w.object_ref(&());
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let events: Api<K8sEvent> = Api::namespaced(client, "default");
    let list = events.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let e = &list.items[0];
    assert_eq!(e.series.as_ref().map(|s| s.count), Some(2));
    assert_eq!(
        e.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("w")
    );
    let methods: Vec<_> = srv
        .requests()
        .into_iter()
        .filter(|r| {
            r.method != "GET"
                && r.path
                    .starts_with("/apis/events.k8s.io/v1/namespaces/default/events")
        })
        .map(|r| (r.method, r.status))
        .collect();
    assert_eq!(
        methods,
        [
            ("POST".to_string(), Some(201)),
            ("PATCH".to_string(), Some(200))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_over_loopback_http_to_a_client_built_from_a_kubeconfig() {
    let server = super::server();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback");
    let url = server.listen(listener).expect("listening");
    let kubeconfig: kube::config::Kubeconfig =
        serde_yaml_ng::from_str(&kube_double::ApiServer::kubeconfig(&url)).expect("a kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("a client config");
    let client = kube::Client::try_from(config).expect("a client");
    let api = super::widgets(&client);
    api.create(&Default::default(), &super::widget("w1", "first"))
        .await
        .expect("created over HTTP");
    let mut watch = kube::runtime::watcher(api.clone(), Default::default()).boxed();
    let first = watch.try_next().await.expect("a watch event");
    assert!(first.is_some());
    assert_eq!(api.get("w1").await.expect("read back").spec.name, "first");
    assert!(server.requests().iter().any(|r| r.method == "POST"));
}
