//! URL parsing: query parameters and the kube-apiserver resource paths
//! (`/api/v1/...`, `/apis/{group}/{version}/...`, namespaced and cluster-wide forms).

use std::collections::HashMap;

use percent_encoding::percent_decode_str;

use super::registry::Registry;
use super::status::ApiError;

pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(q: Option<&str>) -> Self {
        let dec = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let pairs = q.unwrap_or("").split('&').filter(|p| !p.is_empty());
        Self(
            pairs
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (dec(k), dec(v))
                })
                .collect(),
        )
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
    /// 501 for a parameter the double does not implement for `verb` (a real server would
    /// honour it, so ignoring it could make a test pass that fails against a cluster).
    pub fn only(&self, verb: &str, allowed: &[&str]) -> Result<(), ApiError> {
        let mut extra: Vec<String> = self
            .0
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| format!("{k:?}"))
            .collect();
        if extra.is_empty() {
            return Ok(());
        }
        extra.sort();
        let noun = if extra.len() == 1 {
            "parameter"
        } else {
            "parameters"
        };
        let what = format!("query {noun} {} on {verb}", extra.join(", "));
        Err(ApiError::unsupported(what))
    }
}

/// A request aimed at a resource type.
#[derive(Debug, Clone)]
pub struct Route {
    pub ty: usize,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `true` for the `/status` subresource.
    pub status: bool,
}

/// Maps a path to the resource it addresses, or 404 like kube-apiserver (discovery documents
/// are not served: kube's typed clients and kube-runtime never ask for them).
pub fn route(reg: &Registry, path: &str) -> Result<Route, ApiError> {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match s.as_slice() {
        ["api", v, rest @ ..] => ("", v, rest),
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return Err(ApiError::no_route()),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(*n), None),
        [p, n, sub] => (*p, Some(*n), Some(*sub)),
        _ => return Err(ApiError::no_route()),
    };
    let ty = reg
        .find(group, version, plural)
        .ok_or_else(ApiError::no_route)?;
    let rt = &reg.types[ty];
    // Namespaced objects are addressed inside a namespace; cluster objects never are.
    if namespace.is_some() && !rt.namespaced
        || rt.namespaced && namespace.is_none() && name.is_some()
        || name.is_some_and(str::is_empty)
    {
        return Err(ApiError::no_route());
    }
    let status = match sub {
        None => false,
        Some("status") if rt.status_subresource && rt.is_crd() => true,
        Some(_) => return Err(ApiError::no_route()),
    };
    Ok(Route {
        ty,
        namespace,
        name: name.map(String::from),
        status,
    })
}
