//! Verification: every instance holds the whole target and none of what it removes, read a
//! page at a time, several instances at once.

use release_model::deployment::InstanceName;
use release_model::plan::{Action, Expectation, Plan, Step};
use release_model::resource::ResourceType;
use tracing::Instrument;

use super::{Event, Executor};
use crate::error::Error;
use crate::journal::{Journal, JournalStore, Outcome, Record};

impl Executor {
    /// Runs the verify steps in `range` concurrently: their starts are saved first, their
    /// outcomes after, in plan order; the first failure is the run's error.
    pub(super) async fn verify_together(
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

    /// Checks the instance for each expected content item and the absence of removed ones,
    /// redoing the preload when content is missing (the server's feed cache may lag).
    pub(super) async fn verify(
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
pub(super) fn verified_items(
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

/// How many verify steps of distinct instances start at `i`.
pub(super) fn verify_group(steps: &[Step], i: usize) -> usize {
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
