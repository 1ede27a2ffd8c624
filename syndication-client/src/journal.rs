//! The journal of a run: which steps of which plan started and how each ended, kept durably
//! so that a process that dies resumes without repeating a destructive step.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use release_model::deployment::{BaseUrl, InstanceName};
use release_model::plan::Plan;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::Error;

/// What happened to one step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Outcome {
    /// The step was begun. Saved before the step acts, so a journal whose last record for a
    /// step is this one belongs to a run that died during it: the step may or may not have
    /// taken effect, and resuming reconciles it by observing the instance.
    Started,
    /// The step was carried out.
    Done,
    /// The step failed with this message; the run stopped there. The server answered, so
    /// resuming tries the step again.
    Failed {
        /// The error.
        message: String,
    },
}

/// One step's record in the journal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Record {
    /// The step's number: 1 for the plan's first step, as runbooks and dry runs number them.
    pub step: usize,
    /// The instance.
    pub instance: InstanceName,
    /// The action's name.
    pub action: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The base URL of an instance a `create-instance` step created: later steps, in this run
    /// or a resumed one, reach the instance there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// What the step's infrastructure command printed (the end of it), when it ran one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl Record {
    pub(crate) fn new(
        step: usize,
        instance: &InstanceName,
        action: &str,
        outcome: Outcome,
    ) -> Self {
        Self {
            step,
            instance: instance.clone(),
            action: action.to_owned(),
            outcome,
            created: None,
            output: None,
        }
    }
}

/// The record of a run: which steps of which plan are done. Keep it in a [`JournalStore`]
/// ([`JournalFile`] for a file); a run given a journal resumes after its last completed step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Journal {
    /// The fingerprint of the plan this journal belongs to (empty before the first run).
    pub plan: String,
    /// How many steps are done, in order: the run resumes at step `completed + 1`.
    pub completed: usize,
    /// Every attempt in order: a `started` record before each step acts, its outcome after.
    pub records: Vec<Record>,
    /// Why the service was taken down without the notice its downtime needs, when an
    /// emergency override was used (`Executor::with_emergency_override`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<String>,
    /// For a production run, how staging went first: the staging plan it verified, or the
    /// reason given for going without (`StagingGate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging: Option<String>,
}

