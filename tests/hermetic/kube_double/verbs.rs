//! PUT and PATCH handlers: replace, merge/JSON/strategic patches and server-side apply, each
//! turned into a create or update through `Writer`.

use serde_json::{Value, json};

use super::managed;
use super::meta;
use super::patch;
use super::status::{ApiError, FieldError};
use super::store::Stored;
use super::write::{Reply, UpdateKind, Writer};

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

impl Writer<'_> {
    fn name(&self) -> String {
        self.route.name.clone().unwrap_or_default()
    }

    fn stored(&self) -> Option<Stored> {
        self.st.objects[self.route.ty]
            .get(&self.key(&self.name()))
            .cloned()
    }

    pub fn put(&mut self, body: &[u8]) -> Result<Reply, ApiError> {
        let obj = parse_json(body)?;
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        self.check_type(&obj)?;
        let name = self.name();
        self.check_name(&obj, &name)?;
        match self.stored() {
            Some(old) => self.update(old, obj, UpdateKind::Put, None),
            None if self.rt().allow_create_on_update() && !self.route.status => {
                let mut obj = obj;
                meta::meta_mut(&mut obj).remove("resourceVersion");
                self.create(obj, None)
            }
            None => {
                let rt = self.rt();
                Err(ApiError::not_found(&rt.group, &rt.plural, &name))
            }
        }
    }

    pub fn patch(&mut self, content_type: &str, body: &[u8]) -> Result<Reply, ApiError> {
        let rt = self.rt();
        let ct = content_type.split(';').next().unwrap_or("").trim();
        let mut accepted = vec![
            "application/json-patch+json",
            "application/merge-patch+json",
        ];
        if rt.builtin.is_some() {
            accepted.push("application/strategic-merge-patch+json");
        }
        accepted.push("application/apply-patch+yaml");
        if !accepted.contains(&ct) {
            return Err(ApiError::unsupported_media_type(&accepted));
        }
        self.check_patch_options(ct == "application/apply-patch+yaml")?;
        if ct == "application/apply-patch+yaml" {
            return self.apply(body);
        }
        let name = self.name();
        let Some(old) = self.stored() else {
            return Err(ApiError::not_found(&rt.group, &rt.plural, &name));
        };
        let mut doc = self.out(&old.obj, &old.managed);
        match ct {
            "application/json-patch+json" => patch::json_patch(&mut doc, body)?,
            "application/merge-patch+json" => patch::merge(&mut doc, &parse_json(body)?),
            _ => patch::strategic(&mut doc, &parse_json(body)?)?,
        }
        self.check_name(&doc, &name)?;
        self.check_type(&doc)?;
        self.update(old, doc, UpdateKind::Patch, None)
    }

    /// `PatchOptions` validation (422 like kube-apiserver's ValidatePatchOptions).
    fn check_patch_options(&self, apply: bool) -> Result<(), ApiError> {
        let mut errs = vec![];
        let manager = self.query.get("fieldManager").unwrap_or("");
        if apply && manager.is_empty() {
            errs.push(FieldError::required(
                "fieldManager",
                "is required for apply patch",
            ));
        }
        if !apply && self.query.get("force").is_some() {
            errs.push(FieldError::forbidden(
                "force",
                "may not be specified for non-apply patch",
            ));
        }
        if manager.len() > 128 {
            errs.push(FieldError::too_long("fieldManager", 128));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid("meta.k8s.io", "PatchOptions", "", &errs))
        }
    }

    fn apply(&mut self, body: &[u8]) -> Result<Reply, ApiError> {
        let rt = self.rt();
        let name = self.name();
        let config: Value = serde_yaml_ng::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        if !config.is_object() {
            return Err(ApiError::bad_request(
                "error decoding YAML: the apply body must be an object",
            ));
        }
        let av = config["apiVersion"].as_str().unwrap_or("");
        let kind = config["kind"].as_str().unwrap_or("");
        if av != self.api_version() || kind != rt.kind {
            let (g, v) = av.rsplit_once('/').unwrap_or(("", av));
            return Err(ApiError::bad_request(format!(
                "invalid object type: {g}/{v}, Kind={kind}"
            )));
        }
        if !config["metadata"]["managedFields"].is_null() {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        if let Some(n) = config["metadata"]["name"].as_str()
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        self.check_name(
            &json!({"metadata": {"name": name, "namespace": config["metadata"]["namespace"]}}),
            &name,
        )?;
        let manager = self.query.get("fieldManager").unwrap_or("").to_string();
        let force = self.query.flag("force");
        let now = meta::now();
        let split = self
            .rt()
            .version(&self.route.version)
            .is_some_and(|v| v.status_subresource);
        let precondition = meta::meta_str(&config, "resourceVersion").map(String::from);
        match self.stored() {
            Some(old) => {
                let live = self.out(&old.obj, &[]);
                if let Some(rv) = &precondition
                    && Some(rv.as_str()) != meta::meta_str(&old.obj, "resourceVersion")
                {
                    return Err(ApiError::conflict(&rt.group, &rt.plural, &name));
                }
                let outcome = managed::apply(
                    &live,
                    &old.managed,
                    &config,
                    &manager,
                    force,
                    &self.api_version(),
                    &now,
                    self.route.status,
                    split,
                )?;
                self.update(
                    old,
                    outcome.object,
                    UpdateKind::Patch,
                    Some(outcome.entries),
                )
            }
            None if self.route.status => Err(ApiError::not_found(&rt.group, &rt.plural, &name)),
            None if precondition.is_some() => Err(ApiError::conflict(&rt.group, &rt.plural, &name)),
            None => {
                let mut shell = json!({"apiVersion": self.api_version(), "kind": rt.kind, "metadata": {"name": name}});
                if let Some(ns) = &self.route.namespace {
                    shell["metadata"]["namespace"] = Value::from(ns.as_str());
                }
                let outcome = managed::apply(
                    &shell,
                    &[],
                    &config,
                    &manager,
                    force,
                    &self.api_version(),
                    &now,
                    false,
                    split,
                )?;
                self.create(outcome.object, Some(outcome.entries))
            }
        }
    }
}
