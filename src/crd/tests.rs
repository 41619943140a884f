//! Schema tests: every value bounded, categories and columns, and the CEL rules as kube-apiserver
//! would run them.

mod bounds {
    use crate::crd::*;
    use serde_json::Value;

    /// Walks a schema, collecting paths of strings without maxLength (or enum/format) and lists
    /// and maps without maxItems/maxProperties: unbounded values break the CEL cost budget.
    fn unbounded(schema: &Value, path: &str, out: &mut Vec<String>) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        match obj.get("type").and_then(Value::as_str) {
            Some("string")
                if !obj.contains_key("maxLength")
                    && !obj.contains_key("enum")
                    && !obj.contains_key("format") =>
            {
                out.push(path.to_string())
            }
            Some("array") if !obj.contains_key("maxItems") => out.push(path.to_string()),
            Some("object")
                if obj.contains_key("additionalProperties")
                    && !obj.contains_key("maxProperties") =>
            {
                out.push(path.to_string())
            }
            _ => {}
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                unbounded(v, &format!("{path}.{k}"), out);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(v) = obj.get(key) {
                unbounded(v, &format!("{path}[]"), out);
            }
        }
    }

    #[test]
    fn every_string_list_and_map_in_the_crds_is_bounded() {
        for crd in all() {
            let schema =
                serde_json::to_value(&crd.spec.versions[0].schema).unwrap()["openAPIV3Schema"]
                    .clone();
            let mut out = Vec::new();
            unbounded(&schema["properties"]["spec"], "spec", &mut out);
            unbounded(&schema["properties"]["status"], "status", &mut out);
            assert!(
                out.is_empty(),
                "{}: unbounded fields {out:?}",
                crd.metadata.name.unwrap()
            );
        }
    }

    #[test]
    fn crds_carry_category_columns_and_status_subresource() {
        for crd in all() {
            assert_eq!(
                crd.spec.names.categories.as_deref(),
                Some(&["roleplane".to_string()][..])
            );
            let v = &crd.spec.versions[0];
            assert!(
                v.subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some()
            );
            let cols: Vec<_> = v
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|c| c.name.as_str())
                .collect();
            assert!(cols.contains(&"READY") && cols.contains(&"AGE"), "{cols:?}");
        }
    }

    /// The formats kube-apiserver knows: the numeric ones and the string formats it validates.
    /// Any other (schemars' `uint32`, say) makes every apply warn `unrecognized format`.
    const KUBERNETES_FORMATS: &[&str] = &[
        "int32",
        "int64",
        "float",
        "double",
        "byte",
        "password",
        "date",
        "date-time",
        "datetime",
        "duration",
        "bsonobjectid",
        "uri",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "cidr",
        "mac",
        "uuid",
        "uuid3",
        "uuid4",
        "uuid5",
        "isbn",
        "isbn10",
        "isbn13",
        "creditcard",
        "ssn",
        "hexcolor",
        "rgbcolor",
    ];

    fn formats(node: &Value, path: &str, out: &mut Vec<String>) {
        match node {
            Value::Object(obj) => {
                if let Some(f) = obj.get("format").and_then(Value::as_str)
                    && !KUBERNETES_FORMATS.contains(&f)
                {
                    out.push(format!("{path}: {f}"));
                }
                for (k, v) in obj {
                    formats(v, &format!("{path}.{k}"), out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| formats(v, path, out)),
            _ => {}
        }
    }

    #[test]
    fn crds_use_only_formats_kubernetes_knows() {
        for crd in all() {
            let mut out = Vec::new();
            formats(&serde_json::to_value(&crd).unwrap(), "", &mut out);
            assert!(out.is_empty(), "{}: {out:?}", crd.metadata.name.unwrap());
        }
    }

    #[test]
    fn both_config_kinds_share_their_columns() {
        let columns = |crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition| {
            crd.spec.versions[0].additional_printer_columns.clone()
        };
        assert_eq!(
            columns(ProviderConfig::crd()),
            columns(ClusterProviderConfig::crd())
        );
    }

    #[test]
    fn role_rules_are_in_the_schema() {
        let role = serde_json::to_string(&Role::crd()).unwrap();
        assert!(role.contains("set exactly one product block"));
        assert!(role.contains("name is immutable"));
        let pg = serde_json::to_string(&PermissionGroup::crd()).unwrap();
        assert!(pg.contains("productId is immutable"));
    }
}

pub(crate) mod cel {
    //! The CEL rules as kube-apiserver would run them (kube's client-side CEL). The helpers are
    //! shared with the product block files, which test their own rules.
    use crate::crd::*;
    use kube::core::cel::{ScopeContext, Validator, WarningKind, analyze_rule, compile_schema};
    use serde_json::{Value, json};

    pub(crate) fn schema<K: CustomResourceExt>() -> Value {
        serde_json::to_value(&K::crd().spec.versions[0].schema).unwrap()["openAPIV3Schema"].clone()
    }

    /// Every rule in the schema, with the schema node it sits on.
    fn rules(node: &Value, out: &mut Vec<(String, Value)>) {
        if let Some(v) = node
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
        {
            for r in v {
                out.push((r["rule"].as_str().unwrap().to_string(), node.clone()));
            }
        }
        for key in ["properties", "items", "additionalProperties"] {
            match node.get(key) {
                Some(Value::Object(m)) if key == "properties" => {
                    m.values().for_each(|c| rules(c, out))
                }
                Some(child @ Value::Object(_)) => rules(child, out),
                _ => {}
            }
        }
    }

    #[test]
    fn every_rule_compiles_and_stays_within_the_cost_budget() {
        for (name, s) in [
            ("Role", schema::<Role>()),
            ("PermissionGroup", schema::<PermissionGroup>()),
            ("ProviderConfig", schema::<ProviderConfig>()),
            ("ClusterProviderConfig", schema::<ClusterProviderConfig>()),
        ] {
            let mut found = Vec::new();
            rules(&s, &mut found);
            assert!(!found.is_empty(), "{name} has no CEL rules");
            for (rule, node) in found {
                let compiled = compile_schema(&node);
                assert!(
                    compiled.compilation_errors().is_empty(),
                    "{name}: {rule} does not compile"
                );
                let warnings = analyze_rule(&rule, &compiled, ScopeContext::CrdValidation);
                let costly: Vec<_> = warnings
                    .iter()
                    .filter(|w| {
                        matches!(
                            w.kind,
                            WarningKind::CostExceeded | WarningKind::MissingBounds
                        )
                    })
                    .collect();
                assert!(costly.is_empty(), "{name}: {rule}: {costly:?}");
            }
        }
    }

    pub(crate) fn role(spec: Value) -> Value {
        json!({"apiVersion": "roleplane.dev/v1alpha1", "kind": "Role", "metadata": {"name": "r"}, "spec": spec})
    }

    pub(crate) fn config(spec: Value) -> Value {
        json!({"apiVersion": "roleplane.dev/v1alpha1", "kind": "ProviderConfig", "metadata": {"name": "p"}, "spec": spec})
    }

    /// The messages of the rules `obj` breaks (`old`: the object it replaces).
    pub(crate) fn errors(kind: Value, obj: Value, old: Option<Value>) -> Vec<String> {
        match Validator::new().validate(&kind, &obj, old.as_ref()) {
            Ok(()) => vec![],
            Err(e) => e.into_vec().into_iter().map(|e| e.message).collect(),
        }
    }

    #[test]
    fn role_needs_exactly_one_product_block() {
        let base = json!({"providerConfigRef": {"name": "c"}, "name": "R"});
        let mut none = base.clone();
        none["x"] = json!(null);
        assert!(
            errors(schema::<Role>(), role(base.clone()), None)
                .iter()
                .any(|m| m.contains("exactly one product block"))
        );
        let mut two = base.clone();
        two["statsig"] = json!({});
        two["bigpanda"] = json!({"permissions": [{"resourceType": "roles", "actions": ["read"]}]});
        assert!(
            errors(schema::<Role>(), role(two), None)
                .iter()
                .any(|m| m.contains("exactly one product block"))
        );
        let mut one = base;
        one["statsig"] = json!({});
        assert_eq!(
            errors(schema::<Role>(), role(one), None),
            Vec::<String>::new()
        );
    }

    #[test]
    fn product_block_cannot_switch() {
        let old = role(json!({"providerConfigRef": {"name": "c"}, "name": "A", "statsig": {}}));
        let new = role(json!({"providerConfigRef": {"name": "c"}, "name": "A", "slashid": {}}));
        assert!(
            errors(schema::<Role>(), new, Some(old))
                .iter()
                .any(|m| m.contains("product block cannot change"))
        );
    }
}
