//! `synd demo`: a whole release process against in-process fakes, with no setup.
//!
//! An authoring server, a syndication server, a staging server, production scaled to three
//! instances with separate storage, and an authorisation server run as fakes. Content is
//! authored and approved, snapshotted into release candidates, diffed against production,
//! planned, printed as a runbook, executed and verified on every instance: an additive release,
//! a non-additive one, and a rollback.

use release_model::status::SyndicationStatus;
use std::io::Write;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use fhir_security_labels::{Approval, ContentRef, ReadGrant};
use release_model::deployment::{
    Access, Deployment, DeploymentModel, Instance, InstanceName, ReleaseCandidate,
    ReleaseCandidateName, Role, Storage, Topology,
};
use release_model::notice::{DowntimeWindow, Notice, ReleaseKind, WorkingDayCalendar};
use release_model::plan::{Plan, Policy};
use syndication_client::testkit::{
    FakeAuthServer, FakeInfrastructure, FakeResource, FakeSyndicationServer, FakeTerminologyServer,
    Registry,
};
use syndication_client::{
    ClientCredentials, ClientCredentialsConfig, ClientOptions, ClientSecret, DeploymentRecord,
    Downloader, Event, Executor, FeedName, Journal, StagingGate, SyndicationClient,
    TerminologyClient, TokenSource, WaitPolicy, prepare,
};

/// A fault to inject into the first production release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// One production instance is down when the release starts.
    InstanceDown,
    /// Every token expires during the release.
    TokenExpiry,
    /// An artefact in the candidate does not match its hash.
    HashMismatch,
    /// One instance's feed cache serves a stale feed to its first preload.
    FeedCacheLag,
}

type Failure = String;

fn fail<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> Failure + '_ {
    move |e| format!("{what}: {e}")
}

struct World {
    registry: Registry,
    auth: FakeAuthServer,
    authoring: FakeTerminologyServer,
    synd: SyndicationClient,
    tokens: Arc<dyn TokenSource>,
    infra: Arc<FakeInfrastructure>,
    production: Deployment,
    staging: Deployment,
    names: Vec<String>,
    _synd_fake: FakeSyndicationServer,
    /// Staging's last run (its plan and journal): production goes only after it.
    staged: std::sync::Mutex<Option<(Plan, Journal)>>,
}

const SECRET: &str = "demo-secret";

/// Runs the demo; returns the exit code.
pub fn run(inject: Option<Fault>, out: &mut dyn Write) -> Result<i32, Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(fail("runtime"))?;
    rt.block_on(demo(inject, out))
}

macro_rules! say {
    ($out:expr, $($arg:tt)*) => { writeln!($out, $($arg)*).map_err(fail("writing output"))? };
}

