//! Integration tests for `release-model`: one binary, one module per concern.

// Every file in the shared fixture folder, against its provenance table.
mod fixtures;
// One small in-repo feed per deviation class of FEED-FORMAT §17, and malformed input.
mod deviations;
// read(write(feed)) == feed for generated feeds.
mod properties;
// The streaming reader agrees with the full read, and respects its limits.
mod streaming;

use std::path::PathBuf;

/// The shared fixtures: `$SYND_FIXTURES`, else `../shared/fixtures` beside the workspace.
/// Missing fixtures fail the run under CI and skip it elsewhere.
pub fn fixtures_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("SYND_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"),
    };
    if dir.join("feeds").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "shared fixtures not found at {} (set SYND_FIXTURES)",
        dir.display()
    );
    eprintln!("skipping: shared fixtures not found at {}", dir.display());
    None
}

/// An in-repo test feed from `tests/data`.
pub fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("test data {}: {e}", path.display()))
}
