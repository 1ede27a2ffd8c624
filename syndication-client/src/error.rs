//! The crate's error type: what went wrong, where (the URL, never a secret), and whether a
//! retry could help.

use std::fmt;

use release_model::deployment::InstanceName;

use crate::download::IntegrityCheck;

/// Everything that can go wrong talking to servers.
///
/// Errors say whether the request was sent: [`Error::Config`] and [`Error::Insecure`] were
/// never sent; [`Error::Transport`] may or may not have reached the server; the others carry
/// the server's answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client is misconfigured; nothing was sent.
    #[error("configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// A plain-HTTP URL where HTTPS is required; nothing was sent.
    #[error("refusing plain HTTP to {url}: use https, or allow insecure URLs for loopback tests")]
    Insecure {
        /// The URL.
        url: String,
    },
    /// Getting an access token failed.
    #[error("token request to {url} failed{}: {message}", status.map(|s| format!(" with status {s}")).unwrap_or_default())]
    Token {
        /// The token endpoint.
        url: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// What the server or transport said (never the secret).
        message: String,
    },
    /// The request may not have reached the server, or its answer was lost.
    #[error("{method} {url}: {message}")]
    Transport {
        /// The method.
        method: &'static str,
        /// The URL.
        url: String,
        /// What happened.
        message: String,
        /// Whether it timed out.
        timeout: bool,
    },
    /// The server answered with an error status.
    #[error("{method} {url}: HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status {
        /// The method.
        method: &'static str,
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The start of the response body.
        body: String,
        /// `Retry-After`, in seconds, when the server sent one.
        retry_after: Option<u64>,
    },
    /// The server's answer could not be understood.
    #[error("{method} {url}: unexpected response: {message}")]
    Decode {
        /// The method.
        method: &'static str,
        /// The URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// A downloaded artefact does not match its feed link; no file was left behind.
    #[error("{url}: {what} mismatch: expected {expected}, got {actual}")]
    Integrity {
        /// The URL downloaded.
        url: String,
        /// Which check failed.
        what: IntegrityCheck,
        /// What the feed declared.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// A link declares neither a length nor a hash, so a download of it could not be
    /// verified; refused unless the downloader allows unverified links.
    #[error("{url}: the link declares no length and no hash, so nothing could verify the download")]
    NothingToVerify {
        /// The URL.
        url: String,
    },
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A platform operation (stop, start, clear storage …) failed.
    #[error("{instance}: {operation} failed: {message}")]
    Infrastructure {
        /// The instance.
        instance: String,
        /// The operation (`stop`, `clear-disk` …).
        operation: &'static str,
        /// What the platform said.
        message: String,
    },
    /// An instance does not hold what the plan says it should, after every retry.
    #[error("{instance}: verification failed: missing [{}], still present [{}]", missing.join(", "), unexpected.join(", "))]
    Verification {
        /// The instance.
        instance: String,
        /// `url|version` that should be present and are not (or cannot be read).
        missing: Vec<String>,
        /// `url|version` that should be gone and are not.
        unexpected: Vec<String>,
    },
    /// The platform cannot do this operation (an [`Infrastructure`](crate::Infrastructure)
    /// that does not implement it).
    #[error("{instance}: the platform cannot {operation}")]
    NotSupported {
        /// The operation (`clear-disk`, `create-instance` …).
        operation: &'static str,
        /// The instance (or instances) it was for.
        instance: String,
    },
    /// A release candidate of this name exists already. Names have minute precision
    /// (`release-candidate-YYYYMMDDThhmm`), so two cuts within one minute collide.
    #[error(
        "a release candidate named {name} exists already: names have minute precision, so cut it again in the next minute, or name it for another minute"
    )]
    CandidateExists {
        /// The name asked for.
        name: release_model::deployment::ReleaseCandidateName,
    },
    /// A plan step failed; the journal records every step done before it.
    #[error("step {step} ({action} on {instance}) failed: {source}")]
    Step {
        /// The step's number: 1 for the plan's first step, as runbooks number them.
        step: usize,
        /// The instance.
        instance: InstanceName,
        /// The action's name.
        action: &'static str,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// A journal written for a plan with other steps.
    #[error(
        "the journal was written for a plan with other steps (journal {journal}, this plan {plan}): resume with the plan the journal was written for, or check what its run did on each instance and start a new journal"
    )]
    JournalMismatch {
        /// The journal's plan fingerprint.
        journal: String,
        /// This plan's fingerprint.
        plan: String,
    },
    /// A journal that does not fit the plan it is resumed with, or is not a journal: resuming
    /// from it could skip steps that were never done.
    #[error("the journal cannot be resumed: {reason}")]
    JournalInvalid {
        /// What is wrong with it.
        reason: String,
    },
    /// A step started in a run that died before it ended, and whether it took effect cannot
    /// be observed: check the instance, then record what you found with
    /// `Journal::mark_done` or `Journal::mark_not_done` and resume.
    #[error(
        "step {step} ({action} on {instance}) was interrupted in an earlier run and {reason}: check the instance, mark the step done or not done in the journal, and resume"
    )]
    Unreconciled {
        /// The step's number, from 1.
        step: usize,
        /// The instance.
        instance: InstanceName,
        /// The action's name.
        action: &'static str,
        /// Why it cannot be reconciled.
        reason: String,
    },
    /// A plan would take the service down without the notice its downtime needs (none, given
    /// late, or outside its window); nothing was taken down.
    #[error(
        "the release takes the service down and {reason}: give ten working days' notice and run it in its window, or use an emergency override (which the journal records)"
    )]
    NoticeNotMet {
        /// What is wrong with the notice.
        reason: String,
    },
    /// A production run without staging having verified the same release first; nothing was
    /// done on production.
    #[error(
        "production goes after staging: {reason}; run the release on staging first and give its plan and journal (StagingGate::Verified), or give a reason to go without (StagingGate::Override, recorded in the journal)"
    )]
    StagingNotVerified {
        /// What is missing.
        reason: String,
    },
    /// An instance could not be observed, so no plan can be made from its state.
    #[error("{instance} could not be observed: {source}")]
    Observe {
        /// The instance.
        instance: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// The planner refused the release (what the policy or platform does not allow).
    #[error("{0}")]
    Plan(#[source] release_model::Error),
    /// A feed could not be read.
    #[error("{url}: {source}")]
    Feed {
        /// Where it came from.
        url: String,
        /// The reader's error, with line and column.
        #[source]
        source: release_model::Error,
    },
}

impl Error {
    /// Whether repeating the same (idempotent) request could succeed: connection failures,
    /// timeouts, and HTTP 429, 502, 503 and 504.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Step { source, .. } => source.is_retryable(),
            Error::Status { status, .. }
            | Error::Token {
                status: Some(status),
                ..
            } => {
                matches!(status, 429 | 502 | 503 | 504)
            }
            _ => false,
        }
    }

    /// The HTTP status, when the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            Error::Token { status, .. } => *status,
            _ => None,
        }
    }

    /// Whether the server said the resource does not exist (or the caller may not see it:
    /// terminology servers filter denied reads silently).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the server reported a conflict (an existing feed or alias).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409) || matches!(self, Error::CandidateExists { .. })
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Transport { timeout: true, .. })
    }
}

