//! `synd`: a command-line front end over the workspace's crates.
//!
//! Exit codes follow one convention throughout: 0 success, 1 the check found problems,
//! 2 the input could not be used (unreadable file, malformed feed, bad arguments).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use release_model::feed::{
    EntryReader, Feed, Profile, ReadOptions, ReadOutcome, Severity, read_feed, validate_read,
};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the check found problems.
pub const EXIT_FINDINGS: i32 = 1;
/// Exit code: the input could not be used.
pub const EXIT_BAD_INPUT: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "synd",
    version,
    about = "Release FHIR terminology content through syndication feeds"
)]
struct Cli {
    /// Log what the crates do (at `info`; `RUST_LOG` sets the filter in full, e.g.
    /// `RUST_LOG=syndication_client=debug`). Logs go to stderr.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

/// Installs the log subscriber: `RUST_LOG` when set, `info` with `--verbose`, none otherwise.
fn init_logs(verbose: bool, err: &mut dyn Write) {
    use tracing_subscriber::EnvFilter;
    let directives = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => v,
        _ if verbose => "info".to_owned(),
        _ => return,
    };
    match EnvFilter::try_new(&directives) {
        Ok(filter) => {
            // Already installed (a second run in one process) is fine.
            use std::io::IsTerminal as _;
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .try_init();
        }
        Err(e) => {
            let _ = writeln!(err, "synd: RUST_LOG={directives} is not a log filter: {e}");
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a whole release process against in-process fakes: author, approve, snapshot, diff,
    /// plan, execute and verify an additive release, a non-additive one and a rollback.
    Demo {
        /// Inject a fault into the first production release: the run stops safely, names the
        /// instance and cause, then resumes from its journal.
        #[arg(long, value_enum)]
        inject: Option<crate::demo::Fault>,
    },
    /// Inspect and check syndication feeds.
    #[command(subcommand)]
    Feed(FeedCommand),
    /// Security labels and read access.
    #[command(subcommand)]
    Labels(LabelsCommand),
    /// Plan a release: from a deployment file and a candidate (what each instance holds
    /// decides its steps), or offline from two feed files (`--deployed`, `--candidate FILE`);
    /// exit 0 planned, 1 rejected by policy, 2 bad input.
    Plan(PlanArgs),
    /// What each instance of an environment holds, from a deployment file: exit 0 when every
    /// instance answers and they agree, 1 when one cannot be read or they differ (drift), 2
    /// bad input.
    Status(crate::release::ServerArgs),
    /// Run a release from a deployment file: plan it from what every instance holds, run it
    /// with a journal (resumable), and end only when every instance holds the whole target.
    /// Exit 0 released and verified, 1 refused or stopped (run it again to resume), 2 bad
    /// input.
    Apply {
        #[command(flatten)]
        server: crate::release::ServerArgs,
        #[command(flatten)]
        target: crate::release::TargetArgs,
        #[command(flatten)]
        apply: crate::release::ApplyArgs,
    },
    /// Draft the notice a release's downtime needs, from the plan `synd apply` would carry
    /// out, as the file `synd apply --notice` takes: exit 0 written (or none needed), 1 the
    /// plan refused, the downtime not fitting the window or notice given too late, 2 bad input.
    Notice {
        #[command(flatten)]
        server: crate::release::ServerArgs,
        #[command(flatten)]
        target: crate::release::TargetArgs,
        #[command(flatten)]
        notice: crate::release::NoticeArgs,
    },
    /// What a release changes: exit 0 additive, 1 not additive, 2 unreadable.
    Diff {
        /// The deployed feed.
        deployed: PathBuf,
        /// The candidate feed.
        candidate: PathBuf,
        /// Print JSON.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print a Markdown table.
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(clap::Args, Debug)]
struct PlanArgs {
    /// The deployment file: plan from what its instances hold (the candidate is then its
    /// name or feed URL on the deployment's syndication server).
    deployment: Option<PathBuf>,
    /// The environment of the deployment file.
    #[arg(long, default_value = "production", requires = "deployment")]
    environment: String,
    /// Allow plain-HTTP base URLs (local servers and tests only).
    #[arg(long, requires = "deployment")]
    allow_insecure_http: bool,
    /// Attempts per request.
    #[arg(long, default_value_t = 4, requires = "deployment")]
    attempts: u32,
    /// Offline: the feed production serves now.
    #[arg(
        long,
        required_unless_present = "deployment",
        conflicts_with = "deployment"
    )]
    deployed: Option<PathBuf>,
    /// The candidate: a feed file offline; with a deployment file, its name or feed URL.
    #[arg(long)]
    candidate: String,
    /// Offline: `single`, `scaled-separate:N` or `scaled-shared:N`.
    #[arg(long, default_value = "single", conflicts_with = "deployment")]
    topology: String,
    /// Offline: `persistent` or `transient`.
    #[arg(long, default_value = "persistent", conflicts_with = "deployment")]
    storage: String,
    /// Offline: the single server is read-only (scaled servers always are).
    #[arg(long, conflicts_with = "deployment")]
    read_only: bool,
    /// The service must stay up.
    #[arg(long)]
    zero_downtime: bool,
    /// FHIR deletes are not allowed.
    #[arg(long)]
    no_deletes: bool,
    /// Offline: the base URL of the instances (scaled instances get `prod-N.` before the host).
    #[arg(
        long,
        default_value = "https://tx.example.org",
        conflicts_with = "deployment"
    )]
    base_url: String,
    /// Offline: the feed the instances preload (the candidate's feed URL), for rebuild steps.
    #[arg(long, conflicts_with = "deployment")]
    preload_feed: Option<String>,
    /// Print JSON.
    #[arg(long, conflicts_with_all = ["markdown", "mermaid"])]
    json: bool,
    /// Print a Markdown runbook (the default).
    #[arg(long, conflicts_with = "mermaid")]
    markdown: bool,
    /// Print a Mermaid flowchart.
    #[arg(long)]
    mermaid: bool,
}

