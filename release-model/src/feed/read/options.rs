//! How the reader reads: its mode, the limits on hostile input, and what a full read returns.

use crate::error::Position;
use crate::feed::finding::{Finding, Profile};
use crate::feed::model::Feed;

/// How forgiving the reader is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Survive every deviation of FEED-FORMAT §17 and record each as a finding; a raw `&`
    /// that starts no reference is read as a literal `&`.
    #[default]
    Lenient,
    /// Apply XML 1.0, the IG and RFC 4287: a document that is not well-formed is an error, and
    /// deviations are graded as errors.
    Strict,
}

impl Mode {
    pub(super) fn profile(self) -> Profile {
        match self {
            Mode::Lenient => Profile::Lenient,
            Mode::Strict => Profile::Strict,
        }
    }
}

/// Bounds on hostile input. Each one exceeded is an [`Error::LimitExceeded`](crate::Error::LimitExceeded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// Deepest element nesting (the feed element is depth 1).
    pub max_depth: usize,
    /// Most entries in one feed.
    pub max_entries: usize,
    /// Most bytes of character data in one element or attribute value.
    pub max_text_bytes: usize,
    /// Most findings kept; further ones are counted, not kept, so memory stays bounded.
    pub max_findings: usize,
    /// Most namespace declarations in scope at once (real feeds declare a handful).
    pub max_namespace_declarations: usize,
    /// Most bytes of memory the foreign markup of one document may take in the model (its
    /// names, attributes, text and nodes, about as allocated). A small element costs the
    /// model a hundred bytes or more, many times its size in the input, so without this
    /// bound a feed of tiny foreign elements would cost memory many times its size; real
    /// feeds keep a few kilobytes of foreign markup.
    pub max_foreign_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_entries: 1_000_000,
            max_text_bytes: 16 << 20,
            max_findings: 10_000,
            max_namespace_declarations: 1024,
            max_foreign_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// Sets the deepest element nesting.
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }

    /// Sets the most entries.
    pub fn max_entries(mut self, n: usize) -> Self {
        self.max_entries = n;
        self
    }

    /// Sets the most bytes of character data in one element or attribute.
    pub fn max_text_bytes(mut self, n: usize) -> Self {
        self.max_text_bytes = n;
        self
    }

    /// Sets the most namespace declarations in scope at once.
    pub fn max_namespace_declarations(mut self, n: usize) -> Self {
        self.max_namespace_declarations = n;
        self
    }

    /// Sets the most bytes of memory foreign markup may take.
    pub fn max_foreign_bytes(mut self, n: usize) -> Self {
        self.max_foreign_bytes = n;
        self
    }

    /// Sets the most findings kept.
    pub fn max_findings(mut self, n: usize) -> Self {
        self.max_findings = n;
        self
    }
}

/// Options for reading a feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Lenient (default) or strict.
    pub mode: Mode,
    /// Bounds on hostile input.
    pub limits: Limits,
}

impl ReadOptions {
    /// Lenient reading with default limits.
    pub fn lenient() -> Self {
        Self::default()
    }

    /// Strict reading with default limits.
    pub fn strict() -> Self {
        Self {
            mode: Mode::Strict,
            ..Self::default()
        }
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// A feed read in full, with what the reader noticed on the way.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReadOutcome {
    /// The feed.
    pub feed: Feed,
    /// Where each entry starts, by entry index.
    pub entry_positions: Vec<Position>,
    /// Deviations the reader recovered from (document-level: raw `&`, legacy namespace,
    /// separators in lengths …). Run [`validate`](crate::feed::validate) for the rule checks.
    pub findings: Vec<Finding>,
    /// Findings past [`Limits::max_findings`], counted but not kept.
    pub dropped_findings: usize,
}
