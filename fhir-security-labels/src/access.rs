//! Read-access decisions: can this caller read a resource carrying these labels?
//!
//! The rules are the terminology server's resource-level security (SERVERS.md §1.8.3,
//! enforced when `ontoserver.security.enabled=fine`):
//!
//! - a resource with no read labels needs only FHIR read;
//! - a `{C}.read` label needs `PERM_{C}_READ` or `PERM_READ`, and any one of several read
//!   labels suffices;
//! - `*.read` needs only FHIR read, which is anonymous global read where the server grants
//!   anonymous FHIR read (`ontoserver.security.readOnly.fhir=true`);
//! - write never implies read.
//!
//! A denied read is silently filtered by the server (it looks like "not found"), which is why
//! the deciding rule is returned with every decision.

use std::fmt;

use crate::error::Error;
use crate::label::LabelSet;
use crate::vocab::{Access, Category, Permission};

/// What an authority grants.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Grant {
    /// `FHIR_READ` (scope `system/*.read`).
    FhirRead,
    /// `FHIR_WRITE` (scope `system/*.write`).
    FhirWrite,
    /// `PERM_READ`: read in every category.
    AllCategoriesRead,
    /// `PERM_WRITE`: write in every category.
    AllCategoriesWrite,
    /// `PERM_{CATEGORY}_READ` or `PERM_{CATEGORY}_WRITE`.
    Category {
        /// The category, upper case as in the authority.
        category: String,
        /// Read or write.
        access: Access,
    },
    /// Any other authority (`API_READ`, `SYND_WRITE` …), kept as written.
    Other(String),
}

/// One authority a caller holds: a grant, optionally prefixed with the audience of the server
/// it applies to (multi-server realms prefix roles, e.g. `https://authoring.example/fhirFHIR_READ`;
/// community permissions stay unprefixed).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Authority {
    /// The server audience the authority is limited to, if any.
    pub audience: Option<String>,
    /// What it grants.
    pub grant: Grant,
}

const SUFFIXES: &[(&str, Grant)] = &[
    ("FHIR_READ", Grant::FhirRead),
    ("FHIR_WRITE", Grant::FhirWrite),
    ("PERM_READ", Grant::AllCategoriesRead),
    ("PERM_WRITE", Grant::AllCategoriesWrite),
];

impl Authority {
    /// Parses an authority or its equivalent scope (`system/*.read`, `system/*.write`).
    ///
    /// # Errors
    /// [`Error::UnknownAuthority`] for an empty string.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::UnknownAuthority(s.to_owned()));
        }
        let plain = |grant| {
            Ok(Self {
                audience: None,
                grant,
            })
        };
        match s {
            "system/*.read" => return plain(Grant::FhirRead),
            "system/*.write" => return plain(Grant::FhirWrite),
            _ => {}
        }
        for (suffix, grant) in SUFFIXES {
            if let Some(prefix) = s.strip_suffix(suffix) {
                let audience = (!prefix.is_empty()).then(|| prefix.to_owned());
                return Ok(Self {
                    audience,
                    grant: grant.clone(),
                });
            }
        }
        if let Some(rest) = s.strip_prefix("PERM_") {
            let parsed = rest
                .strip_suffix("_READ")
                .map(|c| (c, Access::Read))
                .or_else(|| rest.strip_suffix("_WRITE").map(|c| (c, Access::Write)));
            if let Some((category, access)) = parsed.filter(|(c, _)| !c.is_empty()) {
                return plain(Grant::Category {
                    category: category.to_ascii_uppercase(),
                    access,
                });
            }
        }
        plain(Grant::Other(s.to_owned()))
    }

    /// An unprefixed authority.
    pub fn new(grant: Grant) -> Self {
        Self {
            audience: None,
            grant,
        }
    }

    /// Whether this authority counts on a server with the given audience: unprefixed ones
    /// count everywhere, prefixed ones only on their own server.
    pub fn applies_to(&self, server_audience: Option<&str>) -> bool {
        match (&self.audience, server_audience) {
            (None, _) => true,
            (Some(a), Some(s)) => a == s,
            (Some(_), None) => false,
        }
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(a) = &self.audience {
            f.write_str(a)?;
        }
        match &self.grant {
            Grant::FhirRead => f.write_str("FHIR_READ"),
            Grant::FhirWrite => f.write_str("FHIR_WRITE"),
            Grant::AllCategoriesRead => f.write_str("PERM_READ"),
            Grant::AllCategoriesWrite => f.write_str("PERM_WRITE"),
            Grant::Category {
                category,
                access: Access::Read,
            } => write!(f, "PERM_{category}_READ"),
            Grant::Category {
                category,
                access: Access::Write,
            } => write!(f, "PERM_{category}_WRITE"),
            Grant::Other(s) => f.write_str(s),
        }
    }
}

