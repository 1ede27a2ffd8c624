//! How long a run waits, and what it reports while it runs.

use std::time::Duration;

use release_model::deployment::InstanceName;

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
