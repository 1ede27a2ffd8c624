//! `synd plan DEPLOYMENT` and `synd apply` against the fakes, from a deployment file: staging
//! first, production gated on staging's journal, progress on stderr, the journal written, and
//! the release recorded in the file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use examples::release::Services;
use release_model::deployment::ReleaseCandidateName;
use syndication_client::testkit::{
    FakeInfrastructure, FakeResource, FakeSyndicationServer, FakeTerminologyServer, Registry,
};
use syndication_client::{ClientOptions, FeedName, NoAuth, SyndicationClient, WaitPolicy};

const A: &str = "http://example.org/ValueSet/a";
const C: &str = "http://example.org/ValueSet/c";

struct World {
    rt: tokio::runtime::Runtime,
    registry: Registry,
    authoring: FakeTerminologyServer,
    _synd: FakeSyndicationServer,
    synd: SyndicationClient,
    infra: Arc<FakeInfrastructure>,
    dir: PathBuf,
    file: PathBuf,
}

fn candidate(stamp: &str) -> ReleaseCandidateName {
    ReleaseCandidateName::parse(&format!("release-candidate-{stamp}")).expect("valid")
}

impl World {
    /// rc1 (A) deployed on staging (one server) and production (two instances with their
    /// own storage), each preloading its alias.
    fn new(test: &str) -> Self {
        Self::with_production(test, &["prod-0", "prod-1"])
    }

