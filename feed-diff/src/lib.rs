#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod diff;
mod drift;
mod error;
mod report;
mod version;

pub use diff::{
    Change, EntryRef, FeedDiff, Hazard, Moved, Retracted, Side, Updated, VersionChange, diff,
};
pub use drift::{DriftReport, InstanceDrift, Offered, Reference, drift};
pub use error::Error;
pub use version::{Version, VersionOrder, compare_versions};
