//! `CommandInfrastructure` with real commands: scripts that record their arguments show the
//! substitution (one argument each, no shell), failures carry the exit status and output,
//! a command past its timeout is killed, and a run's journal keeps what each step printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use release_model::deployment::{
    Access, BaseUrl, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage, Topology,
};
use release_model::deployment_file::Commands;
use release_model::plan::{Action, Plan, Policy, Step};
use syndication_client::{
    ClientOptions, CommandInfrastructure, Error, Executor, Infrastructure, Journal, NoAuth,
    StagingGate, WaitPolicy, Wipe,
};

fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("synd-commands-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// `sh SCRIPT LOG ARGS…`: the script writes each argument on a line of LOG, prints
/// `PRINTED`, and exits with `$EXIT` (0 unless the arguments say otherwise).
fn recorder(d: &Path) -> (PathBuf, PathBuf) {
    let script = d.join("record.sh");
    std::fs::write(
        &script,
        "log=$1; shift\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> \"$log\"; done\necho PRINTED\ncase \"$1\" in fail) echo 'no such pod' >&2; exit 3;; url) echo https://new.example.org;; esac\n",
    )
    .expect("script");
    (script, d.join("args.log"))
}

fn argv(script: &Path, log: &Path, rest: &[&str]) -> Option<Vec<String>> {
    let mut v = vec![
        "sh".to_owned(),
        script.display().to_string(),
        log.display().to_string(),
    ];
    v.extend(rest.iter().map(|s| (*s).to_owned()));
    Some(v)
}

fn deployment() -> Deployment {
    let i = Instance::new(
        InstanceName::new("prod-0").expect("valid"),
        BaseUrl::new("https://prod-0.example.org").expect("valid"),
        Role::Production,
        Access::ReadOnly,
        Storage::Persistent,
    );
    Deployment::new(DeploymentModel::AuthoringToProduction, Topology::single(i))
}

fn name() -> InstanceName {
    InstanceName::new("prod-0").expect("valid")
}

fn logged(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn arguments_are_substituted_one_each_without_a_shell() {
    let d = dir("substitution");
    let (script, log) = recorder(&d);
    let mut c = Commands::default();
    c.set_preload_feed = argv(
        &script,
        &log,
        &["{instance}", "FEED={preload_feed}", "{base_url}"],
    );
    c.switch_load_balancer = argv(&script, &log, &["route", "{instances}"]);
    c.create_instance = argv(&script, &log, &["url", "{instance}"]);
    let infra = CommandInfrastructure::new(c, &deployment()).expect("valid");
    // A URL with a query and spaces stays one argument: nothing is interpreted by a shell.
    let feed = "https://synd.example.org/feed?x=1&y=$(rm -rf ~) 2";
    infra.set_preload_feed(&name(), feed).await.expect("ran");
    assert_eq!(
        logged(&log),
        [
            "prod-0",
            &format!("FEED={feed}"),
            "https://prod-0.example.org"
        ]
    );
    assert_eq!(infra.take_output(&name()).as_deref(), Some("PRINTED"));
    assert_eq!(infra.take_output(&name()), None, "taken once");

    std::fs::remove_file(&log).ok();
    let to = [
        InstanceName::new("green-0").expect("valid"),
        InstanceName::new("green-1").expect("valid"),
    ];
    infra.switch_load_balancer(&to).await.expect("ran");
    assert_eq!(logged(&log), ["route", "green-0,green-1"]);
    let url = infra
        .create_instance(&InstanceName::new("green-0").expect("valid"))
        .await
        .expect("created");
    assert_eq!(url.as_str(), "https://new.example.org");

    // What a dry run shows is what runs.
    let shown = infra
        .command_line(&Action::SetPreloadFeed { url: feed.into() }, &name())
        .expect("a command");
    assert_eq!(
        shown[3..],
        [
            "prod-0".to_owned(),
            format!("FEED={feed}"),
            "https://prod-0.example.org".into()
        ]
    );
    assert!(
        infra.command_line(&Action::Stop, &name()).is_none(),
        "no stop command"
    );
    assert!(!infra.capabilities().restart);
    assert!(infra.capabilities().set_preload_feed);
}

/// A blue-green instance is not in the deployment: its `{base_url}` is the URL its
/// `create_instance` printed (or, on resume, the one the journal recorded), never empty.
#[tokio::test]
async fn an_instance_created_by_the_run_is_named_by_the_url_it_was_created_at() {
    let d = dir("created");
    let (script, log) = recorder(&d);
    let mut c = Commands::default();
    c.set_preload_feed = argv(&script, &log, &["{instance}", "{base_url}"]);
    c.create_instance = argv(&script, &log, &["url", "{instance}"]);
    let infra = CommandInfrastructure::new(c, &deployment()).expect("valid");
    let green = InstanceName::new("green-0").expect("valid");
    let feed = "https://synd.example.org/feed/rc2.xml";

    // Before it is created a dry run shows the placeholder, and running is refused.
    let shown = infra
        .command_line(&Action::SetPreloadFeed { url: feed.into() }, &green)
        .expect("a command");
    assert_eq!(shown[3..], ["green-0", "{base_url}"]);
    let err = infra
        .set_preload_feed(&green, feed)
        .await
        .expect_err("no base URL yet");
    assert!(
        matches!(&err, Error::Infrastructure { instance, .. } if instance == "green-0"),
        "{err}"
    );
    assert!(err.to_string().contains("no base URL is known"), "{err}");
    assert!(logged(&log).is_empty(), "nothing ran");

    infra.create_instance(&green).await.expect("created");
    std::fs::remove_file(&log).ok();
    infra.set_preload_feed(&green, feed).await.expect("ran");
    assert_eq!(logged(&log), ["green-0", "https://new.example.org"]);

    // On resume the executor tells it each URL the journal recorded, as here.
    let green_1 = InstanceName::new("green-1").expect("valid");
    let at = BaseUrl::new("https://green-1.example.org").expect("valid");
    infra.instance_created(&green_1, &at);
    std::fs::remove_file(&log).ok();
    infra.set_preload_feed(&green_1, feed).await.expect("ran");
    assert_eq!(logged(&log), ["green-1", "https://green-1.example.org"]);
}

#[tokio::test]
async fn a_failing_command_fails_its_step_with_its_status_and_output() {
    let d = dir("failure");
    let (script, log) = recorder(&d);
    let mut c = Commands::default();
    c.stop = argv(&script, &log, &["fail", "{instance}"]);
    c.start = Some(vec![d.join("no-such-program").display().to_string()]);
    let infra = CommandInfrastructure::new(c, &deployment()).expect("valid");
    let err = infra.stop(&name()).await.expect_err("exit 3");
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Infrastructure {
                operation: "stop",
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("prod-0") && text.contains("exit status: 3"),
        "{text}"
    );
    assert!(text.contains("no such pod"), "the output says why: {text}");
    let err = infra.start(&name()).await.expect_err("missing program");
    assert!(err.to_string().contains("cannot run"), "{err}");
    // Not given, so not offered: the executor reports it as such.
    let err = infra.clear_disk(&name()).await.expect_err("no command");
    assert!(
        matches!(
            err,
            Error::NotSupported {
                operation: "clear-disk",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn unknown_placeholders_are_refused_when_read() {
    let mut c = Commands::default();
    c.stop = Some(vec!["kubectl".into(), "delete".into(), "pod/{pod}".into()]);
    let err = CommandInfrastructure::new(c, &deployment()).expect_err("unknown");
    assert!(
        err.to_string().contains("commands.stop") && err.to_string().contains("{pod}"),
        "{err}"
    );
}

// The clock is paused: the timeout passes at once in virtual time, and the command is killed.
#[tokio::test(start_paused = true)]
async fn a_command_past_its_timeout_is_killed() {
    let mut c = Commands::default();
    c.stop = Some(vec!["sleep".into(), "30".into()]);
    c.timeout_seconds = Some(5);
    let infra = CommandInfrastructure::new(c, &deployment()).expect("valid");
    let started = std::time::Instant::now();
    let err = infra.stop(&name()).await.expect_err("timed out");
    assert!(
        err.to_string()
            .contains("did not finish within 5 s and was killed"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "no real wait for the sleep"
    );
}

#[tokio::test]
async fn is_wiped_answers_by_exit_status() {
    let mut c = Commands::default();
    c.is_wiped = Some(vec![
        "sh".into(),
        "-c".into(),
        "test \"$0\" = disk".into(),
        "{wipe}".into(),
    ]);
    let infra = CommandInfrastructure::new(c, &deployment()).expect("valid");
    assert!(infra.is_wiped(&name(), Wipe::Disk).await.expect("answers"));
    assert!(
        !infra
            .is_wiped(&name(), Wipe::Schema)
            .await
            .expect("answers")
    );
}

// Run by the executor, each infrastructure step's output lands in the journal.
#[tokio::test]
async fn a_run_journals_what_each_command_printed() {
    let d = dir("journal");
    let (script, log) = recorder(&d);
    let mut c = Commands::default();
    c.stop = argv(&script, &log, &["stop", "{instance}"]);
    c.start = argv(&script, &log, &["start", "{instance}"]);
    let deployment = deployment();
    let infra = Arc::new(CommandInfrastructure::new(c, &deployment).expect("valid"));
    let steps = vec![
        Step::new(name(), Action::Stop),
        Step::new(name(), Action::Start),
    ];
    let mut plan: Plan =
        release_model::plan::plan(&deployment, &Default::default(), &Policy::default())
            .expect("plans");
    plan.steps = steps;
    let mut journal = Journal::new();
    Executor::new(
        &deployment,
        Arc::new(NoAuth),
        infra,
        ClientOptions::for_local_testing(),
        WaitPolicy::immediate(1),
    )
    .expect("executor")
    .with_staging(StagingGate::skipped("a test of commands"))
    .run(&plan, &mut journal, |_| {})
    .await
    .expect("runs");
    assert_eq!(logged(&log), ["stop", "prod-0", "start", "prod-0"]);
    let outputs: Vec<Option<&str>> = journal
        .records
        .iter()
        .filter(|r| r.outcome == syndication_client::Outcome::Done)
        .map(|r| r.output.as_deref())
        .collect();
    assert_eq!(outputs, [Some("PRINTED"), Some("PRINTED")]);
}
