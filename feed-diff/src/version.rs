//! Ordering content-item versions: which is newer.
//!
//! Versions are compared only within one format. SNOMED CT version URIs order by their date,
//! `YYYYMMDD` by date, SemVer by SemVer 2.0.0 precedence, dotted numbers (LOINC `2.81`) and
//! plain integers numerically. Two versions in different formats are
//! [`VersionOrder::Incomparable`]: never compared as strings.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The format a version was recognised in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Version {
    /// `http://snomed.info/(x)sct/<module>/version/<YYYYMMDD>`.
    Snomed {
        /// The module id.
        module: String,
        /// The release date as `YYYYMMDD`.
        date: u32,
    },
    /// A date `YYYYMMDD`.
    Date(u32),
    /// SemVer 2.0.0.
    SemVer {
        /// Major, minor, patch.
        core: [u64; 3],
        /// Pre-release identifiers (empty for a release).
        pre: Vec<String>,
    },
    /// Dotted numbers other than SemVer (`2.81`, `4.0`).
    Dotted(Vec<u64>),
    /// A plain integer.
    Integer(u64),
    /// Anything else.
    Other(String),
}

/// How two versions compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum VersionOrder {
    /// The first is older.
    Older,
    /// The same version.
    Same,
    /// The first is newer.
    Newer,
    /// Different formats, or a format with no order.
    Incomparable,
}

impl Version {
    /// Recognises a version. A FHIR `url|version` is read by its version part.
    pub fn parse(raw: &str) -> Self {
        let s = raw.trim();
        let s = s.rsplit_once('|').map_or(s, |(_, v)| v);
        if let Some(v) = snomed(s) {
            return v;
        }
        if s.len() == 8
            && s.bytes().all(|b| b.is_ascii_digit())
            && let Ok(d) = s.parse::<u32>()
            && valid_date(d)
        {
            return Version::Date(d);
        }
        if !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = s.parse()
        {
            return Version::Integer(n);
        }
        if let Some(v) = semver(s) {
            return v;
        }
        if let Some(parts) = dotted(s) {
            return Version::Dotted(parts);
        }
        Version::Other(s.to_owned())
    }

    /// Compares two versions of the same content item.
    pub fn compare(&self, other: &Version) -> VersionOrder {
        let ord = match (self, other) {
            (Version::Snomed { module: a, date: x }, Version::Snomed { module: b, date: y })
                if a == b =>
            {
                x.cmp(y)
            }
            (Version::Date(x), Version::Date(y)) => x.cmp(y),
            (Version::Integer(x), Version::Integer(y)) => x.cmp(y),
            (Version::Dotted(x), Version::Dotted(y)) => x.cmp(y),
            (Version::SemVer { core: a, pre: p }, Version::SemVer { core: b, pre: q }) => {
                a.cmp(b).then_with(|| pre_cmp(p, q))
            }
            (Version::Other(a), Version::Other(b)) if a == b => Ordering::Equal,
            _ => return VersionOrder::Incomparable,
        };
        match ord {
            Ordering::Less => VersionOrder::Older,
            Ordering::Equal => VersionOrder::Same,
            Ordering::Greater => VersionOrder::Newer,
        }
    }
}

/// Compares two version strings (see [`Version::compare`]).
pub fn compare_versions(a: &str, b: &str) -> VersionOrder {
    Version::parse(a).compare(&Version::parse(b))
}

impl fmt::Display for VersionOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VersionOrder::Older => "older",
            VersionOrder::Same => "same",
            VersionOrder::Newer => "newer",
            VersionOrder::Incomparable => "incomparable",
        })
    }
}

fn valid_date(d: u32) -> bool {
    let (m, day) = ((d / 100) % 100, d % 100);
    (1..=12).contains(&m) && (1..=31).contains(&day)
}

