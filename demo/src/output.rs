//! Where the demo's words go: the replies and the report on stdout, the progress of the stream
//! on stderr and only on a terminal (drawn around the replies, never into them). A closed
//! stdout (`blocking-demo | head -1`) ends the printing quietly; the run itself goes on to
//! its clean close.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ClientFlags;

/// The demo's output; clones share it (the reading thread prints the replies, the sending one
/// moves the bar).
#[derive(Debug, Clone)]
pub struct Output(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    replies: bool,
    lines: bool,
    bar: Option<ProgressBar>,
    stdout_closed: AtomicBool,
}

impl Output {
    /// A client's output: replies unless `--json`, a progress bar on a terminal.
    pub fn new(flags: &ClientFlags) -> Self {
        let bar = (!flags.json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(flags.messages), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("[{bar:40}] {percent:>3}% ({pos}/{len} messages)") {
                bar.set_style(style.progress_chars("#>."));
            }
            bar
        });
        Output(Arc::new(Inner { replies: !flags.json, lines: true, bar, stdout_closed: AtomicBool::new(false) }))
    }

    /// Prints nothing (benchmarks, tests).
    pub fn quiet() -> Self {
        Output(Arc::new(Inner { replies: false, lines: false, bar: None, stdout_closed: AtomicBool::new(false) }))
    }

    /// A reply from the server, as received (it ends with its own newline).
    pub fn reply(&self, text: &str) {
        if self.0.replies {
            self.write(text.as_bytes());
        }
    }

    /// A line of the report.
    pub fn line(&self, text: &str) {
        if self.0.lines {
            self.write(format!("{text}\n").as_bytes());
        }
    }

    /// `sent` messages are out (the bar's position).
    pub fn sent(&self, sent: u64) {
        if let Some(bar) = &self.0.bar {
            bar.set_position(sent);
        }
    }

    /// Sending is over: the bar goes.
    pub fn done_sending(&self) {
        if let Some(bar) = &self.0.bar {
            bar.finish_and_clear();
        }
    }

    fn write(&self, bytes: &[u8]) {
        if self.0.stdout_closed.load(Ordering::Relaxed) {
            return;
        }
        let write = || {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        };
        let written = match &self.0.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        };
        if written.is_err() {
            self.0.stdout_closed.store(true, Ordering::Relaxed);
        }
    }
}
