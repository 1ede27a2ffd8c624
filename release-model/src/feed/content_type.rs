//! What kind of artefact an entry advertises, read from its category.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ns;
use crate::resource::ResourceType;

/// The family of an Ontoserver binary index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum BinaryIndexFamily {
    /// A SNOMED CT index (`…/syndication/rf2/<format version>`).
    Rf2,
    /// A LOINC index (`…/syndication/loinc/<format version>`).
    Loinc,
}

/// The kind of artefact a category names.
///
/// Built from a category's scheme and term by [`ContentType::from_category`]; anything the
/// workspace does not recognise is kept as [`ContentType::Other`] so it still round-trips and
/// can be reported.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ContentType {
    /// `SCT_RF2_ALL`: an RF2 package with Snapshot and Full (and, on NCTS, Delta).
    SctRf2All,
    /// `SCT_RF2_FULL`.
    SctRf2Full,
    /// `SCT_RF2_SNAPSHOT`.
    SctRf2Snapshot,
    /// `SCT_RF2_DELTA` (NCTS: needs `ncts:sctBaseVersion`).
    SctRf2Delta,
    /// `FHIR_CodeSystem`.
    FhirCodeSystem,
    /// `FHIR_ValueSet`.
    FhirValueSet,
    /// `FHIR_ConceptMap`.
    FhirConceptMap,
    /// `FHIR_StructureDefinition`.
    FhirStructureDefinition,
    /// `FHIR_Bundle`.
    FhirBundle,
    /// `FHIR_Package`: a FHIR NPM package.
    FhirPackage,
    /// `FHIR_<ResourceType>` for a resource type the IG does not list (NCTS's pattern is
    /// open-ended). Holds the resource type.
    FhirResource(String),
    /// `LOINC`: a LOINC release artefact.
    Loinc,
    /// `AMT_CSV`: Australian Medicines Terminology, comma separated.
    AmtCsv,
    /// `AMT_TSV`: Australian Medicines Terminology, tab separated.
    AmtTsv,
    /// `OTHER` under the NCTS scheme (MLDS, for package types it does not name).
    OtherPackage,
    /// `BINARY_RETRACT`.
    BinaryRetract,
    /// `LOINC_RETRACT`.
    LoincRetract,
    /// `FHIR_CodeSystem_RETRACT`.
    FhirCodeSystemRetract,
    /// `FHIR_ValueSet_RETRACT`.
    FhirValueSetRetract,
    /// `FHIR_ConceptMap_RETRACT`.
    FhirConceptMapRetract,
    /// `FHIR_StructureDefinition_RETRACT`.
    FhirStructureDefinitionRetract,
    /// An Ontoserver binary index (term `BINARY` under
    /// `http://ontoserver.csiro.au/syndication/{rf2|loinc}/<format version>`). Indexes of
    /// different format versions are not interchangeable.
    BinaryIndex {
        /// SNOMED CT or LOINC.
        family: BinaryIndexFamily,
        /// The index-format version: the scheme's last path segment, not the content release.
        format_version: String,
    },
    /// Any other scheme and term, kept as read.
    Other {
        /// The category scheme, if any.
        scheme: Option<String>,
        /// The category term.
        term: String,
    },
}

const SCHEME_AMT_CSV: &str = "http://amt.healthterminologies.gov.au/syndication/csv/1.0.0";
const SCHEME_AMT_TSV: &str = "http://amt.healthterminologies.gov.au/syndication/tsv/1.0.0";
const BINARY_PREFIX: &str = "http://ontoserver.csiro.au/syndication/";