#[derive(Subcommand, Debug)]
enum LabelsCommand {
    /// Decide whether a caller can read a resource: prints `allowed` or `denied` and the
    /// deciding rule; exit 0 allowed, 1 denied, 2 bad input.
    Check {
        /// The resource, as FHIR JSON.
        resource: PathBuf,
        /// An authority (or scope) the caller holds, such as FHIR_READ, PERM_PATHOLOGY_READ or
        /// system/*.read; repeat for several; none: anonymous. A multi-server realm prefixes a
        /// role with the audience of the server it is for, with nothing between them
        /// (https://tx.example.org/fhirFHIR_READ): a prefixed authority counts only on the
        /// server that --audience names.
        #[arg(long = "authority", value_name = "AUTHORITY")]
        authorities: Vec<String>,
        /// The server grants FHIR read to everyone (`ontoserver.security.readOnly.fhir=true`).
        #[arg(long)]
        anonymous_read: bool,
        /// The server's audience (https://tx.example.org/fhir), against which
        /// audience-prefixed authorities are matched.
        #[arg(long)]
        audience: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum FeedCommand {
    /// Check a feed: findings one per line; exit 0 when there are no errors, 1 when there are,
    /// 2 when the feed cannot be read.
    Check {
        /// The feed document.
        file: PathBuf,
        /// Apply the IG and RFC 4287 as written (a document that is not well-formed fails).
        #[arg(long, conflicts_with = "preload")]
        strict: bool,
        /// Check what a terminology server needs of a preload feed.
        #[arg(long)]
        preload: bool,
    },
    /// Show the feed's entries, or the whole model as JSON.
    Show {
        /// The feed document.
        file: PathBuf,
        /// Print the model as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Count entries by content type.
    Stats {
        /// The feed document.
        file: PathBuf,
        /// Use the streaming reader (memory independent of the entry count).
        #[arg(long)]
        stream: bool,
    },
    /// Write the feed and read it back: exit 0 when it reads back equal.
    Roundtrip {
        /// The feed document.
        file: PathBuf,
    },
}

/// Runs `synd` with `args` (the first is the program name), writing to `out` and `err`, and
/// returns the exit code.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with(args, out, err, &crate::release::Services::default())
}

/// [`run`] against `services`: the clock, waits and infrastructure a release uses (tests give
/// the fakes').
pub fn run_with<I, T>(
    args: I,
    out: &mut dyn Write,
    err: &mut dyn Write,
    services: &crate::release::Services,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            };
            let target: &mut dyn Write = if e.use_stderr() { err } else { out };
            let _ = write!(target, "{}", e.render());
            return code;
        }
    };
    init_logs(cli.verbose, err);
    let result = match cli.command {
        Command::Demo { inject } => crate::demo::run(inject, out),
        Command::Feed(cmd) => feed(cmd, out),
        Command::Labels(cmd) => labels(cmd, out),
        Command::Plan(args) => match args.deployment.clone() {
            Some(deployment) => plan_deployment(args, deployment, services, out),
            None => plan(args, out),
        },
        Command::Status(args) => crate::release::status(&args, out),
        Command::Apply {
            server,
            target,
            apply,
        } => crate::release::apply(&server, &target, &apply, services, out, err),
        Command::Notice {
            server,
            target,
            notice,
        } => crate::release::notice(&server, &target, &notice, services, out, err),
        Command::Diff {
            deployed,
            candidate,
            json,
            markdown,
        } => diff(&deployed, &candidate, json, markdown, out),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(err, "synd: {message}");
            EXIT_BAD_INPUT
        }
    }
}