/// A URL as shown in errors and logs: without user information or query values that could
/// carry credentials.
pub(crate) struct ShownUrl<'a>(pub(crate) &'a reqwest::Url);

impl fmt::Display for ShownUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = self.0;
        write!(f, "{}://{}", u.scheme(), u.host_str().unwrap_or(""))?;
        if let Some(p) = u.port() {
            write!(f, ":{p}")?;
        }
        f.write_str(u.path())?;
        if u.query().is_some() {
            let mut sep = '?';
            for (k, v) in u.query_pairs() {
                let lower = k.to_ascii_lowercase();
                // Presigned URLs (S3's X-Amz-Signature and X-Amz-Credential, Azure's sig)
                // carry credentials in the query too.
                let secret = [
                    "token",
                    "secret",
                    "password",
                    "key",
                    "code",
                    "signature",
                    "sig",
                    "credential",
                    "auth",
                    "session",
                ]
                .iter()
                .any(|s| lower.contains(s));
                write!(
                    f,
                    "{sep}{k}={}",
                    if secret { "REDACTED" } else { v.as_ref() }
                )?;
                sep = '&';
            }
        }
        Ok(())
    }
}

/// A URL given as text, as errors and logs show it (see [`ShownUrl`]).
pub(crate) fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => ShownUrl(&u).to_string(),
        Err(_) => "(a URL that does not parse)".to_owned(),
    }
}

