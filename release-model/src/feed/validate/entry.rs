//! The rules for one entry: its elements, links and dates.

use super::{ENTRY_SINGLES, EXTENSION_NAMES, NCTS_ENTRY_SINGLES, Validator};
use crate::feed::content_type::ContentType;
use crate::feed::finding::{FindingCode, Location, Profile};
use crate::feed::model::{Element, Entry, Link, LinkRel};
use crate::feed::ns;
use crate::feed::values::{Checked, DateValue};

impl Validator {
    pub(super) fn entry(&mut self, e: &Entry, loc: Location) {
        if e.id.is_none() {
            self.push(
                FindingCode::EntryMissingId,
                loc.clone(),
                "entry has no id".into(),
            );
        }
        if e.title.is_none() {
            self.push(
                FindingCode::EntryMissingTitle,
                loc.clone(),
                "entry has no title".into(),
            )
        }
        match &e.updated {
            None => self.push(
                FindingCode::EntryMissingUpdated,
                loc.clone(),
                "entry has no updated".into(),
            ),
            Some(d) => self.date(d, "entry updated", loc.clone()),
        }
        match &e.published {
            None if self.profile == Profile::Preload => self.push(
                FindingCode::EntryMissingPublished,
                loc.clone(),
                "entry has no published; Ontoserver 6.24's preload needs it".into(),
            ),
            None => {}
            Some(d) => self.date(d, "entry published", loc.clone()),
        }
        for p in &e.authors {
            let nulls = [&p.name, &p.uri, &p.email]
                .iter()
                .any(|v| v.as_deref() == Some("null"));
            if nulls {
                self.push(
                    FindingCode::EntryAuthorNull,
                    loc.clone(),
                    "author holds the string 'null'".into(),
                );
            }
        }

        // Categories.
        if e.categories.is_empty() {
            self.push(
                FindingCode::EntryMissingCategory,
                loc.clone(),
                "entry has no category".into(),
            );
        } else {
            let mut registered = false;
            for c in &e.categories {
                if c.term.is_empty() {
                    self.push(
                        FindingCode::CategoryMissingTerm,
                        loc.clone(),
                        "category has no term".into(),
                    );
                }
                match &c.scheme {
                    None => self.push(
                        FindingCode::CategoryMissingScheme,
                        loc.clone(),
                        format!("category {} has no scheme", c.term),
                    ),
                    Some(s) => {
                        registered |= ContentType::scheme_is_registered(s);
                        if ContentType::scheme_is_bound(s)
                            && matches!(c.content_type(), ContentType::Other { .. })
                        {
                            self.push(
                                FindingCode::CategoryTermNotInScheme,
                                loc.clone(),
                                format!("term {} is not in the value set bound to {s}", c.term),
                            );
                        }
                    }
                }
            }
            if !registered {
                self.push(
                    FindingCode::EntryNoRegisteredScheme,
                    loc.clone(),
                    "no category uses a registered scheme".into(),
                );
            }
        }

        // Content item.
        if e.identifier.is_none() {
            self.push(
                FindingCode::EntryMissingIdentifier,
                loc.clone(),
                "entry has no ncts:contentItemIdentifier".into(),
            );
        }
        if e.version.is_none() {
            self.push(
                FindingCode::EntryMissingVersion,
                loc.clone(),
                "entry has no ncts:contentItemVersion".into(),
            );
        }
        self.duplicates(
            &e.extensions,
            ENTRY_SINGLES,
            NCTS_ENTRY_SINGLES,
            loc.clone(),
        );
        self.lookalikes(&e.extensions, loc.clone());
        if let Some(d) = &e.package_dependency {
            self.lookalikes(&d.extensions, loc.clone());
        }

        // FHIR.
        let retraction = e.is_retraction();
        let fhir = e.categories.iter().any(|c| c.term.starts_with("FHIR_"));
        if fhir && e.fhir_versions.is_empty() {
            self.push(
                FindingCode::EntryMissingFhirVersion,
                loc.clone(),
                "a FHIR_* entry has no ncts:fhirVersion".into(),
            );
        }
        for v in &e.fhir_versions {
            if !fhir_version_ok(v.as_str()) {
                self.push(
                    FindingCode::EntryFhirVersionMalformed,
                    loc.clone(),
                    format!("fhirVersion '{v}' is not major.minor[.patch] within 5 characters"),
                );
            }
        }
        if let (Some(h), Some(n)) = (
            e.crmi.as_ref().and_then(|c| c.fhir_version.as_ref()),
            e.fhir_versions.first(),
        ) && h != n.as_str()
        {
            self.push(
                FindingCode::CrmiFhirVersionMismatch,
                loc.clone(),
                format!("hl7:fhirVersion {h} differs from ncts:fhirVersion {n}"),
            );
        }
        if let Some(crate::feed::model::BundleInterpretation::Other(v)) = &e.bundle_interpretation {
            self.push(
                FindingCode::EntryBundleInterpretationInvalid,
                loc.clone(),
                format!("bundleInterpretation '{v}' is neither batch nor collection"),
            );
        }
        if fhir
            && !retraction
            && let (Some(id), Some(v)) = (&e.identifier, &e.version)
        {
            let aligned = v
                .as_str()
                .split_once('|')
                .is_some_and(|(url, _)| url == id.as_str());
            if !aligned {
                self.push(
                    FindingCode::EntryFhirAlignment,
                    loc.clone(),
                    format!("contentItemVersion '{v}' is not '{id}|<version>'"),
                );
            }
        }

        // Links.
        let has_alternate = e.alternate_link().is_some();
        if retraction {
            if has_alternate {
                self.push(
                    FindingCode::RetractHasAlternateLink,
                    loc.clone(),
                    "a retraction must not carry an alternate link".into(),
                );
            }
            if e.package_dependency.is_some()
                || e.bundle_interpretation.is_some()
                || !e.fhir_profiles.is_empty()
            {
                self.push(
                    FindingCode::RetractHasPackageMetadata,
                    loc.clone(),
                    "a retraction should not carry packageDependency, bundleInterpretation or fhirProfile".into(),
                );
            }
        } else if e.links.is_empty() {
            self.push(
                FindingCode::EntryMissingLink,
                loc.clone(),
                "entry has no link".into(),
            );
        } else if !has_alternate {
            self.push(
                FindingCode::EntryMissingAlternateLink,
                loc.clone(),
                "entry has no alternate link (RFC 4287 §4.1.2)".into(),
            );
        }
        if e.links.len() > 1 {
            self.push(
                FindingCode::EntryMultipleLinks,
                loc.clone(),
                format!(
                    "entry has {} links (NCTS CP 107 asks for one)",
                    e.links.len()
                ),
            );
        }
        for l in &e.links {
            self.link(l, loc.clone());
        }
    }

