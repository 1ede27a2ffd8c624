//! Syndication status: whether a resource on an authoring server appears in its feed.
//!
//! Status is not a FHIR extension, tag or `meta` field: servers set and report it only through
//! `/synd/setSyndicationStatus` and `/synd/getSyndicationStatus` (SERVERS.md §1.3).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether a resource appears in its server's syndication feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SyndicationStatus {
    /// Approved for syndication: the feed offers it.
    Syndicated,
    /// Not in the feed (a draft, or withdrawn).
    NotSyndicated,
}

impl SyndicationStatus {
    /// The status from a yes or no.
    pub fn from_flag(syndicated: bool) -> Self {
        if syndicated {
            Self::Syndicated
        } else {
            Self::NotSyndicated
        }
    }

    /// Whether the feed offers the resource.
    pub fn is_syndicated(self) -> bool {
        self == Self::Syndicated
    }

    /// The value of the `syndicate` query parameter that sets this status.
    pub fn as_param(self) -> &'static str {
        if self.is_syndicated() {
            "true"
        } else {
            "false"
        }
    }

    /// Reads the body of a `getSyndicationStatus` answer. Its shape is not documented
    /// (SERVERS.md §1.2: UNCONFIRMED), so this accepts the forms a server may plausibly send:
    /// `true`/`false` as text or JSON, quoted or not, or a JSON object whose `syndicate`,
    /// `syndicated` or `status` member is one of those. `None` for anything else.
    pub fn from_answer(body: &str) -> Option<Self> {
        fn flag(v: &serde_json::Value) -> Option<bool> {
            match v {
                serde_json::Value::Bool(b) => Some(*b),
                serde_json::Value::String(s) => text(s),
                _ => None,
            }
        }
        fn text(s: &str) -> Option<bool> {
            match s.trim() {
                t if t.eq_ignore_ascii_case("true") => Some(true),
                t if t.eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            }
        }
        let found = text(body).or_else(|| {
            let v: serde_json::Value = serde_json::from_str(body).ok()?;
            flag(&v).or_else(|| {
                ["syndicate", "syndicated", "status"]
                    .iter()
                    .find_map(|k| v.get(k).and_then(flag))
            })
        });
        found.map(Self::from_flag)
    }
}

impl fmt::Display for SyndicationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syndicated => "syndicated",
            Self::NotSyndicated => "not syndicated",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_the_plausible_shapes_are_read_and_others_are_not() {
        for (body, want) in [
            ("true", Some(SyndicationStatus::Syndicated)),
            (" false\n", Some(SyndicationStatus::NotSyndicated)),
            ("\"true\"", Some(SyndicationStatus::Syndicated)),
            (
                r#"{"syndicate": false}"#,
                Some(SyndicationStatus::NotSyndicated),
            ),
            (
                r#"{"syndicated": "true"}"#,
                Some(SyndicationStatus::Syndicated),
            ),
            ("yes", None),
            (r#"{"other": true}"#, None),
            ("", None),
        ] {
            assert_eq!(SyndicationStatus::from_answer(body), want, "{body:?}");
        }
        assert_eq!(SyndicationStatus::from_flag(true).as_param(), "true");
    }
}
