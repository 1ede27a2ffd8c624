//! Start tags: namespace declarations bound, the name and attributes classified, attribute
//! values unescaped into one buffer the parser reuses.

use std::collections::HashSet;
use std::ops::Range;

use super::names::{
    AttrKey, Namespaces, NsKind, Resolved, Tag, classify_attr, declared_prefix, split_qname,
};
use super::options::Mode;
use super::pump::{Fail, Note};
use super::unescape::unescape_attr;
use crate::error::Limit;
use crate::feed::finding::FindingCode;
use crate::feed::model::XmlName;
use crate::feed::ns;
use crate::feed::xml::{AttrSpan, same};

/// An attribute of the last start tag; its value is a range of [`Markup::values`].
#[derive(Debug)]
pub(super) struct RawAttr {
    pub(super) key: AttrKey,
    pub(super) value: Range<usize>,
}

#[derive(Debug)]
pub(super) struct Start {
    pub(super) tag: Tag,
    /// Valid until the next token is read: every element reader takes what it needs from
    /// the attributes before reading the element's content.
    pub(super) attrs: Vec<RawAttr>,
    pub(super) offset: u64,
}

/// Attributes in one start tag past which duplicates are found with a set rather than by
/// comparing each pair.
const PAIRWISE_ATTRIBUTES: usize = 16;

/// The state of start-tag classification: namespaces in scope, and the unescaped attribute
/// values of the last start tag.
#[derive(Default)]
pub(super) struct Markup {
    pub(super) ns: Namespaces,
    pub(super) values: String,
    /// Attribute lists given back by the readers of links and categories, which every entry
    /// has, reused rather than allocated and freed for each.
    spare: Vec<Vec<RawAttr>>,
}

