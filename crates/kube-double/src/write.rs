//! Create and update, the two storage writes every verb ends in: system metadata, status
//! subresource rules, preconditions, validation, generation, field ownership, no-op detection
//! and finalizer-driven removal.

use serde_json::{Value, json};

use super::builtin;
use super::managed::{self, Actor, Entry};
use super::meta;
use super::registry::{Builtin, ResourceType};
use super::routing::{Query, Route};
use super::status::{ApiError, FieldError, Reply};
use super::store::{Key, State, Stored, render};
use super::validate::{bump_generation, check_object};

pub struct Writer<'a> {
    pub st: &'a mut State,
    pub route: &'a Route,
    pub query: &'a Query,
    pub manager: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    Put,
    Patch,
}

impl Writer<'_> {
    pub fn rt(&self) -> ResourceType {
        self.st.rt(self.route.ty).clone()
    }
    fn split_status(&self) -> bool {
        self.st.rt(self.route.ty).status_subresource
    }
    pub fn key(&self, name: &str) -> Key {
        (
            self.route.namespace.clone().unwrap_or_default(),
            name.to_string(),
        )
    }
    pub fn api_version(&self) -> String {
        self.st.rt(self.route.ty).api_version()
    }
    /// This request as a field-ownership actor, now.
    pub fn actor(&self) -> Actor {
        Actor {
            manager: self.manager.clone(),
            api_version: self.api_version(),
            time: meta::now(),
            status: self.route.status,
            split_status: self.split_status(),
        }
    }
    pub fn out(&self, obj: &Value, managed: &[Entry]) -> Value {
        render(self.st.rt(self.route.ty), obj, Some(managed))
    }

    /// Body apiVersion/kind must name this resource when present.
    pub fn check_type(&self, body: &Value) -> Result<(), ApiError> {
        let rt = self.rt();
        let matches = |field: &str, want: &str| {
            body[field]
                .as_str()
                .is_none_or(|v| v.is_empty() || v == want)
        };
        if matches("kind", &rt.kind) && matches("apiVersion", &rt.api_version()) {
            Ok(())
        } else {
            Err(ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): {} {}",
                rt.kind, body["apiVersion"], body["kind"]
            )))
        }
    }

    /// kube-apiserver's `checkName`: body name/namespace must agree with the URL.
    pub fn check_name(&self, body: &Value, name: &str) -> Result<(), ApiError> {
        let body_name = body["metadata"]["name"].as_str().unwrap_or("");
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if let (Some(ns), Some(bns)) = (&self.route.namespace, meta::meta_str(body, "namespace"))
            && ns != bns
        {
            return Err(ApiError::bad_request(format!(
                "the namespace of the object ({bns}) does not match the namespace on the URL ({ns})"
            )));
        }
        Ok(())
    }

    /// POST (and PUT/apply that create). `managed` overrides ownership (apply).
    pub fn create(
        &mut self,
        mut obj: Value,
        managed: Option<Vec<Entry>>,
    ) -> Result<Reply, ApiError> {
        let rt = self.rt();
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        self.check_type(&obj)?;
        match (&self.route.namespace, meta::meta_str(&obj, "namespace")) {
            (Some(ns), Some(bns)) if ns != bns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            (Some(ns), _) => obj["metadata"]["namespace"] = Value::from(ns.as_str()),
            (None, _) => {
                meta::meta_mut(&mut obj).remove("namespace");
            }
        }
        if meta::meta_str(&obj, "resourceVersion").is_some() {
            let msg = "resourceVersion should not be set on objects to be created";
            return Err(ApiError::new(
                500,
                "InternalError",
                format!("Internal error occurred: {msg}"),
            ));
        }
        if let Some(ns) = &self.route.namespace
            && self.st.terminating(ns)
        {
            return Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    rt.plural,
                    meta::meta_str(&obj, "name").unwrap_or("")
                ),
            ));
        }
        let name = meta::meta_str(&obj, "name").unwrap_or("").to_string();
        let now = meta::now();
        let m = meta::meta_mut(&mut obj);
        for k in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ] {
            m.remove(k);
        }
        m.insert("uid".into(), Value::from(meta::new_uid()));
        m.insert("creationTimestamp".into(), Value::from(now.clone()));
        if rt.is_crd() {
            m.insert("generation".into(), Value::from(1));
        } else {
            m.remove("generation");
        }
        obj["apiVersion"] = Value::from(rt.api_version());
        obj["kind"] = Value::from(rt.kind.as_str());
        if rt.is_crd() && self.split_status() {
            obj.as_object_mut().expect("object").remove("status");
        }
        if let Some(b) = rt.builtin {
            builtin::prepare(b, &mut obj, true);
        }
        check_object(&rt, &mut obj, None)?;
        let key = self.key(&name);
        if self.st.objects[self.route.ty].contains_key(&key) {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }
        if self.st.crd_terminating(self.route.ty) {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                "create not allowed while custom resource definition is terminating",
            ));
        }
        // A new CRD: its kind is served from now on (or 501 if the double cannot enforce it).
        let defines = match rt.builtin {
            Some(Builtin::CustomResourceDefinition) => {
                let crd = builtin::typed(&obj, "CustomResourceDefinition")?;
                Some(super::registry::try_from_crd(&crd).map_err(ApiError::unsupported)?)
            }
            _ => None,
        };
        let managed = managed.unwrap_or_else(|| {
            let mut entries = vec![];
            managed::record_update(&mut entries, &self.actor(), None, &obj);
            entries
        });
        let stored = self
            .st
            .commit_create(self.route.ty, key, obj, managed.clone());
        if let Some(defined) = defines {
            self.st.register(defined);
        }
        Ok((201, self.out(&stored, &managed)))
    }

    /// Final step of PUT and every PATCH: `new` is the object the client wants stored.
    pub fn update(
        &mut self,
        old: Stored,
        new: Value,
        kind: UpdateKind,
        managed: Option<Vec<Entry>>,
    ) -> Result<Reply, ApiError> {
        let rt = self.rt();
        let name = meta::meta_str(&old.obj, "name").unwrap_or("").to_string();
        if !new.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        let old_rv = meta::meta_str(&old.obj, "resourceVersion")
            .unwrap_or("")
            .to_string();
        match meta::meta_str(&new, "resourceVersion") {
            Some(rv) if rv != old_rv => {
                return Err(ApiError::conflict(&rt.group, &rt.plural, &name));
            }
            None if kind == UpdateKind::Put && rt.is_crd() => {
                return Err(ApiError::invalid(
                    &rt.group,
                    &rt.kind,
                    &name,
                    &[FieldError::invalid(
                        "metadata.resourceVersion",
                        &json!("0x0"),
                        "must be specified for an update",
                    )],
                ));
            }
            _ => {}
        }
        if let Some(uid) = meta::meta_str(&new, "uid")
            && Some(uid) != meta::meta_str(&old.obj, "uid")
        {
            return Err(ApiError::invalid(
                &rt.group,
                &rt.kind,
                &name,
                &[FieldError::invalid(
                    "metadata.uid",
                    &Value::from(uid),
                    "field is immutable",
                )],
            ));
        }
        let split = self.split_status();
        let mut cand = if self.route.status {
            let mut c = old.obj.clone();
            set_or_remove(&mut c, "status", new.get("status"));
            c
        } else {
            let mut c = new;
            if split {
                set_or_remove(&mut c, "status", old.obj.get("status"));
            }
            if rt.builtin == Some(Builtin::Namespace) {
                set_or_remove(&mut c, "spec", old.obj.get("spec"));
            }
            c
        };
        cand["apiVersion"] = Value::from(rt.api_version());
        cand["kind"] = Value::from(rt.kind.as_str());
        let m = meta::meta_mut(&mut cand);
        m.remove("managedFields");
        m.remove("selfLink");
        for k in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ] {
            match old.obj["metadata"].get(k) {
                Some(v) => m.insert(k.to_string(), v.clone()),
                None => m.remove(k),
            };
        }
        if let Some(b) = rt.builtin {
            builtin::prepare(b, &mut cand, false);
        }
        check_object(&rt, &mut cand, Some(&old.obj))?;
        if rt.builtin == Some(Builtin::CustomResourceDefinition) && cand["spec"] != old.obj["spec"]
        {
            return Err(ApiError::unsupported(
                "changing the spec of a CustomResourceDefinition",
            ));
        }
        bump_generation(&rt, &old.obj, &mut cand);
        let entries = managed.unwrap_or_else(|| {
            let mut e = old.managed.clone();
            managed::record_update(&mut e, &self.actor(), Some(&old.obj), &cand);
            e
        });
        let same_owners = entries.len() == old.managed.len()
            && entries.iter().zip(&old.managed).all(|(a, b)| {
                a.manager == b.manager
                    && a.apply == b.apply
                    && a.status == b.status
                    && a.fields == b.fields
            });
        if cand == old.obj && same_owners {
            return Ok((200, self.out(&old.obj, &old.managed)));
        }
        let key = self.key(&name);
        if meta::meta_str(&cand, "deletionTimestamp").is_some()
            && meta::finalizers(&cand).is_empty()
        {
            let gone = self
                .st
                .commit_delete(self.route.ty, &key)
                .expect("object exists");
            self.st.settle();
            return Ok((200, self.out(&gone, &entries)));
        }
        let stored = self
            .st
            .commit_update(self.route.ty, key, cand, entries.clone());
        Ok((200, self.out(&stored, &entries)))
    }
}

fn set_or_remove(obj: &mut Value, key: &str, v: Option<&Value>) {
    match v {
        Some(v) => obj[key] = v.clone(),
        None => {
            if let Some(m) = obj.as_object_mut() {
                m.remove(key);
            }
        }
    }
}
