//! Carrying out a release plan: network steps through the clients, platform steps through an
//! [`Infrastructure`] you implement, verification by content, and a journal that lets an
//! interrupted run resume where it stopped.

use std::collections::HashMap;
use std::sync::Arc;

use fhir_security_labels::ReadGrant;
use release_model::deployment::{BaseUrl, Deployment, InstanceName};
use release_model::plan::{Action, Plan, Step};
use release_model::resource::ResourceType;
use tracing::Instrument;

use crate::auth::{Clock, SystemClock, TokenSource};
use crate::error::Error;
use crate::http::ClientOptions;
use crate::journal::{Journal, JournalStore, Outcome, Record, Resume, plan_fingerprint};
use crate::terminology::TerminologyClient;

mod events;
mod gates;
mod platform;
mod verify;

pub use events::{Event, WaitPolicy};
pub use gates::StagingGate;
use gates::takes_service_down;
pub use platform::{Infrastructure, Wipe};
use verify::{verified_items, verify_group};

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
            self.infra.instance_created(&name, &url);
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
            self.infra.instance_created(who, &url);
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
