//! WATCH: newline-delimited JSON events streamed from the double. Replays the history after
//! the given resourceVersion (410 Expired as an ERROR event when it was compacted away), then
//! follows live changes until `timeoutSeconds`, with BOOKMARKs when allowed.

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

use super::routing::{Query, Route};
use super::select::FieldSelector;
use super::status::ApiError;
use super::store::{State, Watcher, to_partial};

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
    let bookmarks = q.flag("allowWatchBookmarks");
    // kube-runtime watches from the resourceVersion of its list; "start from the current
    // state" (no or "0" resourceVersion: synthetic ADDED events) is not implemented.
    let n: u64 = match q.get("resourceVersion").unwrap_or("") {
        "" | "0" => return Err(ApiError::unsupported("a watch without resourceVersion")),
        rv => rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
    };
    if n + 1 < st.oldest_rv {
        let msg = format!("too old resource version: {n} ({})", st.oldest_rv - 1);
        let event = json!({"type": "ERROR", "object": ApiError::expired(msg).to_status()});
        let mut line = serde_json::to_vec(&event).expect("event serializes");
        line.push(b'\n');
        return Ok(Full::new(Bytes::from(line)).boxed_unsync());
    }
    let timeout = match q.get("timeoutSeconds") {
        Some(t) => t
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t}")))?,
        None => 1800,
    };
    let rt = st.rt(route.ty);
    let mut bookmark_obj = json!({"apiVersion": rt.api_version(), "kind": rt.kind,
                                  "metadata": {"resourceVersion": ""}});
    if meta_only {
        bookmark_obj = to_partial(&bookmark_obj);
    }
    let (tx, rx) = unbounded_channel();
    let watcher = Watcher {
        ty: route.ty,
        namespace: route.namespace.clone(),
        fields,
        meta_only,
        tx,
    };
    let history = st.history.iter().filter(|e| e.rv > n);
    let pending = history.filter_map(|ev| watcher.line(ev)).collect();
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
