#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod access;
mod approval;
mod error;
mod label;
mod meta;
mod vocab;

pub use access::{
    Authority, Caller, Decision, Grant, Readers, Rule, SecurityLevel, ServerSecurity, decide_read,
};
pub use approval::{Approval, ContentRef, ReadGrant};
pub use error::Error;
pub use label::{LabelKey, LabelSet, SecurityLabel};
pub use meta::{ResourceJson, meta_add_body, meta_delete_body, parse_meta_parameters};
pub use vocab::{
    ACT_CODE_SYSTEM, ACT_REASON_SYSTEM, Access, CONFIDENTIALITY_SYSTEM,
    CONFIDENTIALITY_SYSTEM_LEGACY, Category, Confidentiality, HandlingCaveat, LabelMeaning,
    PERMISSION_SYSTEM, Permission, PurposeOfUse, Sensitivity,
};
