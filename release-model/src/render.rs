//! Plans rendered for people: a Markdown runbook with the equivalent `curl` command for every
//! network step, and a Mermaid flowchart. (JSON comes from `serde`.)

use std::fmt::Write as _;

use crate::deployment::Deployment;
use crate::plan::{Action, Plan, Step};

/// How many verification queries a runbook spells out per step before summarising.
const SHOWN_CHECKS: usize = 5;

fn base_url(deployment: &Deployment, step: &Step) -> String {
    deployment
        .topology
        .instances()
        .iter()
        .find(|i| i.name == step.instance)
        .map(|i| i.base_url.to_string())
        .unwrap_or_else(|| {
            format!(
                "$BASE_URL_{}",
                step.instance
                    .as_str()
                    .to_ascii_uppercase()
                    .replace('-', "_")
            )
        })
}

fn describe(action: &Action) -> String {
    match action {
        Action::RedoPreload => "Redo the preload: the server adds what the preload feed offers and it lacks.".into(),
        Action::DeleteResource { resource_type, url, version } => format!("Delete {resource_type} `{url}` version `{version}`."),
        Action::DeleteCodeSystem { code_system, version } => format!("Remove code system `{code_system}` version `{version}` (binary index)."),
        Action::Stop => "Stop the server.".into(),
        Action::Start => "Start the server.".into(),
        Action::ClearDisk => "Clear the server's disk (`/var/onto`, including the Lucene indexes).".into(),
        Action::DropSchema => "Drop and recreate the database schema.".into(),
        Action::RecreateContainer => "Delete the container and create it again (transient storage).".into(),
        Action::SetPreloadFeed { url } => format!("Set `atom.preload.feedLocation` to `{url}`."),
        Action::WaitForPreload => "Wait for the preload to finish (`/healthcheck.sh -L` succeeds, or the expected content answers).".into(),
        Action::Verify { present, absent } => format!(
            "Verify: {} content item(s) present, {} gone. A missing item may also mean the caller may not read it.",
            present.len(),
            absent.len()
        ),
        Action::CreateInstance => "Create a new instance with its own disk and database.".into(),
        Action::SwitchLoadBalancer { to } => {
            let names: Vec<&str> = to.iter().map(|n| n.as_str()).collect();
            format!("Switch the load balancer to {}.", names.join(", "))
        }
        Action::RetireInstance => "Drain and retire the instance.".into(),
        Action::AddLabels { resource_type, id, labels } => format!("Grant read on {resource_type}/{id}: {}.", labels.join(", ")),
    }
}

fn curl(step: &Step, base: &str) -> Vec<String> {
    let auth = "-H \"Authorization: Bearer $TOKEN\"";
    match &step.action {
        Action::Verify { present, absent } => {
            let mut out = Vec::new();
            for (e, want) in present
                .iter()
                .map(|e| (e, "1"))
                .chain(absent.iter().map(|e| (e, "0")))
                .take(SHOWN_CHECKS)
            {
                let s = e.search();
                out.push(format!(
                    "curl -s {auth} \"{base}/fhir/{}?url={}&version={}&_summary=count\"   # expect total {want}",
                    s.resource_type, s.url, s.version
                ));
            }
            let more = present.len() + absent.len();
            if more > SHOWN_CHECKS {
                out.push(format!("# … and {} more checks", more - SHOWN_CHECKS));
            }
            out
        }
        Action::AddLabels { labels, .. } => {
            let http = step.action.http().map(|h| h.path).unwrap_or_default();
            let codes: Vec<String> = labels
                .iter()
                .map(|l| format!("{{\"system\":\"http://ontoserver.csiro.au/CodeSystem/ontoserver-permissions\",\"code\":\"{l}\"}}"))
                .collect();
            vec![format!(
                "curl -s -X POST {auth} -H \"Content-Type: application/fhir+json\" \"{base}{http}\" -d '{{\"resourceType\":\"Parameters\",\"parameter\":[{{\"name\":\"meta\",\"valueMeta\":{{\"security\":[{}]}}}}]}}'",
                codes.join(",")
            )]
        }
        a => match a.http() {
            Some(h) => vec![format!(
                "curl -s -X {} {auth} \"{base}{}\"",
                h.method, h.path
            )],
            None => Vec::new(),
        },
    }
}

impl Plan {
    /// The plan as a Markdown runbook for `deployment`: numbered steps, each network step with
    /// its `curl` command, infrastructure steps in plain words.
    pub fn to_markdown(&self, deployment: &Deployment) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Release runbook: {}\n", self.strategy);
        let _ = writeln!(out, "{}\n", self.rationale);
        match (self.downtime, self.downtime_estimate) {
            (true, Some(d)) => {
                let _ = writeln!(
                    out,
                    "**Downtime:** yes, about {} minutes. Give ten working days' notice.\n",
                    d.as_secs() / 60
                );
            }
            (true, None) => out.push_str("**Downtime:** yes. Give ten working days' notice.\n\n"),
            _ => out.push_str("**Downtime:** none.\n\n"),
        }
        if let Some(n) = &self.notice {
            let _ = writeln!(out, "**Notice:** {n}.\n");
        }
        if !self.hazards.is_empty() {
            out.push_str("**Hazards**\n\n");
            for h in &self.hazards {
                let _ = writeln!(out, "- {h}");
            }
            out.push('\n');
        }
        if !self.decisions.is_empty() {
            out.push_str("## Decisions\n\n| instance | gets | lacks | to remove | why |\n|---|---|---:|---:|---|\n");
            for d in &self.decisions {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} |",
                    d.instance,
                    d.choice.as_str(),
                    d.missing,
                    d.stale,
                    d.rationale.replace('|', "\\|")
                );
            }
            out.push('\n');
        }
        if !self.warnings.is_empty() {
            out.push_str("**Warnings**\n\n");
            for w in &self.warnings {
                let _ = writeln!(out, "- {w}");
            }
            out.push('\n');
        }
        out.push_str("## Steps\n\n");
        for (n, step) in self.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. **{}** on `{}`: {}",
                n + 1,
                step.action.name(),
                step.instance,
                describe(&step.action)
            );
            let commands = curl(step, &base_url(deployment, step));
            if !commands.is_empty() {
                out.push_str("\n   ```sh\n");
                for c in commands {
                    let _ = writeln!(out, "   {c}");
                }
                out.push_str("   ```\n\n");
            }
        }
        out
    }

    /// The plan as a Mermaid flowchart.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        let _ = writeln!(out, "    start([{}])", self.strategy);
        let mut prev = "start".to_owned();
        for (n, step) in self.steps.iter().enumerate() {
            let id = format!("s{}", n + 1);
            let shape = if step.action.is_network() {
                ("[", "]")
            } else {
                ("[/", "/]")
            };
            let _ = writeln!(
                out,
                "    {id}{}\"{}. {} {}\"{}",
                shape.0,
                n + 1,
                step.action.name(),
                step.instance,
                shape.1
            );
            let _ = writeln!(out, "    {prev} --> {id}");
            prev = id;
        }
        let _ = writeln!(out, "    done([released])\n    {prev} --> done");
        out
    }
}
