//! DELETE of one object: removal at once without finalizers; otherwise graceful deletion
//! (deletionTimestamp, generation bump for custom resources) until an update removes the last
//! finalizer (see `Writer::update`). Deleting a namespace plays kube-apiserver and the namespace
//! controller together: the namespace turns `Terminating` (no new content may be created in
//! it), everything in it is deleted as above, and the namespace goes once it is empty (see
//! `State::settle_namespaces`). Deleting a CRD likewise: it turns `Terminating` (finalizer
//! `customresourcecleanup.apiextensions.k8s.io`, no new custom resources), its custom
//! resources are deleted, and it goes, its kind no longer served, once none is left (see
//! `State::settle_crds`). DeleteOptions and deletecollection are not implemented.

use serde_json::{Value, json};

use super::meta;
use super::registry::Builtin;
use super::status::ApiError;
use super::status::Reply;
use super::store::CRD_CLEANUP;
use super::write::Writer;

impl Writer<'_> {
    pub fn delete(&mut self, body: &[u8]) -> Result<Reply, ApiError> {
        let rt = self.rt();
        let opts: Value = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
        };
        let mut options = opts.as_object().into_iter().flatten();
        if let Some((k, _)) = options.find(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind")) {
            return Err(ApiError::unsupported(format!("DeleteOptions.{k}")));
        }
        let name = self.route.name.clone().unwrap_or_default();
        let key = self.key(&name);
        let Some(stored) = self.st.objects[self.route.ty].get(&key).cloned() else {
            return Err(ApiError::not_found(&rt.group, &rt.plural, &name));
        };
        if rt.builtin == Some(Builtin::Namespace) {
            return Ok((200, self.terminate_namespace(&name, stored)));
        }
        if rt.builtin == Some(Builtin::CustomResourceDefinition) {
            return Ok((200, self.terminate_crd(&name, stored)));
        }
        if meta::finalizers(&stored.obj).is_empty() {
            let gone = self
                .st
                .commit_delete(self.route.ty, &key)
                .expect("object exists");
            self.st.settle();
            let status = json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": rt.group, "kind": rt.plural,
                            "uid": gone["metadata"]["uid"]},
            });
            return Ok((200, status));
        }
        if meta::meta_str(&stored.obj, "deletionTimestamp").is_some() {
            return Ok((200, self.out(&stored.obj, &stored.managed)));
        }
        let mut obj = stored.obj;
        obj["metadata"]["deletionTimestamp"] = Value::from(meta::now());
        obj["metadata"]["deletionGracePeriodSeconds"] = Value::from(0);
        if let Some(g) = obj["metadata"]["generation"].as_i64() {
            obj["metadata"]["generation"] = Value::from(g + 1);
        }
        let obj = self
            .st
            .commit_update(self.route.ty, key, obj, stored.managed.clone());
        Ok((200, self.out(&obj, &stored.managed)))
    }
}

impl Writer<'_> {
    /// Marks the namespace `Terminating` and deletes its content, as the namespace controller
    /// does; the namespace itself goes once nothing is left in it.
    fn terminate_namespace(&mut self, name: &str, stored: super::store::Stored) -> Value {
        let key = self.key(name);
        let mut obj = stored.obj;
        if meta::meta_str(&obj, "deletionTimestamp").is_none() {
            obj["metadata"]["deletionTimestamp"] = Value::from(meta::now());
            obj["status"]["phase"] = Value::from("Terminating");
            obj = self
                .st
                .commit_update(self.route.ty, key, obj, stored.managed.clone());
        }
        let content: Vec<(usize, super::store::Key)> = (0..self.st.objects.len())
            .filter(|ty| self.st.rt(*ty).namespaced)
            .flat_map(|ty| {
                self.st.objects[ty]
                    .keys()
                    .filter(|(ns, _)| ns == name)
                    .map(move |k| (ty, k.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        self.delete_all(content);
        self.st.settle();
        let now = self.st.objects[self.route.ty].get(&self.key(name)).cloned();
        match now {
            Some(s) => self.out(&s.obj, &s.managed),
            None => self.out(&obj, &stored.managed),
        }
    }

    /// Marks the CRD `Terminating` and deletes its custom resources, as kube-apiserver's CRD
    /// finalizer does; the CRD goes (and its kind is no longer served) once none is left.
    fn terminate_crd(&mut self, name: &str, stored: super::store::Stored) -> Value {
        let key = self.key(name);
        let mut obj = stored.obj;
        if meta::meta_str(&obj, "deletionTimestamp").is_none() {
            obj["metadata"]["deletionTimestamp"] = Value::from(meta::now());
            obj["metadata"]["deletionGracePeriodSeconds"] = Value::from(0);
            let mut finalizers = meta::finalizers(&obj);
            if !finalizers.iter().any(|f| f == CRD_CLEANUP) {
                finalizers.push(CRD_CLEANUP.to_string());
            }
            obj["metadata"]["finalizers"] = json!(finalizers);
            let conditions = obj["status"]["conditions"]
                .as_array_mut()
                .map(std::mem::take)
                .unwrap_or_default();
            let mut conditions: Vec<Value> = conditions
                .into_iter()
                .filter(|c| c["type"] != "Terminating")
                .collect();
            conditions.push(json!({
                "type": "Terminating", "status": "True", "lastTransitionTime": meta::now(),
                "reason": "InstanceDeletionInProgress",
                "message": "CustomResource deletion is in progress",
            }));
            obj["status"]["conditions"] = json!(conditions);
            obj = self
                .st
                .commit_update(self.route.ty, key, obj, stored.managed.clone());
        }
        if let Some(ty) = self.st.crd_type(&obj) {
            let content: Vec<(usize, super::store::Key)> = self.st.objects[ty]
                .keys()
                .map(|k| (ty, k.clone()))
                .collect();
            self.delete_all(content);
        }
        self.st.settle();
        let now = self.st.objects[self.route.ty].get(&self.key(name)).cloned();
        match now {
            Some(s) => self.out(&s.obj, &s.managed),
            None => self.out(&obj, &stored.managed),
        }
    }

    /// Deletes these objects as DELETE does: at once without finalizers, else marked.
    fn delete_all(&mut self, content: Vec<(usize, super::store::Key)>) {
        for (ty, k) in content {
            let Some(item) = self.st.objects[ty].get(&k).cloned() else {
                continue;
            };
            if meta::finalizers(&item.obj).is_empty() {
                self.st.commit_delete(ty, &k);
            } else if meta::meta_str(&item.obj, "deletionTimestamp").is_none() {
                let mut obj = item.obj;
                obj["metadata"]["deletionTimestamp"] = Value::from(meta::now());
                obj["metadata"]["deletionGracePeriodSeconds"] = Value::from(0);
                if let Some(g) = obj["metadata"]["generation"].as_i64() {
                    obj["metadata"]["generation"] = Value::from(g + 1);
                }
                self.st.commit_update(ty, k, obj, item.managed);
            }
        }
    }
}
