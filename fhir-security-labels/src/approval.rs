//! The approval rule as types: read is granted only to approved content.
//!
//! On a single read/write terminology server, releasing content *is* adding a read label; the
//! release process forbids adding one before the content is approved. Here the only way to
//! build a `$meta-add` body or a resource edit that grants read is a [`ReadGrant`], and a
//! `ReadGrant` can only be made from an [`Approval`] of that very content, dated no later
//! than the grant.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::Error;
use crate::label::LabelSet;
use crate::meta::{ResourceJson, parameters};
use crate::vocab::{Category, Permission};

/// The content an approval or grant is about: a resource by type and id, and optionally the
/// business version that was approved.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContentRef {
    /// `resourceType` (`ValueSet`, `CodeSystem` …).
    pub resource_type: String,
    /// The resource id.
    pub id: String,
    /// The business `version` approved; `None` approves whatever version the resource has.
    pub version: Option<String>,
}

impl ContentRef {
    /// A resource by type and id.
    pub fn new(resource_type: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            resource_type: resource_type.into(),
            id: id.into(),
            version: None,
        }
    }

    /// Limits the reference to one business version.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    fn matches(&self, r: &ResourceJson) -> bool {
        r.resource_type() == self.resource_type
            && r.id() == Some(self.id.as_str())
            && self
                .version
                .as_deref()
                .is_none_or(|v| r.version() == Some(v))
    }
}

impl fmt::Display for ContentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.resource_type, self.id)?;
        if let Some(v) = &self.version {
            write!(f, " version {v}")?;
        }
        Ok(())
    }
}

/// A record that someone with approver rights approved a piece of content.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Approval {
    approver: String,
    at: DateTime<Utc>,
    content: ContentRef,
}

impl Approval {
    /// Records an approval.
    ///
    /// # Errors
    /// [`Error::MissingApprover`] when the approver is blank.
    pub fn new(approver: &str, at: DateTime<Utc>, content: ContentRef) -> Result<Self, Error> {
        if approver.trim().is_empty() {
            return Err(Error::MissingApprover);
        }
        Ok(Self {
            approver: approver.to_owned(),
            at,
            content,
        })
    }

    /// Who approved.
    pub fn approver(&self) -> &str {
        &self.approver
    }

    /// When.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// What.
    pub fn content(&self) -> &ContentRef {
        &self.content
    }
}

/// Read labels that may be added to one piece of approved content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadGrant {
    labels: LabelSet,
    approval: Approval,
}

impl ReadGrant {
    /// Grants the read labels in `labels` on the approval's content. `now` is when the grant
    /// is made (this crate never reads the clock).
    ///
    /// # Errors
    /// [`Error::NotAReadLabel`] when a label grants no read (or there are none);
    /// [`Error::ApprovalInFuture`] when the approval is dated after `now`.
    pub fn new(labels: LabelSet, approval: Approval, now: DateTime<Utc>) -> Result<Self, Error> {
        if labels.is_empty() {
            return Err(Error::NotAReadLabel("(none)".into()));
        }
        if let Some(l) = labels
            .iter()
            .find(|l| !l.permission().is_some_and(|p| p.is_read()))
        {
            return Err(Error::NotAReadLabel(l.to_string()));
        }
        if approval.at > now {
            return Err(Error::ApprovalInFuture {
                at: approval.at,
                now,
            });
        }
        Ok(Self { labels, approval })
    }

    /// Grants read to one cohort: `{category}.read`.
    ///
    /// # Errors
    /// As [`ReadGrant::new`], and [`Error::MalformedCode`] for a bad category.
    pub fn cohort(category: &str, approval: Approval, now: DateTime<Utc>) -> Result<Self, Error> {
        let p = Permission::read(category)?;
        if p.category == Category::Any {
            return Self::global(approval, now);
        }
        Self::new([p.label()].into_iter().collect(), approval, now)
    }

