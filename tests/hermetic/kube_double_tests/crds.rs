//! CustomResourceDefinitions through the API, as a client installing them sees kube-apiserver:
//! the CRDs the double starts with are served (Established); a created CRD serves its kind at
//! once; a deleted one deletes its custom resources (their finalizers honoured) and then goes.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, CustomResourceExt};
use serde_json::json;

use super::*;

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

#[tokio::test]
async fn crds_given_at_start_are_served_established() {
    let srv = server();
    let crds: Api<CustomResourceDefinition> = Api::all(srv.client());
    let crd = crds.get("widgets.test.roleplane.dev").await.unwrap();
    assert!(established(&crd), "{:?}", crd.status);
    assert_eq!(crd.spec.names.kind, "Widget");
    assert_eq!(crds.list(&Default::default()).await.unwrap().items.len(), 1);
    assert!(crds.get_opt("gadgets.example.com").await.unwrap().is_none());
}

#[tokio::test]
async fn a_created_crd_serves_its_kind_and_deleting_it_removes_its_objects() {
    let srv = ApiServer::new(vec![]);
    let client = srv.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    // Not served before the CRD exists.
    let missing = api_error(widgets(&client).list(&Default::default()).await);
    assert_eq!(missing.code, 404);
    let created = crds
        .create(&PostParams::default(), &Widget::crd())
        .await
        .unwrap();
    assert!(established(&created));
    let again = api_error(crds.create(&PostParams::default(), &Widget::crd()).await);
    assert_eq!(again.code, 409);
    widgets(&client)
        .create(&PostParams::default(), &widget("w1", "plain"))
        .await
        .unwrap();
    let mut held = widget("w2", "held");
    held.metadata.finalizers = Some(vec!["test.roleplane.dev/hold".into()]);
    widgets(&client)
        .create(&PostParams::default(), &held)
        .await
        .unwrap();

    crds.delete("widgets.test.roleplane.dev", &DeleteParams::default())
        .await
        .unwrap();
    // The finalizer holds w2 and with it the CRD, Terminating; no new objects meanwhile.
    let crd = crds.get("widgets.test.roleplane.dev").await.unwrap();
    assert!(crd.metadata.deletion_timestamp.is_some());
    assert!(
        crd.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"customresourcecleanup.apiextensions.k8s.io".to_string())
    );
    assert!(widgets(&client).get_opt("w1").await.unwrap().is_none());
    let w2 = widgets(&client).get("w2").await.unwrap();
    assert!(w2.metadata.deletion_timestamp.is_some());
    let refused = api_error(
        widgets(&client)
            .create(&PostParams::default(), &widget("w3", "late"))
            .await,
    );
    assert_eq!(refused.code, 405);
    // The finalizer's owner lets go: the object, then the CRD and its kind go.
    widgets(&client)
        .patch(
            "w2",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    assert!(
        crds.get_opt("widgets.test.roleplane.dev")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        api_error(widgets(&client).list(&Default::default()).await).code,
        404
    );
    // And it can be installed again.
    crds.create(&PostParams::default(), &Widget::crd())
        .await
        .unwrap();
    assert!(
        widgets(&client)
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn crds_are_validated_and_spec_changes_are_not_implemented() {
    let srv = ApiServer::new(vec![]);
    let crds: Api<CustomResourceDefinition> = Api::all(srv.client());
    let mut wrong = Widget::crd();
    wrong.metadata.name = Some("widgets.example.com".into());
    let refused = api_error(crds.create(&PostParams::default(), &wrong).await);
    assert_eq!(refused.code, 422, "{refused:?}");
    assert!(refused.message.contains("metadata.name"), "{refused:?}");
    // No storage version; a group without a dot.
    let mut unstored = Widget::crd();
    unstored.spec.versions[0].storage = false;
    let refused = api_error(crds.create(&PostParams::default(), &unstored).await);
    assert_eq!(refused.code, 422, "{refused:?}");
    assert!(refused.message.contains("storage version"), "{refused:?}");
    let mut dotless = Widget::crd();
    dotless.spec.group = "widgets".into();
    dotless.metadata.name = Some("widgets.widgets".into());
    let refused = api_error(crds.create(&PostParams::default(), &dotless).await);
    assert_eq!(refused.code, 422, "{refused:?}");
    assert!(refused.message.contains("spec.group"), "{refused:?}");
    // What the double cannot enforce: 501, not a panic.
    let mut scaled = Widget::crd();
    scaled.spec.versions[0].subresources = Some(serde_json::from_value(
        json!({"scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}}),
    ).unwrap());
    let refused = api_error(crds.create(&PostParams::default(), &scaled).await);
    assert_eq!(refused.code, 501, "{refused:?}");
    assert!(
        crds.list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    crds.create(&PostParams::default(), &Widget::crd())
        .await
        .unwrap();
    let change = json!({"spec": {"names": {"shortNames": ["wd"]}}});
    let refused = api_error(
        crds.patch(
            "widgets.test.roleplane.dev",
            &PatchParams::default(),
            &Patch::Merge(change),
        )
        .await,
    );
    assert_eq!(refused.code, 501, "{refused:?}");
    // Labels may change.
    crds.patch(
        "widgets.test.roleplane.dev",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
    )
    .await
    .unwrap();
}
