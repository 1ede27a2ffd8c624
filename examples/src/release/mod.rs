//! `synd status`, `synd plan DEPLOYMENT` and `synd apply`: the commands that work against
//! the servers a deployment file names.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use release_model::deployment::Deployment;
use release_model::deployment_file::DeploymentFile;
use release_model::plan::{Capabilities, Plan, Policy};
use serde::{Deserialize, Serialize};
use syndication_client::{
    ClientCredentials, ClientCredentialsConfig, ClientOptions, ClientSecret, Clock,
    DeploymentRecord, Executor, FeedName, Infrastructure, JournalFile, NoAuth, StagingGate,
    SyndicationClient, SystemClock, TokenSource, WaitPolicy, candidate_name, prepare,
};

use crate::synd::{EXIT_FINDINGS, EXIT_OK, Failure};

mod adapter;
mod notice;
use adapter::{commands_of, infrastructure};
pub use notice::{NoticeArgs, notice};

/// What `synd` runs against besides its arguments: the clock it waits by, how long it waits,
/// the infrastructure adapter and the wall clock notices are checked by. The defaults are
/// the real ones; tests give the fakes' ([`crate::synd::run_with`]).
#[derive(Clone)]
#[non_exhaustive]
pub struct Services {
    /// The clock waits are measured by.
    pub clock: Arc<dyn Clock>,
    /// How long to keep checking preloads and content.
    pub wait: WaitPolicy,
    /// The platform the instances run on; `None`: the deployment file's commands, or the
    /// servers' API only when it has none.
    pub infrastructure: Option<Arc<dyn Infrastructure>>,
    /// The time of day downtime windows are checked against; `None`: UTC now.
    pub wall_clock: Option<Arc<dyn Fn() -> chrono::NaiveDateTime + Send + Sync>>,
}

impl Default for Services {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            wait: WaitPolicy::default(),
            infrastructure: None,
            wall_clock: None,
        }
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("clock", &self.clock)
            .field("wait", &self.wait)
            .field("infrastructure", &self.infrastructure.is_some())
            .finish_non_exhaustive()
    }
}

/// The servers a deployment file names, and how to reach them.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// The deployment file (JSON; see `release_model::deployment_file`).
    pub deployment: PathBuf,
    /// The environment.
    #[arg(long, default_value = "production")]
    pub environment: String,
    /// Allow plain-HTTP base URLs (local servers and tests only).
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// Attempts per request (a failing request is retried with backoff before it is
    /// reported).
    #[arg(long, default_value_t = 4)]
    pub attempts: u32,
}

/// What a release is planned with.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// The candidate to release: its name (`release-candidate-20261203T0900`) or its feed URL
    /// on the deployment's syndication server.
    #[arg(long)]
    pub candidate: String,
    /// The service must stay up (as `zero_downtime` in the deployment file).
    #[arg(long)]
    pub zero_downtime: bool,
    /// FHIR deletes are not allowed.
    #[arg(long)]
    pub no_deletes: bool,
}

/// `synd apply`'s own arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ApplyArgs {
    /// The journal file: progress is saved there after every step, and a run started again
    /// with it resumes (the plan is saved beside it, as `FILE.plan.json`).
    #[arg(long)]
    pub journal: PathBuf,
    /// The notice of the release's downtime (JSON, `release_model::notice::Notice`).
    #[arg(long)]
    pub notice: Option<PathBuf>,
    /// Take the service down without a notice given in time; recorded in the journal.
    #[arg(long, value_name = "REASON")]
    pub emergency: Option<String>,
    /// The journal of the staging run of this release: production runs only once it
    /// verified the same target.
    #[arg(long, conflicts_with = "skip_staging")]
    pub staging_journal: Option<PathBuf>,
    /// Run production without a verified staging run; recorded in the journal.
    #[arg(long, value_name = "REASON")]
    pub skip_staging: Option<String>,
    /// Write the release into the deployment file when it is verified (the candidate in use
    /// and the feed the instances now preload), so the next release is planned from it.
    #[arg(long)]
    pub record: bool,
    /// Print what the run would do, each infrastructure step with the command it would run,
    /// and stop: nothing is changed, saved or repointed.
    #[arg(long)]
    pub dry_run: bool,
}

