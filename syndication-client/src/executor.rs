//! Carrying out a release plan: network steps through the clients, platform steps through an
//! [`Infrastructure`] you implement, verification by content, and a journal that lets an
//! interrupted run resume where it stopped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fhir_security_labels::ReadGrant;
use release_model::deployment::{BaseUrl, Deployment, InstanceName};
use release_model::plan::{Action, Capabilities, Expectation, Plan, Step};
use release_model::resource::ResourceType;
use tracing::Instrument;

use crate::auth::{Clock, SystemClock, TokenSource};
use crate::error::Error;
use crate::http::ClientOptions;
use crate::journal::{Journal, JournalStore, Outcome, Record, Resume, plan_fingerprint};
use crate::terminology::TerminologyClient;

/// The platform a deployment runs on: what the executor cannot do through a server's API.
/// Implement it for your orchestration (Kubernetes, Compose, VMs); the `testkit` feature
/// implements it for the fakes.
///
/// Every operation has a default that answers [`Error::NotSupported`]: implement the ones
/// your platform can do and say so in [`capabilities`](Self::capabilities), which the
/// planner is given (`Policy::with_platform`) so it never plans a step the platform cannot
/// take.
///
/// ```
/// use syndication_client::{async_trait, Error, Infrastructure};
/// use release_model::deployment::InstanceName;
/// use release_model::plan::Capabilities;
///
/// /// Restarts only: no rebuilds, no new instances.
/// struct RestartOnly;
///
/// #[async_trait]
/// impl Infrastructure for RestartOnly {
///     fn capabilities(&self) -> Capabilities {
///         let mut c = Capabilities::none();
///         c.restart = true;
///         c
///     }
///     async fn stop(&self, _: &InstanceName) -> Result<(), Error> { Ok(()) }
///     async fn start(&self, _: &InstanceName) -> Result<(), Error> { Ok(()) }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let name = InstanceName::new("prod-0").unwrap();
/// let err = RestartOnly.clear_disk(&name).await.unwrap_err();
/// assert!(matches!(err, Error::NotSupported { operation: "clear-disk", .. }));
/// # });
/// ```
#[async_trait]
pub trait Infrastructure: Send + Sync {
    /// What this platform can do; [`Capabilities::none`] unless overridden.
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }
    /// Stops an instance.
    async fn stop(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("stop", instance)
    }
    /// Starts an instance (it preloads as it starts).
    async fn start(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("start", instance)
    }
    /// Clears an instance's disk.
    async fn clear_disk(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("clear-disk", instance)
    }
    /// Drops and recreates an instance's database schema.
    async fn drop_schema(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("drop-schema", instance)
    }
    /// Deletes and recreates an instance's container (transient storage).
    async fn recreate_container(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("recreate-container", instance)
    }
    /// Whether an instance's storage is in the state `wipe` leaves it in (disk empty, schema
    /// empty, container new). Asked only when a run died during that wipe, to decide whether
    /// the resumed run must do it again; without an answer the run stops and asks the
    /// operator ([`Error::Unreconciled`]) rather than repeat a destructive step blindly.
    async fn is_wiped(&self, instance: &InstanceName, wipe: Wipe) -> Result<bool, Error> {
        let _ = wipe;
        not_supported("is-wiped", instance)
    }
    /// Sets `atom.preload.feedLocation`.
    async fn set_preload_feed(&self, instance: &InstanceName, url: &str) -> Result<(), Error> {
        let _ = url;
        not_supported("set-preload-feed", instance)
    }
    /// Creates a new instance and returns its base URL.
    async fn create_instance(&self, instance: &InstanceName) -> Result<BaseUrl, Error> {
        not_supported("create-instance", instance)
    }
    /// Retires an instance.
    async fn retire_instance(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("retire-instance", instance)
    }
    /// What the last infrastructure step on `instance` printed, taken so the journal
    /// records it with the step; `None` when nothing was kept.
    fn take_output(&self, instance: &InstanceName) -> Option<String> {
        let _ = instance;
        None
    }
    /// Routes the load balancer to these instances.
    async fn switch_load_balancer(&self, to: &[InstanceName]) -> Result<(), Error> {
        Err(Error::NotSupported {
            operation: "switch-load-balancer",
            instance: to
                .iter()
                .map(InstanceName::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// A destructive storage step, as [`Infrastructure::is_wiped`] is asked about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Wipe {
    /// The instance's disk was cleared.
    Disk,
    /// The instance's database schema was dropped and recreated.
    Schema,
    /// The instance's container was recreated (transient storage).
    Container,
}

fn not_supported<T>(operation: &'static str, instance: &InstanceName) -> Result<T, Error> {
    Err(Error::NotSupported {
        operation,
        instance: instance.to_string(),
    })
}

/// How long to keep checking content and waiting for preloads: a number of checks with a
/// pause that doubles after each, up to a ceiling (a full SNOMED CT preload can take hours).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitPolicy {
    /// Checks before giving up.
    pub attempts: u32,
    /// The pause after the first check.
    pub interval: Duration,
    /// The longest pause.
    pub max_interval: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        Self {
            attempts: 30,
            interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(300),
        }
    }
}

impl WaitPolicy {
    /// Checks without pausing (for fakes, whose preloads finish at once).
    pub fn immediate(attempts: u32) -> Self {
        Self {
            attempts,
            interval: Duration::ZERO,
            max_interval: Duration::ZERO,
        }
    }

    /// Checks every second at first, backing off to a minute, for about an hour: for waits
    /// by a virtual clock (the testkit's), where pauses cost nothing.
    pub fn virtual_time() -> Self {
        Self {
            attempts: 80,
            interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(60),
        }
    }

    /// The pause after check number `attempt` (from 1).
    pub fn pause_after(&self, attempt: u32) -> Duration {
        self.interval
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_interval)
    }
}

