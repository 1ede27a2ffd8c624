//! `$meta`, `$meta-add` and `$meta-delete` bodies, and editing `meta.security` inside a
//! resource's JSON.
//!
//! Resources are edited as JSON values with key order and number formatting preserved, so
//! everything but `meta.security` reads back exactly as it was.

use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::label::LabelSet;

/// Builds the `Parameters` body of `$meta-add`.
///
/// # Errors
/// [`Error::ReadGrantNeedsApproval`] when a label grants read: read is granted only through
/// an approved [`ReadGrant`](crate::ReadGrant).
pub fn meta_add_body(labels: &LabelSet) -> Result<Value, Error> {
    refuse_read_grants(labels)?;
    Ok(parameters(labels))
}

/// Builds the `Parameters` body of `$meta-delete`. Removing labels needs no approval, and
/// removing an absent label is not an error on the server.
pub fn meta_delete_body(labels: &LabelSet) -> Value {
    parameters(labels)
}

pub(crate) fn parameters(labels: &LabelSet) -> Value {
    json!({
        "resourceType": "Parameters",
        "parameter": [ { "name": "meta", "valueMeta": { "security": labels } } ]
    })
}

pub(crate) fn refuse_read_grants(labels: &LabelSet) -> Result<(), Error> {
    let reads = labels.read_permissions();
    if reads.is_empty() {
        return Ok(());
    }
    Err(Error::ReadGrantNeedsApproval {
        labels: reads.iter().map(|p| p.code()).collect(),
    })
}

/// Reads the labels from a `Parameters` body: the response of `$meta`, `$meta-add` or
/// `$meta-delete` (parameter `return`), or a request body (parameter `meta`).
///
/// # Errors
/// [`Error::Json`] for invalid JSON, [`Error::Shape`] when it is not such a `Parameters`.
pub fn parse_meta_parameters(json: &str) -> Result<LabelSet, Error> {
    let value: Value = serde_json::from_str(json).map_err(|source| Error::Json {
        context: "Parameters",
        source,
    })?;
    let shape = |reason: &str| Error::Shape {
        context: "Parameters",
        reason: reason.to_owned(),
    };
    if value.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(shape("resourceType is not Parameters"));
    }
    let params = value
        .get("parameter")
        .and_then(Value::as_array)
        .ok_or_else(|| shape("no parameter array"))?;
    let meta = params
        .iter()
        .find(|p| {
            matches!(
                p.get("name").and_then(Value::as_str),
                Some("return" | "meta")
            )
        })
        .ok_or_else(|| shape("no parameter named return or meta"))?
        .get("valueMeta")
        .ok_or_else(|| shape("the parameter has no valueMeta"))?;
    security_of(meta, "Parameters")
}

fn security_of(meta: &Value, context: &'static str) -> Result<LabelSet, Error> {
    match meta.get("security") {
        None => Ok(LabelSet::new()),
        Some(s) => {
            serde_json::from_value(s.clone()).map_err(|source| Error::Json { context, source })
        }
    }
}

/// A FHIR resource as JSON, for reading and editing its security labels.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceJson {
    value: Map<String, Value>,
}