/// The output format of a plan.
#[derive(Clone, Copy, Debug, Default)]
pub enum Format {
    /// A Markdown runbook.
    #[default]
    Markdown,
    /// A Mermaid flowchart.
    Mermaid,
    /// JSON.
    Json,
}

struct Connected {
    file: DeploymentFile,
    shown: String,
    environment: String,
    deployment: Deployment,
    tokens: Arc<dyn TokenSource>,
    options: ClientOptions,
}

fn connect(args: &ServerArgs) -> Result<Connected, Failure> {
    let shown = args.deployment.display().to_string();
    let text = std::fs::read_to_string(&args.deployment).map_err(|e| format!("{shown}: {e}"))?;
    let file = DeploymentFile::from_json(&text).map_err(|e| format!("{shown}: {e}"))?;
    let deployment = file
        .environment(&args.environment)
        .map_err(|e| format!("{shown}: {e}"))?;
    let tokens: Arc<dyn TokenSource> = match &file.auth {
        Some(a) => {
            let secret = std::env::var(&a.secret_env).map_err(|_| {
                format!(
                    "{shown}: the environment variable {} (auth.secret_env) is not set",
                    a.secret_env
                )
            })?;
            let mut config = ClientCredentialsConfig::new(
                a.token_url.clone(),
                a.client_id.clone(),
                ClientSecret::new(secret),
            );
            config.scopes = a.scopes.clone();
            config.allow_insecure = args.allow_insecure_http;
            Arc::new(ClientCredentials::new(config).map_err(|e| e.to_string())?)
        }
        None => Arc::new(NoAuth),
    };
    let mut retry = syndication_client::RetryPolicy::default();
    retry.max_attempts = args.attempts.max(1);
    let mut options = ClientOptions::default().with_retry(retry);
    options.allow_insecure = args.allow_insecure_http;
    Ok(Connected {
        file,
        shown,
        environment: args.environment.clone(),
        deployment,
        tokens,
        options,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))
}

fn io(e: std::io::Error) -> Failure {
    format!("writing output: {e}")
}

/// `synd status`: what each instance holds, and where instances drift apart.
pub fn status(args: &ServerArgs, out: &mut dyn Write) -> Result<i32, Failure> {
    use std::collections::BTreeSet;

    use release_model::resource::ResourceType;

    let c = connect(args)?;
    let types = [
        ResourceType::CodeSystem,
        ResourceType::ValueSet,
        ResourceType::ConceptMap,
    ];
    let seen = runtime()?.block_on(syndication_client::observe(
        &c.deployment,
        &types,
        c.tokens,
        &c.options,
    ));
    let every: BTreeSet<(ResourceType, String, String)> = seen
        .values()
        .filter_map(|r| r.as_ref().ok())
        .flat_map(|o| {
            o.holdings
                .iter()
                .map(|(t, u, v)| (t.clone(), u.to_owned(), v.to_owned()))
        })
        .collect();
    let mut healthy = true;
    for (name, result) in &seen {
        match result {
            Ok(o) => {
                let preload = match o.preload_running {
                    Some(true) => "a preload is running",
                    Some(false) => "no preload running",
                    None => "preload state not reported",
                };
                writeln!(
                    out,
                    "{name}: {} item(s), {preload} ({} request(s))",
                    o.holdings.len(),
                    o.holdings.requests
                )
                .map_err(io)?;
                let missing: Vec<String> = every
                    .iter()
                    .filter(|(t, u, v)| !o.holdings.contains(t, u, v))
                    .map(|(t, u, v)| format!("{t} {u}|{v}"))
                    .collect();
                if !missing.is_empty() {
                    healthy = false;
                    let shown: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
                    writeln!(
                        out,
                        "  drift: lacks {} item(s) other instances hold: {}",
                        missing.len(),
                        shown.join(", ")
                    )
                    .map_err(io)?;
                }
            }
            Err(e) => {
                healthy = false;
                writeln!(out, "{name}: cannot be read: {e}").map_err(io)?;
            }
        }
    }
    Ok(if healthy { EXIT_OK } else { EXIT_FINDINGS })
}