async fn setup(out: &mut dyn Write) -> Result<World, Failure> {
    let registry = Registry::new();
    let auth = FakeAuthServer::start(300).await;
    auth.register(
        "release-pipeline",
        SECRET,
        &[
            "FHIR_READ",
            "FHIR_WRITE",
            "SYND_WRITE",
            "API_WRITE",
            "PERM_READ",
        ],
    );
    let mut config = ClientCredentialsConfig::new(
        auth.token_url(),
        "release-pipeline",
        ClientSecret::new(SECRET),
    );
    config.allow_insecure = true;
    config.scopes = vec!["onto/synd.write".into(), "system/*.read".into()];
    let tokens: Arc<dyn TokenSource> =
        Arc::new(ClientCredentials::new(config).map_err(fail("token source"))?);

    let authoring = FakeTerminologyServer::start(&registry).await;
    authoring.trust(&auth);
    let synd_fake = FakeSyndicationServer::start(&registry).await;
    let synd = SyndicationClient::new(
        &synd_fake.base_url(),
        Arc::clone(&tokens),
        ClientOptions::for_local_testing(),
    )
    .map_err(fail("syndication client"))?;
    let staging_fake = FakeTerminologyServer::start(&registry).await;
    staging_fake.trust(&auth);
    // Staging is read-only like production: the same process reaches both.
    staging_fake.set_read_only(true);
    // Each server is deployed preloading its alias (atom.preload.feedLocation).
    staging_fake.set_preload_feeds(vec![synd.alias_url("uat").map_err(fail("alias"))?]);
    staging_fake.start_again();
    let production_feed = synd.alias_url("production").map_err(fail("alias"))?;

    let mut servers = vec![("staging".to_owned(), Arc::new(staging_fake))];
    let mut instances = Vec::new();
    let names: Vec<String> = (0..3).map(|i| format!("prod-{i}")).collect();
    for n in &names {
        let s = FakeTerminologyServer::start(&registry).await;
        s.trust(&auth);
        s.set_read_only(true);
        s.set_preload_feeds(vec![production_feed.clone()]);
        s.start_again();
        let name = InstanceName::new(n).map_err(fail("instance"))?;
        instances.push(Instance::new(
            name,
            s.base_url(),
            Role::Production,
            Access::ReadOnly,
            Storage::Persistent,
        ));
        servers.push((n.clone(), Arc::new(s)));
    }
    let staging_instance = Instance::new(
        InstanceName::new("staging").map_err(fail("instance"))?,
        servers[0].1.base_url(),
        Role::Staging,
        Access::ReadOnly,
        Storage::Transient,
    );
    let production = Deployment::new(
        DeploymentModel::Comprehensive,
        Topology::scaled_separate(instances).map_err(fail("topology"))?,
    )
    .with_preload_feed(production_feed);
    let staging = Deployment::new(
        DeploymentModel::Comprehensive,
        Topology::single(staging_instance),
    )
    .with_preload_feed(synd.alias_url("uat").map_err(fail("alias"))?);
    let infra = Arc::new(FakeInfrastructure::new(&registry, servers));
    say!(
        out,
        "Started fakes: authorisation, authoring, syndication, staging (read-only), production (scaled-separate × 3, read-only)."
    );
    Ok(World {
        registry,
        auth,
        authoring,
        synd,
        tokens,
        infra,
        production,
        staging,
        names,
        _synd_fake: synd_fake,
        staged: std::sync::Mutex::new(None),
    })
}

const BODY: &str = "http://example.org/fhir/ValueSet/body-sites";
const LAB: &str = "http://example.org/fhir/CodeSystem/lab-results";
const ALLERGY: &str = "http://example.org/fhir/ValueSet/allergies";

impl World {
    /// Authors a resource and approves it: syndication status, then global read.
    async fn author_and_approve(
        &self,
        r: FakeResource,
        at_hour: u32,
        out: &mut dyn Write,
    ) -> Result<(), Failure> {
        let (t, id) = (r.resource_type.clone(), r.id.clone());
        self.authoring.add(r);
        let client = TerminologyClient::new(
            &self.authoring.base_url(),
            Arc::clone(&self.tokens),
            ClientOptions::for_local_testing(),
        )
        .map_err(fail("authoring client"))?;
        client
            .set_syndication_status(&t, &id, SyndicationStatus::Syndicated)
            .await
            .map_err(fail("set syndication status"))?;
        let at = Utc
            .with_ymd_and_hms(2026, 11, 23, at_hour, 0, 0)
            .single()
            .ok_or("bad time")?;
        let approval = Approval::new("content.approver@example.org", at, ContentRef::new(&t, &id))
            .map_err(fail("approval"))?;
        let grant = ReadGrant::global(approval, at).map_err(fail("grant"))?;
        client
            .grant_read(&grant)
            .await
            .map_err(fail("grant read"))?;
        say!(out, "  authored and approved {t}/{id} (syndicated, *.read)");
        Ok(())
    }

    async fn cut(&self, stamp: &str, out: &mut dyn Write) -> Result<ReleaseCandidate, Failure> {
        let name = ReleaseCandidateName::parse(&format!("release-candidate-{stamp}"))
            .map_err(fail("candidate"))?;
        let rc = self
            .synd
            .clone_feed(&name, &self.authoring.feed_url())
            .await
            .map_err(fail("$clone"))?;
        say!(out, "  snapshotted {}", rc.name);
        Ok(rc)
    }