/// Where the next run of a plan starts, as a validated journal says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resume {
    /// At this step (from 1), from the beginning.
    Fresh(usize),
    /// At this step, which started in a run that died before it recorded an outcome.
    Interrupted(usize),
    /// Every step is done.
    Finished,
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether every step of `plan` is done.
    pub fn is_finished(&self, plan: &Plan) -> bool {
        self.plan == plan_fingerprint(plan) && self.completed == plan.steps.len()
    }

    /// The last record of a step, if any.
    pub fn last_record(&self, step: usize) -> Option<&Record> {
        self.records.iter().rev().find(|r| r.step == step)
    }

    /// Records an operator's finding that an interrupted step took effect, after they have
    /// checked the instance themselves: the run resumes after it. For a step the executor
    /// cannot reconcile on its own ([`Error::Unreconciled`]).
    ///
    /// # Errors
    /// [`Error::JournalInvalid`] unless `step` is the interrupted or failed step the run
    /// would resume at: a step never begun cannot be marked, so no step is skipped unseen.
    pub fn mark_done(&mut self, plan: &Plan, step: usize) -> Result<(), Error> {
        let record = self.settle(plan, step, Outcome::Done)?;
        self.records.push(record);
        self.completed = step;
        Ok(())
    }

    /// Records an operator's finding that an interrupted step did not take effect (or that
    /// they undid what it did): the run does it again.
    ///
    /// # Errors
    /// As [`mark_done`](Self::mark_done).
    pub fn mark_not_done(&mut self, plan: &Plan, step: usize) -> Result<(), Error> {
        let record = self.settle(
            plan,
            step,
            Outcome::Failed {
                message: "marked not done by the operator".into(),
            },
        )?;
        self.records.push(record);
        Ok(())
    }

    fn settle(&self, plan: &Plan, step: usize, outcome: Outcome) -> Result<Record, Error> {
        let begun = self
            .last_record(step)
            .is_some_and(|r| matches!(r.outcome, Outcome::Started | Outcome::Failed { .. }));
        match self.check(plan)? {
            Resume::Fresh(n) | Resume::Interrupted(n) if n == step && begun => {}
            _ => {
                return Err(Error::JournalInvalid {
                    reason: format!(
                        "step {step} is not an interrupted or failed step a resumed run would start at (that is step {})",
                        self.completed + 1
                    ),
                });
            }
        }
        let s = &plan.steps[step - 1];
        Ok(Record::new(step, &s.instance, s.action.name(), outcome))
    }

    /// Checks the journal against `plan` and says where a run resumes.
    ///
    /// A journal is refused when it records more steps than the plan has, records a step
    /// whose instance or action differ from the plan's, claims steps done without a record
    /// of each, or names no plan while claiming any progress: resuming from such a journal
    /// would skip steps that were never done.
    pub(crate) fn check(&self, plan: &Plan) -> Result<Resume, Error> {
        let invalid = |reason: String| Err(Error::JournalInvalid { reason });
        if self.plan.is_empty() {
            if self.completed != 0 || !self.records.is_empty() {
                return invalid(format!(
                    "it names no plan but records {} step(s) done and {} record(s)",
                    self.completed,
                    self.records.len()
                ));
            }
            return Ok(if plan.steps.is_empty() {
                Resume::Finished
            } else {
                Resume::Fresh(1)
            });
        }
        let fp = plan_fingerprint(plan);
        if self.plan != fp {
            return Err(Error::JournalMismatch {
                journal: self.plan.clone(),
                plan: fp,
            });
        }
        if self.completed > plan.steps.len() {
            return invalid(format!(
                "it records {} steps done; the plan has {}",
                self.completed,
                plan.steps.len()
            ));
        }
        for r in &self.records {
            let Some(s) = r.step.checked_sub(1).and_then(|i| plan.steps.get(i)) else {
                return invalid(format!(
                    "it records step {}; the plan has steps 1 to {}",
                    r.step,
                    plan.steps.len()
                ));
            };
            if r.instance != s.instance || r.action != s.action.name() {
                return invalid(format!(
                    "its step {} is {} on {}; the plan's is {} on {}",
                    r.step,
                    r.action,
                    r.instance,
                    s.action.name(),
                    s.instance
                ));
            }
        }
        for step in 1..=self.completed {
            if self.last_record(step).map(|r| &r.outcome) != Some(&Outcome::Done) {
                return invalid(format!(
                    "it counts step {step} done but has no record of it ending"
                ));
            }
        }
        let next = self.completed + 1;
        if next > plan.steps.len() {
            return Ok(Resume::Finished);
        }
        Ok(match self.last_record(next).map(|r| &r.outcome) {
            Some(Outcome::Started) => Resume::Interrupted(next),
            Some(Outcome::Done) => {
                return invalid(format!(
                    "it records step {next} done but counts only {} done",
                    self.completed
                ));
            }
            Some(Outcome::Failed { .. }) | None => Resume::Fresh(next),
        })
    }

    /// Instances created in earlier runs, with the base URL each was created at.
    pub(crate) fn created(&self) -> impl Iterator<Item = (InstanceName, BaseUrl)> + '_ {
        self.records.iter().filter_map(|r| {
            let url = BaseUrl::new(r.created.as_deref()?).ok()?;
            Some((r.instance.clone(), url))
        })
    }
}

/// The fingerprint a journal of `plan` carries: the first 16 hex digits of the SHA-256 of the
/// plan's steps as JSON. What the plan does, not its prose, so a plan made again with other
/// rationale or warnings resumes its journal.
pub fn plan_fingerprint(plan: &Plan) -> String {
    let json = serde_json::to_vec(&plan.steps).unwrap_or_default();
    let digest = release_model::feed::Sha256::from_digest(sha2::Sha256::digest(&json).into());
    digest.as_str()[..16].to_owned()
}