    /// Grants anonymous global read: `*.read`.
    ///
    /// # Errors
    /// As [`ReadGrant::new`].
    pub fn global(approval: Approval, now: DateTime<Utc>) -> Result<Self, Error> {
        Self::new(
            [Permission::global_read().label()].into_iter().collect(),
            approval,
            now,
        )
    }

    /// The labels granted.
    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    /// The approval behind the grant.
    pub fn approval(&self) -> &Approval {
        &self.approval
    }

    /// The `Parameters` body for `POST [base]/[type]/[id]/$meta-add` on the approved content.
    pub fn meta_add_body(&self) -> Value {
        parameters(&self.labels)
    }

    /// The path of the `$meta-add` call, relative to the FHIR base.
    pub fn meta_add_path(&self) -> String {
        let c = &self.approval.content;
        format!("{}/{}/$meta-add", c.resource_type, c.id)
    }

    /// Adds the granted labels to the resource (for servers where labels are written with a
    /// PUT of the whole resource).
    ///
    /// # Errors
    /// [`Error::ApprovalForOtherContent`] when the resource is not the approved content;
    /// [`Error::Json`] when its `meta.security` is malformed.
    pub fn apply(&self, resource: &mut ResourceJson) -> Result<(), Error> {
        if !self.approval.content.matches(resource) {
            let mut subject = format!(
                "{}/{}",
                resource.resource_type(),
                resource.id().unwrap_or("(no id)")
            );
            if let Some(v) = resource.version() {
                subject.push_str(&format!(" version {v}"));
            }
            return Err(Error::ApprovalForOtherContent {
                approved: self.approval.content.to_string(),
                subject,
            });
        }
        resource.add_unchecked(&self.labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0)
            .single()
            .expect("valid time")
    }

    #[test]
    fn grants_need_an_approval_no_later_than_now() {
        let content = ContentRef::new("ValueSet", "vs");
        let approval =
            Approval::new("approver@example.org", t(10), content).expect("named approver");
        assert!(ReadGrant::global(approval.clone(), t(11)).is_ok());
        assert!(matches!(
            ReadGrant::global(approval, t(9)),
            Err(Error::ApprovalInFuture { .. })
        ));
        assert!(matches!(
            Approval::new(" ", t(1), ContentRef::new("ValueSet", "vs")),
            Err(Error::MissingApprover)
        ));
    }

    #[test]
    fn grants_hold_only_read_labels() {
        let approval = Approval::new("a", t(1), ContentRef::new("ValueSet", "vs")).expect("valid");
        let write: LabelSet = [Permission::write("alpha").expect("valid").label()]
            .into_iter()
            .collect();
        assert!(matches!(
            ReadGrant::new(write, approval.clone(), t(2)),
            Err(Error::NotAReadLabel(_))
        ));
        assert!(matches!(
            ReadGrant::new(LabelSet::new(), approval, t(2)),
            Err(Error::NotAReadLabel(_))
        ));
    }

    #[test]
    fn an_approval_covers_only_its_own_content() {
        let approval = Approval::new(
            "a",
            t(1),
            ContentRef::new("ValueSet", "vs").with_version("1.0.0"),
        )
        .expect("valid");
        let grant = ReadGrant::cohort("alpha", approval, t(2)).expect("valid");
        let mut other =
            ResourceJson::parse(r#"{"resourceType":"ValueSet","id":"vs","version":"2.0.0"}"#)
                .expect("valid");
        assert!(matches!(
            grant.apply(&mut other),
            Err(Error::ApprovalForOtherContent { .. })
        ));
        let mut same =
            ResourceJson::parse(r#"{"resourceType":"ValueSet","id":"vs","version":"1.0.0"}"#)
                .expect("valid");
        grant.apply(&mut same).expect("approved content");
        assert_eq!(
            same.labels().expect("valid").read_permissions(),
            vec![Permission::read("alpha").expect("valid")]
        );
        assert_eq!(grant.meta_add_path(), "ValueSet/vs/$meta-add");
    }
}