/// The first part of a response body, for error messages, with anything that looks like a
/// credential removed: a server may echo the request's `Authorization` header, and a token
/// response that does not parse still carries its token.
pub(crate) fn excerpt(body: &str) -> String {
    const MAX: usize = 300;
    let cleaned = redact_credentials(body.trim());
    match cleaned.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &cleaned[..i]),
        None => cleaned,
    }
}

/// `text` with the values after credential markers replaced by `REDACTED`: an
/// `Authorization` header to the end of its line, a bearer token, and the values of token
/// fields in JSON or form encoding.
pub(crate) fn redact_credentials(text: &str) -> String {
    const MARKERS: [&str; 8] = [
        "authorization:",
        "authorization\":",
        "bearer ",
        "\"access_token\"",
        "\"refresh_token\"",
        "\"id_token\"",
        "access_token=",
        "client_secret=",
    ];
    // ASCII lower-casing keeps every byte where it was, so offsets match `text`'s.
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some((found, marker)) = MARKERS
        .iter()
        .filter_map(|m| lower[at..].find(m).map(|p| (at + p, *m)))
        .min_by_key(|(p, _)| *p)
    {
        let mut value = found + marker.len();
        out.push_str(&text[at..value]);
        while value < bytes.len() && matches!(bytes[value], b' ' | b'\t' | b':' | b'"' | b'=') {
            value += 1;
        }
        out.push_str(&text[found + marker.len()..value]);
        let line_end = marker.starts_with("authorization");
        let mut end = value;
        while end < bytes.len() {
            let b = bytes[end];
            let stop = if line_end {
                matches!(b, b'\n' | b'\r' | b'"')
            } else {
                matches!(
                    b,
                    b'"' | b',' | b'}' | b'\n' | b'\r' | b'&' | b' ' | b'<' | b'\''
                )
            };
            if stop {
                break;
            }
            end += 1;
        }
        if end > value {
            out.push_str("REDACTED");
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presigned_url_signatures_and_credentials_are_not_shown() {
        let url = reqwest::Url::parse(
            "https://user:pw@bucket.example.org/index.bin?X-Amz-Credential=AKIA%2Fcred&X-Amz-Signature=abc123&sig=def456&part=1",
        )
        .expect("a URL");
        let shown = ShownUrl(&url).to_string();
        for secret in ["AKIA", "abc123", "def456", "pw"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("part=1"), "{shown}");
    }

    #[test]
    fn credentials_in_bodies_are_redacted() {
        for (body, secret) in [
            ("Authorization: Bearer abc.def\nnext", "abc.def"),
            ("{\"access_token\": \"tok-1\", \"x\": 1}", "tok-1"),
            (
                "{\"headers\":{\"authorization\":\"Bearer tok-2\"}}",
                "tok-2",
            ),
            ("grant=1&client_secret=sec-3&x=2", "sec-3"),
            ("auth failed for bearer tok-4", "tok-4"),
        ] {
            let shown = excerpt(body);
            assert!(!shown.contains(secret), "{body:?} -> {shown:?}");
            assert!(shown.contains("REDACTED"), "{shown}");
        }
        assert_eq!(excerpt("nothing secret here"), "nothing secret here");
        assert!(excerpt("Authorization: Bearer abc\nkept").ends_with("\nkept"));
    }
}
