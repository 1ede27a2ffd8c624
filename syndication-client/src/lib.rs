#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod auth;
mod command;
mod download;
mod error;
mod executor;
mod fanout;
mod http;
mod journal;
mod observe;
#[cfg(feature = "postgres")]
mod postgres;
mod release;
mod secret;
mod syndication;
mod terminology;
#[cfg(feature = "testkit")]
pub mod testkit;

/// The attribute [`Infrastructure`] implementations need (re-exported from `async-trait`).
pub use async_trait::async_trait;
pub use auth::{
    ClientAuth, ClientCredentials, ClientCredentialsConfig, Clock, ManualClock, NoAuth,
    StaticToken, SystemClock, TokenSource,
};
pub use command::{CommandInfrastructure, DEFAULT_COMMAND_TIMEOUT};
pub use download::{ArtefactCheck, Downloaded, Downloader, IntegrityCheck};
pub use error::Error;
pub use executor::{Event, Executor, Infrastructure, StagingGate, WaitPolicy, Wipe};
pub use fanout::fan_out;
pub use http::{ClientOptions, RetryPolicy};
pub use journal::{Journal, JournalFile, JournalStore, Outcome, Record, plan_fingerprint};
pub use observe::{Observed, observe};
#[cfg(feature = "postgres")]
pub use postgres::SchemaReset;
pub use release::{Prepared, Record as DeploymentRecord, candidate_name, prepare};
pub use secret::{AccessToken, ClientSecret};
pub use syndication::{
    AliasTarget, FeedDetails, FeedEntry, FeedName, FeedSummary, SyndicationClient,
};
pub use terminology::{FeedFetch, HOLDINGS_PAGE, Holdings, TerminologyClient};
