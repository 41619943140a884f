//! Writes every Roleplane CRD to `DIR/<plural>.<group>.yaml` (`crdgen crds`), or prints them all
//! when no directory is given. CI regenerates into a temporary folder and diffs against `crds/`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        print!("{}", roleplane::crd::all_yaml());
        return Ok(());
    };
    std::fs::create_dir_all(&dir)?;
    for crd in roleplane::crd::all() {
        let name = crd.metadata.name.clone().expect("CRDs are named");
        let yaml = serde_yaml_ng::to_string(&crd).expect("a CRD serializes to YAML");
        std::fs::write(dir.join(format!("{name}.yaml")), yaml)?;
    }
    Ok(())
}
