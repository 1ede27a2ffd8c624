//! Reports of a diff for people: plain text (`Display`) and a Markdown table. JSON comes from
//! `serde`.

use std::fmt::{self, Write as _};

use crate::model::{EntryRef, FeedDiff};

fn cell(s: Option<&str>) -> String {
    // Pipes would end a Markdown cell.
    s.unwrap_or("").replace('|', "\\|")
}

impl fmt::Display for FeedDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {}",
            if self.is_additive() {
                "additive"
            } else {
                "NOT additive"
            },
            self.counts()
        )?;
        for e in &self.added {
            writeln!(f, "  + {e}")?;
        }
        for u in &self.updated {
            let c: Vec<String> = u.changes.iter().map(ToString::to_string).collect();
            writeln!(f, "  ~ {}: {}", u.entry, c.join("; "))?;
        }
        for m in &self.moved {
            let from = m.from_entry_id.as_ref().map_or("-", |i| i.as_str());
            writeln!(f, "  > {} (was entry {from})", m.entry)?;
        }
        for r in &self.relocated {
            writeln!(f, "  = {} (relocated, same bytes)", r.entry)?;
        }
        for e in &self.removed {
            writeln!(f, "  - {e}")?;
        }
        for r in &self.retracted {
            for t in &r.targets {
                writeln!(
                    f,
                    "  x {t} (retracted by {})",
                    r.entry.entry_id.as_ref().map_or("-", |i| i.as_str())
                )?;
            }
        }
        for r in &self.noop_retractions {
            writeln!(
                f,
                "  . {} retracts nothing the deployed feed offers (no-op)",
                r.entry
            )?;
        }
        for v in &self.version_changes {
            writeln!(
                f,
                "  version {} {} → {} ({})",
                v.identifier, v.from, v.to, v.order
            )?;
        }
        for h in &self.hazards {
            writeln!(f, "  ! {h}")?;
        }
        Ok(())
    }
}

impl FeedDiff {
    /// How many artefacts each kind of change touches, as one line.
    pub fn counts(&self) -> String {
        let counts = format!(
            "{} added, {} updated, {} moved, {} removed, {} retracted, {} unchanged",
            self.added.len(),
            self.updated.len(),
            self.moved.len(),
            self.removed.len(),
            self.retracted.len(),
            self.unchanged.len(),
        );
        // Only snapshots of a syndication server relocate artefacts: said when they do.
        if self.relocated.is_empty() {
            counts
        } else {
            format!("{counts}, {} relocated", self.relocated.len())
        }
    }

    /// The diff as a Markdown table, one row per changed artefact, then the hazards.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let kind = if self.is_additive() {
            "Additive release"
        } else {
            "Non-additive release"
        };
        let _ = writeln!(out, "**{kind}** — {}\n", self.counts());
        out.push_str("| change | identifier | version | term | entry | detail |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        let mut row = |kind: &str, e: &EntryRef, detail: String| {
            let _ = writeln!(
                out,
                "| {kind} | {} | {} | {} | {} | {} |",
                cell(e.identifier.as_ref().map(|i| i.as_str())),
                cell(e.version.as_ref().map(|v| v.as_str())),
                cell(e.term.as_deref()),
                cell(e.entry_id.as_ref().map(|i| i.as_str())),
                cell(Some(&detail)),
            );
        };
        for e in &self.added {
            row("added", e, String::new());
        }
        for u in &self.updated {
            let c: Vec<String> = u.changes.iter().map(ToString::to_string).collect();
            row("updated", &u.entry, c.join("; "));
        }
        for r in &self.relocated {
            let c: Vec<String> = r.changes.iter().map(ToString::to_string).collect();
            row("relocated", &r.entry, c.join("; "));
        }
        for m in &self.moved {
            row(
                "moved",
                &m.entry,
                format!(
                    "was {}",
                    m.from_entry_id.as_ref().map_or("-", |i| i.as_str())
                ),
            );
        }
        for e in &self.removed {
            row("removed", e, "no longer offered".into());
        }
        for r in &self.retracted {
            for t in &r.targets {
                row(
                    "retracted",
                    t,
                    format!(
                        "by {}",
                        r.entry.entry_id.as_ref().map_or("-", |i| i.as_str())
                    ),
                );
            }
        }
        for r in &self.noop_retractions {
            row(
                "retraction (no-op)",
                &r.entry,
                "targets nothing deployed".into(),
            );
        }
        if !self.hazards.is_empty() {
            out.push_str("\n**Hazards**\n\n");
            for h in &self.hazards {
                let _ = writeln!(out, "- {}", h.to_string().replace('|', "\\|"));
            }
        }
        out
    }
}