/// A failure to use the input, already phrased for the operator.
pub(crate) type Failure = String;

fn load(path: &Path, options: &ReadOptions) -> Result<ReadOutcome, Failure> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    read_feed(&bytes, options).map_err(|e| format!("{}: {e}", path.display()))
}

fn feed(cmd: FeedCommand, out: &mut dyn Write) -> Result<i32, Failure> {
    let io = |e: std::io::Error| format!("writing output: {e}");
    match cmd {
        FeedCommand::Check {
            file,
            strict,
            preload,
        } => {
            let (options, profile) = match (strict, preload) {
                (true, _) => (ReadOptions::strict(), Profile::Strict),
                (_, true) => (ReadOptions::lenient(), Profile::Preload),
                _ => (ReadOptions::lenient(), Profile::Lenient),
            };
            let outcome = load(&file, &options)?;
            let findings = validate_read(&outcome, profile);
            let mut counts = [0usize; 3];
            for f in &findings {
                counts[f.severity as usize] += 1;
                writeln!(out, "{}: {f}", file.display()).map_err(io)?;
            }
            if outcome.dropped_findings > 0 {
                writeln!(
                    out,
                    "{}: {} more findings not kept",
                    file.display(),
                    outcome.dropped_findings
                )
                .map_err(io)?;
            }
            writeln!(
                out,
                "{}: {} entries; {} errors, {} warnings, {} info",
                file.display(),
                outcome.feed.entries.len(),
                counts[Severity::Error as usize],
                counts[Severity::Warning as usize],
                counts[Severity::Info as usize],
            )
            .map_err(io)?;
            Ok(if counts[Severity::Error as usize] > 0 {
                EXIT_FINDINGS
            } else {
                EXIT_OK
            })
        }
        FeedCommand::Show { file, json } => {
            let outcome = load(&file, &ReadOptions::lenient())?;
            if json {
                serde_json::to_writer_pretty(&mut *out, &outcome.feed)
                    .map_err(|e| format!("writing JSON: {e}"))?;
                writeln!(out).map_err(io)?;
            } else {
                show(&outcome.feed, out).map_err(io)?;
            }
            Ok(EXIT_OK)
        }
        FeedCommand::Stats { file, stream } => {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            let mut total = 0;
            let mut tally = |entry: &release_model::feed::Entry| {
                let key = entry
                    .content_type()
                    .map_or_else(|| "(no category)".to_owned(), |c| c.name());
                *counts.entry(key).or_default() += 1;
                total += 1;
            };
            if stream {
                let f = File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                let reader = EntryReader::new(
                    BufReader::with_capacity(64 << 10, f),
                    &ReadOptions::lenient(),
                )
                .map_err(|e| format!("{}: {e}", file.display()))?;
                for entry in reader {
                    tally(&entry.map_err(|e| format!("{}: {e}", file.display()))?);
                }
            } else {
                let outcome = load(&file, &ReadOptions::lenient())?;
                outcome.feed.entries.iter().for_each(&mut tally);
            }
            for (name, n) in &counts {
                writeln!(out, "{n:>8}  {name}").map_err(io)?;
            }
            writeln!(out, "{total:>8}  entries").map_err(io)?;
            Ok(EXIT_OK)
        }
        FeedCommand::Roundtrip { file } => {
            let outcome = load(&file, &ReadOptions::lenient())?;
            let xml = match outcome.feed.to_xml() {
                Ok(xml) => xml,
                Err(e) => {
                    writeln!(out, "{}: cannot be written back: {e}", file.display()).map_err(io)?;
                    return Ok(EXIT_FINDINGS);
                }
            };
            match read_feed(xml.as_bytes(), &ReadOptions::strict()) {
                Ok(again) if again.feed == outcome.feed => {
                    writeln!(
                        out,
                        "{}: round-trips ({} entries)",
                        file.display(),
                        outcome.feed.entries.len()
                    )
                    .map_err(io)?;
                    Ok(EXIT_OK)
                }
                Ok(_) => {
                    writeln!(
                        out,
                        "{}: the rewritten feed reads back different",
                        file.display()
                    )
                    .map_err(io)?;
                    Ok(EXIT_FINDINGS)
                }
                Err(e) => {
                    writeln!(
                        out,
                        "{}: the rewritten feed does not read: {e}",
                        file.display()
                    )
                    .map_err(io)?;
                    Ok(EXIT_FINDINGS)
                }
            }
        }
    }
}

