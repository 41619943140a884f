//! Cluster mode: the suite against the API server of a kubeconfig (a real cluster's, or the
//! double served on loopback for the CI check; nothing here knows which). The operator's CRDs
//! are installed where missing (and only those removed at the end), every scenario gets a
//! namespace of its own, and each namespace is deleted while the scenario's operator still
//! runs, so that its finalizers clean up the simulated products.

use std::ffi::{OsStr, OsString};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use roleplane::crd::{PermissionGroup, ProviderConfig, Role};
use serde_json::json;

#[path = "../../benches/scale/crds.rs"]
mod crds;

/// How long a namespace may take to go before the suite strips its objects' finalizers.
const NAMESPACE_GONE: Duration = Duration::from_secs(60);

pub struct Cluster {
    pub client: Client,
    /// `KUBECONFIG` for the operator processes (the same files the suite's client read).
    pub kubeconfig: OsString,
    /// What the API server is, for the output.
    pub name: String,
    /// `rp-faults-<stamp>`: the prefix of the suite's namespaces.
    prefix: String,
    created_crds: Vec<String>,
    /// The namespaces the suite created, and what their cleanup left behind.
    namespaces: Mutex<Vec<String>>,
    left: Mutex<Vec<String>>,
}

/// A client from a `KUBECONFIG` value (one or more files, `:`-separated, merged as kubectl does).
async fn client(kubeconfig: &OsStr) -> Client {
    let mut merged: Option<Kubeconfig> = None;
    for path in std::env::split_paths(kubeconfig) {
        let next = Kubeconfig::read_from(&path)
            .unwrap_or_else(|e| panic!("kubeconfig {}: {e}", path.display()));
        merged = Some(match merged {
            None => next,
            Some(m) => m.merge(next).expect("kubeconfigs merge"),
        });
    }
    let kubeconfig = merged.expect("KUBECONFIG names a file");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a client configuration from the kubeconfig");
    Client::try_from(config).expect("a client from the kubeconfig")
}

impl Cluster {
    /// Connects through `kubeconfig` and installs the CRDs the cluster lacks.
    pub async fn connect(kubeconfig: OsString, name: String) -> Self {
        roleplane::install_crypto_provider();
        let client = client(&kubeconfig).await;
        let created_crds = crds::install(&client, roleplane::crd::all()).await;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() % 100_000);
        let cluster = Self {
            client,
            kubeconfig,
            name,
            prefix: format!("rp-faults-{stamp:05}"),
            created_crds,
            namespaces: Mutex::new(vec![]),
            left: Mutex::new(vec![]),
        };
        println!(
            "faults: CRDs installed by the suite: {}",
            if cluster.created_crds.is_empty() {
                "none (the cluster has them all)".to_string()
            } else {
                cluster.created_crds.join(", ")
            }
        );
        cluster
    }

    /// Creates the namespace of scenario `slug`: `rp-faults-<stamp>-<slug>`, labelled
    /// `app.kubernetes.io/created-by=roleplane-faults` (to find what an aborted run left).
    pub async fn namespace(&self, slug: &str) -> String {
        let name = format!("{}-{slug}", self.prefix);
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/created-by": "roleplane-faults"},
        }}))
        .expect("namespace");
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap_or_else(|e| panic!("namespace {name} created: {e}"));
        self.namespaces.lock().expect("lock").push(name.clone());
        name
    }

    /// Deletes the namespace `ns` (its operator must still run, to release its finalizers) and
    /// waits for it to go; after a minute, strips the finalizers of the suite's objects in it
    /// (the products are simulators: nothing real is left behind) and says so.
    pub async fn delete_namespace(&self, ns: &str) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let started = Instant::now();
        if let Err(e) = namespaces.delete(ns, &Default::default()).await {
            self.left
                .lock()
                .expect("lock")
                .push(format!("namespace {ns}: delete refused: {e}"));
            return;
        }
        if self.gone(ns, NAMESPACE_GONE).await {
            println!(
                "cleanup: namespace {ns} gone in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            return;
        }
        let stripped = self.strip_finalizers(ns).await;
        let gone = self.gone(ns, NAMESPACE_GONE).await;
        println!(
            "cleanup: namespace {ns} still there after {}s; stripped the finalizers of {} \
             (simulated products: nothing real left behind); {}",
            NAMESPACE_GONE.as_secs(),
            if stripped.is_empty() {
                "none of the suite's objects".to_string()
            } else {
                stripped.join(", ")
            },
            if gone {
                "then it went"
            } else {
                "it is STILL there"
            }
        );
        if !gone {
            self.left
                .lock()
                .expect("lock")
                .push(format!("namespace {ns}"));
        }
    }

    async fn gone(&self, ns: &str, within: Duration) -> bool {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let deadline = Instant::now() + within;
        loop {
            match namespaces.get_opt(ns).await {
                Ok(None) => return true,
                Ok(Some(_)) | Err(_) if Instant::now() > deadline => return false,
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    /// Removes the finalizers of the suite's kinds in `ns`; returns `kind/name` of each.
    async fn strip_finalizers(&self, ns: &str) -> Vec<String> {
        let unfinalize = json!({"metadata": {"finalizers": null}});
        let mut stripped = vec![];
        let kinds = [
            ApiResource::erase::<Role>(&()),
            ApiResource::erase::<PermissionGroup>(&()),
            ApiResource::erase::<ProviderConfig>(&()),
            ApiResource::erase::<Secret>(&()),
        ];
        for ar in kinds {
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
            let Ok(list) = api.list(&ListParams::default()).await else {
                continue;
            };
            for o in list {
                if o.metadata.finalizers.as_ref().is_none_or(Vec::is_empty) {
                    continue;
                }
                let name = o.metadata.name.unwrap_or_default();
                if api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&unfinalize))
                    .await
                    .is_ok()
                {
                    stripped.push(format!("{}/{name}", ar.kind));
                }
            }
        }
        stripped
    }

    /// Removes the CRDs the suite installed and waits (a minute) for them to go; reports what
    /// the run left behind (`Err`: something did not go).
    pub async fn finish(self) -> Result<(), Vec<String>> {
        crds::remove(&self.client, &self.created_crds).await;
        let api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            Api::all(self.client.clone());
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut left = self.left.into_inner().expect("lock");
        for name in &self.created_crds {
            while !matches!(api.get_opt(name).await, Ok(None)) {
                if Instant::now() > deadline {
                    left.push(format!("CRD {name}"));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let created = self.namespaces.into_inner().expect("lock");
        for ns in &created {
            let listed = left.iter().any(|l| l.contains(ns.as_str()));
            if !listed && !matches!(namespaces.get_opt(ns).await, Ok(None)) {
                left.push(format!("namespace {ns}"));
            }
        }
        println!(
            "cleanup: namespaces {} and CRDs installed by the suite ({}): {}",
            created.join(", "),
            if self.created_crds.is_empty() {
                "none".to_string()
            } else {
                self.created_crds.join(", ")
            },
            if left.is_empty() {
                "all gone".to_string()
            } else {
                format!("LEFT: {}", left.join("; "))
            }
        );
        if left.is_empty() { Ok(()) } else { Err(left) }
    }
}
