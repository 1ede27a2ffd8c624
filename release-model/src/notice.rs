//! Release notices: a release that takes the service down needs notice of ten working days to
//! the organisations that use it, stating the window and its expected duration.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};
use serde::{Deserialize, Serialize};

use crate::plan::Plan;

/// Working days of notice a release with downtime needs.
pub const NOTICE_WORKING_DAYS: u32 = 10;

/// Why a release is co-ordinated with the organisations that use the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CoordinationReason {
    /// An integration changes.
    IntegrationChange,
    /// A connector is updated.
    ConnectorUpdate,
    /// A process changes.
    ProcessChange,
    /// The user interface changes significantly.
    SignificantUiChange,
}

/// The kinds of release in the release-process document.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReleaseKind {
    /// Invisible to users.
    Background,
    /// Agreed with the organisations that use the service, for these reasons.
    Coordinated {
        /// Why.
        reasons: Vec<CoordinationReason>,
    },
    /// A terminology content release (runs in parallel to application releases).
    Content,
}

/// When the service may be down: the announced window, in the service's local time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DowntimeWindow {
    /// When it opens.
    pub start: NaiveDateTime,
    /// When it closes.
    pub end: NaiveDateTime,
}

impl DowntimeWindow {
    /// A window from `start` to `end`.
    ///
    /// # Errors
    /// [`Error::PolicyRejected`](crate::Error::PolicyRejected) when it does not end after it
    /// starts.
    pub fn new(start: NaiveDateTime, end: NaiveDateTime) -> Result<Self, crate::Error> {
        if end <= start {
            return Err(crate::Error::PolicyRejected {
                reason: format!("the downtime window ends ({end}) before it starts ({start})"),
            });
        }
        Ok(Self { start, end })
    }

    /// How long it is open.
    pub fn length(&self) -> Duration {
        (self.end - self.start).to_std().unwrap_or(Duration::ZERO)
    }

    /// Whether `at` falls within it.
    pub fn contains(&self, at: NaiveDateTime) -> bool {
        self.start <= at && at < self.end
    }
}

/// Working days: Monday to Friday, less the holidays supplied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkingDayCalendar {
    holidays: BTreeSet<NaiveDate>,
}

impl WorkingDayCalendar {
    /// A calendar of weekdays with no holidays.
    pub fn new() -> Self {
        Self::default()
    }

    /// A calendar with these public holidays.
    pub fn with_holidays(holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self {
            holidays: holidays.into_iter().collect(),
        }
    }

    /// Whether `day` is a working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// The working day `n` working days before `day` (not counting `day` itself).
    pub fn working_days_before(&self, day: NaiveDate, n: u32) -> NaiveDate {
        let mut d = day;
        let mut left = n;
        while left > 0 {
            d = d.pred_opt().unwrap_or(d);
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Working days from `from` (inclusive) to `to` (exclusive).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days()
            .take_while(|d| *d < to)
            .filter(|d| self.is_working_day(*d))
            .count() as u32
    }
}

/// The last day notice can be given for a window starting at `window_start`: ten working days
/// before the window's day, not counting that day.
///
/// ```
/// use chrono::NaiveDate;
/// use release_model::notice::{notice_deadline, WorkingDayCalendar};
///
/// let window = NaiveDate::from_ymd_opt(2026, 12, 14).unwrap().and_hms_opt(20, 0, 0).unwrap();
/// let deadline = notice_deadline(&WorkingDayCalendar::new(), window);
/// assert_eq!(deadline, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
/// ```
pub fn notice_deadline(calendar: &WorkingDayCalendar, window_start: NaiveDateTime) -> NaiveDate {
    calendar.working_days_before(window_start.date(), NOTICE_WORKING_DAYS)
}

/// The notice a release with downtime needs: what is announced to whom, by when.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Notice {
    /// The kind of release.
    pub kind: ReleaseKind,
    /// The announced window.
    pub window: DowntimeWindow,
    /// How long the service is expected to be down within the window (the plan's estimate).
    #[serde(with = "crate::plan::minutes")]
    pub expected: Duration,
    /// The last day notice can be given: ten working days before the window opens.
    pub deadline: NaiveDate,
    /// Who is told: the organisations that use the service.
    pub audience: Vec<String>,
    /// The day notice was given, once it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_on: Option<NaiveDate>,
}