impl ResourceJson {
    /// Parses a resource.
    ///
    /// # Errors
    /// [`Error::Json`] for invalid JSON (with line and column); [`Error::Shape`] when it is
    /// not an object with a `resourceType`, or its `meta.security` is not a list of codings.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let value: Value = serde_json::from_str(json).map_err(|source| Error::Json {
            context: "resource",
            source,
        })?;
        let Value::Object(value) = value else {
            return Err(Error::Shape {
                context: "resource",
                reason: "not a JSON object".into(),
            });
        };
        if !value.get("resourceType").is_some_and(Value::is_string) {
            return Err(Error::Shape {
                context: "resource",
                reason: "no resourceType".into(),
            });
        }
        let r = Self { value };
        r.labels()?;
        Ok(r)
    }

    /// `resourceType`.
    pub fn resource_type(&self) -> &str {
        self.value
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.value.get("id").and_then(Value::as_str)
    }

    /// `url`, if any (terminology resources are identified by canonical URL).
    pub fn url(&self) -> Option<&str> {
        self.value.get("url").and_then(Value::as_str)
    }

    /// `version`, if any.
    pub fn version(&self) -> Option<&str> {
        self.value.get("version").and_then(Value::as_str)
    }

    /// The labels in `meta.security`.
    ///
    /// # Errors
    /// [`Error::Json`] when `meta.security` is not a list of codings.
    pub fn labels(&self) -> Result<LabelSet, Error> {
        match self.value.get("meta") {
            None => Ok(LabelSet::new()),
            Some(meta) => security_of(meta, "meta.security"),
        }
    }

    /// Adds labels that grant no read (write labels, confidentiality, handling caveats).
    ///
    /// # Errors
    /// [`Error::ReadGrantNeedsApproval`] when a label grants read; use
    /// [`ReadGrant::apply`](crate::ReadGrant::apply).
    pub fn add_labels(&mut self, labels: &LabelSet) -> Result<(), Error> {
        refuse_read_grants(labels)?;
        self.add_unchecked(labels)
    }

    pub(crate) fn add_unchecked(&mut self, labels: &LabelSet) -> Result<(), Error> {
        let mut current = self.labels()?;
        current.merge(labels);
        self.set_labels(&current);
        Ok(())
    }

    /// Removes labels (matched on system and code). Removing an absent label is not an error.
    ///
    /// # Errors
    /// [`Error::Json`] when the existing `meta.security` is malformed.
    pub fn remove_labels(&mut self, labels: &LabelSet) -> Result<(), Error> {
        let current = self.labels()?.difference(labels);
        self.set_labels(&current);
        Ok(())
    }

    /// Replaces `meta.security`, leaving the rest of `meta` and of the resource as it was;
    /// an empty set removes the `security` element, and a `meta` left empty is removed.
    fn set_labels(&mut self, labels: &LabelSet) {
        if labels.is_empty() {
            if let Some(Value::Object(meta)) = self.value.get_mut("meta") {
                meta.shift_remove("security");
                if meta.is_empty() {
                    self.value.shift_remove("meta");
                }
            }
            return;
        }
        let security = serde_json::to_value(labels).unwrap_or(Value::Array(Vec::new()));
        match self.value.get_mut("meta") {
            Some(Value::Object(meta)) => {
                meta.insert("security".into(), security);
            }
            _ => {
                // FHIR JSON puts meta right after id; keep that order for a new meta.
                let at = self
                    .value
                    .keys()
                    .position(|k| k == "id")
                    .map_or(1.min(self.value.len()), |i| i + 1);
                let mut meta = Map::new();
                meta.insert("security".into(), security);
                self.value
                    .shift_insert(at, "meta".into(), Value::Object(meta));
            }
        }
    }

    /// The resource as compact JSON.
    pub fn to_json(&self) -> String {
        Value::Object(self.value.clone()).to_string()
    }

    /// The resource as indented JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.value).unwrap_or_else(|_| self.to_json())
    }

    /// The resource as a JSON value.
    pub fn as_value(&self) -> Value {
        Value::Object(self.value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::SecurityLabel;
    use crate::vocab::{CONFIDENTIALITY_SYSTEM, PERMISSION_SYSTEM, Permission};

    #[test]
    fn meta_add_body_has_the_fhir_shape() {
        let labels: LabelSet = [Permission::write("NATIONAL").expect("valid").label()]
            .into_iter()
            .collect();
        let body = meta_add_body(&labels).expect("write labels need no approval");
        assert_eq!(
            body,
            json!({"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": {"security": [
                {"system": PERMISSION_SYSTEM, "code": "NATIONAL.write"}]}}]})
        );
        assert_eq!(
            parse_meta_parameters(&body.to_string()).expect("reads back"),
            labels
        );
    }

    #[test]
    fn meta_add_refuses_read_labels() {
        let labels: LabelSet = [Permission::global_read().label()].into_iter().collect();
        let err = meta_add_body(&labels).expect_err("read needs approval");
        assert!(err.is_approval());
        // Deleting read labels needs nothing.
        assert!(meta_delete_body(&labels).is_object());
    }

    #[test]
    fn meta_response_is_parsed() {
        let response = r#"{"resourceType":"Parameters","parameter":[{"name":"return","valueMeta":{"versionId":"3","security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"N"}]}}]}"#;
        let labels = parse_meta_parameters(response).expect("valid");
        assert!(labels.contains(&SecurityLabel::new(CONFIDENTIALITY_SYSTEM, "N")));
        for bad in [
            "{",
            r#"{"resourceType":"Bundle"}"#,
            r#"{"resourceType":"Parameters","parameter":[]}"#,
        ] {
            assert!(parse_meta_parameters(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn editing_labels_leaves_the_rest_of_the_resource_alone() {
        let json = r#"{"resourceType":"ValueSet","id":"vs","url":"http://example.org/vs","version":"1.0.0","compose":{"include":[{"system":"http://loinc.org","concept":[{"code":"1-8"}]}]},"extension":[{"url":"x","valueDecimal":1.50}]}"#;
        let mut r = ResourceJson::parse(json).expect("valid");
        let write: LabelSet = [Permission::write("alpha").expect("valid").label()]
            .into_iter()
            .collect();
        r.add_labels(&write).expect("no read grant");
        let out = r.to_json();
        assert!(
            out.starts_with(
                r#"{"resourceType":"ValueSet","id":"vs","meta":{"security":[{"system""#
            ),
            "{out}"
        );
        assert!(
            out.contains(r#""valueDecimal":1.50"#),
            "decimals keep their digits: {out}"
        );
        r.remove_labels(&write).expect("valid");
        assert_eq!(
            r.to_json(),
            json,
            "removing what was added restores the resource"
        );
    }
}