/// Progress reported during a run. Steps are numbered from 1, as runbooks number them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A step starts.
    Started {
        /// Its number.
        step: usize,
        /// Its instance.
        instance: InstanceName,
        /// Its action.
        action: &'static str,
    },
    /// A step was skipped: the journal records it as done.
    Skipped {
        /// Its number.
        step: usize,
    },
    /// A step that started in a run that died before it ended was checked on the instance.
    Reconciled {
        /// Its number.
        step: usize,
        /// Whether it had taken effect: `true` means it is not done again.
        done: bool,
    },
    /// A verification or wait is still not satisfied and will be checked again.
    Waiting {
        /// Its number.
        step: usize,
        /// The attempt just made.
        attempt: u32,
        /// What is still missing.
        detail: String,
    },
    /// A step finished.
    Finished {
        /// Its number.
        step: usize,
    },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Started {
                step,
                instance,
                action,
            } => write!(f, "step {step}: {action} on {instance}"),
            Event::Skipped { step } => write!(f, "step {step}: done in an earlier run"),
            Event::Reconciled { step, done: true } => write!(
                f,
                "step {step}: interrupted in an earlier run; it had taken effect, not repeated"
            ),
            Event::Reconciled { step, done: false } => write!(
                f,
                "step {step}: interrupted in an earlier run; it had not taken effect, doing it again"
            ),
            Event::Waiting {
                step,
                attempt,
                detail,
            } => write!(f, "step {step}: attempt {attempt}: {detail}"),
            Event::Finished { step } => write!(f, "step {step}: done"),
        }
    }
}

/// Runs plans against a deployment.
pub struct Executor {
    clients: HashMap<InstanceName, Arc<TerminologyClient>>,
    infra: Arc<dyn Infrastructure>,
    tokens: Arc<dyn TokenSource>,
    options: ClientOptions,
    wait: WaitPolicy,
    grants: HashMap<(ResourceType, String), ReadGrant>,
    clock: Arc<dyn Clock>,
    /// The time of day in the zone downtime windows are given in.
    wall_clock: Arc<dyn Fn() -> chrono::NaiveDateTime + Send + Sync>,
    emergency: Option<String>,
    /// Whether users read from it (any instance has the production role): its downtime needs
    /// notice.
    serves_users: bool,
    /// Whether staging must go first: a comprehensive deployment's production instances.
    staging_first: bool,
    staging: Option<StagingGate>,
    /// On a scaled-shared topology, the one instance preloads go through.
    preloads_through: Option<InstanceName>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("instances", &self.clients.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// An executor for the instances of `deployment`.
    ///
    /// # Errors
    /// When a client cannot be built for an instance (e.g. plain HTTP not allowed).
    pub fn new(
        deployment: &Deployment,
        tokens: Arc<dyn TokenSource>,
        infra: Arc<dyn Infrastructure>,
        options: ClientOptions,
        wait: WaitPolicy,
    ) -> Result<Self, Error> {
        let mut clients = HashMap::new();
        for i in deployment.topology.instances() {
            let c = TerminologyClient::new(&i.base_url, Arc::clone(&tokens), options.clone())?;
            clients.insert(i.name.clone(), Arc::new(c));
        }
        Ok(Self {
            clients,
            infra,
            tokens,
            options,
            wait,
            grants: HashMap::new(),
            clock: Arc::new(SystemClock),
            wall_clock: Arc::new(|| {
                chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()).naive_utc()
            }),
            emergency: None,
            serves_users: deployment
                .topology
                .instances()
                .iter()
                .any(|i| i.role == release_model::deployment::Role::Production),
            // Only the comprehensive model has a staging environment to go first.
            staging_first: deployment.model
                == release_model::deployment::DeploymentModel::Comprehensive
                && deployment
                    .topology
                    .instances()
                    .iter()
                    .any(|i| i.role == release_model::deployment::Role::Production),
            staging: None,
            preloads_through: match &deployment.topology {
                release_model::deployment::Topology::ScaledShared { through, .. } => {
                    Some(through.clone())
                }
                _ => None,
            },
        })
    }