    /// The same with these production instances: one is a single server, more have their
    /// own storage.
    fn with_production(test: &str, production: &[&str]) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let registry = Registry::new();
        let (authoring, synd_fake) = rt.block_on(async {
            (
                FakeTerminologyServer::start(&registry).await,
                FakeSyndicationServer::start(&registry).await,
            )
        });
        authoring.add(FakeResource::value_set("a", A, "1.0.0", "2026-10-01"));
        authoring.set_syndicated("ValueSet", "a", true);
        let synd = SyndicationClient::new(
            &synd_fake.base_url(),
            Arc::new(NoAuth),
            ClientOptions::for_local_testing(),
        )
        .expect("client");
        let rc1 = candidate("20261001T0900");
        rt.block_on(async {
            synd.clone_feed(&rc1, &authoring.feed_url())
                .await
                .expect("cloned");
            for alias in ["uat", "production"] {
                synd.create_alias(alias, &FeedName::from(&rc1))
                    .await
                    .expect("alias");
            }
        });
        let mut servers = Vec::new();
        let mut envs = Vec::new();
        for (env, alias, names) in [
            ("staging", "uat", vec!["staging"]),
            ("production", "production", production.to_vec()),
        ] {
            let feed = synd.alias_url(alias).expect("url");
            let mut instances = Vec::new();
            for n in names {
                let s = rt.block_on(FakeTerminologyServer::start(&registry));
                s.set_preload_feeds(vec![feed.clone()]);
                s.start_again();
                s.set_read_only(true);
                instances.push(format!(
                    r#"{{"name": "{n}", "base_url": "{}"}}"#,
                    s.base_url().as_str()
                ));
                servers.push((n.to_owned(), Arc::new(s)));
            }
            registry.clock().advance(Duration::from_secs(60));
            let (role, topology) = match (env, production.len()) {
                ("staging", _) => ("staging", "single"),
                (_, 1) => ("production", "single"),
                _ => ("production", "scaled-separate"),
            };
            envs.push(format!(
                r#""{env}": {{"role": "{role}", "model": "comprehensive", "topology": "{topology}",
                    "storage": "persistent", "read_only": true, "alias": "{alias}",
                    "candidate": "{rc1}", "preload_feed": "{feed}",
                    "instances": [{}]}}"#,
                instances.join(", ")
            ));
        }
        let dir = std::env::temp_dir().join(format!("synd-apply-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("deployment.json");
        std::fs::write(
            &file,
            format!(
                r#"{{"syndication": {{"base_url": "{}"}}, "environments": {{{}}}}}"#,
                synd_fake.base_url().as_str(),
                envs.join(", ")
            ),
        )
        .expect("written");
        Self {
            rt,
            infra: Arc::new(FakeInfrastructure::new(&registry, servers)),
            registry,
            authoring,
            _synd: synd_fake,
            synd,
            dir,
            file,
        }
    }

    fn cut(&self, stamp: &str) -> String {
        let rc = candidate(stamp);
        self.rt
            .block_on(self.synd.clone_feed(&rc, &self.authoring.feed_url()))
            .expect("cloned");
        rc.to_string()
    }

    /// Withdraws A from syndication, publishes C, and cuts rc2 (C only): a release that
    /// removes content.
    fn replace_a_with_c(&self) -> String {
        self.authoring.set_syndicated("ValueSet", "a", false);
        self.authoring
            .add(FakeResource::value_set("c", C, "1.0.0", "2026-11-01"));
        self.authoring.set_syndicated("ValueSet", "c", true);
        self.cut("20261101T0900")
    }

    /// Runs synd with the fakes' virtual clock and infrastructure.
    fn synd(&self, args: &[&str]) -> (i32, String, String) {
        self.synd_at(args, None)
    }

    /// The same, with the wall clock downtime notices are checked against.
    fn synd_at(&self, args: &[&str], now: Option<chrono::NaiveDateTime>) -> (i32, String, String) {
        let mut services = Services::default();
        if let Some(now) = now {
            services.wall_clock = Some(Arc::new(move || now));
        }
        services.clock = Arc::new(self.registry.clock());
        services.wait = WaitPolicy::virtual_time();
        services.infrastructure = Some(self.infra.clone());
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut argv = vec!["synd"];
        argv.extend_from_slice(args);
        let code = examples::synd::run_with(argv, &mut out, &mut err, &services);
        let text = |b: Vec<u8>| String::from_utf8(b).expect("UTF-8");
        (code, text(out), text(err))
    }

    fn content(&self, name: &str) -> BTreeSet<(String, String)> {
        self.infra.server(name).expect("instance").content()
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

fn has(urls: &[&str]) -> BTreeSet<(String, String)> {
    urls.iter()
        .map(|u| ((*u).to_owned(), "1.0.0".to_owned()))
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("readable")
}

#[test]
fn plan_then_apply_staging_then_production_from_a_deployment_file() {
    let w = World::new("release");
    w.authoring
        .add(FakeResource::value_set("c", C, "1.0.0", "2026-11-01"));
    w.authoring.set_syndicated("ValueSet", "c", true);
    let rc2 = w.cut("20261101T0900");
    let file = w.file.display().to_string();
    let common = [file.as_str(), "--allow-insecure-http", "--candidate", &rc2];

    // The plan: what each instance holds decides its steps.
    let mut args = vec!["plan"];
    args.extend_from_slice(&common);
    let (code, out, err) = w.synd(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("# Release runbook: additive"), "{out}");
    assert!(out.contains("| `prod-0` | redo-preload | 1 | 0 |"), "{out}");
    assert!(out.contains("§1.4.3"), "{out}");
    args.push("--json");
    let (code, out, _) = w.synd(&args);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(json["decisions"][1]["choice"], "redo-preload");

    // Production may not go first.
    let journal = w.path("production.journal");
    let mut args = vec!["apply"];
    args.extend_from_slice(&common);
    args.extend_from_slice(&["--journal", &journal]);
    let (code, out, err) = w.synd(&args);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("staging"), "{out}");
    assert_eq!(w.content("prod-0"), has(&[A]), "production untouched");
    std::fs::remove_file(&journal).ok();
    std::fs::remove_file(format!("{journal}.plan.json")).ok();

    // Staging, with progress on stderr and its journal written.
    let staging = w.path("staging.journal");
    let mut args = vec!["apply"];
    args.extend_from_slice(&common);
    args.extend_from_slice(&["--environment", "staging", "--journal", &staging]);
    let (code, out, err) = w.synd(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("step 1: redo-preload on staging"), "{err}");
    assert!(out.contains("alias uat points at"), "{out}");
    assert!(
        out.contains("every instance verified for the whole target"),
        "{out}"
    );
    let saved: serde_json::Value = serde_json::from_str(&read(Path::new(&staging))).expect("JSON");
    assert!(
        saved["completed"].as_u64().is_some_and(|n| n >= 2),
        "{saved}"
    );
    assert_eq!(w.content("staging"), has(&[A, C]));

    // Production, gated on staging's journal, recorded in the deployment file.
    let mut args = vec!["apply"];
    args.extend_from_slice(&common);
    args.extend_from_slice(&[
        "--journal",
        &journal,
        "--staging-journal",
        &staging,
        "--record",
    ]);
    let (code, out, err) = w.synd(&args);
    assert_eq!(code, 0, "{out}{err}");
    for n in ["prod-0", "prod-1"] {
        assert_eq!(w.content(n), has(&[A, C]), "{n}");
    }
    let recorded: serde_json::Value = serde_json::from_str(&read(&w.file)).expect("JSON");
    assert_eq!(
        recorded["environments"]["production"]["candidate"],
        rc2.as_str()
    );
    assert_eq!(
        recorded["environments"]["staging"]["candidate"], "release-candidate-20261001T0900",
        "staging was not recorded (no --record)"
    );

    // Applied again with the same journal, the release is already done: nothing repeats,
    // and nothing is planned again (prod-1, now down, could not even be observed).
    w.infra.server("prod-1").expect("instance").stop();
    let (code, out, err) = w.synd(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("resuming the plan saved at"), "{out}");
    assert!(err.contains("done in an earlier run"), "{err}");
}

// A rebuild of a single production server takes the service down: apply refuses it without
// a notice, and runs it with a notice given ten working days ahead, inside its window.
#[test]
fn downtime_in_production_runs_with_its_notice_file_inside_the_window() {
    use release_model::notice::Notice;

    let w = World::with_production("notice", &["prod"]);
    let rc2 = w.replace_a_with_c();
    let file = w.file.display().to_string();
    let common = [file.as_str(), "--allow-insecure-http", "--candidate", &rc2];

    let staging = w.path("staging.journal");
    let mut args = vec!["apply"];
    args.extend_from_slice(&common);
    args.extend_from_slice(&["--environment", "staging", "--journal", &staging]);
    let (code, out, err) = w.synd(&args);
    assert_eq!(code, 0, "staging needs no notice: {out}{err}");
    assert_eq!(w.content("staging"), has(&[C]));

    // The notice is drafted from the plan: without --given it is a draft.
    let notice_file = w.path("notice.json");
    let mut notice_args = vec!["notice"];
    notice_args.extend_from_slice(&common);
    notice_args.extend_from_slice(&[
        "--window-start",
        "2026-12-21T20:00",
        "--window-end",
        "2026-12-21T23:00",
        "--audience",
        "Hospital A",
        "--holiday",
        "2026-12-07",
        "--out",
        &notice_file,
    ]);
    let mut reversed = notice_args.clone();
    reversed[6] = "2026-12-22T20:00";
    let (code, _, err) = w.synd(&reversed);
    assert_eq!(
        code, 2,
        "a window that ends before it starts is bad input: {err}"
    );
    assert!(err.contains("--window-end"), "{err}");
    let (code, out, err) = w.synd(&notice_args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("tell Hospital A by 2026-12-04 (not given yet)"),
        "ten working days before 21 December, 7 December a holiday: {out}"
    );
    assert!(out.contains("a draft"), "{out}");
    let draft: Notice = serde_json::from_str(&read(Path::new(&notice_file))).expect("a notice");
    assert_eq!(draft.given_on, None);
    assert_eq!(draft.expected.as_secs(), 60 * 60, "the plan's estimate");
    // Told a day late, it is refused.
    notice_args.extend_from_slice(&["--given", "2026-12-07"]);
    let (code, out, _) = w.synd(&notice_args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("LATE"), "{out}");
    notice_args.truncate(notice_args.len() - 2);
    notice_args.extend_from_slice(&["--given", "2026-12-04"]);
    let (code, out, err) = w.synd(&notice_args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(given 2026-12-04)"), "{out}");
    // Without --out the notice is the standard output, the summary on stderr.
    notice_args.truncate(notice_args.len() - 4);
    notice_args.extend_from_slice(&["--given", "2026-12-04"]);
    let (code, out, err) = w.synd(&notice_args);
    assert_eq!(code, 0, "{out}{err}");
    let printed: Notice = serde_json::from_str(&out).expect("the notice on stdout");
    assert_eq!(
        printed,
        serde_json::from_str::<Notice>(&read(Path::new(&notice_file))).expect("JSON")
    );
    assert!(err.contains("synd apply --notice takes it"), "{err}");

    let at = |d: u32, h: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 12, d)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .expect("valid")
    };
    let journal = w.path("production.journal");
    let mut args = vec!["apply"];
    args.extend_from_slice(&common);
    args.extend_from_slice(&["--journal", &journal, "--staging-journal", &staging]);
    let inside = Some(at(21, 20) + chrono::Duration::minutes(5));
    let (code, out, err) = w.synd_at(&args, inside);
    assert_eq!(code, 1, "refused without a notice: {out}{err}");
    assert!(out.contains("the plan carries no notice"), "{out}");
    assert_eq!(w.content("prod"), has(&[A]), "production untouched");
    std::fs::remove_file(&journal).ok();
    std::fs::remove_file(format!("{journal}.plan.json")).ok();

    // Before its window opens the notice does not let it run either.
    args.extend_from_slice(&["--notice", &notice_file]);
    let (code, out, err) = w.synd_at(&args, Some(at(21, 12)));
    assert_eq!(code, 1, "refused outside the window: {out}{err}");
    assert!(
        out.contains("its window opens at 2026-12-21 20:00:00, not yet"),
        "{out}"
    );
    assert_eq!(w.content("prod"), has(&[A]), "production untouched");

    let (code, out, err) = w.synd_at(&args, inside);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(w.content("prod"), has(&[C]));
    let saved: serde_json::Value =
        serde_json::from_str(&read(Path::new(&format!("{journal}.plan.json")))).expect("JSON");
    assert_eq!(
        saved["plan"]["notice"]["audience"][0], "Hospital A",
        "{saved}"
    );
}

