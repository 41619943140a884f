//! Writes every Roleplane CRD to `DIR/<plural>.<group>.yaml` (`crdgen crds`), or prints them all
//! when no directory is given. CI regenerates into a temporary folder and diffs against `crds/`.
//! `crdgen --guardrails FILE` writes the chart's guardrails admission policy instead.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let Some(first) = args.next() else {
        print!("{}", roleplane::crd::all_yaml());
        return Ok(());
    };
    if first == "--guardrails" {
        let path = args
            .next()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(roleplane::crd::admission::TEMPLATE_PATH));
        return std::fs::write(path, roleplane::crd::admission::chart_template());
    }
    let dir = PathBuf::from(first);
    std::fs::create_dir_all(&dir)?;
    for crd in roleplane::crd::all() {
        let name = crd.metadata.name.clone().expect("CRDs are named");
        let yaml = serde_yaml_ng::to_string(&crd).expect("a CRD serializes to YAML");
        std::fs::write(dir.join(format!("{name}.yaml")), yaml)?;
    }
    Ok(())
}