impl ContentType {
    /// Classifies a category by its scheme and term (never by its label, which varies).
    pub fn from_category(scheme: Option<&str>, term: &str) -> Self {
        match scheme {
            Some(ns::SCHEME_ASF) => {
                if let Some(known) = Self::asf_term(term) {
                    return known;
                }
                if let Some(rt) = term.strip_prefix("FHIR_")
                    && !rt.is_empty()
                    && !rt.ends_with("_RETRACT")
                    && rt.bytes().all(|b| b.is_ascii_alphanumeric())
                    && rt.as_bytes()[0].is_ascii_uppercase()
                {
                    return ContentType::FhirResource(rt.to_owned());
                }
            }
            Some(SCHEME_AMT_CSV) if term == "AMT_CSV" => return ContentType::AmtCsv,
            Some(SCHEME_AMT_TSV) if term == "AMT_TSV" => return ContentType::AmtTsv,
            Some(s) if term == "BINARY" => {
                if let Some((family, format_version)) = Self::binary_scheme(s) {
                    return ContentType::BinaryIndex {
                        family,
                        format_version: format_version.to_owned(),
                    };
                }
            }
            _ => {}
        }
        ContentType::Other {
            scheme: scheme.map(str::to_owned),
            term: term.to_owned(),
        }
    }

    fn asf_term(term: &str) -> Option<Self> {
        Some(match term {
            "SCT_RF2_ALL" => ContentType::SctRf2All,
            "SCT_RF2_FULL" => ContentType::SctRf2Full,
            "SCT_RF2_SNAPSHOT" => ContentType::SctRf2Snapshot,
            "SCT_RF2_DELTA" => ContentType::SctRf2Delta,
            "FHIR_CodeSystem" => ContentType::FhirCodeSystem,
            "FHIR_ValueSet" => ContentType::FhirValueSet,
            "FHIR_ConceptMap" => ContentType::FhirConceptMap,
            "FHIR_StructureDefinition" => ContentType::FhirStructureDefinition,
            "FHIR_Bundle" => ContentType::FhirBundle,
            "FHIR_Package" => ContentType::FhirPackage,
            "LOINC" => ContentType::Loinc,
            "AMT_CSV" => ContentType::AmtCsv,
            "AMT_TSV" => ContentType::AmtTsv,
            "OTHER" => ContentType::OtherPackage,
            "BINARY_RETRACT" => ContentType::BinaryRetract,
            "LOINC_RETRACT" => ContentType::LoincRetract,
            "FHIR_CodeSystem_RETRACT" => ContentType::FhirCodeSystemRetract,
            "FHIR_ValueSet_RETRACT" => ContentType::FhirValueSetRetract,
            "FHIR_ConceptMap_RETRACT" => ContentType::FhirConceptMapRetract,
            "FHIR_StructureDefinition_RETRACT" => ContentType::FhirStructureDefinitionRetract,
            _ => return None,
        })
    }

    /// Splits a binary-index scheme into its family and index-format version.
    pub fn binary_scheme(scheme: &str) -> Option<(BinaryIndexFamily, &str)> {
        let rest = scheme.strip_prefix(BINARY_PREFIX)?;
        let (family, version) = rest.split_once('/')?;
        let family = match family {
            "rf2" => BinaryIndexFamily::Rf2,
            "loinc" => BinaryIndexFamily::Loinc,
            _ => return None,
        };
        let well_formed = !version.is_empty()
            && version
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        well_formed.then_some((family, version))
    }

    /// Whether this is one of the six IG retraction terms.
    pub fn is_retraction(&self) -> bool {
        matches!(
            self,
            ContentType::BinaryRetract
                | ContentType::LoincRetract
                | ContentType::FhirCodeSystemRetract
                | ContentType::FhirValueSetRetract
                | ContentType::FhirConceptMapRetract
                | ContentType::FhirStructureDefinitionRetract
        )
    }

    /// Whether this names FHIR content (any `FHIR_*` term, retractions included), which
    /// requires `ncts:fhirVersion`.
    pub fn is_fhir(&self) -> bool {
        matches!(
            self,
            ContentType::FhirCodeSystem
                | ContentType::FhirValueSet
                | ContentType::FhirConceptMap
                | ContentType::FhirStructureDefinition
                | ContentType::FhirBundle
                | ContentType::FhirPackage
                | ContentType::FhirResource(_)
                | ContentType::FhirCodeSystemRetract
                | ContentType::FhirValueSetRetract
                | ContentType::FhirConceptMapRetract
                | ContentType::FhirStructureDefinitionRetract
        )
    }

