//! In-process, stateful and strict Kubernetes API server test double.
//!
//! `ApiServer::client()` gives a real `kube::Client` whose requests are answered in-process
//! (a `tower` service, no TCP) with kube-apiserver semantics, so kube-runtime's `Controller`,
//! `watcher`, `finalizer()` and `Recorder` run unmodified. It must never accept what a real
//! server would reject: failures carry kube-apiserver's status code and `Status` body.
//!
//! It serves only what Roleplane and its tests use, and does not grow with the products:
//! core/v1 namespaces and secrets, events.k8s.io/v1 events, coordination.k8s.io/v1 leases,
//! apiextensions.k8s.io/v1 CustomResourceDefinitions, and the custom resources of the CRDs
//! given to `new` or created through the API (one served version each; their schemas are
//! pruned, defaulted and validated, `x-kubernetes-validations` CEL rules run through kube-cel,
//! transition rules on updates; no ratcheting is needed, as a CRD's spec cannot change, and
//! rules that see only parts an update leaves unchanged are not evaluated again). A CRD is `Established` as soon as it is
//! stored; deleting one deletes its custom resources (finalizers honoured) and then it; its
//! spec cannot be changed (501). Other kinds and the discovery documents answer 404.
//! Verbs: get; list (`limit`/`continue`) and watch (resourceVersion replay, bookmarks, 410
//! Expired from before `compact()`), both with `metadata.name`/`metadata.namespace` field
//! selectors and `PartialObjectMetadata` responses; create; update (PUT; it creates leases and
//! events like the real server); patch (JSON merge, JSON patch, server-side apply with field
//! ownership, also on `/status`); delete (finalizers: removal when the last one goes;
//! deleting a namespace makes it `Terminating`, refuses new content in it, deletes its content
//! and removes it once empty, as the namespace controller does).
//!
//! What it leaves out is answered `501 NotImplemented` naming it, so that a test cannot pass
//! against a server more forgiving than kube-apiserver: other query parameters (label
//! selectors, `resourceVersion` on lists, `sendInitialEvents`, `dryRun`, `fieldValidation`...),
//! a watch without resourceVersion (from the current state), DeleteOptions, deletecollection,
//! `generateName`, `ownerReferences` (there is no garbage collector),
//! strategic merge patch of built-in kinds, Secrets other than Opaque or immutable, `Accept`
//! forms other than `PartialObjectMetadata`. A CRD the double cannot enforce (several served
//! versions, no schema, the scale subresource, a schema keyword `schema.rs` does not
//! implement) makes `new` panic. Unknown fields are pruned without the `Warning` headers.
//!
//! Known gaps (documented so tests do not rely on them): namespaces need not exist for
//! namespaced writes (no NamespaceLifecycle admission); admission webhooks, RBAC and quotas do
//! not exist; lists are atomic for server-side apply (no `x-kubernetes-list-type: map`
//! merging); events.k8s.io/v1 events are not visible as core/v1 events.

mod builtin;
mod delete;
mod managed;
mod meta;
mod read;
mod registry;
mod routing;
mod schema;
mod select;
mod status;
mod store;
mod validate;
mod verbs;
mod watch;
mod write;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body_util::{BodyExt, Full};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

pub use status::ApiError;
pub use store::RecordedRequest;

use registry::ResourceType;
use routing::{Query, Route};
use store::{State, to_partial};
use watch::RespBody;
use write::Writer;

/// The API server double. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct ApiServer {
    state: Arc<Mutex<State>>,
}

impl ApiServer {
    /// Empty server knowing the built-in kinds plus these CRDs; panics on a CRD using what
    /// the double does not enforce.
    pub fn new(crds: Vec<CustomResourceDefinition>) -> Self {
        let mut st = State::new(registry::Registry::new());
        let ty = st
            .registry
            .builtin(registry::Builtin::CustomResourceDefinition);
        let route = Route {
            ty,
            namespace: None,
            name: None,
            status: false,
        };
        let query = Query::parse(None);
        for crd in crds {
            // Panics on what the double cannot enforce; then stored (Established) as if applied.
            registry::from_crd(&crd);
            let name = crd.metadata.name.clone().unwrap_or_default();
            let mut w = Writer {
                st: &mut st,
                route: &route,
                query: &query,
                manager: "kube-double".into(),
            };
            let body = serde_json::to_value(&crd).expect("CRD serializes");
            if let Err(e) = w.create(body, None) {
                panic!("CRD {name} refused: {}", e.to_status());
            }
        }
        Self {
            state: Arc::new(Mutex::new(st)),
        }
    }