/// What a release needs besides its plan: the syndication server, the candidate, and the
/// deployment's record of the environment.
struct Release {
    syndication: SyndicationClient,
    candidate: FeedName,
    record: DeploymentRecord,
}

fn release_of(c: &Connected, target: &TargetArgs) -> Result<Release, Failure> {
    let synd = c.file.syndication.as_ref().ok_or_else(|| {
        format!(
            "{}: the deployment file names no syndication server, so no candidate can be read",
            c.shown
        )
    })?;
    let base = release_model::deployment::BaseUrl::new(&synd.base_url)
        .map_err(|e| format!("{}: {e}", c.shown))?;
    let syndication = SyndicationClient::new(&base, Arc::clone(&c.tokens), c.options.clone())
        .map_err(|e| e.to_string())?;
    let candidate = candidate_name(&syndication, &target.candidate).map_err(|e| e.to_string())?;
    let env = c
        .file
        .environments
        .get(&c.environment)
        .ok_or_else(|| format!("{}: no environment {}", c.shown, c.environment))?;
    let mut record = DeploymentRecord::default();
    record.alias = env.alias.clone();
    record.in_use =
        match &env.candidate {
            Some(n) => Some(candidate_name(&syndication, n).map_err(|e| {
                format!("{}: environments.{}.candidate: {e}", c.shown, c.environment)
            })?),
            None => None,
        };
    for i in c.deployment.topology.instances() {
        let feeds = c
            .file
            .preload_feeds(&c.environment, &i.name)
            .map_err(|e| e.to_string())?;
        if !feeds.is_empty() {
            record.preload_feeds.insert(i.name.clone(), feeds);
        }
    }
    Ok(Release {
        syndication,
        candidate,
        record,
    })
}

/// Observes every instance and plans the release; `Ok(Err(reason))` when the planner
/// refuses it.
fn plan_release(
    c: &Connected,
    release: &Release,
    target: &TargetArgs,
    platform: Capabilities,
    rt: &tokio::runtime::Runtime,
) -> Result<Result<Plan, String>, Failure> {
    let mut policy: Policy = c.file.policy(&c.environment).map_err(|e| e.to_string())?;
    if target.zero_downtime {
        policy = policy.with_zero_downtime(true);
    }
    if target.no_deletes {
        policy = policy.with_fhir_deletes(false);
    }
    policy = policy.with_platform(platform);
    let prepared = rt.block_on(prepare(
        &c.deployment,
        &release.record,
        &release.candidate,
        &policy,
        &release.syndication,
        Arc::clone(&c.tokens),
        &c.options,
    ));
    Ok(match prepared {
        Ok(p) => Ok(p.plan),
        Err(syndication_client::Error::Plan(e)) => Err(e.to_string()),
        Err(e) => return Err(e.to_string()),
    })
}

fn print_plan(
    plan: &Plan,
    deployment: &Deployment,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, plan)
                .map_err(|e| format!("writing JSON: {e}"))?;
            writeln!(out).map_err(io)
        }
        Format::Mermaid => write!(out, "{}", plan.to_mermaid()).map_err(io),
        Format::Markdown => write!(out, "{}", plan.to_markdown(deployment)).map_err(io),
    }
}

