//! FHIR resource types, as the plan, the client and the fakes name them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A FHIR `resourceType`. The conformance and terminology resources a syndication feed
/// carries have variants; any other type is kept as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ResourceType {
    /// `CodeSystem`.
    CodeSystem,
    /// `ValueSet`.
    ValueSet,
    /// `ConceptMap`.
    ConceptMap,
    /// `StructureDefinition`.
    StructureDefinition,
    /// `NamingSystem`.
    NamingSystem,
    /// `Bundle`.
    Bundle,
    /// Any other type, as written (`ImplementationGuide`, `Library` …).
    Other(String),
}

impl ResourceType {
    /// The type named `name`.
    pub fn parse(name: &str) -> Self {
        match name {
            "CodeSystem" => Self::CodeSystem,
            "ValueSet" => Self::ValueSet,
            "ConceptMap" => Self::ConceptMap,
            "StructureDefinition" => Self::StructureDefinition,
            "NamingSystem" => Self::NamingSystem,
            "Bundle" => Self::Bundle,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The type's name, as in a FHIR path (`/fhir/ValueSet`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::CodeSystem => "CodeSystem",
            Self::ValueSet => "ValueSet",
            Self::ConceptMap => "ConceptMap",
            Self::StructureDefinition => "StructureDefinition",
            Self::NamingSystem => "NamingSystem",
            Self::Bundle => "Bundle",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&ResourceType> for ResourceType {
    fn from(t: &ResourceType) -> Self {
        t.clone()
    }
}

impl From<String> for ResourceType {
    fn from(name: String) -> Self {
        Self::parse(&name)
    }
}

impl From<&String> for ResourceType {
    fn from(name: &String) -> Self {
        Self::parse(name)
    }
}

impl From<&str> for ResourceType {
    fn from(name: &str) -> Self {
        Self::parse(name)
    }
}

impl Serialize for ResourceType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResourceType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Self::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_types_are_kept() {
        for name in [
            "CodeSystem",
            "ValueSet",
            "ConceptMap",
            "StructureDefinition",
            "Library",
        ] {
            let t = ResourceType::parse(name);
            assert_eq!(t.as_str(), name);
            let json = serde_json::to_string(&t).expect("serializes");
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<ResourceType>(&json).ok(), Some(t));
        }
        assert_eq!(
            ResourceType::parse("Library"),
            ResourceType::Other("Library".into())
        );
    }
}
