//! Tests of the kube API server double, driven through real kube-rs clients and runtime:
//! a small `Widget` CRD (derived with `kube::CustomResource`) plus built-in kinds. Each asserts
//! what a real kube-apiserver does, or the double's 501 for what it does not implement.

mod crds;
mod crud;
mod runtime;
mod unsupported;
mod validation;
mod watches;
mod writes;

use kube::{Api, Client, CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use kube_double::ApiServer;

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "test.roleplane.dev",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
pub struct WidgetSpec {
    #[schemars(length(min = 3, max = 20))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10))]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
pub enum Mode {
    Fast,
    Slow,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct WidgetStatus {
    pub ready: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub const WIDGET_AV: &str = "test.roleplane.dev/v1";

pub fn server() -> ApiServer {
    ApiServer::new(vec![Widget::crd()])
}

pub fn widget(name: &str, spec_name: &str) -> Widget {
    let mut w = Widget::new(
        name,
        WidgetSpec {
            name: spec_name.into(),
            replicas: Some(1),
            mode: None,
        },
    );
    w.metadata.namespace = Some("default".into());
    w
}

pub fn widgets(client: &Client) -> Api<Widget> {
    Api::namespaced(client.clone(), "default")
}

/// The `Status` of a failed call; panics if the call did not fail with an API error.
pub fn api_error<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> kube::core::Status {
    match r {
        Err(kube::Error::Api(s)) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Sends a raw request through the client; the `Status` of the failure it must be.
pub async fn raw_error(client: &Client, req: http::Request<Vec<u8>>) -> kube::core::Status {
    api_error(client.request::<serde_json::Value>(req).await)
}
