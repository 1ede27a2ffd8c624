//! Terminology syndication feeds: the model, a reader that survives the feeds real servers
//! publish, a writer that terminology servers accept, and a validator that says exactly what
//! is wrong and where.
//!
//! The format is Atom (RFC 4287) with the NCTS ASF (`ncts:`), SNOMED (`sct:`), Ontoserver
//! (`onto:`) and CRMI (`hl7:`) extensions, as profiled by the draft HL7 Terminology
//! Syndication Feed IG.
//!
//! # Reading, checking and writing
//!
//! ```
//! use release_model::feed::{read_feed, validate_read, ContentType, Profile, ReadOptions};
//!
//! let xml = br#"<feed xmlns="http://www.w3.org/2005/Atom"
//!       xmlns:ncts="http://ns.electronichealth.net.au/ncts/syndication/asf/extensions/1.0.0">
//!   <id>urn:uuid:0</id><title>Release</title><updated>2026-11-01T00:00:00Z</updated>
//!   <entry>
//!     <id>urn:uuid:1</id><title>Body sites</title><updated>2026-11-01</updated>
//!     <category term="FHIR_ValueSet"
//!       scheme="http://ns.electronichealth.net.au/ncts/syndication/asf/scheme/1.0.0"/>
//!     <link rel="alternate" type="application/fhir+json" href="https://example.org/vs.json"
//!       length="1,024" ncts:sha256Hash="thisHashIsIncorrect"/>
//!     <ncts:contentItemIdentifier>http://example.org/vs</ncts:contentItemIdentifier>
//!     <ncts:contentItemVersion>http://example.org/vs|1.0.0</ncts:contentItemVersion>
//!     <ncts:fhirVersion>4.0.1</ncts:fhirVersion>
//!   </entry>
//! </feed>"#;
//!
//! let outcome = read_feed(xml, &ReadOptions::lenient())?;
//! let entry = &outcome.feed.entries[0];
//! assert_eq!(entry.content_type(), Some(ContentType::FhirValueSet));
//! assert_eq!(entry.links[0].length_bytes(), Some(1024));
//!
//! let codes: Vec<&str> =
//!     validate_read(&outcome, Profile::Lenient).iter().map(|f| f.code.as_str()).collect();
//! assert!(codes.contains(&"LINK_LENGTH_SEPARATORS"));
//! assert!(codes.contains(&"LINK_SHA256_MALFORMED"));
//! assert!(codes.contains(&"DATE_MISSING_TIME"));
//!
//! // What the writer produces reads back as the same feed.
//! let again = read_feed(outcome.feed.to_xml()?.as_bytes(), &ReadOptions::lenient())?;
//! assert_eq!(again.feed, outcome.feed);
//! # Ok::<(), release_model::Error>(())
//! ```
//!
//! # Which reader
//!
//! [`read_feed`] builds the whole [`Feed`]; real feeds (0.1–1 MB, a few hundred entries)
//! read in a few milliseconds. [`EntryReader`] yields one entry at a time with memory
//! independent of the entry count, for feeds that are summarised or filtered rather than
//! kept. Both read the same entries and report the same findings. Measured figures are in
//! `release-model/benches/README.md`.

mod content_type;
mod finding;
mod model;
pub mod ns;
mod read;
mod source;
mod validate;
mod values;
mod write;
mod xml;

pub use content_type::{BinaryIndexFamily, ContentType};
pub use finding::{Finding, FindingCode, Location, Profile, Severity};
pub use model::{
    AtomId, Attribute, BundleInterpretation, Category, ContentItem, ContentItemIdentifier,
    ContentItemVersion, Crmi, Element, Entry, Feed, FhirVersion, Generator, Link, LinkRel, Node,
    PackageDependency, PermissionCode, Person, Source, Text, TextKind, XmlName,
};
pub use read::{EntryReader, Limits, Mode, ReadOptions, ReadOutcome, read_feed, read_feed_from};
pub use validate::{validate, validate_read};
pub use values::{
    AtomDate, Checked, CheckedValue, DateProblem, DateValue, HashProblem, Md5, Sha256,
};
pub use write::{WriteOptions, WriteTarget, write_feed};