fn plan_deployment(
    args: PlanArgs,
    deployment: PathBuf,
    services: &crate::release::Services,
    out: &mut dyn Write,
) -> Result<i32, Failure> {
    use crate::release::{Format, ServerArgs, TargetArgs};
    let server = ServerArgs {
        deployment,
        environment: args.environment,
        allow_insecure_http: args.allow_insecure_http,
        attempts: args.attempts,
    };
    let target = TargetArgs {
        candidate: args.candidate,
        zero_downtime: args.zero_downtime,
        no_deletes: args.no_deletes,
    };
    let format = if args.json {
        Format::Json
    } else if args.mermaid {
        Format::Mermaid
    } else {
        Format::Markdown
    };
    crate::release::plan(&server, &target, format, services, out)
}

fn plan(args: PlanArgs, out: &mut dyn Write) -> Result<i32, Failure> {
    use release_model::deployment::{
        Access, BaseUrl, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage,
        Topology,
    };
    use release_model::plan::{Policy, Strategy, plan};

    let storage = match args.storage.as_str() {
        "persistent" => Storage::Persistent,
        "transient" => Storage::Transient,
        other => {
            return Err(format!(
                "--storage must be persistent or transient, not '{other}'"
            ));
        }
    };
    let (scheme, host) = args
        .base_url
        .split_once("://")
        .ok_or_else(|| format!("--base-url '{}' is not a URL", args.base_url))?;
    let instance = |name: &str, url: String, access| -> Result<Instance, Failure> {
        Ok(Instance::new(
            InstanceName::new(name).map_err(|e| e.to_string())?,
            BaseUrl::new(&url).map_err(|e| e.to_string())?,
            Role::Production,
            access,
            storage,
        ))
    };
    let scaled = |n: &str| -> Result<Vec<Instance>, Failure> {
        let n: usize = n
            .parse()
            .map_err(|_| format!("'{n}' is not a number of instances"))?;
        (0..n)
            .map(|i| {
                instance(
                    &format!("prod-{i}"),
                    format!("{scheme}://prod-{i}.{host}"),
                    Access::ReadOnly,
                )
            })
            .collect()
    };
    let topology = match args.topology.split_once(':') {
        None if args.topology == "single" => {
            let access = if args.read_only {
                Access::ReadOnly
            } else {
                Access::ReadWrite
            };
            Topology::single(instance("prod", args.base_url.clone(), access)?)
        }
        Some(("scaled-separate", n)) => {
            Topology::scaled_separate(scaled(n)?).map_err(|e| e.to_string())?
        }
        Some(("scaled-shared", n)) => {
            let through = InstanceName::new("prod-0").map_err(|e| e.to_string())?;
            Topology::scaled_shared(scaled(n)?, through).map_err(|e| e.to_string())?
        }
        _ => {
            return Err(format!(
                "--topology must be single, scaled-separate:N or scaled-shared:N, not '{}'",
                args.topology
            ));
        }
    };
    let mut deployment = Deployment::new(DeploymentModel::Comprehensive, topology);
    if let Some(feed) = args.preload_feed {
        deployment = deployment.with_preload_feed(feed);
    }
    let deployed = args
        .deployed
        .as_deref()
        .ok_or("--deployed FILE is needed without a deployment file")?;
    let old = load(deployed, &ReadOptions::lenient())?.feed;
    let new = load(Path::new(&args.candidate), &ReadOptions::lenient())?.feed;
    let delta = feed_diff::diff(&old, &new).to_delta();
    let policy = Policy::default()
        .with_zero_downtime(args.zero_downtime)
        .with_fhir_deletes(!args.no_deletes);
    let io = |e: std::io::Error| format!("writing output: {e}");
    let p = match plan(&deployment, &delta, &policy) {
        Ok(p) => p,
        Err(e) => {
            writeln!(out, "{e}").map_err(io)?;
            return Ok(EXIT_FINDINGS);
        }
    };
    // A rebuild reloads whatever feed the instances preload: without the candidate's feed
    // the plan could not repoint them, and they would rebuild the old content.
    let rebuilds = matches!(
        p.strategy,
        Strategy::WipeAndRestart | Strategy::BlueGreen | Strategy::Rollback
    );
    if rebuilds && deployment.preload_feed.is_none() {
        writeln!(
            out,
            "this release is a {}: the instances are rebuilt from their preload feed, so give the candidate's feed URL with --preload-feed (without it they would rebuild the old content)",
            p.strategy
        )
        .map_err(io)?;
        return Ok(EXIT_FINDINGS);
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &p).map_err(|e| format!("writing JSON: {e}"))?;
        writeln!(out).map_err(io)?;
    } else if args.mermaid {
        write!(out, "{}", p.to_mermaid()).map_err(io)?;
    } else {
        write!(out, "{}", p.to_markdown(&deployment)).map_err(io)?;
    }
    Ok(EXIT_OK)
}

