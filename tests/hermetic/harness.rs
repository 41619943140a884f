//! One hermetic environment per test: the Kubernetes API double, the product simulators on
//! loopback, and the real controllers running against both. (The fault suite can also connect
//! an environment to another API server through a client: `Env::connect`.)

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use roleplane::controller::{Context, ControllerConfig};
use roleplane::crd::{ConditionStatus, Managed, ManagedStatus, ProviderConfig, ProviderKind, Role};
use roleplane::metrics::Metrics;
use roleplane::providers::http::{Http, HttpConfig};
use roleplane::providers::{Providers, SimArgs, Simulator};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use kube_double::ApiServer;

pub const NS: &str = "team-a";
pub const STATSIG_KEY: &str = "console-sim-key";
/// Ceiling for waits; generous because CI runs every scenario at once on two cores.
pub const WAIT: Duration = Duration::from_secs(60);
/// A poll interval no test outlives: only events bring a resource to be reconciled.
pub const NEVER: Duration = Duration::from_secs(3600);

pub struct Env {
    pub api: Double,
    pub client: Client,
    pub sim: Simulator,
    /// `http://127.0.0.1:PORT` of the simulators.
    pub sim_base: String,
    pub ctx: Arc<Context>,
    config: ControllerConfig,
    http: HttpConfig,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Env {
    /// Starts everything with a 2 s drift poll.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut ControllerConfig)) -> Self {
        Self::start_with_crds(roleplane::crd::all(), tune).await
    }

    /// Starts with other CRDs than this release's (e.g. to simulate a schema version skew).
    pub async fn start_with_crds(
        crds: Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>,
        tune: impl FnOnce(&mut ControllerConfig),
    ) -> Self {
        Self::start_custom(crds, Default::default(), test_http(), tune).await
    }

    /// Starts with simulators accepting `sim`'s credentials and product clients configured by
    /// `http` (the fault suite: real budgets, short timeouts).
    pub async fn start_custom(
        crds: Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>,
        sim: SimArgs,
        http: HttpConfig,
        tune: impl FnOnce(&mut ControllerConfig),
    ) -> Self {
        let api = ApiServer::new(crds);
        let client = api.client();
        Self::assemble(Double(Some(api)), client, sim, http, tune).await
    }

    /// Like [`Env::start_custom`], against the API server `client` talks to (the fault suite's
    /// cluster mode: a real cluster, or the double over loopback through a kubeconfig). Such an
    /// environment has no [`Env::api`]; CRDs are the caller's business.
    #[allow(dead_code)] // tests/faults only
    pub async fn connect(
        client: Client,
        sim: SimArgs,
        http: HttpConfig,
        tune: impl FnOnce(&mut ControllerConfig),
    ) -> Self {
        Self::assemble(Double(None), client, sim, http, tune).await
    }

    async fn assemble(
        api: Double,
        client: Client,
        sim: SimArgs,
        http: HttpConfig,
        tune: impl FnOnce(&mut ControllerConfig),
    ) -> Self {
        let (sim, sim_base) = Simulator::start(sim).await.expect("simulator starts");
        let mut config = ControllerConfig {
            poll_interval: Duration::from_secs(2),
            ..Default::default()
        };
        tune(&mut config);
        let ctx = context(&client, &config, &http);
        let mut env = Self {
            api,
            client,
            sim,
            sim_base,
            ctx,
            config,
            http,
            stop: None,
            task: None,
        };
        env.start_controllers();
        env
    }