impl Markup {
    /// Classifies a start tag at `depth`: binds its namespace declarations, resolves its
    /// name and attributes, and unescapes the attribute values into `self.values`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start(
        &mut self,
        qname: &str,
        attrs: &str,
        spans: &[AttrSpan],
        offset: u64,
        depth: usize,
        mode: Mode,
        max_text: usize,
        notes: &mut Vec<Note>,
    ) -> Result<Start, Fail> {
        self.values.clear();
        if spans.len() > 1 {
            check_unique(qname, attrs, spans, offset)?;
        }
        for span in spans {
            let name = &attrs[span.name.clone()];
            let Some(prefix) = declared_prefix(name) else {
                continue;
            };
            let mut uri = String::new();
            unescape_attr(&attrs[span.value.clone()], mode, offset, notes, &mut uri)?;
            if prefix != "xml" {
                self.ns
                    .bind(prefix, &uri, depth)
                    .map_err(|max| Fail::Limit(Limit::NamespaceDeclarations, max as u64, offset))?;
            }
        }

        let (prefix, local) = split_qname(qname);
        let tag = match self.ns.resolve(prefix) {
            Resolved::Bound(uri, kind) => {
                if kind == NsKind::NctsLegacy {
                    notes.push(Note {
                        code: FindingCode::NamespaceLegacyNcts,
                        message: format!(
                            "extension namespace {} read as {}",
                            ns::NCTS_LEGACY,
                            ns::NCTS
                        ),
                        offset,
                    });
                }
                Tag::classify(kind, local).unwrap_or_else(|| {
                    Tag::Foreign(Box::new(XmlName {
                        namespace: Some(uri.to_owned()),
                        local: local.to_owned(),
                        prefix: prefix.map(str::to_owned),
                    }))
                })
            }
            Resolved::Unbound => Tag::Foreign(Box::new(XmlName {
                namespace: None,
                local: local.to_owned(),
                prefix: None,
            })),
            Resolved::Unknown => {
                let p = prefix.unwrap_or_default();
                if mode == Mode::Strict {
                    return Err(Fail::Malformed {
                        offset,
                        message: format!("prefix '{p}' is not bound to a namespace"),
                        expected: Some(format!("an xmlns:{p} declaration")),
                    });
                }
                notes.push(Note {
                    code: FindingCode::XmlUnknownPrefix,
                    message: format!(
                        "prefix '{p}' of <{qname}> is not declared; read as no namespace"
                    ),
                    offset,
                });
                Tag::Foreign(Box::new(XmlName {
                    namespace: None,
                    local: local.to_owned(),
                    prefix: prefix.map(str::to_owned),
                }))
            }
        };

        let mut out = match spans.len() {
            0 => Vec::new(),
            n => {
                let mut v = self.spare.pop().unwrap_or_default();
                v.reserve(n);
                v
            }
        };
        for span in spans {
            let name = &attrs[span.name.clone()];
            if declared_prefix(name).is_some() {
                continue;
            }
            let raw = &attrs[span.value.clone()];
            if raw.len() > max_text {
                return Err(Fail::Limit(Limit::TextSize, max_text as u64, offset));
            }
            let (aprefix, alocal) = split_qname(name);
            let (kind, uri) = match aprefix {
                None => (NsKind::None, None),
                Some(_) => match self.ns.resolve(aprefix) {
                    Resolved::Bound(uri, kind) => (kind, Some(uri)),
                    Resolved::Unbound | Resolved::Unknown => {
                        let p = aprefix.unwrap_or_default();
                        if mode == Mode::Strict {
                            return Err(Fail::Malformed {
                                offset,
                                message: format!(
                                    "prefix '{p}' of attribute '{name}' is not bound to a namespace"
                                ),
                                expected: Some(format!("an xmlns:{p} declaration")),
                            });
                        }
                        notes.push(Note {
                            code: FindingCode::XmlUnknownPrefix,
                            message: format!(
                                "prefix '{p}' of attribute '{name}' is not declared; read as no namespace"
                            ),
                            offset,
                        });
                        // Read exactly as the unprefixed name, which is what the writer can
                        // write back: `x:sha256Hash` unbound is the unprefixed `sha256Hash`,
                        // so a rewrite cannot change what it means.
                        (NsKind::None, None)
                    }
                },
            };
            let key = classify_attr(kind, alocal).unwrap_or_else(|| {
                AttrKey::Foreign(Box::new(XmlName {
                    namespace: uri.map(str::to_owned),
                    local: alocal.to_owned(),
                    prefix: aprefix.map(str::to_owned),
                }))
            });
            let from = self.values.len();
            unescape_attr(raw, mode, offset, notes, &mut self.values)?;
            out.push(RawAttr {
                key,
                value: from..self.values.len(),
            });
        }
        Ok(Start {
            tag,
            attrs: out,
            offset,
        })
    }
}

impl Markup {
    /// Start-tag state allowing at most `max` namespace declarations in scope.
    pub(super) fn with_namespace_limit(max: usize) -> Self {
        let mut m = Self::default();
        m.ns.max = max;
        m
    }

    /// Takes back an emptied attribute list for reuse.
    pub(super) fn recycle(&mut self, mut attrs: Vec<RawAttr>) {
        const SPARE: usize = 4;
        if attrs.capacity() > 0 && self.spare.len() < SPARE {
            attrs.clear();
            self.spare.push(attrs);
        }
    }
}

/// XML allows an attribute name once per start tag.
pub(super) fn check_unique(
    qname: &str,
    attrs: &str,
    spans: &[AttrSpan],
    offset: u64,
) -> Result<(), Fail> {
    let names = spans.iter().map(|s| &attrs[s.name.clone()]);
    let duplicate = if spans.len() <= PAIRWISE_ATTRIBUTES {
        names
            .clone()
            .enumerate()
            .find(|(i, n)| names.clone().take(*i).any(|m| same(m, n)))
            .map(|(_, n)| n)
    } else {
        let mut seen = HashSet::with_capacity(spans.len());
        names.clone().find(|n| !seen.insert(*n))
    };
    match duplicate {
        Some(n) => Err(Fail::Malformed {
            offset,
            message: format!("attribute '{n}' appears twice in <{qname}>"),
            expected: Some("each attribute once".into()),
        }),
        None => Ok(()),
    }
}
