//! DELETE of one object: removal at once without finalizers; otherwise graceful deletion
//! (deletionTimestamp, generation bump for custom resources) until an update removes the last
//! finalizer (see `Writer::update`). DeleteOptions, deletecollection and namespace deletion
//! (the namespace lifecycle controller) are not implemented.

use serde_json::{Value, json};

use super::meta;
use super::registry::Builtin;
use super::status::ApiError;
use super::write::{Reply, Writer};

impl Writer<'_> {
    pub fn delete(&mut self, body: &[u8]) -> Result<Reply, ApiError> {
        let rt = self.rt();
        if rt.builtin == Some(Builtin::Namespace) {
            return Err(ApiError::unsupported("deleting a namespace"));
        }
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
        if meta::finalizers(&stored.obj).is_empty() {
            let gone = self
                .st
                .commit_delete(self.route.ty, &key)
                .expect("object exists");
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