/// Where a journal is kept between state changes. The executor loads it once and saves it
/// after every change (a step started, a step ended), and stops when a save fails: a step
/// never acts unless the journal says it started.
///
/// [`Journal`] is a store in memory (for tests and for callers that persist it themselves
/// after the run); [`JournalFile`] is a durable one.
#[async_trait]
pub trait JournalStore: Send {
    /// The journal as last saved (empty when nothing was saved yet).
    async fn load(&mut self) -> Result<Journal, Error>;
    /// Saves the journal; it must survive the process once this returns.
    async fn save(&mut self, journal: &Journal) -> Result<(), Error>;
}

#[async_trait]
impl JournalStore for Journal {
    async fn load(&mut self) -> Result<Journal, Error> {
        Ok(self.clone())
    }

    async fn save(&mut self, journal: &Journal) -> Result<(), Error> {
        self.clone_from(journal);
        Ok(())
    }
}

/// A journal kept in a JSON file, replaced atomically and durably on every save: written to
/// a temporary file beside it (`.{name}.{pid}.tmp`), synced, renamed over it, and the folder
/// synced. After a crash at any point the file holds either the journal before the save or
/// the one after, whole; loading it removes temporary files of processes that are gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalFile {
    path: PathBuf,
}

impl JournalFile {
    /// A journal kept at `path` (it need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where the journal is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the journal.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::JournalInvalid`] with line and
    /// column when it is not a journal.
    pub fn read(&self) -> Result<Journal, Error> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::JournalInvalid {
                reason: format!(
                    "{} is not a journal (line {}, column {}): {e}",
                    self.path.display(),
                    e.line(),
                    e.column()
                ),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Journal::new()),
            Err(e) => Err(Error::Io {
                path: self.path.display().to_string(),
                source: e,
            }),
        }
    }

    /// Saves `journal` atomically and durably.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file that could not be written, synced or renamed; the
    /// journal saved before is then still in place.
    pub fn write(&self, journal: &Journal) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(journal).map_err(|e| Error::Config {
            message: format!("the journal cannot be serialised: {e}"),
        })?;
        write_durably(&self.path, &bytes)
    }
}

#[async_trait]
impl JournalStore for JournalFile {
    async fn load(&mut self) -> Result<Journal, Error> {
        // A process killed while saving leaves its temporary file; the journal is whole.
        if let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            crate::download::remove_stale_temporaries(dir, &name.to_string_lossy(), ".tmp").await;
        }
        let file = self.clone();
        tokio::task::spawn_blocking(move || file.read())
            .await
            .map_err(|e| Error::Config {
                message: format!("reading the journal failed: {e}"),
            })?
    }

    async fn save(&mut self, journal: &Journal) -> Result<(), Error> {
        let (file, journal) = (self.clone(), journal.clone());
        tokio::task::spawn_blocking(move || file.write(&journal))
            .await
            .map_err(|e| Error::Config {
                message: format!("saving the journal failed: {e}"),
            })?
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the new one, whole.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| Error::Io { path: p, source }
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "journal".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })()
    .map_err(io(&tmp));
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path).map_err(io(path))) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    crate::download::sync_dir_blocking(dir).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("synd-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("ok");
        d
    }

    #[test]
    fn a_file_save_replaces_the_journal_and_leaves_no_temporary_file() {
        let dir = scratch("save");
        let file = JournalFile::new(dir.join("release.journal"));
        assert_eq!(
            file.read().expect("ok"),
            Journal::new(),
            "no file yet: empty"
        );
        let mut j = Journal::new();
        j.plan = "0123456789abcdef".into();
        file.write(&j).expect("ok");
        j.completed = 0;
        j.records.push(Record::new(
            1,
            &InstanceName::new("prod-0").expect("ok"),
            "stop",
            Outcome::Started,
        ));
        file.write(&j).expect("ok");
        assert_eq!(file.read().expect("ok"), j);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("ok")
            .map(|e| e.expect("ok").file_name())
            .collect();
        assert_eq!(names, ["release.journal"]);
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_with_its_position() {
        let path = scratch("bad").join("j.json");
        std::fs::write(&path, "{\"plan\": \"x\",\n \"completed\": \"many\"}").expect("ok");
        let err = JournalFile::new(&path).read().expect_err("refused");
        assert!(matches!(err, Error::JournalInvalid { .. }), "{err:?}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