    /// Reads the time of day from `now` when it checks a downtime window (UTC by default:
    /// give the service's local time when its windows are announced in it).
    pub fn with_wall_clock(
        mut self,
        now: impl Fn() -> chrono::NaiveDateTime + Send + Sync + 'static,
    ) -> Self {
        self.wall_clock = Arc::new(now);
        self
    }

    /// How staging went before this production release: without it, a run on production
    /// instances of a comprehensive deployment (the model with a staging environment) is
    /// refused before any step.
    pub fn with_staging(mut self, gate: StagingGate) -> Self {
        self.staging = Some(gate);
        self
    }

    /// Takes the service down even when the plan's notice is missing, late or outside its
    /// window, for an emergency: `reason` and what it overrode are recorded in the journal.
    pub fn with_emergency_override(mut self, reason: impl Into<String>) -> Self {
        self.emergency = Some(reason.into());
        self
    }

    /// Waits by `clock` rather than tokio's timer: give it the testkit's `Registry::clock`
    /// so that waits for a fake's preload pass in virtual time.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Provides the approved grant an `add-labels` step for this resource carries out; steps
    /// without one fail, so read is never granted without an approval.
    pub fn with_grant(mut self, grant: ReadGrant) -> Self {
        let c = grant.approval().content();
        self.grants
            .insert((ResourceType::parse(&c.resource_type), c.id.clone()), grant);
        self
    }

