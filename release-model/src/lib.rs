#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod delta;
pub mod deployment;
pub mod deployment_file;
mod error;
pub mod feed;
pub mod notice;
pub mod plan;
mod render;
pub mod resource;
pub mod state;
pub mod status;

pub use error::{Error, Limit, Position};
