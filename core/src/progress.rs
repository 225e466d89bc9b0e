//! Progress on stderr, only when stderr is a terminal: stdout carries the result and may be piped.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A spinner with a message, or nothing at all when stderr is not a terminal (or `TCHINFO_NO_PROGRESS`
/// is set). It only appears after a short delay, so quick work shows nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn spinner(message: impl Into<String>) -> Progress {
        if !std::io::stderr().is_terminal() || std::env::var_os("TCHINFO_NO_PROGRESS").is_some() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::hidden();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
        );
        bar.set_message(message.into());
        let shown = bar.clone();
        // Drawing starts only if the work is still going after 300 ms.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            if !shown.is_finished() {
                shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(100));
            }
        });
        Progress { bar: Some(bar) }
    }

    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.into());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
