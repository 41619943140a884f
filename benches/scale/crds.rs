//! The operator's CRDs in a real cluster, shared by the scale benchmark and the fault suite
//! (`tests/faults`): install those the cluster lacks, wait until they are Established, and
//! remove only those installed at the end.

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};

/// Creates each of `crds` the cluster lacks and waits (up to 60 s each) until it is
/// Established. Returns the names of those it created.
pub async fn install(client: &kube::Client, crds: Vec<CustomResourceDefinition>) -> Vec<String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut created = vec![];
    for crd in crds {
        let name = crd.metadata.name.clone().expect("named");
        if api.get_opt(&name).await.expect("read CRD").is_none() {
            api.create(&PostParams::default(), &crd)
                .await
                .expect("create CRD");
            created.push(name.clone());
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let c = api.get(&name).await.expect("read CRD");
            let established = c.status.and_then(|s| s.conditions).is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
            if established {
                break;
            }
            assert!(Instant::now() < deadline, "CRD {name} not Established");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    created
}

/// Deletes the CRDs named (those [`install`] created), without waiting for them to go.
pub async fn remove(client: &kube::Client, names: &[String]) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in names {
        let _ = api.delete(name, &Default::default()).await;
    }
}
