//! The searchset pages the fake answers, in the shape FHIR gives them.

use serde_json::Value;

/// A searchset page the fake answers.
#[derive(serde::Serialize)]
pub(super) struct Page<'a> {
    #[serde(rename = "resourceType")]
    pub(super) resource_type: &'static str,
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) total: usize,
    pub(super) entry: Vec<PageEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) link: Option<Vec<PageLink>>,
}

#[derive(serde::Serialize)]
pub(super) struct PageEntry<'a> {
    pub(super) resource: PageResource<'a>,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
pub(super) enum PageResource<'a> {
    Subset(Subset<'a>),
    Full(Value),
}

/// A resource with only the elements asked for (`_elements`), tagged SUBSETTED as FHIR
/// requires.
#[derive(serde::Serialize)]
pub(super) struct Subset<'a> {
    #[serde(rename = "resourceType")]
    pub(super) resource_type: &'a str,
    pub(super) id: &'a str,
    pub(super) meta: Meta,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) date: Option<&'a str>,
}

#[derive(serde::Serialize, Clone, Copy)]
pub(super) struct Meta {
    pub(super) tag: [Coding; 1],
}

#[derive(serde::Serialize, Clone, Copy)]
pub(super) struct Coding {
    pub(super) system: &'static str,
    pub(super) code: &'static str,
}

pub(super) const SUBSETTED: Meta = Meta {
    tag: [Coding {
        system: "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
        code: "SUBSETTED",
    }],
};

#[derive(serde::Serialize)]
pub(super) struct PageLink {
    pub(super) relation: &'static str,
    pub(super) url: String,
}