/// `synd plan DEPLOYMENT --candidate …`: the release planned from what every instance holds.
pub fn plan(
    server: &ServerArgs,
    target: &TargetArgs,
    format: Format,
    services: &Services,
    out: &mut dyn Write,
) -> Result<i32, Failure> {
    let c = connect(server)?;
    let platform = infrastructure(&c, services)?.capabilities();
    let rt = runtime()?;
    let release = release_of(&c, target)?;
    match plan_release(&c, &release, target, platform, &rt)? {
        Ok(p) => {
            print_plan(&p, &c.deployment, format, out)?;
            Ok(EXIT_OK)
        }
        Err(refused) => {
            writeln!(out, "{refused}").map_err(io)?;
            Ok(EXIT_FINDINGS)
        }
    }
}

/// What a run would do, each infrastructure step with the command it would run; nothing is
/// changed, saved or repointed.
fn dry_run(
    c: &Connected,
    release: &Release,
    plan: &Plan,
    journal: &Path,
    out: &mut dyn Write,
) -> Result<i32, Failure> {
    let done = if journal.exists() {
        JournalFile::new(journal)
            .read()
            .map_err(|e| e.to_string())?
    } else {
        syndication_client::Journal::new()
    };
    let commands = commands_of(c)?;
    if let Some(alias) = &release.record.alias {
        writeln!(out, "  0. point alias {alias} at {}", release.candidate).map_err(io)?;
    }
    for (line, step) in Executor::dry_run(plan, &done).iter().zip(&plan.steps) {
        writeln!(out, "{line}").map_err(io)?;
        if let Some(argv) = commands
            .as_ref()
            .and_then(|c| c.command_line(&step.action, &step.instance))
        {
            writeln!(out, "       $ {}", shell_words(&argv)).map_err(io)?;
        }
    }
    Ok(EXIT_OK)
}

/// A command line as a person would type it: arguments with spaces or shell characters
/// quoted (it is run without a shell; this is only for reading).
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A plan saved beside its journal, so a resumed run carries out the plan it began rather
/// than one made from the half-released state.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    environment: String,
    candidate: String,
    plan: Plan,
}

fn saved_path(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".plan.json");
    PathBuf::from(name)
}