    /// What a run would do, one line per step, without doing it.
    pub fn dry_run(plan: &Plan, journal: &Journal) -> Vec<String> {
        let resume = if journal.plan == plan_fingerprint(plan) {
            journal.completed
        } else {
            0
        };
        plan.steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let done = if i < resume { " (done)" } else { "" };
                match s.action.http() {
                    Some(h) => format!(
                        "{:>3}. {} {}: {} {}{done}",
                        i + 1,
                        s.instance,
                        s.action.name(),
                        h.method,
                        h.path
                    ),
                    None => format!("{:>3}. {} {}{done}", i + 1, s.instance, s.action.name()),
                }
            })
            .collect()
    }

    /// Runs `plan`, resuming after the steps the journal in `store` records as done, and
    /// saving the journal after every change: a `started` record before each step acts and
    /// its outcome after. A step that started in a run that died before its outcome was saved
    /// is reconciled by observing the instance, never repeated blindly: a delete whose target
    /// is gone is done, a wipe is done again only when the platform says the storage was not
    /// wiped ([`Infrastructure::is_wiped`]).
    ///
    /// # Errors
    /// [`Error::Step`] naming the step, instance and cause when one fails (the journal then
    /// records everything done before it); [`Error::JournalMismatch`] when the journal belongs
    /// to another plan and [`Error::JournalInvalid`] when it does not fit this one;
    /// [`Error::Unreconciled`] when an interrupted step cannot be checked (settle it with
    /// [`Journal::mark_done`] or [`Journal::mark_not_done`]); the store's error when a save
    /// fails (the run stops: no step acts unless its start is saved).
    pub async fn run(
        &mut self,
        plan: &Plan,
        store: &mut (impl JournalStore + ?Sized),
        mut events: impl FnMut(Event) + Send,
    ) -> Result<(), Error> {
        let mut journal = store.load().await?;
        let resume = journal.check(plan)?;
        if self.staging_first && journal.staging.is_none() && !plan.steps.is_empty() {
            journal.staging = Some(self.staging_passed(plan)?);
        }
        if journal.plan.is_empty() {
            journal.plan = plan_fingerprint(plan);
        }
        // Instances created by an earlier run are reached where they were created.
        for (name, url) in journal.created().collect::<Vec<_>>() {
            let c = TerminologyClient::new(&url, Arc::clone(&self.tokens), self.options.clone())?;
            self.clients.insert(name, Arc::new(c));
        }
        let first = match resume {
            Resume::Finished => {
                for number in 1..=plan.steps.len() {
                    events(Event::Skipped { step: number });
                }
                return Ok(());
            }
            Resume::Fresh(n) | Resume::Interrupted(n) => n,
        };
        for number in 1..first {
            events(Event::Skipped { step: number });
        }
        let mut i = first - 1;
        while let Some(step) = plan.steps.get(i) {
            // Verifications of different instances that follow one another run at once: they
            // only read, and a release's wait is then that of its slowest instance.
            let group = verify_group(&plan.steps, i);
            if group > 1 {
                self.verify_together(plan, i..i + group, &mut journal, store, &mut events)
                    .await?;
                i += group;
                continue;
            }
            i += 1;
            // Steps are numbered from 1 everywhere a person reads them: runbooks, dry runs,
            // events, the journal and errors.
            let number = i;
            let name = step.action.name();
            let fail = |e: Error| Error::Step {
                step: number,
                instance: step.instance.clone(),
                action: name,
                source: Box::new(e),
            };
            if resume == Resume::Interrupted(number) {
                let done = self.reconcile(number, step).await.map_err(|e| match e {
                    // It names the step already, and says what the operator can do.
                    e @ Error::Unreconciled { .. } => e,
                    e => fail(e),
                })?;
                events(Event::Reconciled { step: number, done });
                if done {
                    journal
                        .records
                        .push(Record::new(number, &step.instance, name, Outcome::Done));
                    journal.completed = number;
                    store.save(&journal).await?;
                    events(Event::Finished { step: number });
                    continue;
                }
            }
            if takes_service_down(&step.action) {
                self.check_notice(plan, &mut journal, store).await?;
            }
            journal
                .records
                .push(Record::new(number, &step.instance, name, Outcome::Started));
            store.save(&journal).await?;
            events(Event::Started {
                step: number,
                instance: step.instance.clone(),
                action: name,
            });
            let span =
                tracing::info_span!("step", number, instance = %step.instance, action = name);
            let result = self
                .step(number, step, &mut events)
                .instrument(span.clone())
                .await;
            match &result {
                Ok(_) => span.in_scope(|| tracing::info!("step done")),
                Err(e) => span.in_scope(|| tracing::warn!(error = %e, "step failed")),
            }
            match result {
                Ok(created) => {
                    let mut record = Record::new(number, &step.instance, name, Outcome::Done);
                    record.created = created.map(|u| u.as_str().to_owned());
                    record.output = self.infra.take_output(&step.instance);
                    journal.records.push(record);
                    journal.completed = number;
                    store.save(&journal).await?;
                    events(Event::Finished { step: number });
                }
                Err(e) => {
                    journal.records.push(Record::new(
                        number,
                        &step.instance,
                        name,
                        Outcome::Failed {
                            message: e.to_string(),
                        },
                    ));
                    // The step's error is the one to report; a journal that cannot be saved
                    // now still says the step started, which a resumed run reconciles.
                    let _ = store.save(&journal).await;
                    return Err(fail(e));
                }
            }
        }
        Ok(())
    }

    /// Whether staging verified the release `plan` carries to production, as the gate says:
    /// staging's journal finished its plan, and that plan verified at least what this one
    /// verifies (the same target), present and absent.
    fn staging_passed(&self, plan: &Plan) -> Result<String, Error> {
        let refused = |reason: String| Err(Error::StagingNotVerified { reason });
        match &self.staging {
            None => refused("no staging run was given".into()),
            Some(StagingGate::Override { reason }) => {
                tracing::warn!(%reason, "production without staging: override");
                Ok(format!("override: {reason}"))
            }
            Some(StagingGate::Verified {
                plan: staged,
                journal,
            }) => {
                if !journal.is_finished(staged) {
                    return refused(format!(
                        "staging's run of its plan is not finished ({} of {} steps)",
                        journal.completed,
                        staged.steps.len()
                    ));
                }
                let (want_present, want_absent) = verified_items(plan);
                let (had_present, had_absent) = verified_items(staged);
                if let Some(missing) = want_present
                    .iter()
                    .chain(&want_absent)
                    .find(|i| !had_present.contains(*i) && !had_absent.contains(*i))
                {
                    return refused(format!(
                        "staging did not verify {missing}, which this release does"
                    ));
                }
                if want_present.iter().any(|i| had_absent.contains(i))
                    || want_absent.iter().any(|i| had_present.contains(i))
                {
                    return refused("staging verified another release".into());
                }
                Ok(format!(
                    "staging verified plan {}",
                    plan_fingerprint(staged)
                ))
            }
        }
    }

    /// Before the first step that takes a service users read from down (an instance with the
    /// production role): the plan's notice must have been given in time and the window be
    /// open, or an emergency override be given (and saved). Staging needs no notice.
    async fn check_notice(
        &self,
        plan: &Plan,
        journal: &mut Journal,
        store: &mut (impl JournalStore + ?Sized),
    ) -> Result<(), Error> {
        // Checked when the downtime begins: once a step has taken the service down, the
        // release (or its resumption) finishes it rather than leave the service down.
        let begun = journal.records.iter().any(|r| {
            plan.steps
                .get(r.step.wrapping_sub(1))
                .is_some_and(|s| takes_service_down(&s.action))
        });
        if !self.serves_users || !plan.downtime || journal.emergency.is_some() || begun {
            return Ok(());
        }
        let now = (self.wall_clock)();
        let problem = match &plan.notice {
            None => Some("the plan carries no notice".to_owned()),
            Some(n) if !n.is_in_time() => Some(match n.given_on {
                Some(d) => format!(
                    "its notice was given on {d}, after the deadline {}",
                    n.deadline
                ),
                None => format!("its notice has not been given (deadline {})", n.deadline),
            }),
            Some(n) if now < n.window.start => Some(format!(
                "its window opens at {}, not yet (now {now})",
                n.window.start
            )),
            Some(n) if now >= n.window.end => {
                Some(format!("its window closed at {} (now {now})", n.window.end))
            }
            Some(_) => None,
        };
        match (problem, &self.emergency) {
            (None, _) => Ok(()),
            (Some(problem), Some(reason)) => {
                tracing::warn!(%reason, %problem, "emergency override of the downtime notice");
                journal.emergency = Some(format!("{reason} (overriding: {problem})"));
                store.save(journal).await
            }
            (Some(reason), None) => Err(Error::NoticeNotMet { reason }),
        }
    }

    /// Runs the verify steps in `range` concurrently: their starts are saved first, their
    /// outcomes after, in plan order; the first failure is the run's error.
    async fn verify_together(
        &self,
        plan: &Plan,
        range: std::ops::Range<usize>,
        journal: &mut Journal,
        store: &mut (impl JournalStore + ?Sized),
        events: &mut (impl FnMut(Event) + Send),
    ) -> Result<(), Error> {
        for k in range.clone() {
            let s = &plan.steps[k];
            journal.records.push(Record::new(
                k + 1,
                &s.instance,
                s.action.name(),
                Outcome::Started,
            ));
        }
        store.save(journal).await?;
        let checks = range.clone().map(|k| {
            let s = &plan.steps[k];
            let span = tracing::info_span!("step", number = k + 1, instance = %s.instance, action = s.action.name());
            async move {
                let mut seen = Vec::new();
                let result = match &s.action {
                    Action::Verify { present, absent } => {
                        self.verify(k + 1, &s.instance, present, absent, &mut |e| seen.push(e))
                            .await
                    }
                    _ => Ok(()),
                };
                (k, result, seen)
            }
            .instrument(span)
        });
        for k in range.clone() {
            let s = &plan.steps[k];
            events(Event::Started {
                step: k + 1,
                instance: s.instance.clone(),
                action: s.action.name(),
            });
        }
        let mut failure = None;
        for (k, result, seen) in futures_util::future::join_all(checks).await {
            let s = &plan.steps[k];
            seen.into_iter().for_each(&mut *events);
            match result {
                Ok(()) => {
                    journal.records.push(Record::new(
                        k + 1,
                        &s.instance,
                        s.action.name(),
                        Outcome::Done,
                    ));
                    // Done counts only in order: a later check that passed is done again
                    // when the run resumes after an earlier one that failed.
                    if journal.completed == k {
                        journal.completed = k + 1;
                    }
                    events(Event::Finished { step: k + 1 });
                }
                Err(e) => {
                    journal.records.push(Record::new(
                        k + 1,
                        &s.instance,
                        s.action.name(),
                        Outcome::Failed {
                            message: e.to_string(),
                        },
                    ));
                    failure.get_or_insert(Error::Step {
                        step: k + 1,
                        instance: s.instance.clone(),
                        action: s.action.name(),
                        source: Box::new(e),
                    });
                }
            }
        }
        let saved = store.save(journal).await;
        match failure {
            Some(e) => Err(e),
            None => saved,
        }
    }

    /// Whether a step that started in a run that died took effect, by looking at the
    /// instance: `true` when it must not be done again.
    async fn reconcile(&self, number: usize, step: &Step) -> Result<bool, Error> {
        let who = &step.instance;
        let unreconciled = |reason: String| Error::Unreconciled {
            step: number,
            instance: who.clone(),
            action: step.action.name(),
            reason,
        };
        let wipe = |w| async move {
            match self.infra.is_wiped(who, w).await {
                Ok(wiped) => Ok(wiped),
                Err(e) => Err(unreconciled(format!(
                    "whether it took effect cannot be observed ({e})"
                ))),
            }
        };
        match &step.action {
            Action::DeleteResource {
                resource_type,
                url,
                version,
            } => Ok(!self
                .client(who)?
                .has_canonical(resource_type, url, version)
                .await?),
            Action::DeleteCodeSystem {
                code_system,
                version,
            } => Ok(!self
                .client(who)?
                .has_canonical(&ResourceType::CodeSystem, code_system, version)
                .await?),
            Action::ClearDisk => wipe(Wipe::Disk).await,
            Action::DropSchema => wipe(Wipe::Schema).await,
            Action::RecreateContainer => wipe(Wipe::Container).await,
            // Doing it again would make a second instance; only the platform's owner can say
            // whether the first exists.
            Action::CreateInstance => Err(unreconciled(
                "an instance may have been created; check the platform".into(),
            )),
            // Repeating these has the effect of doing them once: preloads are additive,
            // stop, start, repointing, routing and labelling are idempotent, and waits and
            // checks change nothing.
            _ => Ok(false),
        }
    }

    fn client(&self, instance: &InstanceName) -> Result<Arc<TerminologyClient>, Error> {
        self.clients
            .get(instance)
            .cloned()
            .ok_or_else(|| Error::Config {
                message: format!("no client for instance {instance}"),
            })
    }

    /// Carries out one step; for `create-instance`, returns where the instance was created.
    async fn step(
        &mut self,
        number: usize,
        step: &Step,
        events: &mut (impl FnMut(Event) + Send),
    ) -> Result<Option<BaseUrl>, Error> {
        let who = &step.instance;
        if let Action::CreateInstance = &step.action {
            let url = self.infra.create_instance(who).await?;
            let c = TerminologyClient::new(&url, Arc::clone(&self.tokens), self.options.clone())?;
            self.clients.insert(who.clone(), Arc::new(c));
            return Ok(Some(url));
        }
        self.act(number, step, events).await.map(|()| None)
    }

    async fn act(
        &mut self,
        number: usize,
        step: &Step,
        events: &mut (impl FnMut(Event) + Send),
    ) -> Result<(), Error> {
        let who = &step.instance;
        match &step.action {
            Action::RedoPreload => self.redo_preload_when_idle(number, who, events).await,
            Action::DeleteResource {
                resource_type,
                url,
                version,
            } => {
                let client = self.client(who)?;
                let deleted = client.delete_canonical(resource_type, url, version).await;
                gone_is_done(deleted, &client, resource_type, url, version).await
            }
            Action::DeleteCodeSystem {
                code_system,
                version,
            } => {
                let client = self.client(who)?;
                let deleted = client.delete_code_system(code_system, version).await;
                gone_is_done(
                    deleted,
                    &client,
                    &ResourceType::CodeSystem,
                    code_system,
                    version,
                )
                .await
            }
            Action::Stop => self.infra.stop(who).await,
            Action::Start => self.infra.start(who).await,
            Action::ClearDisk => self.infra.clear_disk(who).await,
            Action::DropSchema => self.infra.drop_schema(who).await,
            Action::RecreateContainer => self.infra.recreate_container(who).await,
            Action::SetPreloadFeed { url } => self.infra.set_preload_feed(who, url).await,
            Action::RetireInstance => self.infra.retire_instance(who).await,
            Action::SwitchLoadBalancer { to } => self.infra.switch_load_balancer(to).await,
            Action::WaitForPreload => self.wait_until_up(number, who, events).await,
            Action::Verify { present, absent } => {
                self.verify(number, who, present, absent, events).await
            }
            Action::AddLabels {
                resource_type, id, ..
            } => {
                let grant = self.grants.get(&(resource_type.clone(), id.clone())).ok_or_else(|| Error::Config {
                    message: format!("no approved grant for {resource_type}/{id}: read is granted only after approval"),
                })?;
                self.client(who)?.grant_read(grant).await.map(drop)
            }
            _ => Err(Error::Config {
                message: format!("unsupported action {}", step.action.name()),
            }),
        }
    }

    async fn pause(&self, attempt: u32) {
        let d = self.wait.pause_after(attempt);
        if !d.is_zero() {
            self.clock.sleep(d).await;
        }
    }

    /// Checks until `check` says done, pausing between checks by the wait policy; a check
    /// that is not done yet is reported as a waiting event. An error from `check` ends the
    /// wait at once; when the attempts run out the wait fails with the last
    /// [`Check::Failing`] error, or `timed_out`.
    async fn poll<F>(
        &self,
        number: usize,
        events: &mut (impl FnMut(Event) + Send),
        timed_out: impl Fn() -> Error,
        mut check: impl FnMut() -> F,
    ) -> Result<(), Error>
    where
        F: Future<Output = Result<Check, Error>>,
    {
        let mut last = None;
        for attempt in 1..=self.wait.attempts.max(1) {
            let detail = match check().await? {
                Check::Done => return Ok(()),
                Check::NotYet(why) => {
                    last = None;
                    why
                }
                Check::Failing(e) => {
                    let detail = e.to_string();
                    last = Some(e);
                    detail
                }
            };
            events(Event::Waiting {
                step: number,
                attempt,
                detail,
            });
            self.pause(attempt).await;
        }
        Err(last.unwrap_or_else(timed_out))
    }

    /// Waits until the instance answers and, where it says, no preload is running on it.
    async fn wait_until_up(
        &self,
        number: usize,
        who: &InstanceName,
        events: &mut (impl FnMut(Event) + Send),
    ) -> Result<(), Error> {
        let client = self.client(who)?;
        let timed_out = || Error::Config {
            message: format!("{who}: the preload did not finish in time"),
        };
        // An instance that does not answer yet (starting, restarting) is waited for.
        self.poll(number, events, timed_out, || async {
            let state = match client.health().await {
                Ok(()) => client.preload_running().await,
                Err(e) => Err(e),
            };
            Ok(match state {
                Ok(Some(true)) => Check::NotYet("a preload is running".into()),
                Ok(_) => Check::Done,
                Err(e) => Check::Failing(e),
            })
        })
        .await
    }

    /// Starts a preload once none runs on the instance: a server refuses a second one (409),
    /// and the content of the first is still arriving.
    async fn redo_preload_when_idle(
        &self,
        number: usize,
        who: &InstanceName,
        events: &mut (impl FnMut(Event) + Send),
    ) -> Result<(), Error> {
        let client = self.client(who)?;
        let timed_out = || Error::Config {
            message: format!("{who}: the running preload did not finish in time"),
        };
        self.poll(number, events, timed_out, || async {
            if client.preload_running().await? == Some(true) {
                return Ok(Check::NotYet("a preload is running".into()));
            }
            match client.redo_preload().await {
                Ok(()) => Ok(Check::Done),
                Err(e) if e.is_conflict() => Ok(Check::Failing(e)),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Whether this executor may start a preload on `who`: on a scaled-shared topology only
    /// through the one instance writes go through, since every instance serves one store and
    /// two preloads into it contend.
    fn may_preload(&self, who: &InstanceName) -> bool {
        self.preloads_through.as_ref().is_none_or(|t| t == who)
    }

    /// Checks the instance for each expected content item and the absence of removed ones,
    /// redoing the preload when content is missing (the server's feed cache may lag).
    async fn verify(
        &self,
        number: usize,
        who: &InstanceName,
        present: &[Expectation],
        absent: &[Expectation],
        events: &mut (impl FnMut(Event) + Send),
    ) -> Result<(), Error> {
        let client = self.client(who)?;
        let key = |e: &Expectation| format!("{}|{}", e.identifier, e.version);
        let mut missing = Vec::new();
        let mut unexpected = Vec::new();
        // One paged read of each resource type per check, not one search per item: a whole
        // target of thousands of items costs a few requests.
        let searches: Vec<_> = present
            .iter()
            .chain(absent)
            .map(|e| (e, e.search()))
            .collect();
        let mut types: Vec<ResourceType> = searches
            .iter()
            .map(|(_, s)| s.resource_type.clone())
            .collect();
        types.sort();
        types.dedup();
        for attempt in 1..=self.wait.attempts.max(1) {
            missing.clear();
            unexpected.clear();
            let held = client.holdings(&types).await?;
            for (i, (e, s)) in searches.iter().enumerate() {
                let holds = held.contains(&s.resource_type, &s.url, &s.version);
                if i < present.len() && !holds {
                    missing.push(key(e));
                } else if i >= present.len() && holds {
                    unexpected.push(key(e));
                }
            }
            if missing.is_empty() && unexpected.is_empty() {
                return Ok(());
            }
            events(Event::Waiting {
                step: number,
                attempt,
                detail: format!("missing {missing:?}, still present {unexpected:?}"),
            });
            // A preload may have read a cached copy of its feed: ask again, but never while
            // one runs (the server refuses, and its content is still arriving) and never on
            // an instance that shares its store with the one preloads go through.
            if !missing.is_empty()
                && self.may_preload(who)
                && client.preload_running().await? != Some(true)
            {
                client.redo_preload().await?;
            }
            self.pause(attempt).await;
        }
        Err(Error::Verification {
            instance: who.to_string(),
            missing,
            unexpected,
        })
    }
}

/// What a plan's verify steps check, present and absent, as `identifier|version`.
fn verified_items(
    plan: &Plan,
) -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<String>,
) {
    let mut present = std::collections::BTreeSet::new();
    let mut absent = std::collections::BTreeSet::new();
    for s in &plan.steps {
        if let Action::Verify {
            present: p,
            absent: a,
        } = &s.action
        {
            present.extend(p.iter().map(|e| format!("{}|{}", e.identifier, e.version)));
            absent.extend(a.iter().map(|e| format!("{}|{}", e.identifier, e.version)));
        }
    }
    (present, absent)
}

/// How staging went before a production release ([`Executor::with_staging`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StagingGate {
    /// Staging ran its plan for the same release to the end: its plan and journal.
    Verified {
        /// Staging's plan.
        plan: Box<Plan>,
        /// Staging's journal of it.
        journal: Box<Journal>,
    },
    /// Going to production without staging, for this reason (recorded in the journal and
    /// logged).
    Override {
        /// Why.
        reason: String,
    },
}

impl StagingGate {
    /// Staging ran `plan` to the end, as `journal` records.
    pub fn verified(plan: Plan, journal: Journal) -> Self {
        StagingGate::Verified {
            plan: Box::new(plan),
            journal: Box::new(journal),
        }
    }

    /// Production goes without staging, for `reason`.
    pub fn skipped(reason: impl Into<String>) -> Self {
        StagingGate::Override {
            reason: reason.into(),
        }
    }
}

/// One check of a wait.
enum Check {
    /// What was waited for is so.
    Done,
    /// Not yet, for this reason.
    NotYet(String),
    /// Not yet: the check failed in a way waiting may cure (the instance does not answer).
    Failing(Error),
}

/// Whether the action takes (part of) the service down.
fn takes_service_down(action: &Action) -> bool {
    matches!(
        action,
        Action::Stop | Action::ClearDisk | Action::DropSchema | Action::RecreateContainer
    )
}

/// How many verify steps of distinct instances start at `i`.
fn verify_group(steps: &[Step], i: usize) -> usize {
    let mut n = 0;
    while let Some(s) = steps.get(i + n) {
        let distinct = !steps[i..i + n].iter().any(|t| t.instance == s.instance);
        if !matches!(s.action, Action::Verify { .. }) || !distinct {
            break;
        }
        n += 1;
    }
    n
}

/// A delete answered 404 is done when the item is indeed absent: the answer to an earlier
/// attempt was lost (a dropped connection, a killed process) after the server deleted it. A
/// 404 for any other reason (a wrong base URL) still fails, because the check fails too.
async fn gone_is_done(
    deleted: Result<(), Error>,
    client: &TerminologyClient,
    resource_type: &ResourceType,
    url: &str,
    version: &str,
) -> Result<(), Error> {
    match deleted {
        Err(e) if e.is_not_found() => {
            match client.has_canonical(resource_type, url, version).await {
                Ok(false) => Ok(()),
                Ok(true) | Err(_) => Err(e),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_back_off_to_a_ceiling() {
        let w = WaitPolicy {
            attempts: 10,
            interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
        };
        let pauses: Vec<u64> = (1..=5).map(|a| w.pause_after(a).as_secs()).collect();
        assert_eq!(pauses, [5, 10, 20, 30, 30]);
        assert_eq!(WaitPolicy::immediate(3).pause_after(3), Duration::ZERO);
    }
}
