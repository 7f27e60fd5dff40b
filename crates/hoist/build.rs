//! `HOIST_BUILD_ID`: a fingerprint of everything the binaries of this crate are built from
//! (sources, templates, manifests, lock file, profile, target). `hoist` and the host-only
//! `hoist-host` of one build share it; a controller sends a `hoist-host` found beside it only
//! when that one's id is its own (`cargo run` rebuilds `hoist` alone and leaves a stale one).

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

const INPUTS: [&str; 7] = [
    "src",
    "templates",
    "assets",
    "Cargo.toml",
    "../hoist-core/src",
    "../hoist-core/Cargo.toml",
    "../../Cargo.lock",
];

fn main() {
    let mut files = Vec::new();
    for input in INPUTS {
        println!("cargo:rerun-if-changed={input}");
        collect(Path::new(input), &mut files);
    }
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in &files {
        hasher.write(file.to_string_lossy().as_bytes());
        hasher.write(&std::fs::read(file).unwrap_or_default());
    }
    for variable in ["PROFILE", "TARGET", "OPT_LEVEL", "DEBUG"] {
        println!("cargo:rerun-if-env-changed={variable}");
        hasher.write(std::env::var(variable).unwrap_or_default().as_bytes());
    }
    println!(
        "cargo:rustc-env=HOIST_BUILD_ID={}-{:016x}",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
        hasher.finish()
    );
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.flatten() {
                collect(&entry.path(), files);
            }
        }
        Err(_) if path.is_file() => files.push(path.to_owned()),
        Err(_) => {}
    }
}
