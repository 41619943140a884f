//! DELETE and DELETE-collection: preconditions, graceful deletion with finalizers
//! (deletionTimestamp + generation bump), immediate removal otherwise, Namespace
//! termination (contents are deleted, the namespace goes once empty) and a synchronous
//! garbage collector for ownerReferences (Background/Foreground/Orphan propagation).

use serde_json::{Value, json};

use super::meta;
use super::registry::Builtin;
use super::status::{ApiError, FieldError};
use super::store::{Key, State};
use super::write::{Reply, Writer};

/// Marks or removes one object; returns (deleted_now, resulting object).
fn delete_one(st: &mut State, ty: usize, key: &Key, dry_run: bool) -> Option<(bool, Value)> {
    let stored = st.objects[ty].get(key)?.clone();
    let rt = st.rt(ty).clone();
    let is_ns = rt.builtin == Some(Builtin::Namespace);
    if !is_ns && meta::finalizers(&stored.obj).is_empty() {
        if dry_run {
            return Some((true, stored.obj));
        }
        let gone = st.commit_delete(ty, key)?;
        settle(st);
        return Some((true, gone));
    }
    if meta::meta_str(&stored.obj, "deletionTimestamp").is_some() {
        return Some((false, stored.obj));
    }
    let mut obj = stored.obj.clone();
    obj["metadata"]["deletionTimestamp"] = Value::from(meta::now());
    obj["metadata"]["deletionGracePeriodSeconds"] = Value::from(0);
    if let Some(g) = obj["metadata"]["generation"].as_i64().filter(|g| *g > 0) {
        obj["metadata"]["generation"] = Value::from(g + 1);
    }
    if is_ns {
        obj["status"]["phase"] = Value::from("Terminating");
    }
    if dry_run {
        return Some((false, obj));
    }
    let obj = st.commit_update(ty, key.clone(), obj, stored.managed);
    if is_ns {
        let ns = key.1.clone();
        for i in 0..st.registry.types.len() {
            if !st.rt(i).namespaced {
                continue;
            }
            let keys: Vec<Key> = st.objects[i]
                .keys()
                .filter(|(n, _)| *n == ns)
                .cloned()
                .collect();
            for k in keys {
                delete_one(st, i, &k, false);
            }
        }
        settle(st);
        let now = st.objects[ty].get(key).map(|s| s.obj.clone());
        return Some((now.is_none(), now.unwrap_or(obj)));
    }
    Some((false, obj))
}

/// Every stored object whose ownerReferences name `uid`: (type, key).
fn dependents(st: &State, uid: &str) -> Vec<(usize, Key)> {
    let mut out = vec![];
    for (ty, objs) in st.objects.iter().enumerate() {
        for (key, s) in objs {
            let refs = s.obj["metadata"]["ownerReferences"].as_array();
            if refs.is_some_and(|r| r.iter().any(|o| o["uid"] == uid)) {
                out.push((ty, key.clone()));
            }
        }
    }
    out
}