impl Notice {
    /// The notice `plan` needs, or `None` when it keeps the service up (a content release
    /// without downtime needs none).
    ///
    /// # Errors
    /// [`Error::PolicyRejected`](crate::Error::PolicyRejected) when the plan has downtime but
    /// no estimate of it, when the expected downtime does not fit in the window, or when no
    /// one is told.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use release_model::notice::{DowntimeWindow, Notice, ReleaseKind, WorkingDayCalendar};
    /// # use release_model::{delta::*, deployment::*, feed::ContentType, plan::*};
    /// # let server = Instance::new(InstanceName::new("prod").unwrap(), BaseUrl::new("https://tx.example.org").unwrap(),
    /// #     Role::Production, Access::ReadOnly, Storage::Persistent);
    /// # let deployment = Deployment::new(DeploymentModel::Comprehensive, Topology::single(server))
    /// #     .with_preload_feed("https://synd.example.org/feed/release-candidate-20261201T0900/syndication.xml");
    /// # let mut delta = Delta::default();
    /// # delta.removed.push(DeltaItem::new("http://example.org/vs".into(), "1".into(), ContentType::FhirValueSet, None));
    /// let p = plan(&deployment, &delta, &Policy::default())?; // a rebuild: downtime
    /// let at = |d: u32, h: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap().and_hms_opt(h, 0, 0).unwrap();
    /// let window = DowntimeWindow::new(at(14, 20), at(14, 23))?;
    /// let notice = Notice::for_plan(&p, ReleaseKind::Content, window, vec!["Hospital A".into()], &WorkingDayCalendar::new())?
    ///     .expect("downtime needs notice");
    /// assert_eq!(notice.deadline, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    /// assert!(notice.given(NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()).is_in_time());
    /// # Ok::<(), release_model::Error>(())
    /// ```
    pub fn for_plan(
        plan: &Plan,
        kind: ReleaseKind,
        window: DowntimeWindow,
        audience: Vec<String>,
        calendar: &WorkingDayCalendar,
    ) -> Result<Option<Self>, crate::Error> {
        if !plan.downtime {
            return Ok(None);
        }
        let rejected = |reason: String| Err(crate::Error::PolicyRejected { reason });
        let Some(expected) = plan.downtime_estimate else {
            return rejected(
                "the plan takes the service down but gives no estimate of how long".into(),
            );
        };
        if expected > window.length() {
            return rejected(format!(
                "the expected downtime ({} minutes) does not fit in the window ({} minutes)",
                expected.as_secs() / 60,
                window.length().as_secs() / 60
            ));
        }
        if audience.is_empty() {
            return rejected("a notice of downtime needs someone to tell".into());
        }
        Ok(Some(Self {
            kind,
            deadline: notice_deadline(calendar, window.start),
            window,
            expected,
            audience,
            given_on: None,
        }))
    }

    /// The notice, given on `day`.
    pub fn given(mut self, day: NaiveDate) -> Self {
        self.given_on = Some(day);
        self
    }

    /// Whether notice given on `day` is in time.
    pub fn is_met_by(&self, day: NaiveDate) -> bool {
        day <= self.deadline
    }

    /// Whether the notice was given, and in time.
    pub fn is_in_time(&self) -> bool {
        self.given_on.is_some_and(|d| self.is_met_by(d))
    }

    /// The earliest window start that notice given on `today` allows (the same time of day).
    pub fn earliest_window(calendar: &WorkingDayCalendar, today: NaiveDate) -> NaiveDate {
        let mut d = today;
        loop {
            d = d.succ_opt().unwrap_or(d);
            if calendar.working_days_before(d, NOTICE_WORKING_DAYS) >= today {
                return d;
            }
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "downtime window {} to {}, expected about {} minutes within it; tell {} by {}",
            self.window.start.format("%Y-%m-%d %H:%M"),
            self.window.end.format("%Y-%m-%d %H:%M"),
            self.expected.as_secs() / 60,
            self.audience.join(", "),
            self.deadline
        )?;
        match self.given_on {
            Some(d) if self.is_met_by(d) => write!(f, " (given {d})"),
            Some(d) => write!(f, " (given {d}: LATE)"),
            None => write!(f, " (not given yet)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn ten_working_days_skip_weekends() {
        let cal = WorkingDayCalendar::new();
        // Monday 14 Dec 2026 → Monday 30 Nov 2026.
        assert_eq!(
            cal.working_days_before(d(2026, 12, 14), 10),
            d(2026, 11, 30)
        );
        // A Saturday window counts back from the Saturday: Fri 11 is day 1.
        assert_eq!(
            cal.working_days_before(d(2026, 12, 12), 10),
            d(2026, 11, 30)
        );
        assert_eq!(
            cal.working_days_between(d(2026, 11, 30), d(2026, 12, 14)),
            10
        );
    }

    #[test]
    fn holidays_push_the_deadline_back() {
        let cal = WorkingDayCalendar::with_holidays([d(2026, 12, 8)]);
        assert_eq!(
            cal.working_days_before(d(2026, 12, 14), 10),
            d(2026, 11, 27)
        );
    }

    #[test]
    fn year_end_with_christmas_and_new_year() {
        let cal =
            WorkingDayCalendar::with_holidays([d(2026, 12, 25), d(2026, 12, 28), d(2027, 1, 1)]);
        // Window Tue 12 Jan 2027. Working days back: 11 Jan, 8, 7, 6, 5, 4 Jan,
        // 31, 30, 29 Dec, (28 holiday, 26-27 weekend, 25 holiday), 24 Dec.
        assert_eq!(
            notice_deadline(&cal, d(2027, 1, 12).and_hms_opt(22, 0, 0).expect("valid")),
            d(2026, 12, 24)
        );
        assert_eq!(
            Notice::earliest_window(&cal, d(2026, 12, 24)),
            d(2027, 1, 12)
        );
    }

    #[test]
    fn leap_years() {
        let cal = WorkingDayCalendar::new();
        // Friday 13 Mar 2028 → 28 Feb 2028 is a Monday; 29 Feb exists in 2028.
        assert_eq!(cal.working_days_before(d(2028, 3, 13), 10), d(2028, 2, 28));
        assert!(cal.is_working_day(d(2028, 2, 29)));
    }
}
