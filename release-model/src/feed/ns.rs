//! Namespace URIs and well-known identifiers of the syndication format.

/// Atom 1.0 (RFC 4287).
pub const ATOM: &str = "http://www.w3.org/2005/Atom";
/// NCTS ASF extensions: profile, content item, FHIR metadata, `sha256Hash`.
pub const NCTS: &str = "http://ns.electronichealth.net.au/ncts/syndication/asf/extensions/1.0.0";
/// The legacy NCTS extension namespace used by old Ontoserver preload samples; read as
/// [`NCTS`] with a finding.
pub const NCTS_LEGACY: &str =
    "http://ns.electronichealth.net.au/ncts/syndication/asf/extensions/0.1.0";
/// SNOMED International extensions: `packageDependency`, `md5Hash`.
pub const SCT: &str = "http://snomed.info/syndication/sct-extension/1.0.0";
/// Ontoserver extensions: `permission`, `validated` (the trailing slash is part of it).
pub const ONTO: &str = "http://ontoserver.csiro.au/syndication/";
/// CRMI dual-conformance elements.
pub const HL7: &str = "http://hl7.org/fhir/uv/crmi/syndication";
/// The `xml:` namespace (always bound).
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The ASF category scheme.
pub const SCHEME_ASF: &str = "http://ns.electronichealth.net.au/ncts/syndication/asf/scheme/1.0.0";
/// The ASF profile URI, the text of `ncts:atomSyndicationFormatProfile`.
pub const PROFILE_ASF: &str =
    "http://ns.electronichealth.net.au/ncts/syndication/asf/profile/1.0.0";
