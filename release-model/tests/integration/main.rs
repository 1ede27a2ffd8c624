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
// The planner from observed state to a target, instance by instance.
mod converge;
// What the platform can do bounds the plan; runbooks ask for content as servers store it.
mod platform;
// Hostile input: the in-repo corpus and generated inputs, each with its outcome.
mod hostile;
// Feeds, plans, deployments and notices saved as JSON load back equal.
mod round_trip;

use std::path::PathBuf;

/// The shared fixtures, when they are there (see `test_support::fixtures_dir`).
pub fn fixtures_dir() -> Option<PathBuf> {
    test_support::fixtures_dir(env!("CARGO_MANIFEST_DIR"))
}

/// Compares rendered output with `tests/golden/NAME`; `UPDATE_GOLDEN=1` rewrites it.
pub fn golden(name: &str, actual: &str) {
    test_support::golden(env!("CARGO_MANIFEST_DIR"), name, actual);
}

/// An in-repo test feed from `tests/data`.
pub fn data(name: &str) -> Vec<u8> {
    test_support::data(env!("CARGO_MANIFEST_DIR"), name)
}