    /// Releases `to` to `deployment` as `synd apply` does: planned from what each instance
    /// holds (`from` is the candidate in use), the whole runbook printed, the alias pointed at
    /// the candidate, then run and verified.
    async fn release(
        &self,
        deployment: &Deployment,
        alias: &str,
        from: Option<&ReleaseCandidate>,
        to: &ReleaseCandidate,
        inject: Option<Fault>,
        out: &mut dyn Write,
    ) -> Result<(), Failure> {
        let target = FeedName::from(&to.name);
        let mut record = DeploymentRecord::default();
        record.alias = Some(alias.to_owned());
        record.in_use = from.map(|rc| FeedName::from(&rc.name));
        let ready = prepare(
            deployment,
            &record,
            &target,
            &Policy::default(),
            &self.synd,
            Arc::clone(&self.tokens),
            &ClientOptions::for_local_testing(),
        )
        .await
        .map_err(fail("plan"))?;
        let c = &ready.target.change;
        say!(
            out,
            "  change: {} added, {} updated, {} removed, {} retracted, {} replaced, {} unchanged; observed with {} request(s)",
            c.added.len(),
            c.updated.len(),
            c.removed.len(),
            c.retracted.len(),
            c.replaced.len(),
            c.unchanged.len(),
            ready.requests
        );
        let p = ready.plan;
        say!(out, "  runbook:");
        for line in p.to_markdown(deployment).lines() {
            say!(out, "  | {line}");
        }
        match self.synd.repoint_alias(alias, &target).await {
            Err(e) if e.is_not_found() => self
                .synd
                .create_alias(alias, &target)
                .await
                .map_err(fail("alias"))?,
            other => other.map_err(fail("alias"))?,
        }
        let new = self
            .synd
            .feed_xml(&target)
            .await
            .map_err(fail("candidate feed"))?;
        self.execute(deployment, &p, &new, inject, out).await
    }

