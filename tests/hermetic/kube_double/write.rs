//! Create and update, the two storage writes every verb ends in: system metadata, status
//! subresource rules, preconditions, validation, generation, field ownership, no-op detection
//! and finalizer-driven removal.

use serde_json::{Value, json};

use super::builtin;
use super::managed::{self, Entry};
use super::meta;
use super::registry::{Builtin, ResourceType};
use super::routing::{Query, Route};
use super::status::{ApiError, FieldError};
use super::store::{Key, State, Stored, render};
use super::validate::{bump_generation, check_object};

/// A successful answer: status code, JSON body, warnings.
pub type Reply = (u16, Value, Vec<String>);

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
    fn dry_run(&self) -> bool {
        self.query.get("dryRun").is_some_and(|d| !d.is_empty())
    }
    fn split_status(&self) -> bool {
        self.rt()
            .version(&self.route.version)
            .is_some_and(|v| v.status_subresource)
    }
    pub fn key(&self, name: &str) -> Key {
        (
            self.route.namespace.clone().unwrap_or_default(),
            name.to_string(),
        )
    }
    pub fn api_version(&self) -> String {
        self.rt().api_version(&self.route.version)
    }
    pub fn out(&self, obj: &Value, managed: &[Entry]) -> Value {
        render(&self.rt(), &self.route.version, obj, Some(managed))
    }

    /// Body apiVersion/kind must name this resource when present (another served version of
    /// the same CRD is accepted: conversion strategy None only rewrites apiVersion).
    pub fn check_type(&self, body: &Value) -> Result<(), ApiError> {
        let rt = self.rt();
        let kind_ok = body["kind"]
            .as_str()
            .is_none_or(|k| k.is_empty() || k == rt.kind);
        let av_ok = body["apiVersion"].as_str().is_none_or(|av| {
            av.is_empty()
                || av == rt.api_version(&self.route.version)
                || rt.versions.iter().any(|v| rt.api_version(&v.name) == av)
        });
        if kind_ok && av_ok {
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
            return Err(ApiError::internal(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        if meta::meta_str(&obj, "name").is_none()
            && let Some(base) = meta::meta_str(&obj, "generateName")
        {
            obj["metadata"]["name"] = Value::from(meta::generate_name(base));
        }
        let name = meta::meta_str(&obj, "name").unwrap_or("").to_string();
        if let Some(ns) = &self.route.namespace {
            self.check_namespace_active(ns, &name)?;
        }
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
        if rt.has_generation() {
            m.insert("generation".into(), Value::from(1));
        } else {
            m.remove("generation");
        }
        obj["apiVersion"] = Value::from(rt.api_version(&self.route.version));
        obj["kind"] = Value::from(rt.kind.as_str());
        if rt.is_crd() && self.split_status() {
            obj.as_object_mut().expect("object").remove("status");
        }
        if let Some(b) = rt.builtin {
            builtin::prepare(b, &mut obj, true);
        }
        let warnings = check_object(&rt, &self.route.version, &mut obj, None, self.query)?;
        let key = self.key(&name);
        if self.st.objects[self.route.ty].contains_key(&key) {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }
        let managed = managed.unwrap_or_else(|| {
            let mut entries = vec![];
            let split = self.split_status();
            managed::record_update(
                &mut entries,
                &self.manager,
                &self.api_version(),
                &now,
                None,
                &obj,
                false,
                split,
            );
            entries
        });
        if self.dry_run() {
            return Ok((201, self.out(&obj, &managed), warnings));
        }
        let stored = self
            .st
            .commit_create(self.route.ty, key, obj, managed.clone());
        Ok((201, self.out(&stored, &managed), warnings))
    }

    /// Namespaces being deleted refuse new content (NamespaceLifecycle admission).
    fn check_namespace_active(&self, ns: &str, name: &str) -> Result<(), ApiError> {
        let nsi = self.st.registry.index_of(Builtin::Namespace);
        let terminating = self.st.objects[nsi]
            .get(&(String::new(), ns.to_string()))
            .is_some_and(|s| meta::meta_str(&s.obj, "deletionTimestamp").is_some());
        if terminating {
            let rt = self.rt();
            return Err(ApiError::forbidden(
                &rt.group,
                &rt.plural,
                name,
                &format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
                "NamespaceTerminating",
            ));
        }
        Ok(())
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
            None if kind == UpdateKind::Put && !rt.allow_unconditional_update() => {
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
        cand["apiVersion"] = Value::from(rt.api_version(&self.route.version));
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
        let warnings = check_object(
            &rt,
            &self.route.version,
            &mut cand,
            Some(&old.obj),
            self.query,
        )?;
        bump_generation(&rt, &self.route.version, &old.obj, &mut cand);
        let now = meta::now();
        let entries = managed.unwrap_or_else(|| {
            let mut e = old.managed.clone();
            let av = self.api_version();
            managed::record_update(
                &mut e,
                &self.manager,
                &av,
                &now,
                Some(&old.obj),
                &cand,
                self.route.status,
                split,
            );
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
            return Ok((200, self.out(&old.obj, &old.managed), warnings));
        }
        if self.dry_run() {
            return Ok((200, self.out(&cand, &entries), warnings));
        }
        let key = self.key(&name);
        if meta::meta_str(&cand, "deletionTimestamp").is_some()
            && meta::finalizers(&cand).is_empty()
        {
            let gone = self
                .st
                .commit_delete(self.route.ty, &key)
                .expect("object exists");
            super::delete::settle(self.st);
            return Ok((200, self.out(&gone, &entries), warnings));
        }
        let stored = self
            .st
            .commit_update(self.route.ty, key, cand, entries.clone());
        Ok((200, self.out(&stored, &entries), warnings))
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
