//! The rules across entries: SNOMED CT package dependencies, and cycles among them.

use std::collections::{HashMap, HashSet};

use super::Validator;
use super::entry::snomed_version_uri;
use crate::feed::finding::{FindingCode, Location};
use crate::feed::model::Feed;

impl Validator {
    pub(super) fn dependencies(&mut self, feed: &Feed) {
        let offered: HashSet<&str> = feed
            .entries
            .iter()
            .filter_map(|e| e.version.as_ref().map(|v| v.as_str()))
            .collect();
        let mut graph: HashMap<&str, Vec<&str>> = HashMap::new();
        for (i, e) in feed.entries.iter().enumerate() {
            let Some(d) = &e.package_dependency else {
                continue;
            };
            let loc = || Location::entry(i, e.id.clone());
            if d.editions.is_empty() && d.derivatives.is_empty() {
                self.push(
                    FindingCode::DependencyEmpty,
                    loc(),
                    "sct:packageDependency is empty".into(),
                );
            }
            for dep in d.all() {
                if !snomed_version_uri(dep) {
                    self.push(
                        FindingCode::DependencyMalformed,
                        loc(),
                        format!("dependency '{dep}' is not http://snomed.info/sct/<module>/version/<YYYYMMDD>"),
                    );
                } else if !offered.contains(dep) {
                    self.push(
                        FindingCode::DependencyNotInFeed,
                        loc(),
                        format!("dependency {dep} is not offered by this feed"),
                    );
                }
                if let Some(v) = &e.version {
                    graph.entry(v.as_str()).or_default().push(dep.trim());
                }
            }
        }
        if let Some(cycle) = find_cycle(&graph) {
            self.push(
                FindingCode::DependencyCycle,
                Location::feed(),
                format!("package dependencies form a cycle: {}", cycle.join(" → ")),
            );
        }
    }
}

pub(super) fn find_cycle<'a>(graph: &HashMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::new();
    let mut roots: Vec<&str> = graph.keys().copied().collect();
    roots.sort_unstable();
    for root in roots {
        if marks.contains_key(root) {
            continue;
        }
        // Iterative depth-first search; the path is the chain of active nodes.
        let mut path: Vec<(&str, usize)> = vec![(root, 0)];
        marks.insert(root, Mark::Active);
        while let Some((node, next)) = path.last().copied() {
            let children = graph.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if next < children.len() {
                if let Some(top) = path.last_mut() {
                    top.1 += 1;
                }
                let child = children[next];
                match marks.get(child) {
                    Some(Mark::Active) => {
                        let start = path.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let mut cycle: Vec<&str> = path[start..].iter().map(|(n, _)| *n).collect();
                        cycle.push(child);
                        return Some(cycle);
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(child, Mark::Active);
                        path.push((child, 0));
                    }
                }
            } else {
                marks.insert(node, Mark::Done);
                path.pop();
            }
        }
    }
    None
}