fn snomed(s: &str) -> Option<Version> {
    let rest = s
        .strip_prefix("http://snomed.info/sct/")
        .or_else(|| s.strip_prefix("http://snomed.info/xsct/"))?;
    let (module, date) = rest.split_once("/version/")?;
    if module.is_empty() || !module.bytes().all(|b| b.is_ascii_digit()) || date.len() != 8 {
        return None;
    }
    let d: u32 = date.parse().ok()?;
    valid_date(d).then(|| Version::Snomed {
        module: module.to_owned(),
        date: d,
    })
}

fn number(p: &str) -> Option<u64> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || (p.len() > 1 && p.starts_with('0'))
    {
        return None;
    }
    p.parse().ok()
}

fn semver(s: &str) -> Option<Version> {
    let s = s.split_once('+').map_or(s, |(v, _)| v);
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (s, None),
    };
    let mut parts = core.split('.');
    let mut nums = [0u64; 3];
    for n in &mut nums {
        *n = number(parts.next()?)?;
    }
    if parts.next().is_some() {
        return None;
    }
    let pre = match pre {
        None => Vec::new(),
        Some(p) if !p.is_empty() && p.split('.').all(|i| !i.is_empty()) => {
            p.split('.').map(str::to_owned).collect()
        }
        Some(_) => return None,
    };
    Some(Version::SemVer { core: nums, pre })
}

fn dotted(s: &str) -> Option<Vec<u64>> {
    if !s.contains('.') {
        return None;
    }
    s.split('.')
        .map(|p| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().ok()
            } else {
                None
            }
        })
        .collect()
}

/// SemVer 2.0.0 §11: a release outranks its pre-releases; identifiers compare numerically
/// when numeric, numeric ones rank below alphanumeric ones, and a longer list wins a tie.
fn pre_cmp(a: &[String], b: &[String]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    for (x, y) in a.iter().zip(b) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snomed_versions_order_by_date_within_a_module() {
        let a = "http://snomed.info/sct/32506021000036107/version/20260331";
        let b = "http://snomed.info/sct/32506021000036107/version/20260430";
        assert_eq!(compare_versions(a, b), VersionOrder::Older);
        assert_eq!(compare_versions(b, a), VersionOrder::Newer);
        let other_module = "http://snomed.info/sct/900000000000207008/version/20260501";
        assert_eq!(
            compare_versions(a, other_module),
            VersionOrder::Incomparable
        );
    }

    #[test]
    fn dates_integers_dotted_and_semver() {
        assert_eq!(
            compare_versions("20260408", "20251231"),
            VersionOrder::Newer
        );
        assert_eq!(
            compare_versions("9", "10"),
            VersionOrder::Older,
            "numerically, not as strings"
        );
        assert_eq!(
            compare_versions("2.81", "2.9"),
            VersionOrder::Newer,
            "LOINC 2.81 is after 2.9"
        );
        assert_eq!(compare_versions("1.10.0", "1.9.0"), VersionOrder::Newer);
        assert_eq!(
            compare_versions("1.0.0-alpha", "1.0.0"),
            VersionOrder::Older
        );
        assert_eq!(
            compare_versions("1.0.0-alpha.1", "1.0.0-alpha.beta"),
            VersionOrder::Older
        );
        assert_eq!(
            compare_versions("1.0.0-rc.1", "1.0.0-beta.11"),
            VersionOrder::Newer
        );
        assert_eq!(
            compare_versions("1.0.0+build.5", "1.0.0"),
            VersionOrder::Same
        );
        assert_eq!(
            compare_versions("http://x/vs|1.2.0", "http://x/vs|1.10.0"),
            VersionOrder::Older
        );
    }

    #[test]
    fn mixed_formats_are_incomparable() {
        assert_eq!(
            compare_versions("20260408", "1.0.0"),
            VersionOrder::Incomparable
        );
        assert_eq!(
            compare_versions("1.0.0", "2.81"),
            VersionOrder::Incomparable
        );
        assert_eq!(
            compare_versions("preview", "final"),
            VersionOrder::Incomparable
        );
        assert_eq!(compare_versions("preview", "preview"), VersionOrder::Same);
        assert_eq!(
            compare_versions("20261301", "20260101"),
            VersionOrder::Incomparable,
            "month 13 is not a date"
        );
    }
}