// Without infrastructure commands a release can only use the servers' API, and a candidate
// that is not on the syndication server is bad input.
#[test]
fn a_release_the_platform_cannot_carry_out_is_refused_and_bad_names_are_bad_input() {
    let w = World::new("refused");
    let rc2 = w.replace_a_with_c();
    let file = w.file.display().to_string();
    let mut args = vec![
        "plan",
        file.as_str(),
        "--allow-insecure-http",
        "--candidate",
        &rc2,
    ];
    // Through the fakes' infrastructure: the read-only instances holding A are rebuilt.
    let (code, out, _) = w.synd(&args);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("| `prod-0` | rebuild |"), "{out}");
    // Through the real default: no commands in the file, so no rebuild is possible.
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut argv = vec!["synd"];
    argv.extend_from_slice(&args);
    let code = examples::synd::run(argv, &mut out, &mut err);
    let out = String::from_utf8(out).expect("UTF-8");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("plan rejected"), "{out}");

    // With commands in the file the rebuild can be planned; a dry run prints each command
    // as it would run, and changes nothing.
    let text = read(&w.file).replacen(
        r#""role": "production","#,
        r#""role": "production", "commands": {
            "stop": ["kubectl", "-n", "tx", "scale", "statefulset/{instance}", "--replicas=0"],
            "start": ["kubectl", "-n", "tx", "scale", "statefulset/{instance}", "--replicas=1"],
            "clear_disk": ["kubectl", "-n", "tx", "delete", "pvc/data-{instance}"],
            "drop_schema": ["psql", "--command", "DROP SCHEMA public CASCADE; CREATE SCHEMA public", "{instance}"],
            "set_preload_feed": ["kubectl", "-n", "tx", "set", "env", "statefulset/{instance}", "ATOM_PRELOAD_FEEDLOCATION={preload_feed}"]},"#,
        1,
    );
    std::fs::write(&w.file, text).expect("written");
    let journal = w.path("dry.journal");
    let dry = [
        "synd",
        "apply",
        file.as_str(),
        "--allow-insecure-http",
        "--candidate",
        &rc2,
        "--journal",
        &journal,
        "--dry-run",
    ];
    let mut out = Vec::new();
    let code = examples::synd::run(dry, &mut out, &mut Vec::new());
    let out = String::from_utf8(out).expect("UTF-8");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0. point alias production at"), "{out}");
    assert!(
        out.contains("$ kubectl -n tx scale statefulset/prod-1 --replicas=0"),
        "{out}"
    );
    assert!(
        out.contains("$ psql --command 'DROP SCHEMA public CASCADE; CREATE SCHEMA public' prod-0"),
        "{out}"
    );
    assert!(!Path::new(&journal).exists(), "a dry run saves nothing");
    assert_eq!(w.content("prod-0"), has(&[A]), "and changes nothing");
    assert_eq!(
        w._synd.alias_target("production").as_deref(),
        Some("release-candidate-20261001T0900")
    );

    // A notice that cannot be read is bad input, and nothing is saved or changed.
    let staging = w.path("staging.journal");
    let missing = w.path("no-such-notice.json");
    let apply = [
        "apply",
        file.as_str(),
        "--allow-insecure-http",
        "--candidate",
        &rc2,
        "--environment",
        "staging",
        "--journal",
        &staging,
        "--notice",
        &missing,
    ];
    let (code, _, err) = w.synd(&apply);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no-such-notice.json"), "{err}");
    assert!(!Path::new(&format!("{staging}.plan.json")).exists());
    assert_eq!(w.content("staging"), has(&[A]));

    args[4] = "release-candidate-20991231T2359";
    let (code, _, err) = w.synd(&args);
    assert_eq!(code, 2);
    assert!(err.contains("404"), "{err}");
    args[4] = "not-a-candidate";
    let (code, _, err) = w.synd(&args);
    assert_eq!(code, 2);
    assert!(err.contains("not-a-candidate"), "{err}");
}

