//! What the generic reconciler needs from a managed kind (Role, PermissionGroup).

use kube::Resource;
use kube::core::NamespaceResourceScope;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crd::{ManagedSpec, ManagedStatus, PermissionGroup, Role};
use crate::providers::Spec;

pub trait Managed:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Kind name for logs and metrics.
    const KIND: &'static str;
    fn managed(&self) -> &ManagedSpec;
    fn managed_status(&self) -> Option<&ManagedStatus>;
    /// The product block, or why there is none usable.
    fn product_spec(&self) -> Result<Spec<'_>, String>;
}

impl Managed for Role {
    const KIND: &'static str = "Role";

    fn managed(&self) -> &ManagedSpec {
        &self.spec.managed
    }

    fn managed_status(&self) -> Option<&ManagedStatus> {
        self.status.as_ref()
    }

    fn product_spec(&self) -> Result<Spec<'_>, String> {
        let s = &self.spec;
        let blocks: Vec<Spec<'_>> = [
            s.statsig.as_ref().map(Spec::Statsig),
            s.slashid.as_ref().map(Spec::SlashId),
            s.looker.as_ref().map(Spec::Looker),
            s.bigpanda.as_ref().map(Spec::BigPanda),
        ]
        .into_iter()
        .flatten()
        .collect();
        match blocks.as_slice() {
            [one] => Ok(*one),
            [] => Err("set exactly one product block: statsig, slashid, looker or bigpanda (none is set)".into()),
            _ => Err("set exactly one product block: statsig, slashid, looker or bigpanda (several are set)".into()),
        }
    }
}

impl Managed for PermissionGroup {
    const KIND: &'static str = "PermissionGroup";

    fn managed(&self) -> &ManagedSpec {
        &self.spec.managed
    }

    fn managed_status(&self) -> Option<&ManagedStatus> {
        self.status.as_ref()
    }

    fn product_spec(&self) -> Result<Spec<'_>, String> {
        Ok(Spec::ConfigCat(&self.spec))
    }
}
