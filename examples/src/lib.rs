//! Runnable programs for the terminology-release workspace.
//!
//! The `synd` command-line example (`cargo run --example synd -- --help`) is a thin wrapper
//! over [`synd::run`], so every command can be driven, and tested, in-process:
//!
//! ```
//! let mut out = Vec::new();
//! let mut err = Vec::new();
//! let code = examples::synd::run(["synd", "--version"], &mut out, &mut err);
//! assert_eq!(code, 0);
//! ```

#![forbid(unsafe_code)]

pub mod demo;
pub mod progress;
pub mod release;
pub mod synd;
