#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod delta;
mod error;
pub mod feed;

pub use error::{Error, Limit, Position};
