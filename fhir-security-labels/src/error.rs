//! The crate's error type.

/// Everything that can go wrong with security labels.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A label was expected in one code system and is in another.
    #[error("label {code} is in system {found}, expected {expected}")]
    WrongSystem {
        /// The system expected.
        expected: String,
        /// The system found (empty when absent).
        found: String,
        /// The label's code.
        code: String,
    },
    /// A code does not have the shape its vocabulary needs.
    #[error("malformed code '{code}': {reason}")]
    MalformedCode {
        /// The code.
        code: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An authority string is not one this crate understands.
    #[error("unknown authority '{0}'")]
    UnknownAuthority(String),
    /// JSON that is not valid, or not the FHIR shape expected.
    #[error("malformed {context}: {source}")]
    Json {
        /// What was being read (`resource`, `Parameters`, `meta.security`).
        context: &'static str,
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// JSON that parsed but is not the FHIR structure expected.
    #[error("malformed {context}: {reason}")]
    Shape {
        /// What was being read.
        context: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Read-granting labels were to be added without an approval. Content must be approved
    /// before anyone is granted read (release-process guidance).
    #[error("granting read ({}) needs an approval; use ReadGrant", labels.join(", "))]
    ReadGrantNeedsApproval {
        /// The read-granting labels.
        labels: Vec<String>,
    },
    /// An approval was presented for content other than the content being released.
    #[error("the approval is for {approved}, not {subject}")]
    ApprovalForOtherContent {
        /// What the approval covers.
        approved: String,
        /// What was to be released.
        subject: String,
    },
    /// An approval dated after the moment the grant is made.
    #[error("the approval is dated {at}, after {now}")]
    ApprovalInFuture {
        /// The approval's time.
        at: chrono::DateTime<chrono::Utc>,
        /// The time the grant was made.
        now: chrono::DateTime<chrono::Utc>,
    },
    /// A grant built from labels that grant nothing.
    #[error("label {0} does not grant read")]
    NotAReadLabel(String),
    /// An approval without an approver.
    #[error("an approval needs a named approver")]
    MissingApprover,
}

impl Error {
    /// Whether the error is about the approval rule (as opposed to malformed input).
    pub fn is_approval(&self) -> bool {
        matches!(
            self,
            Error::ReadGrantNeedsApproval { .. }
                | Error::ApprovalForOtherContent { .. }
                | Error::ApprovalInFuture { .. }
                | Error::MissingApprover
        )
    }
}