impl std::str::FromStr for Authority {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

/// Who is asking: the authorities in their token (none for an anonymous caller).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    authorities: Vec<Authority>,
}

impl Caller {
    /// An anonymous caller.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// A caller holding these authorities.
    pub fn with_authorities(authorities: impl IntoIterator<Item = Authority>) -> Self {
        Self {
            authorities: authorities.into_iter().collect(),
        }
    }

    /// A caller from authority strings.
    ///
    /// # Errors
    /// As [`Authority::parse`].
    pub fn parse<S: AsRef<str>>(authorities: impl IntoIterator<Item = S>) -> Result<Self, Error> {
        let authorities = authorities
            .into_iter()
            .map(|a| Authority::parse(a.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { authorities })
    }

    /// The caller's authorities.
    pub fn authorities(&self) -> &[Authority] {
        &self.authorities
    }

    fn holds(&self, server: &ServerSecurity, grant: &Grant) -> bool {
        self.authorities
            .iter()
            .any(|a| &a.grant == grant && a.applies_to(server.audience.as_deref()))
    }
}

/// How a server enforces security (`ontoserver.security.enabled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityLevel {
    /// `false`: no checks at all.
    Disabled,
    /// `true`: API-level checks only; labels are not evaluated.
    Api,
    /// `fine`: API-level and resource-level (labels) checks.
    Fine,
}

/// The server side of a decision.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerSecurity {
    /// What is enforced.
    pub level: SecurityLevel,
    /// Whether every caller, authenticated or not, has FHIR read
    /// (`ontoserver.security.readOnly.fhir=true`).
    pub anonymous_fhir_read: bool,
    /// The server's audience, for audience-prefixed authorities.
    pub audience: Option<String>,
}

impl ServerSecurity {
    /// Fine-grained security without anonymous read: the usual authoring server.
    pub fn fine() -> Self {
        Self {
            level: SecurityLevel::Fine,
            anonymous_fhir_read: false,
            audience: None,
        }
    }

    /// Fine-grained security where anyone may use FHIR read: the usual public production
    /// server, where `*.read` is anonymous global read.
    pub fn fine_with_anonymous_read() -> Self {
        Self {
            anonymous_fhir_read: true,
            ..Self::fine()
        }
    }

    /// Sets the server's audience.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }
}

/// The rule that decided a read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// Security is disabled: everything is readable.
    SecurityDisabled,
    /// The caller lacks API-level FHIR read, so no resource is readable.
    NoFhirRead,
    /// Labels are not enforced at this security level; FHIR read sufficed.
    LabelsNotEnforced,
    /// The resource carries no read label; FHIR read sufficed.
    NoReadLabels,
    /// The resource carries `*.read`; FHIR read sufficed.
    GlobalRead {
        /// Whether the read was anonymous (granted by the server's anonymous FHIR read).
        anonymous: bool,
    },
    /// The caller holds `PERM_{C}_READ` for one of the resource's read categories.
    CategoryRead {
        /// The category that matched.
        category: String,
    },
    /// The caller holds `PERM_READ`, which covers every category.
    AllCategoriesRead,
    /// The caller holds no read permission for any of the resource's read categories.
    MissingCategoryRead {
        /// The categories that would grant read.
        categories: Vec<String>,
    },
    /// The caller holds only write for the resource's categories; write never implies read.
    WriteDoesNotImplyRead {
        /// The categories the caller may write but not read.
        categories: Vec<String>,
    },
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::SecurityDisabled => f.write_str("security is disabled"),
            Rule::NoFhirRead => f.write_str("the caller lacks FHIR_READ"),
            Rule::LabelsNotEnforced => f.write_str("labels are not enforced; FHIR_READ suffices"),
            Rule::NoReadLabels => f.write_str("no read labels; FHIR_READ suffices"),
            Rule::GlobalRead { anonymous: true } => {
                f.write_str("*.read with anonymous FHIR read: global read")
            }
            Rule::GlobalRead { anonymous: false } => f.write_str("*.read; FHIR_READ suffices"),
            Rule::CategoryRead { category } => write!(
                f,
                "{category}.read matched by PERM_{}_READ",
                category.to_ascii_uppercase()
            ),
            Rule::AllCategoriesRead => f.write_str("PERM_READ covers every category"),
            Rule::MissingCategoryRead { categories } => {
                write!(f, "needs one of {}", needs(categories))
            }
            Rule::WriteDoesNotImplyRead { categories } => write!(
                f,
                "write does not imply read: holds write but needs one of {}",
                needs(categories)
            ),
        }
    }
}