    pub(super) fn link(&mut self, l: &Link, loc: Location) {
        if l.href.is_empty() {
            self.push(
                FindingCode::LinkMissingHref,
                loc.clone(),
                "link has no href".into(),
            );
        }
        if l.rel.is_none() {
            self.push(
                FindingCode::LinkMissingRel,
                loc.clone(),
                format!("link {} has no rel", l.href),
            );
        }
        if l.media_type.is_none() {
            self.push(
                FindingCode::LinkMissingType,
                loc.clone(),
                format!("link {} has no type", l.href),
            );
        }
        let artefact = matches!(l.effective_rel(), LinkRel::Alternate | LinkRel::Related);
        if artefact && l.sha256.is_none() && l.md5.is_none() {
            self.push(
                FindingCode::LinkMissingHash,
                loc.clone(),
                format!(
                    "link {} has neither ncts:sha256Hash nor sct:md5Hash",
                    l.href
                ),
            );
        }
        match &l.sha256 {
            Some(Checked::Malformed(raw)) => self.push(
                FindingCode::LinkSha256Malformed,
                loc.clone(),
                format!("sha256Hash '{raw}' is not 64 hex digits"),
            ),
            Some(Checked::Valid(h)) if !h.is_canonical() => self.push(
                FindingCode::LinkHashNotLowercase,
                loc.clone(),
                format!("sha256Hash '{h}' is not lower case"),
            ),
            _ => {}
        }
        match &l.md5 {
            Some(Checked::Malformed(raw)) => self.push(
                FindingCode::LinkMd5Malformed,
                loc.clone(),
                format!("md5Hash '{raw}' is not 32 hex digits"),
            ),
            Some(Checked::Valid(h)) if !h.is_canonical() => self.push(
                FindingCode::LinkHashNotLowercase,
                loc.clone(),
                format!("md5Hash '{h}' is not lower case"),
            ),
            _ => {}
        }
        if let Some(Checked::Malformed(raw)) = &l.length {
            self.push(
                FindingCode::LinkLengthMalformed,
                loc.clone(),
                format!("length '{raw}' is not a non-negative integer"),
            );
        }
        if let Some(Checked::Malformed(raw)) = l.validated.as_ref() {
            self.push(
                FindingCode::LinkValidatedMalformed,
                loc,
                format!("onto:validated '{raw}' is not a boolean"),
            );
        }
    }

