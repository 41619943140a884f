//! Reads: GET of one object, LIST with selectors, resourceVersion semantics and
//! `limit`/`continue` pagination over a snapshot, and the discovery documents.

use serde_json::{Value, json};

use super::registry::Registry;
use super::routing::{Query, Route};
use super::selectors::{FieldSelector, Filter, LabelSelector};
use super::status::{ApiError, FieldError};
use super::store::{Key, Snapshot, State, render, to_partial};
use super::write::Reply;

pub fn filter_for(st: &State, route: &Route, q: &Query) -> Result<Filter, ApiError> {
    let v = st
        .rt(route.ty)
        .version(&route.version)
        .expect("served version");
    Ok(Filter {
        labels: LabelSelector::parse(q.get("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(q.get("fieldSelector").unwrap_or(""), &v.selectable)?,
    })
}

pub fn get(st: &State, route: &Route) -> Result<Reply, ApiError> {
    let rt = st.rt(route.ty);
    let name = route.name.clone().unwrap_or_default();
    let key = (route.namespace.clone().unwrap_or_default(), name.clone());
    match st.objects[route.ty].get(&key) {
        Some(s) => Ok((
            200,
            render(rt, &route.version, &s.obj, Some(&s.managed)),
            vec![],
        )),
        None => Err(ApiError::not_found(&rt.group, &rt.plural, &name)),
    }
}

/// Keys of the objects a list (or delete-collection) selects, in storage order.
pub fn select(st: &State, route: &Route, filter: &Filter) -> Vec<Key> {
    st.objects[route.ty]
        .iter()
        .filter(|((ns, _), s)| {
            route.namespace.as_ref().is_none_or(|want| want == ns) && filter.matches(&s.obj)
        })
        .map(|(k, _)| k.clone())
        .collect()
}

fn list_options_invalid(errs: &[FieldError]) -> ApiError {
    ApiError::invalid("meta.k8s.io", "ListOptions", "", errs)
}

/// Checks the resourceVersion/resourceVersionMatch/continue combination like kube-apiserver.
fn check_list_rv(st: &State, q: &Query) -> Result<(), ApiError> {
    let rv = q.get("resourceVersion").unwrap_or("");
    let mode = q.get("resourceVersionMatch").unwrap_or("");
    if !mode.is_empty() && rv.is_empty() {
        return Err(list_options_invalid(&[FieldError::forbidden(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        )]));
    }
    if !q.get("continue").unwrap_or("").is_empty() && !rv.is_empty() && rv != "0" {
        return Err(list_options_invalid(&[FieldError::forbidden(
            "resourceVersion",
            "specifying resource version is not allowed when using continue",
        )]));
    }
    if rv.is_empty() || rv == "0" {
        if mode == "Exact" {
            return Err(list_options_invalid(&[FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            )]));
        }
        return Ok(());
    }
    let n: u64 = rv
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
    if n > st.rv {
        return Err(ApiError::new(
            504,
            "Timeout",
            format!("Too large resource version: {n}, current: {}", st.rv),
        )
        .with_causes(
            json!([{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]),
        ));
    }
    if mode == "Exact" && n != st.rv {
        return Err(ApiError::expired(format!(
            "The resourceVersion for the provided list is too old: {n} (this test double serves only the latest revision {})",
            st.rv
        )));
    }
    Ok(())
}

pub fn list(st: &mut State, route: &Route, q: &Query, meta_only: bool) -> Result<Reply, ApiError> {
    check_list_rv(st, q)?;
    let rt = st.rt(route.ty).clone();
    let limit: usize = match q.get("limit") {
        Some(l) if !l.is_empty() => l
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?
            .max(0) as usize,
        _ => 0,
    };
    let (rv, mut items) = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let snap = st.snapshots.remove(token).ok_or_else(|| {
                ApiError::expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            })?;
            (snap.rv, snap.items)
        }
        None => {
            let filter = filter_for(st, route, q)?;
            let keys = select(st, route, &filter);
            let items = keys
                .iter()
                .map(|k| {
                    let s = &st.objects[route.ty][k];
                    let mut v = render(&rt, &route.version, &s.obj, Some(&s.managed));
                    if rt.builtin.is_some() {
                        // Typed lists of built-ins do not repeat apiVersion/kind per item.
                        let m = v.as_object_mut().expect("object");
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    if meta_only {
                        v = to_partial(&v);
                    }
                    v
                })
                .collect();
            (st.rv, items)
        }
    };
    let mut list_meta = json!({"resourceVersion": rv.to_string()});
    if limit > 0 && items.len() > limit {
        let rest = items.split_off(limit);
        let token = st.new_token();
        list_meta["continue"] = Value::from(token.clone());
        list_meta["remainingItemCount"] = Value::from(rest.len());
        st.snapshots.insert(token, Snapshot { rv, items: rest });
    }
    let (api_version, kind) = if meta_only {
        (
            "meta.k8s.io/v1".to_string(),
            "PartialObjectMetadataList".to_string(),
        )
    } else {
        (rt.api_version(&route.version), rt.list_kind.clone())
    };
    Ok((
        200,
        json!({"apiVersion": api_version, "kind": kind, "metadata": list_meta, "items": items}),
        vec![],
    ))
}

pub fn version_info() -> Value {
    json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-double",
           "gitCommit": "", "gitTreeState": "clean", "buildDate": "", "goVersion": "",
           "compiler": "gc", "platform": "linux/amd64"})
}

pub fn groups(reg: &Registry) -> Value {
    let mut names: Vec<&str> = vec![];
    for t in reg.types.iter().filter(|t| !t.group.is_empty()) {
        if !names.contains(&t.group.as_str()) {
            names.push(&t.group);
        }
    }
    let groups: Vec<Value> = names
        .iter()
        .map(|g| {
            let mut versions: Vec<String> = vec![];
            for t in reg.types.iter().filter(|t| t.group == *g) {
                for v in &t.versions {
                    if !versions.contains(&v.name) {
                        versions.push(v.name.clone());
                    }
                }
            }
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"name": g, "versions": vs, "preferredVersion": vs[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn resources(reg: &Registry, group: &str, version: &str) -> Value {
    let mut list = vec![];
    for t in reg.types.iter().filter(|t| t.group == group) {
        let Some(v) = t.version(version) else {
            continue;
        };
        list.push(json!({
            "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        }));
        if v.status_subresource {
            list.push(
                json!({"name": format!("{}/status", t.plural), "singularName": "",
                "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"]}),
            );
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list})
}
