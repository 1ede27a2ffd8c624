//! `synd notice`: the notice a release's downtime needs, drafted from the plan `synd apply`
//! would carry out, written as the JSON file `synd apply --notice` takes.

use std::io::Write;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime};
use release_model::notice::{DowntimeWindow, Notice, ReleaseKind, WorkingDayCalendar};

use super::{
    ServerArgs, Services, TargetArgs, connect, infrastructure, io, plan_release, release_of,
    runtime, write_atomically,
};
use crate::synd::{EXIT_FINDINGS, EXIT_OK, Failure};

/// `synd notice`'s own arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct NoticeArgs {
    /// When the downtime window opens, in the service's local time (`2026-12-21T20:00`).
    #[arg(long, value_parser = minute)]
    pub window_start: NaiveDateTime,
    /// When it closes.
    #[arg(long, value_parser = minute)]
    pub window_end: NaiveDateTime,
    /// An organisation that uses the service and is told (repeat for each).
    #[arg(long = "audience", required = true)]
    pub audience: Vec<String>,
    /// The day they were told. Without it the notice is a draft, which `synd apply` refuses.
    #[arg(long, value_parser = day)]
    pub given: Option<NaiveDate>,
    /// A public holiday, which is not a working day (repeat for each).
    #[arg(long = "holiday", value_parser = day)]
    pub holidays: Vec<NaiveDate>,
    /// Where to write the notice (JSON); standard output when absent.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn minute(s: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .map_err(|e| format!("'{s}' is not a local time like 2026-12-21T20:00: {e}"))
}

fn day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("'{s}' is not a day like 2026-12-04: {e}"))
}

/// Drafts the notice of the release's downtime: exit 0 when it is written (or none is
/// needed), 1 when the plan is refused, its downtime does not fit the window, or notice was
/// given after the deadline; 2 on bad input. The summary goes to `err` when the notice itself
/// goes to standard output.
pub fn notice(
    server: &ServerArgs,
    target: &TargetArgs,
    args: &NoticeArgs,
    services: &Services,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Failure> {
    let window = DowntimeWindow::new(args.window_start, args.window_end).map_err(|e| match e {
        release_model::Error::PolicyRejected { reason } => format!("--window-end: {reason}"),
        e => e.to_string(),
    })?;
    let c = connect(server)?;
    let platform = infrastructure(&c, services)?.capabilities();
    let rt = runtime()?;
    let release = release_of(&c, target)?;
    let (code, summary, json) = match plan_release(&c, &release, target, platform, &rt)? {
        Err(refused) => (EXIT_FINDINGS, refused, None),
        Ok(plan) => {
            let calendar = WorkingDayCalendar::with_holidays(args.holidays.iter().copied());
            let kind = ReleaseKind::Content;
            match Notice::for_plan(&plan, kind, window, args.audience.clone(), &calendar) {
                Ok(None) => (
                    EXIT_OK,
                    "this release keeps the service up: it needs no notice".to_owned(),
                    None,
                ),
                Err(e) => (EXIT_FINDINGS, e.to_string(), None),
                Ok(Some(drafted)) => {
                    let notice = match args.given {
                        Some(d) => drafted.given(d),
                        None => drafted,
                    };
                    let json = serde_json::to_string_pretty(&notice)
                        .map_err(|e| format!("the notice: {e}"))?;
                    let head = format!("{} ({}): {notice}", c.environment, release.candidate);
                    let (code, tail) = match notice.given_on {
                        Some(_) if !notice.is_in_time() => (
                            EXIT_FINDINGS,
                            "given after the deadline: synd apply refuses it; move the window or use --emergency".to_owned(),
                        ),
                        Some(_) => (EXIT_OK, "synd apply --notice takes it".to_owned()),
                        None => (
                            EXIT_OK,
                            format!(
                                "a draft: tell them by {}, then run this again with --given DAY",
                                notice.deadline
                            ),
                        ),
                    };
                    (code, format!("{head}\n{tail}"), Some(json))
                }
            }
        }
    };
    match (&args.out, json) {
        (Some(path), Some(json)) => write_atomically(path, &format!("{json}\n"))?,
        (None, Some(json)) => writeln!(out, "{json}").map_err(io)?,
        (_, None) => {}
    }
    let summary_to: &mut dyn Write = if args.out.is_some() { out } else { err };
    writeln!(summary_to, "{summary}").map_err(io)?;
    Ok(code)
}