    pub(super) fn date(
        &mut self,
        d: &Checked<crate::feed::values::AtomDate>,
        what: &str,
        loc: Location,
    ) {
        match d {
            Checked::Malformed(raw) => self.push(
                FindingCode::DateMalformed,
                loc,
                format!("{what} '{raw}' is not a date"),
            ),
            Checked::Valid(d) => match d.value() {
                DateValue::Instant(_) => {}
                DateValue::Floating(_) => self.push(
                    FindingCode::DateMissingOffset,
                    loc,
                    format!("{what} '{d}' has no offset; read as UTC"),
                ),
                DateValue::DateOnly(_) => self.push(
                    FindingCode::DateMissingTime,
                    loc,
                    format!("{what} '{d}' has no time; read as midnight UTC"),
                ),
            },
        }
    }

    /// Repeats of single-valued elements end up among the extensions.
    pub(super) fn duplicates(
        &mut self,
        ext: &[Element],
        atom: &[&str],
        ncts_names: &[&str],
        loc: Location,
    ) {
        for x in ext {
            let ns = x.name.namespace.as_deref();
            let single = (ns == Some(ns::ATOM) && atom.contains(&x.name.local.as_str()))
                || (matches!(ns, Some(ns::NCTS) | Some(ns::NCTS_LEGACY))
                    && (ncts_names.contains(&x.name.local.as_str())
                        || (self.strict() && x.name.local == "atomSyndicationFormatProfile")));
            if single {
                self.push(
                    FindingCode::DuplicateElement,
                    loc.clone(),
                    format!(
                        "<{}> appears more than once; the repeat is kept as foreign markup",
                        x.name.local
                    ),
                );
            }
        }
    }

    /// Foreign elements that look like extension elements: unknown names in an extension
    /// namespace, or extension names in an unknown namespace.
    pub(super) fn lookalikes(&mut self, ext: &[Element], loc: Location) {
        for x in ext {
            let local = x.name.local.as_str();
            match x.name.namespace.as_deref() {
                Some(ns::NCTS | ns::NCTS_LEGACY | ns::SCT | ns::ONTO | ns::HL7) => {
                    // Repeats of known single-valued elements are reported as duplicates.
                    if !EXTENSION_NAMES.contains(&local) {
                        self.push(
                            FindingCode::ExtensionUnknownElement,
                            loc.clone(),
                            format!(
                                "<{}> is not an element of its extension; kept as foreign markup",
                                x.name
                            ),
                        );
                    }
                }
                Some(ns::ATOM) => {}
                other => {
                    if EXTENSION_NAMES.contains(&local) {
                        self.push(
                            FindingCode::ExtensionWrongNamespace,
                            loc.clone(),
                            format!(
                                "<{local}> is in namespace '{}', not its extension's; kept as foreign markup",
                                other.unwrap_or("")
                            ),
                        );
                    }
                }
            }
        }
    }
}

pub(super) fn fhir_version_ok(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    v.len() <= 5
        && (parts.len() == 2 || parts.len() == 3)
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `^http://snomed\.info/x?sct/\d+/version/\d{8}$`
pub(super) fn snomed_version_uri(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("http://snomed.info/sct/")
        .or_else(|| s.strip_prefix("http://snomed.info/xsct/"))
    else {
        return false;
    };
    let Some((module, date)) = rest.split_once("/version/") else {
        return false;
    };
    !module.is_empty()
        && module.bytes().all(|b| b.is_ascii_digit())
        && date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
}
