//! What a person watches while a release runs: a progress bar over the plan's steps on a
//! terminal, plain lines when the output is not one (CI logs, files, tests).

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use syndication_client::Event;

/// Progress over a run's steps, or over one long wait.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `steps` steps, drawn on stderr when it is a terminal, hidden otherwise.
    pub fn steps(steps: usize) -> Self {
        let bar = ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {msg}") {
            bar.set_style(style);
        }
        Self::ticking(bar)
    }

    /// A spinner for one long task whose length is unknown (a download, a wait).
    pub fn spinner(message: impl Into<String>) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_message(message.into());
        Self::ticking(bar)
    }

    fn ticking(bar: ProgressBar) -> Self {
        // A hidden bar needs no ticking thread.
        if !bar.is_hidden() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Self { bar }
    }

    /// Whether it is drawn (stderr is a terminal).
    pub fn is_drawn(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Shows `event`: on the bar when it is drawn, else as a line on `err`.
    pub fn event(&self, event: &Event, err: &mut dyn Write) {
        match event {
            Event::Started { step, .. } => {
                self.bar.set_position(step.saturating_sub(1) as u64);
                self.bar.set_message(event.to_string());
            }
            Event::Finished { step } | Event::Skipped { step } => {
                self.bar.set_position(*step as u64);
            }
            Event::Waiting { .. } => self.bar.set_message(event.to_string()),
            _ => {}
        }
        let line = event.to_string();
        if self.is_drawn() {
            self.bar.println(line);
        } else {
            let _ = writeln!(err, "{line}");
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