fn diff(
    deployed: &Path,
    candidate: &Path,
    json: bool,
    markdown: bool,
    out: &mut dyn Write,
) -> Result<i32, Failure> {
    let old = load(deployed, &ReadOptions::lenient())?.feed;
    let new = load(candidate, &ReadOptions::lenient())?.feed;
    let d = feed_diff::diff(&old, &new);
    let io = |e: std::io::Error| format!("writing output: {e}");
    if json {
        serde_json::to_writer_pretty(&mut *out, &d).map_err(|e| format!("writing JSON: {e}"))?;
        writeln!(out).map_err(io)?;
    } else if markdown {
        write!(out, "{}", d.to_markdown()).map_err(io)?;
    } else {
        write!(out, "{d}").map_err(io)?;
    }
    Ok(if d.is_additive() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}

fn labels(cmd: LabelsCommand, out: &mut dyn Write) -> Result<i32, Failure> {
    use fhir_security_labels::{Caller, ResourceJson, ServerSecurity, decide_read};
    let LabelsCommand::Check {
        resource,
        authorities,
        anonymous_read,
        audience,
    } = cmd;
    let text =
        std::fs::read_to_string(&resource).map_err(|e| format!("{}: {e}", resource.display()))?;
    let parsed = ResourceJson::parse(&text).map_err(|e| format!("{}: {e}", resource.display()))?;
    let labels = parsed
        .labels()
        .map_err(|e| format!("{}: {e}", resource.display()))?;
    let caller = Caller::parse(&authorities).map_err(|e| e.to_string())?;
    let mut server = if anonymous_read {
        ServerSecurity::fine_with_anonymous_read()
    } else {
        ServerSecurity::fine()
    };
    if let Some(a) = audience {
        server = server.with_audience(a);
    }
    let decision = decide_read(&labels, &caller, &server);
    writeln!(out, "{decision}").map_err(|e| format!("writing output: {e}"))?;
    Ok(if decision.is_allowed() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}

fn show(feed: &Feed, out: &mut dyn Write) -> std::io::Result<()> {
    let text = |t: &Option<release_model::feed::Text>| {
        t.as_ref().map_or(String::new(), |t| t.as_str().to_owned())
    };
    writeln!(
        out,
        "feed {}  {}",
        feed.id.as_ref().map_or("-", |i| i.as_str()),
        text(&feed.title)
    )?;
    for (i, e) in feed.entries.iter().enumerate() {
        writeln!(
            out,
            "{i:>4}  {:<22} {}  {}",
            e.content_type()
                .map_or_else(|| "-".to_owned(), |c| c.name()),
            e.identifier.as_ref().map_or("-", |v| v.as_str()),
            e.version.as_ref().map_or("-", |v| v.as_str()),
        )?;
    }
    Ok(())
}
