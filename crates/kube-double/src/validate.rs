//! The admission-free part of kube-apiserver's write path shared by create and update:
//! decoding and pruning of unknown fields (typed for built-ins, schema and CEL rules for CRDs;
//! kube-apiserver only warns about them by default), kind and metadata validation, and the
//! generation rule.

use serde_json::Value;

use super::builtin;
use super::meta::{self, NameRule};
use super::registry::ResourceType;
use super::schema;
use super::status::{ApiError, FieldError};

thread_local! {
    /// One CEL evaluator per thread: building one registers every Kubernetes CEL function.
    static VALIDATOR: kube::core::cel::Validator = kube::core::cel::Validator::new();
}

/// Decodes, prunes, defaults and validates `obj` in place (metadata already populated).
pub fn check_object(
    rt: &ResourceType,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    meta::normalize_meta(obj)?;
    meta::check_supported(obj)?;
    let name = meta::meta_str(obj, "name").unwrap_or("").to_string();
    let mut errs: Vec<FieldError> = vec![];
    let rule = match rt.builtin {
        Some(b) => {
            *obj = builtin::decode(b, obj)?;
            builtin::check_supported(b, obj)?;
            builtin::name_rule(b)
        }
        None => {
            if let Some(schema) = &rt.schema {
                let structural = schema::process(schema, obj);
                let structural_ok = structural.is_empty();
                errs.extend(structural);
                // Like kube-apiserver, CEL rules run once the object is structurally valid;
                // transition rules (oldSelf) only on updates.
                // Rules that see only parts the update left as they were passed when those
                // were stored, and are left out (see `UnchangedRules`).
                let cel = match (&rt.cel_unchanged, old) {
                    (Some(u), Some(old)) if u.applies(obj, old) => Some(&u.cel),
                    _ => rt.cel.as_deref(),
                };
                if structural_ok
                    && let Some(cel) = cel
                    && let Err(failures) = VALIDATOR.with(|v| v.validate_compiled(cel, obj, old))
                {
                    for f in failures.into_vec() {
                        let field = if f.field_path.is_empty() {
                            "<root>".to_string()
                        } else {
                            f.field_path.clone()
                        };
                        errs.push(FieldError::invalid(&field, &Value::Null, &f.message));
                    }
                }
            }
            NameRule::DnsSubdomain
        }
    };
    errs.extend(meta::validate_meta(obj, rule));
    if let Some(b) = rt.builtin {
        errs.extend(builtin::validate(b, obj, old));
    }
    if let Some(old) = old
        && meta::meta_str(old, "deletionTimestamp").is_some()
    {
        let before = meta::finalizers(old);
        let added: Vec<String> = meta::finalizers(obj)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            let list = added
                .iter()
                .map(|f| format!("{f:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{list}}}"
                ),
            ));
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid(&rt.group, &rt.kind, &name, &errs));
    }
    Ok(())
}

/// Everything generation tracks: all but metadata (and status with a status subresource).
fn spec_part(v: &Value, split_status: bool) -> Value {
    let mut c = v.clone();
    if let Value::Object(m) = &mut c {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if split_status {
            m.remove("status");
        }
    }
    c
}

/// Bumps `metadata.generation` when the spec part changed (custom resources only).
pub fn bump_generation(rt: &ResourceType, old: &Value, new: &mut Value) {
    if !rt.is_crd() {
        return;
    }
    let split = rt.status_subresource;
    let g = old["metadata"]["generation"].as_i64().unwrap_or(1);
    let g = if spec_part(old, split) != spec_part(new, split) {
        g + 1
    } else {
        g
    };
    new["metadata"]["generation"] = Value::from(g);
}