    /// Whether this is a SNOMED CT RF2 package.
    pub fn is_snomed_package(&self) -> bool {
        matches!(
            self,
            ContentType::SctRf2All
                | ContentType::SctRf2Full
                | ContentType::SctRf2Snapshot
                | ContentType::SctRf2Delta
        )
    }

    /// Whether this is an Ontoserver binary index.
    pub fn is_binary_index(&self) -> bool {
        matches!(self, ContentType::BinaryIndex { .. })
    }

    /// The FHIR resource type a terminology server stores this content as, for single FHIR
    /// resources (a bundle's or a package's resources have types of their own).
    pub fn resource_type(&self) -> Option<ResourceType> {
        Some(match self {
            ContentType::FhirCodeSystem => ResourceType::CodeSystem,
            ContentType::FhirValueSet => ResourceType::ValueSet,
            ContentType::FhirConceptMap => ResourceType::ConceptMap,
            ContentType::FhirStructureDefinition => ResourceType::StructureDefinition,
            ContentType::FhirResource(t) => ResourceType::parse(t),
            _ => return None,
        })
    }

    /// The code system a terminology server loads this content as, for content that is not a
    /// FHIR resource: every SNOMED CT package and RF2 binary index is the one CodeSystem
    /// `http://snomed.info/sct` (its versions are the version URIs, which name the edition),
    /// every LOINC artefact `http://loinc.org`. `None` for FHIR resources and for content no
    /// server loads as a code system (AMT CSV, bundles, packages).
    pub fn code_system(&self) -> Option<&'static str> {
        const SNOMED: &str = "http://snomed.info/sct";
        const LOINC: &str = "http://loinc.org";
        match self {
            t if t.is_snomed_package() => Some(SNOMED),
            ContentType::BinaryIndex {
                family: BinaryIndexFamily::Rf2,
                ..
            } => Some(SNOMED),
            ContentType::BinaryIndex {
                family: BinaryIndexFamily::Loinc,
                ..
            }
            | ContentType::Loinc
            | ContentType::LoincRetract => Some(LOINC),
            _ => None,
        }
    }

    /// The content type a retraction withdraws, if this is a retraction.
    pub fn retracted(&self) -> Option<ContentType> {
        Some(match self {
            ContentType::BinaryRetract => return None,
            ContentType::LoincRetract => ContentType::Loinc,
            ContentType::FhirCodeSystemRetract => ContentType::FhirCodeSystem,
            ContentType::FhirValueSetRetract => ContentType::FhirValueSet,
            ContentType::FhirConceptMapRetract => ContentType::FhirConceptMap,
            ContentType::FhirStructureDefinitionRetract => ContentType::FhirStructureDefinition,
            _ => return None,
        })
    }

    /// A short stable name: the ASF term, `BINARY(rf2/2.0.15)`, or the term of an unknown
    /// category.
    pub fn name(&self) -> String {
        match self {
            ContentType::FhirResource(rt) => format!("FHIR_{rt}"),
            ContentType::BinaryIndex {
                family,
                format_version,
            } => {
                let f = match family {
                    BinaryIndexFamily::Rf2 => "rf2",
                    BinaryIndexFamily::Loinc => "loinc",
                };
                format!("BINARY({f}/{format_version})")
            }
            ContentType::Other { term, .. } => term.clone(),
            known => known.asf_name().unwrap_or_default().to_owned(),
        }
    }

    fn asf_name(&self) -> Option<&'static str> {
        Some(match self {
            ContentType::SctRf2All => "SCT_RF2_ALL",
            ContentType::SctRf2Full => "SCT_RF2_FULL",
            ContentType::SctRf2Snapshot => "SCT_RF2_SNAPSHOT",
            ContentType::SctRf2Delta => "SCT_RF2_DELTA",
            ContentType::FhirCodeSystem => "FHIR_CodeSystem",
            ContentType::FhirValueSet => "FHIR_ValueSet",
            ContentType::FhirConceptMap => "FHIR_ConceptMap",
            ContentType::FhirStructureDefinition => "FHIR_StructureDefinition",
            ContentType::FhirBundle => "FHIR_Bundle",
            ContentType::FhirPackage => "FHIR_Package",
            ContentType::Loinc => "LOINC",
            ContentType::AmtCsv => "AMT_CSV",
            ContentType::AmtTsv => "AMT_TSV",
            ContentType::OtherPackage => "OTHER",
            ContentType::BinaryRetract => "BINARY_RETRACT",
            ContentType::LoincRetract => "LOINC_RETRACT",
            ContentType::FhirCodeSystemRetract => "FHIR_CodeSystem_RETRACT",
            ContentType::FhirValueSetRetract => "FHIR_ValueSet_RETRACT",
            ContentType::FhirConceptMapRetract => "FHIR_ConceptMap_RETRACT",
            ContentType::FhirStructureDefinitionRetract => "FHIR_StructureDefinition_RETRACT",
            _ => return None,
        })
    }

    /// Whether the IG binds this scheme to a value set, so an unknown term in it is an error
    /// (invariant `category-term-scheme-binding`).
    pub fn scheme_is_bound(scheme: &str) -> bool {
        scheme == ns::SCHEME_ASF
            || scheme == "http://ontoserver.csiro.au/syndication/rf2/1.0.0"
            || scheme == "http://ontoserver.csiro.au/syndication/rf2/2.0.0"
    }

    /// Whether the scheme is one this workspace recognises (ASF, AMT or a binary index).
    pub fn scheme_is_registered(scheme: &str) -> bool {
        scheme == ns::SCHEME_ASF
            || scheme == SCHEME_AMT_CSV
            || scheme == SCHEME_AMT_TSV
            || Self::binary_scheme(scheme).is_some()
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl ContentType {
    /// The content type a [`name`](Self::name) stands for; the inverse of `name` for every
    /// content type but an unknown term under a scheme, whose scheme the name leaves out.
    pub fn from_name(name: &str) -> Self {
        if let Some(inner) = name
            .strip_prefix("BINARY(")
            .and_then(|n| n.strip_suffix(')'))
            && let Some((family, format_version)) = inner.split_once('/')
        {
            let family = match family {
                "rf2" => Some(BinaryIndexFamily::Rf2),
                "loinc" => Some(BinaryIndexFamily::Loinc),
                _ => None,
            };
            if let Some(family) = family {
                return ContentType::BinaryIndex {
                    family,
                    format_version: format_version.to_owned(),
                };
            }
        }
        match Self::from_category(Some(ns::SCHEME_ASF), name) {
            ContentType::Other { term, .. } => ContentType::Other { scheme: None, term },
            known => known,
        }
    }
}

/// The serialized form: the name, or the scheme and term of an unknown category that has a
/// scheme, so that every content type reads back as itself.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Shape {
    Name(String),
    Category { scheme: String, term: String },
}