fn read_saved(journal: &Path) -> Result<Option<Saved>, Failure> {
    let path = saved_path(journal);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes `text` to `path` whole or not at all.
fn write_atomically(path: &Path, text: &str) -> Result<(), Failure> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// `synd apply`: plans the release from the observed state (or resumes the saved plan), runs
/// it with its journal, and ends only when every instance is verified for the whole target.
pub fn apply(
    server: &ServerArgs,
    target: &TargetArgs,
    args: &ApplyArgs,
    services: &Services,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Failure> {
    let c = connect(server)?;
    let infra = infrastructure(&c, services)?;
    let rt = runtime()?;
    let planned = release_of(&c, target)?;
    let saved = read_saved(&args.journal)?;
    if let Some(saved) = &saved
        && (saved.environment != c.environment || saved.candidate != planned.candidate.as_str())
    {
        return Err(format!(
            "{} holds the release of {} to {}: finish it, or use another journal",
            args.journal.display(),
            saved.candidate,
            saved.environment
        ));
    }
    // A run that began is resumed with its saved plan, never planned again from a
    // half-released state (an instance stopped mid-rebuild cannot even be observed).
    let plan = match saved {
        Some(saved) => {
            writeln!(
                out,
                "resuming the plan saved at {} (made from the state observed when it began)",
                saved_path(&args.journal).display()
            )
            .map_err(io)?;
            saved.plan
        }
        None => {
            let mut plan = match plan_release(&c, &planned, target, infra.capabilities(), &rt)? {
                Ok(p) => p,
                Err(refused) => {
                    writeln!(out, "{refused}").map_err(io)?;
                    return Ok(EXIT_FINDINGS);
                }
            };
            if args.dry_run {
                return dry_run(&c, &planned, &plan, &args.journal, out);
            }
            if let Some(path) = &args.notice {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let notice =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                plan = plan.with_notice(notice);
            }
            let saved = Saved {
                environment: c.environment.clone(),
                candidate: planned.candidate.as_str().to_owned(),
                plan,
            };
            let text = serde_json::to_string_pretty(&saved)
                .map_err(|e| format!("saving the plan: {e}"))?;
            write_atomically(&saved_path(&args.journal), &text)?;
            saved.plan
        }
    };
    if args.dry_run {
        return dry_run(&c, &planned, &plan, &args.journal, out);
    }
    print_plan(&plan, &c.deployment, Format::Markdown, out)?;
    // Production of a comprehensive deployment runs only after staging verified the same
    // target; without either flag the executor refuses it and says why.
    let gate = match (&args.staging_journal, &args.skip_staging) {
        (Some(path), _) => {
            let staging = read_saved(path)?.ok_or_else(|| {
                format!(
                    "{}: no saved staging plan beside it",
                    saved_path(path).display()
                )
            })?;
            let journal = JournalFile::new(path).read().map_err(|e| e.to_string())?;
            Some(StagingGate::verified(staging.plan, journal))
        }
        (None, Some(reason)) => Some(StagingGate::skipped(reason.clone())),
        (None, None) => None,
    };
    let mut executor = Executor::new(
        &c.deployment,
        Arc::clone(&c.tokens),
        infra,
        c.options.clone(),
        services.wait.clone(),
    )
    .map_err(|e| e.to_string())?
    .with_clock(Arc::clone(&services.clock));
    if let Some(gate) = gate {
        executor = executor.with_staging(gate);
    }
    if let Some(now) = &services.wall_clock {
        let now = Arc::clone(now);
        executor = executor.with_wall_clock(move || now());
    }
    if let Some(reason) = &args.emergency {
        executor = executor.with_emergency_override(reason.clone());
    }
    // The alias the instances preload must point at the candidate before they load it. The
    // PUT is idempotent, so a resumed run repeats it harmlessly.
    if let Some(alias) = &planned.record.alias {
        rt.block_on(planned.syndication.repoint_alias(alias, &planned.candidate))
            .map_err(|e| format!("pointing alias {alias} at {}: {e}", planned.candidate))?;
        writeln!(out, "alias {alias} points at {}", planned.candidate).map_err(io)?;
    }
    let mut store = JournalFile::new(&args.journal);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<syndication_client::Event>();
    let progress = crate::progress::Progress::steps(plan.steps.len());
    let result = rt.block_on(async {
        let run = executor.run(&plan, &mut store, move |e| {
            let _ = tx.send(e);
        });
        tokio::pin!(run);
        loop {
            tokio::select! {
                r = &mut run => break r,
                Some(e) = rx.recv() => progress.event(&e, err),
            }
        }
    });
    while let Ok(e) = rx.try_recv() {
        progress.event(&e, err);
    }
    progress.finish();
    if let Err(e) = result {
        writeln!(
            out,
            "the release stopped: {e}\nrun the same command again to resume from {}",
            args.journal.display()
        )
        .map_err(io)?;
        return Ok(EXIT_FINDINGS);
    }
    // A plan that names no feed leaves the instances on the one they preload.
    let feed = plan.preload_feed.as_deref();
    writeln!(
        out,
        "released {} to {}: every instance verified for the whole target",
        planned.candidate, c.environment
    )
    .map_err(io)?;
    if args.record {
        let mut file = c.file.clone();
        file.record_release(&c.environment, planned.candidate.as_str(), feed)
            .map_err(|e| e.to_string())?;
        write_atomically(
            &server.deployment,
            &file.to_json().map_err(|e| e.to_string())?,
        )?;
        writeln!(out, "recorded in {}", c.shown).map_err(io)?;
    } else {
        writeln!(
            out,
            "record it in {}: environments.{}.candidate = {}{} (or pass --record)",
            c.shown,
            c.environment,
            planned.candidate,
            feed.map(|f| format!(", preload_feed = {f}"))
                .unwrap_or_default()
        )
        .map_err(io)?;
    }
    Ok(EXIT_OK)
}
