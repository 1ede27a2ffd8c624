#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod diff;
mod drift;
mod error;
mod model;
mod report;
mod version;

pub use diff::diff;
pub use drift::{DriftReport, InstanceDrift, Offered, Reference, drift};
pub use error::Error;
pub use model::{
    Change, EntryRef, FeedDiff, Hazard, Moved, Retracted, Side, Updated, VersionChange,
};
pub use version::{Version, VersionOrder, compare_versions};
