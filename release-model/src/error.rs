//! The crate's error type.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A place in a feed document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1, counted in bytes.
    pub column: u64,
    /// Byte offset from the start of the document, from 0.
    pub byte_offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A bound on hostile input that a feed exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// Element nesting depth.
    Depth,
    /// Number of entries.
    Entries,
    /// Bytes of character data in one element or attribute.
    TextSize,
    /// Namespace declarations in scope at once.
    NamespaceDeclarations,
    /// Bytes of memory that foreign markup, kept whole, takes in the model.
    ForeignMarkup,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Depth => "nesting depth",
            Limit::Entries => "entry count",
            Limit::TextSize => "text size",
            Limit::NamespaceDeclarations => "namespace declarations in scope",
            Limit::ForeignMarkup => "foreign markup memory",
        })
    }
}

/// Everything that can go wrong in `release-model`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document is not well-formed XML (or, in strict mode, breaks a rule the reader
    /// enforces), at a known place.
    #[error("malformed feed at {position}: {message}{}", expected.as_ref().map(|e| format!(" (expected {e})")).unwrap_or_default())]
    Malformed {
        /// Where.
        position: Position,
        /// What is wrong.
        message: String,
        /// What the reader expected there, when it knows.
        expected: Option<String>,
    },
    /// The document is XML but its root is not an Atom `feed`.
    #[error(
        "not a syndication feed at {position}: root element is {found} (expected {{http://www.w3.org/2005/Atom}}feed)"
    )]
    NotAFeed {
        /// Where the root element starts.
        position: Position,
        /// The root element's name.
        found: String,
    },
    /// The document exceeds a configured bound on hostile input.
    #[error("feed exceeds the {limit} limit of {max} at {position}")]
    LimitExceeded {
        /// Which bound.
        limit: Limit,
        /// Its configured value.
        max: u64,
        /// Where it was exceeded.
        position: Position,
    },
    /// Reading the underlying source, or writing to the destination, failed.
    #[error("reading or writing the feed failed: {0}")]
    Io(#[source] std::io::Error),
    /// The model cannot be written as well-formed XML: it holds a character XML 1.0 does not
    /// allow (even escaped), or a name that is not an XML name. Nothing was written.
    #[error("the feed cannot be written as well-formed XML: {reason}")]
    Unwritable {
        /// What, and where in the output it would have been.
        reason: String,
    },
    /// An instance name that is empty or contains white space or `/`.
    #[error("instance name '{0}' must be non-empty without white space or '/'")]
    InstanceName(String),
    /// A base URL that is not an absolute `http(s)` URL without query or fragment.
    #[error("base URL '{0}' must be an absolute http(s) URL without query or fragment")]
    BaseUrl(String),
    /// A release candidate name not of the form `release-candidate-YYYYMMDDThhmm`.
    #[error("release candidate name '{0}' is not release-candidate-YYYYMMDDThhmm")]
    CandidateName(String),
    /// A scaled topology with fewer than two instances.
    #[error("a scaled topology needs at least two instances, got {0}")]
    TooFewInstances(usize),
    /// A scaled instance that accepts writes: scaled servers are forced read-only.
    #[error("instance {0} is scaled but read-write; scaled servers are read-only")]
    ScaledReadWrite(String),
    /// Two instances with one name.
    #[error("two instances are named {0}")]
    DuplicateInstance(String),
    /// A shared topology updated through an instance it does not contain.
    #[error("shared topology is updated through {0}, which is not one of its instances")]
    UnknownInstance(String),
    /// Instances of one topology with different storage (they are rebuilt the same way).
    #[error("instances of one topology must share a storage kind")]
    MixedStorage,
    /// A deployment file that cannot be used: where, and why.
    #[error("deployment file, {location}: {message}")]
    DeploymentFile {
        /// The line and column of a syntax error, or the path of the field at fault.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A plan from observed state was asked for with no observation of this instance.
    #[error(
        "instance {0} was not observed: its content must be read before a plan is made from it"
    )]
    NotObserved(String),
    /// The planner refuses: the policy is unsafe for the deployment, or asks for what it
    /// cannot do.
    #[error("plan rejected: {reason}")]
    PolicyRejected {
        /// Why, for the operator.
        reason: String,
    },
}

impl Error {
    /// Where in the document the error is, when it is about the document.
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Malformed { position, .. }
            | Error::NotAFeed { position, .. }
            | Error::LimitExceeded { position, .. } => Some(*position),
            _ => None,
        }
    }
}
