//! What must hold before a run may start: staging verified the same release first, and
//! downtime has its notice.

use release_model::plan::{Action, Plan};

use super::{Executor, verified_items};
use crate::error::Error;
use crate::journal::{Journal, JournalStore, plan_fingerprint};

impl Executor {
    /// Whether staging verified the release `plan` carries to production, as the gate says:
    /// staging's journal finished its plan, and that plan verified at least what this one
    /// verifies (the same target), present and absent.
    pub(super) fn staging_passed(&self, plan: &Plan) -> Result<String, Error> {
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
    pub(super) async fn check_notice(
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
        let estimate = plan.downtime_estimate;
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
            // The users were told how long and until when: a plan that expects longer, or
            // that would run past the window's end, breaks what they were told.
            Some(n) => estimate.and_then(|expected| {
                let minutes = |d: std::time::Duration| d.as_secs().div_ceil(60);
                if expected > n.expected {
                    return Some(format!(
                        "the plan expects about {} minutes of downtime, more than the {} its notice announced",
                        minutes(expected),
                        minutes(n.expected)
                    ));
                }
                let left = (n.window.end - now).to_std().unwrap_or_default();
                (expected > left).then(|| {
                    format!(
                        "only {} minutes of its window are left (it closes at {}), and the plan expects about {}",
                        minutes(left),
                        n.window.end,
                        minutes(expected)
                    )
                })
            }),
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

/// Whether the action takes (part of) the service down.
pub(super) fn takes_service_down(action: &Action) -> bool {
    matches!(
        action,
        Action::Stop | Action::ClearDisk | Action::DropSchema | Action::RecreateContainer
    )
}
