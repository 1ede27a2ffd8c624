//! NCTS-shaped feeds of any size, for benchmarks and tests.
//!
//! Each release block mirrors the live NCTS feed: SNOMED CT-AU FULL, SNAPSHOT and ALL under one
//! identifier and version, an AMT CSV, a FHIR bundle, a FHIR ValueSet and an Ontoserver binary
//! index; every entry has a category, one hashed link, identifier, version, an author and a
//! summary with entities.

use std::fmt::Write as _;

const ATOM: &str = "http://www.w3.org/2005/Atom";
const NCTS: &str = "http://ns.electronichealth.net.au/ncts/syndication/asf/extensions/1.0.0";
const SCHEME: &str = "http://ns.electronichealth.net.au/ncts/syndication/asf/scheme/1.0.0";

/// A feed of `entries` entries, as XML.
pub(super) fn ncts_shaped(entries: usize) -> String {
    generate(entries, "")
}

/// A feed the size of a real one: 200 entries (the live NCTS feed has 202) shaped like the
/// NCTS fixture's, whose `rights` carry a copyright notice of about a kilobyte.
#[allow(dead_code)] // not every bench and test that shares this module reads it
pub(super) fn real_size() -> String {
    let notice = " This content contains information which is protected by copyright. No part of \
        this work may be reproduced or used in any form or by any means, graphic, electronic or \
        mechanical, including photocopying, recording, taping or information retrieval systems, \
        without the written permission of the Agency."
        .repeat(3);
    generate(200, &notice)
}

/// `entries` entries, each `rights` carrying `licence` after the copyright line.
fn generate(entries: usize, licence: &str) -> String {
    let mut out = String::with_capacity(entries * (1300 + licence.len()) + 1024);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"{ATOM}\" xmlns:ncts=\"{NCTS}\">\n  \
         <title>National Clinical Terminology Service Syndication Feed</title>\n  \
         <link rel=\"self\" type=\"application/atom+xml\" href=\"https://api.example.org/syndication/v1/syndication.xml\"/>\n  \
         <id>urn:uuid:e39958d4-380e-4252-8707-6afeff8b7911</id>\n  \
         <generator>Australian Digital Health Agency</generator>\n  \
         <updated>2026-08-31T00:00:00Z</updated>\n  \
         <ncts:atomSyndicationFormatProfile>http://ns.electronichealth.net.au/ncts/syndication/asf/profile/1.0.0</ncts:atomSyndicationFormatProfile>\n"
    );
    for i in 0..entries {
        let release = i / 7;
        // A distinct, valid YYYYMMDD per release, so artefact keys never repeat across releases.
        let date =
            (2000 + release / 336) * 10_000 + (1 + (release / 28) % 12) * 100 + 1 + release % 28;
        let (term, scheme, ident, version, media, fhir) = match i % 7 {
            0..=2 => (
                ["SCT_RF2_FULL", "SCT_RF2_SNAPSHOT", "SCT_RF2_ALL"][i % 7],
                SCHEME,
                "http://snomed.info/sct/32506021000036107".to_owned(),
                format!("http://snomed.info/sct/32506021000036107/version/{date}"),
                "application/zip",
                false,
            ),
            3 => (
                "AMT_CSV",
                "http://amt.healthterminologies.gov.au/syndication/csv/1.0.0",
                "http://amt.info/csv".to_owned(),
                format!("http://amt.info/csv/900062011000036108/version/{date}"),
                "application/zip",
                false,
            ),
            4 => (
                "FHIR_Bundle",
                SCHEME,
                format!("https://healthterminologies.gov.au/fhir/Bundle/ncts-{release}"),
                format!(
                    "https://healthterminologies.gov.au/fhir/Bundle/ncts-{release}/version/{date}"
                ),
                "application/fhir+json",
                true,
            ),
            5 => (
                "FHIR_ValueSet",
                SCHEME,
                format!("https://healthterminologies.gov.au/fhir/ValueSet/vs-{release}"),
                format!(
                    "https://healthterminologies.gov.au/fhir/ValueSet/vs-{release}|{}.0.0",
                    release % 50
                ),
                "application/fhir+json",
                true,
            ),
            _ => (
                "BINARY",
                "http://ontoserver.csiro.au/syndication/rf2/2.0.15",
                "http://snomed.info/sct".to_owned(),
                format!("http://snomed.info/sct/32506021000036107/version/{date}"),
                "application/octet-stream",
                false,
            ),
        };
        let _ = write!(
            out,
            "  <entry>\n    \
             <title>SNOMED CT-AU release {release} ({term})</title>\n    \
             <link rel=\"alternate\" type=\"{media}\" href=\"https://api.example.org/syndication/v1/r{release}/{term}-{i}.zip\" length=\"{len}\" ncts:sha256Hash=\"{hash:064x}\"/>\n    \
             <category term=\"{term}\" label=\"{term}\" scheme=\"{scheme}\"/>\n    \
             <author>\n      <name>Australian Digital Health Agency</name>\n      <uri>http://www.digitalhealth.gov.au</uri>\n      <email>help@digitalhealth.gov.au</email>\n    </author>\n    \
             <id>urn:uuid:8d0fbb68-e8dc-3820-{i:04x}-{release:012x}</id>\n    \
             <rights>Copyright 2026 Australian Digital Health Agency &amp; SNOMED International. All rights reserved.{licence}</rights>\n    \
             <updated>2026-08-{day:02}T00:25:01Z</updated>\n    \
             <published>2026-08-{day:02}T00:25:01Z</published>\n    \
             <summary>SNOMED CT-AU &amp; AMT release {release}: terms &lt;new&gt; and &quot;retired&quot; for Australian clinical systems.</summary>\n    \
             <ncts:contentItemIdentifier>{ident}</ncts:contentItemIdentifier>\n    \
             <ncts:contentItemVersion>{version}</ncts:contentItemVersion>\n",
            len = 100_000 + i * 17,
            hash = (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
            day = 1 + i % 28,
        );
        if fhir {
            out.push_str("    <ncts:fhirVersion>4.0.1</ncts:fhirVersion>\n    <ncts:bundleInterpretation>batch</ncts:bundleInterpretation>\n");
        }
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}