impl Serialize for ContentType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ContentType::Other {
                scheme: Some(scheme),
                term,
            } => Shape::Category {
                scheme: scheme.clone(),
                term: term.clone(),
            },
            other => Shape::Name(other.name()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ContentType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Shape::deserialize(d)? {
            Shape::Name(name) => ContentType::from_name(&name),
            Shape::Category { scheme, term } => ContentType::from_category(Some(&scheme), &term),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asf_term_round_trips_through_its_name() {
        for term in [
            "SCT_RF2_ALL",
            "SCT_RF2_FULL",
            "SCT_RF2_SNAPSHOT",
            "SCT_RF2_DELTA",
            "FHIR_CodeSystem",
            "FHIR_ValueSet",
            "FHIR_ConceptMap",
            "FHIR_StructureDefinition",
            "FHIR_Bundle",
            "FHIR_Package",
            "LOINC",
            "BINARY_RETRACT",
            "LOINC_RETRACT",
            "FHIR_CodeSystem_RETRACT",
            "FHIR_ValueSet_RETRACT",
            "FHIR_ConceptMap_RETRACT",
            "FHIR_StructureDefinition_RETRACT",
        ] {
            let ct = ContentType::from_category(Some(ns::SCHEME_ASF), term);
            assert!(
                !matches!(ct, ContentType::Other { .. }),
                "{term} is an ASF term"
            );
            assert_eq!(ct.name(), term);
        }
    }

    // Every content type reads back from its serialized form as itself.
    #[test]
    fn content_types_round_trip_through_json() {
        let types = [
            ContentType::SctRf2Snapshot,
            ContentType::FhirResource("NamingSystem".into()),
            ContentType::BinaryIndex {
                family: BinaryIndexFamily::Loinc,
                format_version: "1.7.1".into(),
            },
            ContentType::Other {
                scheme: Some("http://example.org/scheme".into()),
                term: "CUSTOM".into(),
            },
            ContentType::Other {
                scheme: None,
                term: "CUSTOM".into(),
            },
            ContentType::FhirValueSetRetract,
        ];
        for ct in types {
            let json = serde_json::to_string(&ct).expect("serializes");
            assert_eq!(
                serde_json::from_str::<ContentType>(&json).ok(),
                Some(ct),
                "{json}"
            );
        }
    }

    #[test]
    fn six_retraction_terms() {
        let retractions = [
            "BINARY_RETRACT",
            "LOINC_RETRACT",
            "FHIR_CodeSystem_RETRACT",
            "FHIR_ValueSet_RETRACT",
            "FHIR_ConceptMap_RETRACT",
            "FHIR_StructureDefinition_RETRACT",
        ];
        for term in retractions {
            assert!(ContentType::from_category(Some(ns::SCHEME_ASF), term).is_retraction());
        }
        assert!(!ContentType::SctRf2All.is_retraction());
    }

    #[test]
    fn binary_index_schemes_keep_their_format_version() {
        let ct = ContentType::from_category(
            Some("http://ontoserver.csiro.au/syndication/rf2/2.0.15"),
            "BINARY",
        );
        assert_eq!(
            ct,
            ContentType::BinaryIndex {
                family: BinaryIndexFamily::Rf2,
                format_version: "2.0.15".into()
            }
        );
        let ct = ContentType::from_category(
            Some("http://ontoserver.csiro.au/syndication/loinc/1.7.1"),
            "BINARY",
        );
        assert!(matches!(
            ct,
            ContentType::BinaryIndex {
                family: BinaryIndexFamily::Loinc,
                ..
            }
        ));
        // BINARY under the NCTS scheme is not an index (no real feed does this).
        let ct = ContentType::from_category(Some(ns::SCHEME_ASF), "BINARY");
        assert!(matches!(ct, ContentType::Other { .. }));
    }

    #[test]
    fn open_ended_fhir_and_unknown_terms() {
        assert_eq!(
            ContentType::from_category(Some(ns::SCHEME_ASF), "FHIR_NamingSystem"),
            ContentType::FhirResource("NamingSystem".into())
        );
        let ct = ContentType::from_category(Some(ns::SCHEME_ASF), "SCT_RF2_BLUE");
        assert_eq!(
            ct,
            ContentType::Other {
                scheme: Some(ns::SCHEME_ASF.into()),
                term: "SCT_RF2_BLUE".into()
            }
        );
        assert_eq!(
            ContentType::from_category(Some(SCHEME_AMT_CSV), "AMT_CSV"),
            ContentType::AmtCsv
        );
    }
}