    async fn execute(
        &self,
        deployment: &Deployment,
        p: &Plan,
        candidate: &release_model::feed::Feed,
        inject: Option<Fault>,
        out: &mut dyn Write,
    ) -> Result<(), Failure> {
        // A release with downtime is announced ten working days ahead for a window, and runs
        // in it: the demo's releases with downtime are announced for 14 December, 20:00 to
        // 23:00, notice given on 27 November, and run half an hour into the window.
        let at = |d: u32, h: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 12, d).and_then(|d| d.and_hms_opt(h, 0, 0))
        };
        let (Some(opens), Some(closes)) = (at(14, 20), at(14, 23)) else {
            return Err("the demo's window is not a date".into());
        };
        let window = DowntimeWindow::new(opens, closes).map_err(fail("window"))?;
        let notice = Notice::for_plan(
            p,
            ReleaseKind::Content,
            window,
            vec!["the organisations that use the service".into()],
            &WorkingDayCalendar::new(),
        )
        .map_err(fail("notice"))?;
        let noticed;
        // Staging's users are the release team: only production's downtime is announced.
        let notice = notice.filter(|_| deployment == &self.production);
        let p = match notice {
            Some(n) => {
                let given = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).ok_or("a date")?;
                let n = n.given(given);
                say!(out, "  notice: {n}");
                noticed = p.clone().with_notice(n);
                &noticed
            }
            None => p,
        };
        let mut repair: Option<Box<dyn FnOnce() + Send>> = None;
        match inject {
            Some(Fault::InstanceDown) => {
                let s = self.infra.server("prod-1").ok_or("no prod-1")?;
                s.stop();
                repair = Some(Box::new(move || s.start_again()));
                say!(out, "  [inject] prod-1 is down");
            }
            Some(Fault::TokenExpiry) => {
                self.auth.expire_all();
                say!(out, "  [inject] every token has expired");
            }
            Some(Fault::HashMismatch) => {
                // Tamper with the artefact this release adds, which the preload must load.
                let href = candidate
                    .entries
                    .iter()
                    .find(|e| e.identifier.as_ref().is_some_and(|i| i.as_str() == ALLERGY))
                    .and_then(|e| e.links.first())
                    .map(|l| l.href.clone())
                    .ok_or("no artefact to tamper with")?;
                let good = self.registry.get(&href).ok_or("artefact missing")?;
                // The same length, one byte changed: only the hash can tell.
                let mut tampered = good.clone();
                if let Some(b) = tampered.last_mut() {
                    *b ^= 0x20;
                }
                self.registry.put(href.clone(), tampered);
                let registry = self.registry.clone();
                repair = Some(Box::new(move || registry.put(href, good)));
                say!(out, "  [inject] an artefact no longer matches its hash");
            }
            Some(Fault::FeedCacheLag) => {
                // prod-2 fetched the alias's feed when it started: it keeps that copy for
                // ten minutes, so its preloads read the old candidate until then.
                self.infra
                    .server("prod-2")
                    .ok_or("no prod-2")?
                    .set_feed_cache_ttl(std::time::Duration::from_secs(600));
                say!(
                    out,
                    "  [inject] prod-2 caches its preload feed for ten minutes"
                );
            }
            None => {}
        }
        // Before any instance is touched: every artefact of the candidate downloads whole and
        // matches its link's length and hash.
        let downloader =
            Downloader::new(Arc::clone(&self.tokens), ClientOptions::for_local_testing())
                .map_err(fail("downloader"))?;
        let spinner = crate::progress::Progress::spinner("downloading and verifying artefacts");
        let checks = verify_candidate(&downloader, candidate).await;
        spinner.finish();
        let checks = checks?;
        if let Some(bad) = checks.iter().find_map(|c| c.result.as_ref().err()) {
            say!(out, "  STOPPED SAFELY before the release: {bad}");
            if let Some(fix) = repair.take() {
                fix();
            }
            say!(out, "  the artefact was republished intact; checking again");
            let again = verify_candidate(&downloader, candidate).await?;
            if let Some(still) = again.iter().find_map(|c| c.result.as_ref().err()) {
                return Err(format!("artefacts still fail verification: {still}"));
            }
        }
        say!(
            out,
            "  verified {} artefact(s) of the candidate before the release",
            checks.len()
        );
        let exec = Executor::new(
            deployment,
            Arc::clone(&self.tokens),
            self.infra.clone(),
            ClientOptions::for_local_testing(),
            WaitPolicy::virtual_time(),
        )
        .map_err(fail("executor"))?
        // The fakes' preloads take (virtual) time; waits pass by the same clock.
        .with_clock(Arc::new(self.registry.clock()))
        .with_wall_clock(move || opens + chrono::Duration::minutes(30));
        // Production goes after staging has run the same release to the end.
        let to_production = deployment == &self.production;
        let mut exec = if to_production {
            let staged = self
                .staged
                .lock()
                .map_err(|_| "the staging record is poisoned")?
                .take()
                .ok_or("production before staging")?;
            say!(
                out,
                "  staging ran this release to the end: production may go"
            );
            exec.with_staging(StagingGate::verified(staged.0, staged.1))
        } else {
            exec
        };
        let mut journal = Journal::new();
        let mut waits = 0;
        // On a terminal a bar shows the run's steps and waits; the narrative stays on `out`.
        let progress = crate::progress::Progress::steps(p.steps.len());
        let first = exec
            .run(p, &mut journal, |e| {
                if matches!(e, Event::Waiting { .. }) {
                    waits += 1;
                }
                if progress.is_drawn() {
                    progress.event(&e, &mut std::io::sink());
                }
            })
            .await;
        progress.finish();
        if let Err(e) = first {
            say!(out, "  STOPPED SAFELY: {e}");
            say!(
                out,
                "  journal: {} of {} steps done; repairing and resuming",
                journal.completed,
                p.steps.len()
            );
            if let Some(fix) = repair.take() {
                fix();
            }
            exec.run(p, &mut journal, |_| {})
                .await
                .map_err(fail("resumed run"))?;
        }
        if let Some(fix) = repair.take() {
            fix();
        }
        if deployment == &self.staging {
            *self
                .staged
                .lock()
                .map_err(|_| "the staging record is poisoned")? =
                Some((p.clone(), journal.clone()));
        }
        if inject == Some(Fault::TokenExpiry) {
            say!(
                out,
                "  expired tokens were refused (401) and renewed: {} token requests so far",
                self.auth.requests()
            );
        }
        if waits > 0 {
            say!(
                out,
                "  waited {waits} time(s) for preloads to finish and content to arrive (virtual time)"
            );
        }
        say!(
            out,
            "  executed and verified on {}",
            deployment
                .topology
                .instances()
                .iter()
                .map(|i| i.name.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(())
    }

    fn summary(&self, out: &mut dyn Write) -> Result<(), Failure> {
        for n in std::iter::once("staging".to_owned()).chain(self.names.iter().cloned()) {
            let s = self.infra.server(&n).ok_or("missing instance")?;
            let items: Vec<String> = s
                .content()
                .into_iter()
                .map(|(u, v)| format!("{}|{v}", u.rsplit('/').next().unwrap_or(&u)))
                .collect();
            say!(out, "  {n:<8} {}", items.join(", "));
        }
        Ok(())
    }
}