    fn start_controllers(&mut self) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let ctx = self.ctx.clone();
        self.task = Some(tokio::spawn(roleplane::controller::run(ctx, async move {
            let _ = rx.await;
        })));
        self.stop = Some(tx);
    }

    /// Stops the controllers (as a crash would, between reconciles).
    pub async fn stop_controllers(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }

    /// A new operator process: fresh context (caches, budgets, failure counts), same cluster and products.
    pub async fn restart(&mut self) {
        self.stop_controllers().await;
        self.ctx = context(&self.client, &self.config, &self.http);
        self.start_controllers();
    }

    pub fn endpoint(&self, product: &str) -> String {
        format!("{}/{product}", self.sim_base)
    }

    pub async fn secret(&self, ns: &str, name: &str, data: &[(&str, &str)]) {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let string_data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let body = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": ns},
            "stringData": string_data,
        });
        api.patch(
            name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&body),
        )
        .await
        .expect("secret applied");
    }

    /// A ProviderConfig named `name` for `provider` using Secret `secret`, at the simulator.
    pub async fn provider_config(
        &self,
        ns: &str,
        name: &str,
        provider: &str,
        secret: &str,
        extra: Value,
    ) {
        let mut spec = json!({
            "provider": provider,
            "credentialsSecretRef": {"name": secret},
            "endpoint": self.endpoint(provider),
        });
        merge(&mut spec, extra);
        self.apply::<ProviderConfig>(ns, json!({"metadata": {"name": name}, "spec": spec}))
            .await;
    }

    /// Statsig Secret + ProviderConfig `statsig` in `ns`.
    pub async fn statsig_account(&self, ns: &str) {
        self.secret(ns, "statsig-creds", &[("apiKey", STATSIG_KEY)])
            .await;
        self.provider_config(ns, "statsig", "statsig", "statsig-creds", json!({}))
            .await;
    }

    /// Server-side applies `body` (apiVersion/kind filled in) as the test's field manager.
    pub async fn apply<K>(&self, ns: &str, mut body: Value) -> K
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        body["apiVersion"] = K::api_version(&()).into();
        body["kind"] = K::kind(&()).into();
        body["metadata"]["namespace"] = ns.into();
        let name = body["metadata"]["name"].as_str().expect("name").to_string();
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        api.patch(
            &name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&body),
        )
        .await
        .expect("applied")
    }

    /// Tries to create a Role; the API server may refuse it (schema or CEL rules).
    pub async fn try_role(&self, ns: &str, name: &str, spec: Value) -> Result<Role, kube::Error> {
        let api: Api<Role> = Api::namespaced(self.client.clone(), ns);
        let role: Role = serde_json::from_value(json!({
            "apiVersion": "roleplane.dev/v1alpha1", "kind": "Role",
            "metadata": {"name": name, "namespace": ns},
            "spec": spec,
        }))
        .expect("valid Role");
        api.create(&PostParams::default(), &role).await
    }

    /// Creates a Role from its spec.
    pub async fn role(&self, ns: &str, name: &str, spec: Value) -> Role {
        let api: Api<Role> = Api::namespaced(self.client.clone(), ns);
        let role: Role = serde_json::from_value(json!({
            "apiVersion": "roleplane.dev/v1alpha1", "kind": "Role",
            "metadata": {"name": name, "namespace": ns},
            "spec": spec,
        }))
        .expect("valid Role");
        api.create(&PostParams::default(), &role)
            .await
            .expect("role created")
    }

    /// Merge-patches a resource's spec (as a user editing the manifest would).
    pub async fn patch_spec<K>(&self, ns: &str, name: &str, spec: Value)
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": spec})),
        )
        .await
        .expect("patched");
    }

    pub async fn delete<K>(&self, ns: &str, name: &str)
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        api.delete(name, &DeleteParams::default())
            .await
            .expect("delete accepted");
    }

    pub async fn get<K>(&self, ns: &str, name: &str) -> Option<K>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        api.get_opt(name).await.expect("get")
    }

    /// Waits until the Role's status satisfies `check`, panicking with the last status on timeout.
    pub async fn wait_role(
        &self,
        ns: &str,
        name: &str,
        what: &str,
        check: impl Fn(&ManagedStatus) -> bool,
    ) -> Role {
        self.wait_managed::<Role>(ns, name, what, |r| r.status.as_ref().is_some_and(&check))
            .await
    }

    pub async fn wait_managed<K>(
        &self,
        ns: &str,
        name: &str,
        what: &str,
        check: impl Fn(&K) -> bool,
    ) -> K
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let current = self.get::<K>(ns, name).await;
            if let Some(obj) = &current
                && check(obj)
            {
                return obj.clone();
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for {what} on {ns}/{name}; last seen: {current:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `ns/name` of kind K no longer exists.
    pub async fn wait_gone<K>(&self, ns: &str, name: &str)
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.get::<K>(ns, name).await.is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{ns}/{name} was not deleted in time"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets an annotation on a Role or PermissionGroup, which makes the controller reconcile it
    /// (as a poll would) without changing its spec.
    pub async fn poke<K>(&self, ns: &str, name: &str, value: &str)
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        let patch = json!({"metadata": {"annotations": {"test.roleplane.dev/poke": value}}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .expect("poked");
    }

    /// Writes (every non-GET call) the product saw, as `METHOD path`.
    pub fn mutations(&self, product: ProviderKind) -> Vec<String> {
        self.sim
            .traffic(product)
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// Events about `name` in `ns`: (type, reason, note).
    pub async fn events(&self, ns: &str, name: &str) -> Vec<(String, String, String)> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), ns);
        api.list(&ListParams::default())
            .await
            .expect("events listed")
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|e| {
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Waits for an Event with `reason` on `name` and returns its note.
    pub async fn wait_event(&self, ns: &str, name: &str, reason: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let events = self.events(ns, name).await;
            if let Some((_, _, note)) = events.iter().find(|(_, r, _)| r == reason) {
                return note.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {reason} event on {ns}/{name}; events: {events:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The API server double of an environment: every environment has one, but those connected to
/// another API server ([`Env::connect`]); using it there is a test bug, and panics saying so.
pub struct Double(Option<ApiServer>);

impl std::ops::Deref for Double {
    type Target = ApiServer;

    fn deref(&self) -> &ApiServer {
        self.0
            .as_ref()
            .expect("this environment is connected to another API server than the double")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The product clients' settings tests want: a generous rate budget and short timeouts.
pub fn test_http() -> HttpConfig {
    HttpConfig {
        requests_per_second: Some(200.try_into().expect("non-zero")),
        timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

/// The product clients with [`test_http`]'s settings.
pub fn test_providers() -> Providers {
    Providers::new(Http::new(test_http(), Metrics::new()))
}

fn context(client: &Client, config: &ControllerConfig, http: &HttpConfig) -> Arc<Context> {
    Context::new(
        client.clone(),
        Providers::new(Http::new(http.clone(), Metrics::new())),
        config.clone(),
    )
}

fn merge(base: &mut Value, extra: Value) {
    if let (Value::Object(b), Value::Object(e)) = (base, extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

/// The condition `type_` of a status, as (status, reason, message).
pub fn condition(status: &ManagedStatus, type_: &str) -> Option<(ConditionStatus, String, String)> {
    status
        .conditions
        .iter()
        .find(|c| c.r#type == type_)
        .map(|c| (c.status, c.reason.clone(), c.message.clone()))
}

/// The `Synced` message of a Role or PermissionGroup (which must have a status).
pub fn synced_message<K: Managed>(obj: &K) -> String {
    condition(obj.managed_status().expect("status"), "Synced")
        .expect("Synced")
        .2
}

pub fn is_ready(status: &ManagedStatus) -> bool {
    matches!(
        condition(status, "Ready"),
        Some((ConditionStatus::True, _, _))
    )
}

/// Synced=False with this reason.
pub fn failed_with(reason: &'static str) -> impl Fn(&ManagedStatus) -> bool {
    move |s| matches!(condition(s, "Synced"), Some((ConditionStatus::False, r, _)) if r == reason)
}

/// The ValidatingAdmissionPolicy `name` as `deploy/roleplane.yaml` ships it.
pub fn shipped_admission_policy(name: &str) -> Value {
    use serde::Deserialize;
    let rendered = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/roleplane.yaml"
    ))
    .expect("deploy/roleplane.yaml");
    serde_yaml_ng::Deserializer::from_str(&rendered)
        .map(|doc| Value::deserialize(doc).expect("yaml"))
        .find(|d| d["kind"] == "ValidatingAdmissionPolicy" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("deploy/ ships the admission policy {name}"))
}
