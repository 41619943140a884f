//! WATCH: newline-delimited JSON events streamed from the double. Starts with synthetic
//! ADDED events (no/zero resourceVersion), or replays the history after the given
//! resourceVersion (410 Expired as an ERROR event when it was compacted away); then follows
//! live changes until `timeoutSeconds`, with BOOKMARKs when allowed.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;

use super::read::{FieldSelector, select};
use super::routing::{Query, Route};
use super::status::ApiError;
use super::store::{State, Watcher, render, to_partial};

pub type RespBody = UnsyncBoxBody<Bytes, Infallible>;

/// How often an idle watch with `allowWatchBookmarks` gets a BOOKMARK (kube-apiserver: ~1m).
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

struct Stream {
    pending: VecDeque<Value>,
    rx: UnboundedReceiver<Value>,
    deadline: Instant,
    next_bookmark: Instant,
    bookmarks: bool,
    bookmark_obj: Value,
    state: Arc<Mutex<State>>,
    done: bool,
}

impl Stream {
    /// Drains what is queued and appends a bookmark at the current resourceVersion.
    fn bookmark(&mut self) {
        let st = self.state.lock().expect("state lock");
        while let Ok(v) = self.rx.try_recv() {
            self.pending.push_back(v);
        }
        if self.bookmarks {
            let mut obj = self.bookmark_obj.clone();
            obj["metadata"]["resourceVersion"] = Value::from(st.rv.to_string());
            self.pending
                .push_back(json!({"type": "BOOKMARK", "object": obj}));
        }
    }

    async fn next(mut self) -> Option<(Result<Frame<Bytes>, Infallible>, Self)> {
        loop {
            if let Some(v) = self.pending.pop_front() {
                let mut line = serde_json::to_vec(&v).expect("event serializes");
                line.push(b'\n');
                return Some((Ok(Frame::data(Bytes::from(line))), self));
            }
            if self.done {
                return None;
            }
            let wake = self.deadline.min(self.next_bookmark);
            match tokio::time::timeout_at(wake, self.rx.recv()).await {
                Ok(Some(v)) => self.pending.push_back(v),
                Ok(None) => return None,
                Err(_) if Instant::now() >= self.deadline => {
                    self.bookmark();
                    self.done = true;
                }
                Err(_) => {
                    self.bookmark();
                    self.next_bookmark = Instant::now() + BOOKMARK_EVERY;
                }
            }
        }
    }
}

/// Registers a watcher and returns the streaming body.
pub fn watch(
    state: &Arc<Mutex<State>>,
    route: &Route,
    q: &Query,
    meta_only: bool,
) -> Result<RespBody, ApiError> {
    let mut st = state.lock().expect("state lock");
    let fields = FieldSelector::parse(q)?;
    let rt = st.rt(route.ty).clone();
    let bookmarks = q.flag("allowWatchBookmarks");
    let rv = q.get("resourceVersion").unwrap_or("");
    let timeout = match q.get("timeoutSeconds") {
        Some(t) => t
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t}")))?,
        None => 1800,
    };
    let mut bookmark_obj = json!({"apiVersion": rt.api_version(), "kind": rt.kind,
                                  "metadata": {"resourceVersion": ""}});
    if meta_only {
        bookmark_obj = to_partial(&bookmark_obj);
    }
    let (tx, rx) = unbounded_channel();
    let watcher = Watcher {
        ty: route.ty,
        namespace: route.namespace.clone(),
        fields: fields.clone(),
        meta_only,
        tx,
    };
    let mut pending = VecDeque::new();
    if rv.is_empty() || rv == "0" {
        for key in select(&st, route, &fields) {
            let s = &st.objects[route.ty][&key];
            let mut obj = render(&rt, &s.obj, Some(&s.managed));
            if meta_only {
                obj = to_partial(&obj);
            }
            pending.push_back(json!({"type": "ADDED", "object": obj}));
        }
    } else {
        let n: u64 = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
        if n + 1 < st.oldest_rv {
            let err = ApiError::expired(format!(
                "too old resource version: {n} ({})",
                st.oldest_rv - 1
            ));
            let event = json!({"type": "ERROR", "object": err.to_status()});
            let mut line = serde_json::to_vec(&event).expect("event serializes");
            line.push(b'\n');
            return Ok(Full::new(Bytes::from(line)).boxed_unsync());
        }
        for ev in st.history.iter().filter(|e| e.rv > n) {
            if let Some(line) = watcher.line(ev) {
                pending.push_back(line);
            }
        }
    }
    st.watchers.push(watcher);
    drop(st);
    let stream = Stream {
        pending,
        rx,
        deadline: Instant::now() + Duration::from_secs(timeout),
        next_bookmark: Instant::now() + BOOKMARK_EVERY,
        bookmarks,
        bookmark_obj,
        state: state.clone(),
        done: false,
    };
    Ok(StreamBody::new(futures::stream::unfold(stream, Stream::next)).boxed_unsync())
}