fn needs(categories: &[String]) -> String {
    let mut v: Vec<String> = categories
        .iter()
        .map(|c| format!("PERM_{}_READ", c.to_ascii_uppercase()))
        .collect();
    v.push("PERM_READ".into());
    v.join(", ")
}

/// A read decision with the rule that made it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Decision {
    /// The caller can read the resource.
    Allowed(Rule),
    /// The server filters the resource out for this caller (it looks like "not found").
    Denied(Rule),
}

impl Decision {
    /// Whether the read is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed(_))
    }

    /// The deciding rule.
    pub fn rule(&self) -> &Rule {
        match self {
            Decision::Allowed(r) | Decision::Denied(r) => r,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allowed(r) => write!(f, "allowed: {r}"),
            Decision::Denied(r) => write!(f, "denied: {r}"),
        }
    }
}

/// Who can read a resource, from its labels alone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Readers {
    /// `*.read`: anyone with FHIR read (everyone, where anonymous FHIR read is on).
    Everyone,
    /// No read labels: anyone with FHIR read.
    AnyFhirReader,
    /// Holders of `PERM_READ` or of the read permission of one of these categories.
    Cohorts(Vec<String>),
}

impl LabelSet {
    /// The read permissions among the labels.
    pub fn read_permissions(&self) -> Vec<Permission> {
        self.iter()
            .filter_map(|l| l.permission())
            .filter(Permission::is_read)
            .collect()
    }

    /// Whether the labels make the resource globally readable (`*.read`).
    pub fn is_globally_readable(&self) -> bool {
        self.read_permissions()
            .iter()
            .any(|p| p.category == Category::Any)
    }

    /// Which cohorts can read the resource.
    pub fn readers(&self) -> Readers {
        let reads = self.read_permissions();
        if reads.iter().any(|p| p.category == Category::Any) {
            return Readers::Everyone;
        }
        if reads.is_empty() {
            return Readers::AnyFhirReader;
        }
        Readers::Cohorts(
            reads
                .iter()
                .map(|p| p.category.as_str().to_owned())
                .collect(),
        )
    }
}

