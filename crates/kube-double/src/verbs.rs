//! PUT and PATCH handlers: replace, JSON merge patch (RFC 7386), JSON patch (RFC 6902, via
//! `json-patch`) and server-side apply, each turned into a create or update through `Writer`.

use serde_json::{Map, Value, json};

use super::managed;
use super::meta;
use super::status::Reply;
use super::status::{ApiError, FieldError};
use super::store::Stored;
use super::write::{UpdateKind, Writer};

pub fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

/// RFC 7386: objects merge recursively, `null` deletes, everything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn json_patch(target: &mut Value, body: &[u8]) -> Result<(), ApiError> {
    let patch: json_patch::Patch = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    for op in patch.0 {
        // Like kube-apiserver's json-patch, `test` of `null` also passes for a missing path.
        if let json_patch::PatchOperation::Test(t) = &op
            && t.value.is_null()
        {
            if target.pointer(t.path.as_str()).is_none_or(Value::is_null) {
                continue;
            }
            let msg = format!("testing value {} failed: test failed", t.path.as_str());
            return Err(ApiError::patch_unprocessable(&msg));
        }
        json_patch::patch(target, &[op])
            .map_err(|e| ApiError::patch_unprocessable(&e.to_string()))?;
    }
    Ok(())
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
        let accepted = [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
        ];
        if ct == "application/strategic-merge-patch+json" && !rt.is_crd() {
            // Served for built-in kinds by a real server, never for custom resources (415).
            return Err(ApiError::unsupported("strategic merge patch"));
        }
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
        if ct == "application/json-patch+json" {
            json_patch(&mut doc, body)?;
        } else {
            merge(&mut doc, &parse_json(body)?);
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
        let force = self.query.flag("force");
        let precondition = meta::meta_str(&config, "resourceVersion");
        let old = self.stored();
        let stale = match &old {
            Some(o) => {
                precondition.is_some_and(|rv| Some(rv) != meta::meta_str(&o.obj, "resourceVersion"))
            }
            None if self.route.status => {
                return Err(ApiError::not_found(&rt.group, &rt.plural, &name));
            }
            None => precondition.is_some(),
        };
        if stale {
            return Err(ApiError::conflict(&rt.group, &rt.plural, &name));
        }
        // fieldManager is required for apply (checked above): it names the actor.
        let actor = self.actor();
        let (live, entries) = match &old {
            Some(o) => (self.out(&o.obj, &[]), o.managed.as_slice()),
            None => {
                let mut shell = json!({"apiVersion": actor.api_version, "kind": rt.kind, "metadata": {"name": name}});
                if let Some(ns) = &self.route.namespace {
                    shell["metadata"]["namespace"] = Value::from(ns.as_str());
                }
                (shell, &[][..])
            }
        };
        let outcome = managed::apply(&live, entries, &config, &actor, force)?;
        match old {
            Some(old) => self.update(
                old,
                outcome.object,
                UpdateKind::Patch,
                Some(outcome.entries),
            ),
            None => self.create(outcome.object, Some(outcome.entries)),
        }
    }
}
