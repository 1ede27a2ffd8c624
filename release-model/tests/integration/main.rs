//! Integration tests for `release-model`: one binary, one module per concern.

// Every file in the shared fixture folder, against its provenance table.
mod fixtures;
// One small in-repo feed per deviation class of FEED-FORMAT §17, and malformed input.
mod deviations;
// read(write(feed)) == feed for generated feeds.
mod properties;
// The streaming reader agrees with the full read, and respects its limits.
mod streaming;
// The planner's rules, decision table and golden runbooks.
mod planner;

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

/// Compares rendered output with `tests/golden/NAME`; `UPDATE_GOLDEN=1` rewrites it.
pub fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("golden file writes");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// An in-repo test feed from `tests/data`.
pub fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("test data {}: {e}", path.display()))
}
