//! Value-level OpenAPI checks of CRD schemas: enum, string length/pattern/format and
//! numeric bounds, with kube-openapi's error texts.

use serde_json::Value;

use super::meta::cached_regex;
use super::status::{FieldError, fmt_num};

fn flag(s: &Value, key: &str) -> bool {
    s.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn num_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

/// Scalar value validations (enum, string and number constraints, formats).
pub fn check_value(s: &Value, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.iter().any(|a| num_eq(a, v))
    {
        errs.push(FieldError::not_supported(path, v, allowed));
    }
    if let Value::String(st) = v {
        let chars = st.chars().count() as u64;
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            errs.push(FieldError::too_long(path, max as usize));
        }
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            errs.push(FieldError::invalid(
                path,
                v,
                &format!("{path} in body should be at least {min} chars long"),
            ));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str)
            && !cached_regex(p).is_some_and(|r| r.is_match(st))
        {
            errs.push(FieldError::invalid(
                path,
                v,
                &format!("{path} in body should match '{p}'"),
            ));
        }
        if let Some(f) = s.get("format").and_then(Value::as_str)
            && !format_ok(f, st)
        {
            errs.push(FieldError::invalid(
                path,
                v,
                &format!(
                    "{path} in body must be of type {f}: {}",
                    Value::from(st.as_str())
                ),
            ));
        }
    }
    if let Some(x) = v.as_f64().filter(|_| v.is_number()) {
        let excl_min = flag(s, "exclusiveMinimum");
        let excl_max = flag(s, "exclusiveMaximum");
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && (x < min || (excl_min && x == min))
        {
            let op = if excl_min {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errs.push(FieldError::invalid(
                path,
                v,
                &format!("{path} in body should be {op} {}", fmt_num(min)),
            ));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && (x > max || (excl_max && x == max))
        {
            let op = if excl_max {
                "less than"
            } else {
                "less than or equal to"
            };
            errs.push(FieldError::invalid(
                path,
                v,
                &format!("{path} in body should be {op} {}", fmt_num(max)),
            ));
        }
        if let Some(m) = s.get("multipleOf").and_then(Value::as_f64)
            && m != 0.0
            && ((x / m).fract().abs() > 1e-9)
        {
            errs.push(FieldError::invalid(
                path,
                v,
                &format!("{path} in body should be a multiple of {}", fmt_num(m)),
            ));
        }
    }
}

/// String formats kube-apiserver checks for CRDs (unknown formats such as `int32` are ignored).
fn format_ok(format: &str, s: &str) -> bool {
    use std::net::{Ipv4Addr, Ipv6Addr};
    match format {
        "date-time" | "datetime" => s.parse::<k8s_openapi::jiff::Timestamp>().is_ok(),
        "date" => s.parse::<k8s_openapi::jiff::civil::Date>().is_ok() && s.len() == 10,
        "byte" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
        }
        "uuid" => cached_regex(
            "^(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$",
        )
        .is_some_and(|r| r.is_match(s)),
        "ipv4" => s.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<Ipv6Addr>().is_ok(),
        "cidr" => s.split_once('/').is_some_and(|(ip, bits)| {
            bits.parse::<u8>().is_ok()
                && (ip.parse::<Ipv4Addr>().is_ok() || ip.parse::<Ipv6Addr>().is_ok())
        }),
        "hostname" => cached_regex(
            r"^([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\.?$",
        )
        .is_some_and(|r| r.is_match(s) && s.len() <= 255),
        "email" => cached_regex(r"^[^@\s]+@[^@\s]+$").is_some_and(|r| r.is_match(s)),
        _ => true,
    }
}