    /// A `kube::Client` served in-process by this double (default namespace "default").
    /// Must be called inside a tokio runtime (kube spawns its request buffer there).
    pub fn client(&self) -> kube::Client {
        let server = self.clone();
        let service = tower::service_fn(move |req: Request<kube::client::Body>| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(server.serve(req).await) }
        });
        kube::Client::new(service, "default")
    }

    /// Raw stored object (as served at `api_version`, with managedFields), or None if absent.
    pub fn object(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let st = self.state.lock().expect("state lock");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let ty = st.registry.find(group, version, plural)?;
        let key = (namespace.unwrap_or("").to_string(), name.to_string());
        let s = st.objects[ty].get(&key)?;
        Some(store::render(st.rt(ty), &s.obj, Some(&s.managed)))
    }

    /// Every request served so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().expect("state lock").requests.clone()
    }

    /// Drops the watch history and list snapshots (like etcd compaction): resuming a watch from
    /// an older resourceVersion, or a list from a `continue` token, then gets `410 Expired`.
    pub fn compact(&self) {
        self.state.lock().expect("state lock").compact();
    }

    /// Serves the double over HTTP on `listener` (loopback), for a client in another process,
    /// e.g. the `roleplane` binary run by a fault suite or a benchmark. Returns the server URL.
    pub fn listen(&self, listener: tokio::net::TcpListener) -> std::io::Result<String> {
        let url = format!("http://{}", listener.local_addr()?);
        let server = self.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let server = server.clone();
            async move { server.serve(req).await.map(axum::body::Body::new) }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(url)
    }

    /// A kubeconfig for [`ApiServer::listen`]'s URL (no authentication: the double has none).
    pub fn kubeconfig(url: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: double\n\
             clusters: [{{name: double, cluster: {{server: \"{url}\"}}}}]\n\
             users: [{{name: double, user: {{}}}}]\n\
             contexts: [{{name: double, context: {{cluster: double, user: double, namespace: default}}}}]\n"
        )
    }

    async fn serve<B>(&self, req: Request<B>) -> Response<RespBody>
    where
        B: http_body::Body,
        B::Error: std::fmt::Display,
    {
        let (parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let idx = {
            let mut st = self.state.lock().expect("state lock");
            st.requests.push(RecordedRequest {
                method: parts.method.to_string(),
                path: path.clone(),
                status: None,
            });
            st.requests.len() - 1
        };
        let bytes = match body.collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) => Bytes::from(e.to_string()),
        };
        let resp = self.dispatch(&parts, &bytes);
        let code = resp.status().as_u16();
        self.state.lock().expect("state lock").requests[idx].status = Some(code);
        resp
    }

    fn dispatch(&self, parts: &http::request::Parts, body: &[u8]) -> Response<RespBody> {
        self.try_dispatch(parts, body)
            .unwrap_or_else(|e| json_response(e.code, &e.to_status()))
    }

    fn try_dispatch(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Response<RespBody>, ApiError> {
        let header = |h: header::HeaderName| {
            let value = parts.headers.get(h).and_then(|v| v.to_str().ok());
            value.unwrap_or("").to_string()
        };
        let accept = header(header::ACCEPT);
        let meta_only = accept.contains("as=PartialObjectMetadata");
        if accept.contains("as=") && !meta_only {
            return Err(ApiError::unsupported(format!("Accept: {accept}")));
        }
        let query = Query::parse(parts.uri.query());
        let mut st = self.state.lock().expect("state lock");
        let route = routing::route(&st.registry, parts.uri.path())?;
        let verb = verb(&parts.method, &route, &query, st.rt(route.ty))?;
        let implemented = PARAMETERS.iter().find(|(v, _)| *v == verb);
        query.only(verb, implemented.map_or(&[], |(_, p)| *p))?;
        if verb == "watch" {
            drop(st);
            let body = watch::watch(&self.state, &route, &query, meta_only)?;
            let response = Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
            return Ok(response.expect("response"));
        }
        // Like kube-apiserver: the field manager defaults to the user agent's program name.
        let manager = match query.get("fieldManager") {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => header(header::USER_AGENT)
                .split('/')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string(),
        };
        let mut w = Writer {
            st: &mut st,
            route: &route,
            query: &query,
            manager,
        };
        let (code, mut v) = match verb {
            "get" => read::get(w.st, &route)?,
            "list" => read::list(w.st, &route, &query, meta_only)?,
            "create" => w.create(verbs::parse_json(body)?, None)?,
            "update" => w.put(body)?,
            "patch" => w.patch(&header(header::CONTENT_TYPE), body)?,
            _ => w.delete(body)?,
        };
        let kind = v["kind"].as_str().unwrap_or("");
        if meta_only && kind != "Status" && !kind.ends_with("List") {
            v = to_partial(&v);
        }
        Ok(json_response(code, &v))
    }
}

/// Query parameters the double implements, per verb; any other is answered 501.
const PARAMETERS: &[(&str, &[&str])] = &[
    ("get", &[]),
    ("list", &["limit", "continue", "fieldSelector"]),
    (
        "watch",
        &[
            "watch",
            "resourceVersion",
            "timeoutSeconds",
            "allowWatchBookmarks",
            "fieldSelector",
        ],
    ),
    ("create", &["fieldManager"]),
    ("update", &["fieldManager"]),
    ("patch", &["fieldManager", "force"]),
    ("delete", &[]),
];

/// The verb a request asks for: 405 where kube-apiserver has none, 501 for deletecollection.
fn verb(
    method: &Method,
    route: &Route,
    query: &Query,
    rt: &ResourceType,
) -> Result<&'static str, ApiError> {
    let named = route.name.is_some();
    Ok(match method.as_str() {
        "GET" if !named && query.flag("watch") => "watch",
        "GET" if !named => "list",
        "GET" => "get",
        // Namespaced kinds are created inside a namespace, not on the all-namespaces path.
        "POST" if !named && (route.namespace.is_some() || !rt.namespaced) => "create",
        "PUT" if named => "update",
        "PATCH" if named => "patch",
        "DELETE" if named && !route.status => "delete",
        "DELETE" if !named => return Err(ApiError::unsupported("deletecollection")),
        _ => return Err(ApiError::method_not_allowed()),
    })
}

fn json_response(code: u16, v: &Value) -> Response<RespBody> {
    let b = Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json");
    let bytes = Bytes::from(serde_json::to_vec(v).expect("json"));
    b.body(Full::new(bytes).boxed_unsync()).expect("response")
}
