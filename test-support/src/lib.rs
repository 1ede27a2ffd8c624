//! Test helpers shared by the workspace's crates (not published).
//!
//! - [`fixtures_dir`] and [`fixture_feed`] find the real public feeds in `../shared/fixtures`
//!   (or wherever `SYND_FIXTURES` points), which tests read but never copy into the repo;
//! - [`golden`] compares rendered output with a golden file, and rewrites it under
//!   `UPDATE_GOLDEN=1`;
//! - [`data`] reads a crate's own small test files from `tests/data`.
//!
//! Every helper takes the calling crate's manifest folder (`env!("CARGO_MANIFEST_DIR")`), so
//! paths resolve the same from any crate.

use std::path::{Path, PathBuf};

/// The shared fixtures folder: `$SYND_FIXTURES`, else `../shared/fixtures` beside the
/// workspace. Missing fixtures fail the run under CI (`CI` set) and skip the test elsewhere.
///
/// # Panics
/// Under CI, when the folder is missing.
pub fn fixtures_dir(manifest_dir: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("SYND_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(manifest_dir).join("../../shared/fixtures"),
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

/// The path of one shared fixture feed, when the fixtures are there.
///
/// # Panics
/// As [`fixtures_dir`].
pub fn fixture_feed(manifest_dir: &str, name: &str) -> Option<PathBuf> {
    fixtures_dir(manifest_dir).map(|d| d.join("feeds").join(name))
}

/// Compares `actual` with the crate's `tests/golden/NAME`; with `UPDATE_GOLDEN` set, writes it
/// instead.
///
/// # Panics
/// When the output differs, or the golden file is missing.
pub fn golden(manifest_dir: &str, name: &str, actual: &str) {
    let path = Path::new(manifest_dir).join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// A file of the crate's own `tests/data`.
///
/// # Panics
/// When it cannot be read.
pub fn data(manifest_dir: &str, name: &str) -> Vec<u8> {
    let path = Path::new(manifest_dir).join("tests/data").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("test data {}: {e}", path.display()))
}