/// Orphan propagation: dependents lose their ownerReferences to `uid`.
fn orphan(st: &mut State, uid: &str) {
    for (ty, key) in dependents(st, uid) {
        let stored = st.objects[ty][&key].clone();
        let mut obj = stored.obj;
        if let Some(refs) = obj["metadata"]["ownerReferences"].as_array_mut() {
            refs.retain(|o| o["uid"] != uid);
        }
        if obj["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(Vec::is_empty)
        {
            meta::meta_mut(&mut obj).remove("ownerReferences");
        }
        st.commit_update(ty, key, obj, stored.managed);
    }
}

/// Runs the controllers the double emulates until nothing changes: the garbage collector
/// (objects whose owners are all deleted go too) and the namespace lifecycle controller.
pub fn settle(st: &mut State) {
    loop {
        let mut victims = vec![];
        for (ty, objs) in st.objects.iter().enumerate() {
            for (key, s) in objs {
                let Some(refs) = s.obj["metadata"]["ownerReferences"].as_array() else {
                    continue;
                };
                let orphaned = !refs.is_empty()
                    && refs
                        .iter()
                        .all(|o| o["uid"].as_str().is_some_and(|u| st.dead_uids.contains(u)));
                if orphaned && meta::meta_str(&s.obj, "deletionTimestamp").is_none() {
                    victims.push((ty, key.clone()));
                }
            }
        }
        let nsi = st.registry.index_of(Builtin::Namespace);
        let empty_terminating: Vec<Key> = st.objects[nsi]
            .iter()
            .filter(|(k, s)| {
                meta::meta_str(&s.obj, "deletionTimestamp").is_some()
                    && meta::finalizers(&s.obj).is_empty()
                    && st.registry.types.iter().enumerate().all(|(i, t)| {
                        !t.namespaced || !st.objects[i].keys().any(|(n, _)| *n == k.1)
                    })
            })
            .map(|(k, _)| k.clone())
            .collect();
        if victims.is_empty() && empty_terminating.is_empty() {
            return;
        }
        for (ty, key) in victims {
            delete_one(st, ty, &key, false);
        }
        for key in empty_terminating {
            st.commit_delete(nsi, &key);
        }
    }
}

impl Writer<'_> {
    pub fn delete(&mut self, body: &[u8]) -> Result<Reply, ApiError> {
        let rt = self.rt();
        let name = self.route.name.clone().unwrap_or_default();
        let opts: Value = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
        };
        if let Some(p) = opts["propagationPolicy"].as_str()
            && !matches!(p, "Foreground" | "Background" | "Orphan")
        {
            let allowed = ["Foreground", "Background", "Orphan"].map(Value::from);
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "DeleteOptions",
                "",
                &[FieldError::not_supported(
                    "propagationPolicy",
                    &opts["propagationPolicy"],
                    &allowed,
                )],
            ));
        }
        let key = self.key(&name);
        let Some(stored) = self.st.objects[self.route.ty].get(&key).cloned() else {
            return Err(ApiError::not_found(&rt.group, &rt.plural, &name));
        };
        for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
            if let Some(want) = opts["preconditions"][field].as_str() {
                let have = meta::meta_str(&stored.obj, field).unwrap_or("");
                if want != have {
                    return Err(ApiError::conflict_msg(
                        &rt.group,
                        &rt.plural,
                        &name,
                        &format!(
                            "Precondition failed: {label} in precondition: {want}, {label} in object meta: {have}"
                        ),
                    ));
                }
            }
        }
        let dry_run = opts["dryRun"].as_array().is_some_and(|a| !a.is_empty())
            || self.query.get("dryRun").is_some_and(|d| !d.is_empty());
        let orphaning = opts["propagationPolicy"] == "Orphan" || opts["orphanDependents"] == true;
        if orphaning
            && !dry_run
            && let Some(uid) = meta::meta_str(&stored.obj, "uid")
        {
            orphan(self.st, uid);
        }
        let (deleted, obj) =
            delete_one(self.st, self.route.ty, &key, dry_run).expect("object exists");
        if deleted && rt.builtin != Some(Builtin::Namespace) {
            let status = json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": rt.group, "kind": rt.plural,
                            "uid": obj["metadata"]["uid"]},
            });
            return Ok((200, status, vec![]));
        }
        Ok((200, self.out(&obj, &stored.managed), vec![]))
    }

    /// Deletes every object of the list selection; answers with the affected objects.
    pub fn delete_collection(&mut self, items: Vec<Key>) -> Result<Reply, ApiError> {
        let rt = self.rt();
        let dry_run = self.query.get("dryRun").is_some_and(|d| !d.is_empty());
        let mut out = vec![];
        for key in items {
            if let Some((_, obj)) = delete_one(self.st, self.route.ty, &key, dry_run) {
                out.push(self.out(&obj, &[]));
            }
        }
        let list = json!({
            "apiVersion": rt.api_version(&self.route.version),
            "kind": rt.list_kind,
            "metadata": {"resourceVersion": self.st.rv.to_string()},
            "items": out,
        });
        Ok((200, list, vec![]))
    }
}