// The README's guide is followed as written: its example deployment file loads, every
// environment is a deployment, and its commands are ones the adapter accepts.
#[test]
fn the_readme_example_deployment_file_loads() {
    use release_model::deployment_file::DeploymentFile;
    use release_model::plan::PreloadSchedule;
    use syndication_client::{CommandInfrastructure, Infrastructure};

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = read(&root.join("README.md"));
    let start = readme
        .find("<!-- deployment-example -->")
        .expect("the README marks its example");
    let end = readme
        .find("<!-- /deployment-example -->")
        .expect("and its end");
    let block = &readme[start..end];
    let json = block
        .split_once("```json\n")
        .and_then(|(_, rest)| rest.rsplit_once("```"))
        .map(|(json, _)| json)
        .expect("a json block");
    let file = DeploymentFile::from_json(json).expect("the README's example loads");
    assert_eq!(
        file.auth.as_ref().map(|a| a.secret_env.as_str()),
        Some("SYND_CLIENT_SECRET")
    );
    for env in ["staging", "production"] {
        let deployment = file.environment(env).expect("a deployment");
        let commands = file.environments[env].commands.clone().expect("commands");
        let infra = CommandInfrastructure::new(commands, &deployment).expect("accepted");
        assert!(infra.capabilities().restart, "{env}");
        assert!(infra.capabilities().set_preload_feed, "{env}");
    }
    assert!(file.environments["staging"].instances[0].database.is_some());
    assert!(matches!(
        file.policy("production").expect("known").preload_schedule,
        PreloadSchedule::CronOnOneInstance { .. }
    ));
}
