//! Prints every Roleplane CRD as YAML (same output as `roleplane crds`).

fn main() {
    print!("{}", roleplane::crd::all_yaml());
}