/// Decides whether `caller` can read a resource carrying `labels` on a server configured as
/// `server`.
///
/// ```
/// use fhir_security_labels::{decide_read, Caller, Decision, LabelSet, Permission, Rule,
///     ServerSecurity};
///
/// let mut labels = LabelSet::new();
/// labels.add(Permission::read("restricted")?.label());
/// let server = ServerSecurity::fine();
///
/// let member = Caller::parse(["FHIR_READ", "PERM_RESTRICTED_READ"])?;
/// assert!(decide_read(&labels, &member, &server).is_allowed());
///
/// let outsider = Caller::parse(["FHIR_READ"])?;
/// let decision = decide_read(&labels, &outsider, &server);
/// assert!(matches!(decision, Decision::Denied(Rule::MissingCategoryRead { .. })));
/// # Ok::<(), fhir_security_labels::Error>(())
/// ```
pub fn decide_read(labels: &LabelSet, caller: &Caller, server: &ServerSecurity) -> Decision {
    if server.level == SecurityLevel::Disabled {
        return Decision::Allowed(Rule::SecurityDisabled);
    }
    let authenticated_read = caller.holds(server, &Grant::FhirRead);
    if !authenticated_read && !server.anonymous_fhir_read {
        return Decision::Denied(Rule::NoFhirRead);
    }
    if server.level == SecurityLevel::Api {
        return Decision::Allowed(Rule::LabelsNotEnforced);
    }
    let reads = labels.read_permissions();
    if reads.is_empty() {
        return Decision::Allowed(Rule::NoReadLabels);
    }
    if reads.iter().any(|p| p.category == Category::Any) {
        return Decision::Allowed(Rule::GlobalRead {
            anonymous: !authenticated_read,
        });
    }
    let categories: Vec<String> = reads
        .iter()
        .map(|p| p.category.as_str().to_owned())
        .collect();
    for c in &categories {
        let grant = Grant::Category {
            category: c.to_ascii_uppercase(),
            access: Access::Read,
        };
        if caller.holds(server, &grant) {
            return Decision::Allowed(Rule::CategoryRead {
                category: c.clone(),
            });
        }
    }
    if caller.holds(server, &Grant::AllCategoriesRead) {
        return Decision::Allowed(Rule::AllCategoriesRead);
    }
    let writable: Vec<String> = categories
        .iter()
        .filter(|c| {
            caller.holds(server, &Grant::AllCategoriesWrite)
                || caller.holds(
                    server,
                    &Grant::Category {
                        category: c.to_ascii_uppercase(),
                        access: Access::Write,
                    },
                )
        })
        .cloned()
        .collect();
    if !writable.is_empty() {
        return Decision::Denied(Rule::WriteDoesNotImplyRead { categories });
    }
    Decision::Denied(Rule::MissingCategoryRead { categories })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::SecurityLabel;
    use crate::vocab::PERMISSION_SYSTEM;

    fn labels(codes: &[&str]) -> LabelSet {
        codes
            .iter()
            .map(|c| SecurityLabel::new(PERMISSION_SYSTEM, *c))
            .collect()
    }

    fn caller(a: &[&str]) -> Caller {
        Caller::parse(a).expect("authorities parse")
    }

    #[test]
    fn category_read_needs_perm_category_read() {
        let d = decide_read(
            &labels(&["alpha.read"]),
            &caller(&["FHIR_READ", "PERM_ALPHA_READ"]),
            &ServerSecurity::fine(),
        );
        assert_eq!(
            d,
            Decision::Allowed(Rule::CategoryRead {
                category: "alpha".into()
            })
        );
        let d = decide_read(
            &labels(&["alpha.read"]),
            &caller(&["FHIR_READ", "PERM_BETA_READ"]),
            &ServerSecurity::fine(),
        );
        assert_eq!(
            d,
            Decision::Denied(Rule::MissingCategoryRead {
                categories: vec!["alpha".into()]
            })
        );
    }

    #[test]
    fn category_read_is_also_granted_by_perm_read() {
        let d = decide_read(
            &labels(&["alpha.read"]),
            &caller(&["FHIR_READ", "PERM_READ"]),
            &ServerSecurity::fine(),
        );
        assert_eq!(d, Decision::Allowed(Rule::AllCategoriesRead));
    }

    #[test]
    fn any_one_of_several_read_labels_suffices() {
        let set = labels(&["alpha.read", "beta.read", "gamma.write"]);
        let d = decide_read(
            &set,
            &caller(&["FHIR_READ", "PERM_BETA_READ"]),
            &ServerSecurity::fine(),
        );
        assert_eq!(
            d,
            Decision::Allowed(Rule::CategoryRead {
                category: "beta".into()
            })
        );
        assert_eq!(
            set.readers(),
            Readers::Cohorts(vec!["alpha".into(), "beta".into()])
        );
    }

    #[test]
    fn global_read_needs_only_fhir_read() {
        let set = labels(&["*.read", "NATIONAL.write"]);
        let d = decide_read(&set, &caller(&["FHIR_READ"]), &ServerSecurity::fine());
        assert_eq!(d, Decision::Allowed(Rule::GlobalRead { anonymous: false }));
        assert!(set.is_globally_readable());
        assert_eq!(set.readers(), Readers::Everyone);
    }

    #[test]
    fn global_read_is_anonymous_where_the_server_allows_anonymous_fhir_read() {
        let set = labels(&["*.read"]);
        let d = decide_read(
            &set,
            &Caller::anonymous(),
            &ServerSecurity::fine_with_anonymous_read(),
        );
        assert_eq!(d, Decision::Allowed(Rule::GlobalRead { anonymous: true }));
        let d = decide_read(&set, &Caller::anonymous(), &ServerSecurity::fine());
        assert_eq!(d, Decision::Denied(Rule::NoFhirRead));
    }

    #[test]
    fn no_read_labels_needs_only_fhir_read() {
        let set = labels(&["alpha.write"]);
        let d = decide_read(&set, &caller(&["FHIR_READ"]), &ServerSecurity::fine());
        assert_eq!(d, Decision::Allowed(Rule::NoReadLabels));
        assert_eq!(LabelSet::new().readers(), Readers::AnyFhirReader);
    }

    #[test]
    fn write_never_implies_read() {
        let set = labels(&["alpha.read"]);
        let d = decide_read(
            &set,
            &caller(&["FHIR_READ", "FHIR_WRITE", "PERM_ALPHA_WRITE"]),
            &ServerSecurity::fine(),
        );
        assert_eq!(
            d,
            Decision::Denied(Rule::WriteDoesNotImplyRead {
                categories: vec!["alpha".into()]
            })
        );
        let d = decide_read(
            &set,
            &caller(&["FHIR_READ", "PERM_WRITE"]),
            &ServerSecurity::fine(),
        );
        assert!(!d.is_allowed());
    }

    #[test]
    fn fhir_read_is_needed_before_any_label_is_considered() {
        let d = decide_read(
            &labels(&["alpha.read"]),
            &caller(&["PERM_ALPHA_READ"]),
            &ServerSecurity::fine(),
        );
        assert_eq!(d, Decision::Denied(Rule::NoFhirRead));
    }

    #[test]
    fn audience_prefixed_authorities_apply_only_to_their_server() {
        let a = Authority::parse("https://authoring.example/fhirFHIR_READ").expect("parses");
        assert_eq!(
            a.audience.as_deref(),
            Some("https://authoring.example/fhir")
        );
        assert_eq!(a.grant, Grant::FhirRead);
        let who = Caller::with_authorities([a]);
        let authoring = ServerSecurity::fine().with_audience("https://authoring.example/fhir");
        let production = ServerSecurity::fine().with_audience("https://production.example/fhir");
        assert!(decide_read(&LabelSet::new(), &who, &authoring).is_allowed());
        assert_eq!(
            decide_read(&LabelSet::new(), &who, &production),
            Decision::Denied(Rule::NoFhirRead)
        );
    }

    #[test]
    fn labels_are_not_enforced_below_fine_security() {
        let mut server = ServerSecurity::fine();
        server.level = SecurityLevel::Api;
        let d = decide_read(&labels(&["alpha.read"]), &caller(&["FHIR_READ"]), &server);
        assert_eq!(d, Decision::Allowed(Rule::LabelsNotEnforced));
        server.level = SecurityLevel::Disabled;
        assert_eq!(
            decide_read(&labels(&["alpha.read"]), &Caller::anonymous(), &server),
            Decision::Allowed(Rule::SecurityDisabled)
        );
    }

    #[test]
    fn categories_match_without_regard_to_case() {
        let d = decide_read(
            &labels(&["restricted.read"]),
            &caller(&["system/*.read", "PERM_RESTRICTED_READ"]),
            &ServerSecurity::fine(),
        );
        assert!(d.is_allowed());
    }

    #[test]
    fn authorities_print_as_parsed() {
        for a in [
            "FHIR_READ",
            "PERM_ALPHA_WRITE",
            "PERM_READ",
            "SYND_WRITE",
            "https://x/fhirFHIR_WRITE",
        ] {
            assert_eq!(Authority::parse(a).expect("parses").to_string(), a);
        }
        assert!(Authority::parse(" ").is_err());
    }
}
