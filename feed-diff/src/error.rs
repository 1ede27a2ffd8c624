//! The crate's error type.

/// Everything that can go wrong in `feed-diff`. The diff itself cannot fail; drift needs a
/// well-formed list of instances.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Drift was asked of no instances.
    #[error("drift needs at least one instance")]
    NoInstances,
    /// Two instances share a name, so a report could not tell them apart.
    #[error("two instances are named '{0}'")]
    DuplicateInstance(String),
}
