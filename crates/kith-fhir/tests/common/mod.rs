//! Shared helpers: where the fixtures are and how to read a manifest.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kith_fhir::{parse_feed, Feed};
use serde_json::Value;

/// Large enough for every fixture (the biggest GP feed is about 2.4 MB).
pub const MAX: usize = 64 * 1024 * 1024;

pub const PATIENTS: [&str; 3] = ["ray", "cathrine", "sirena"];

/// `/work/shared/fixtures`, found from this crate (crates/kith-fhir).
pub fn fixtures() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    assert!(dir.join("SOURCES.md").exists(), "fixtures not found at {}", dir.display());
    dir
}

pub fn patient_dir(patient: &str) -> PathBuf {
    fixtures().join("multiprovider").join(patient)
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn manifest(patient: &str) -> Value {
    serde_json::from_slice(&read(&patient_dir(patient).join("manifest.json"))).expect("manifest")
}

pub fn feed(patient: &str, file: &str) -> Feed {
    let path = patient_dir(patient).join(file);
    parse_feed(&read(&path), MAX).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(file, "kind:name" as the manifest names sources, kind)` for each source.
pub fn sources(manifest: &Value) -> Vec<(String, String, String)> {
    manifest["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            let kind = s["kind"].as_str().expect("kind").to_string();
            let name = s["name"].as_str().expect("name");
            (s["file"].as_str().expect("file").to_string(), format!("{kind}:{name}"), kind)
        })
        .collect()
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