/// Downloads and verifies every artefact of `candidate` into a temporary folder, which is
/// removed afterwards.
async fn verify_candidate(
    downloader: &Downloader,
    candidate: &release_model::feed::Feed,
) -> Result<Vec<syndication_client::ArtefactCheck>, Failure> {
    static RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("synd-demo-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let checks = downloader.verify_artefacts(candidate, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(checks)
}

async fn demo(inject: Option<Fault>, out: &mut dyn Write) -> Result<i32, Failure> {
    let w = setup(out).await?;

    say!(out, "\n1. First release");
    w.author_and_approve(
        FakeResource::value_set("body-sites", BODY, "1.0.0", "2026-11-01"),
        9,
        out,
    )
    .await?;
    w.author_and_approve(
        FakeResource::code_system("lab-results", LAB, "2026.1", "2026-11-01"),
        9,
        out,
    )
    .await?;
    let rc1 = w.cut("20261123T0900", out).await?;
    w.release(&w.staging, "uat", None, &rc1, None, out).await?;
    w.release(&w.production, "production", None, &rc1, None, out)
        .await?;

    say!(
        out,
        "\n2. Additive release{}",
        inject
            .map(|f| format!(" (injecting {f:?})"))
            .unwrap_or_default()
    );
    w.author_and_approve(
        FakeResource::value_set("allergies", ALLERGY, "1.0.0", "2026-11-20"),
        10,
        out,
    )
    .await?;
    let rc2 = w.cut("20261123T1000", out).await?;
    w.release(&w.staging, "uat", Some(&rc1), &rc2, None, out)
        .await?;
    w.release(&w.production, "production", Some(&rc1), &rc2, inject, out)
        .await?;

    say!(
        out,
        "\n3. Non-additive release: the lab CodeSystem is withdrawn"
    );
    let client = TerminologyClient::new(
        &w.authoring.base_url(),
        Arc::clone(&w.tokens),
        ClientOptions::for_local_testing(),
    )
    .map_err(fail("client"))?;
    client
        .set_syndication_status(
            "CodeSystem",
            "lab-results",
            SyndicationStatus::NotSyndicated,
        )
        .await
        .map_err(fail("withdraw"))?;
    let rc3 = w.cut("20261123T1100", out).await?;
    w.release(&w.staging, "uat", Some(&rc2), &rc3, None, out)
        .await?;
    w.release(&w.production, "production", Some(&rc2), &rc3, None, out)
        .await?;

    say!(out, "\n4. Rollback to {}", rc2.name);
    // A rollback is a release whose target is the last good candidate, staging first, with
    // the same process: planned from what each instance holds, so it adds back what the bad
    // release withdrew without a rebuild, and verifies the whole target.
    w.release(&w.staging, "uat", Some(&rc3), &rc2, None, out)
        .await?;
    w.release(&w.production, "production", Some(&rc3), &rc2, None, out)
        .await?;

    say!(out, "\nSummary: content of every instance");
    w.summary(out)?;
    let expected = 3;
    let all_good = w.names.iter().all(|n| {
        w.infra
            .server(n)
            .is_some_and(|s| s.content().len() == expected)
    });
    say!(
        out,
        "\n{}",
        if all_good {
            "Release process complete: every production instance holds the rolled-back content."
        } else {
            "Instances disagree."
        }
    );
    Ok(if all_good { 0 } else { 1 })
}
