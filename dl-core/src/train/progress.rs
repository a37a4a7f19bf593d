//! Training progress on standard error: an `indicatif` bar per epoch on a terminal, one plain
//! line per epoch otherwise (CI logs stay readable), nothing when silent.

use crate::train::history::Logs;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How much [`crate::train::Fit::fit`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing.
    Silent,
    /// A progress bar when standard error is a terminal, else one line per epoch (default).
    #[default]
    Auto,
    /// One line per epoch ([`epoch_line`]), even on a terminal.
    Lines,
}

/// The line printed at the end of an epoch when the output is not a terminal (Keras-like):
/// epoch number from 1, wall time, throughput, then every log entry (`lr` to 4 significant
/// digits, the rest with 4 decimals).
///
/// ```
/// use dl_core::train::{progress::epoch_line, Logs};
/// let logs = Logs::new(vec![("loss".into(), 0.51234), ("accuracy".into(), 0.875), ("lr".into(), 0.048551578)]);
/// assert_eq!(
///     epoch_line(1, 10, &logs, 0.25, 1000),
///     "epoch 2/10 - 0.25s - 4000 samples/s - loss: 0.5123 - accuracy: 0.8750 - lr: 0.04855"
/// );
/// ```
pub fn epoch_line(
    epoch: usize,
    epochs: usize,
    logs: &Logs,
    seconds: f64,
    samples: usize,
) -> String {
    let rate = samples as f64 / seconds.max(1e-9);
    let mut line = format!(
        "epoch {}/{epochs} - {seconds:.2}s - {rate:.0} samples/s",
        epoch + 1
    );
    push_logs(&mut line, logs.iter());
    line
}

/// Appends ` - name: value` for every entry.
fn push_logs<'a>(line: &mut String, entries: impl Iterator<Item = (&'a str, f32)>) {
    use std::fmt::Write as _;
    for (name, value) in entries {
        // Writing to a String cannot fail.
        let _ = if name == "lr" {
            write!(line, " - {name}: {}", significant(value, 4))
        } else {
            write!(line, " - {name}: {value:.4}")
        };
    }
}

/// `value` rounded to `digits` significant digits, without trailing zeros (`0.04855`, `0.01`).
fn significant(value: f32, digits: i32) -> String {
    if value == 0.0 || !value.is_finite() {
        return value.to_string();
    }
    let decimals = (digits - 1 - value.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{value:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The reporter used by `fit`.
pub(crate) struct Progress {
    kind: Kind,
    epochs: usize,
    started: Instant,
    last_message: Instant,
}

enum Kind {
    Silent,
    Lines,
    Bar(Option<ProgressBar>),
}

impl Progress {
    pub(crate) fn new(verbosity: Verbosity, epochs: usize) -> Self {
        let kind = match verbosity {
            Verbosity::Silent => Kind::Silent,
            Verbosity::Lines => Kind::Lines,
            Verbosity::Auto if std::io::stderr().is_terminal() => Kind::Bar(None),
            Verbosity::Auto => Kind::Lines,
        };
        Progress {
            kind,
            epochs,
            started: Instant::now(),
            last_message: Instant::now(),
        }
    }

    /// Starts an epoch of `samples` training samples.
    pub(crate) fn epoch_begin(&mut self, epoch: usize, samples: usize) {
        self.started = Instant::now();
        if let Kind::Bar(bar) = &mut self.kind {
            let pb =
                ProgressBar::with_draw_target(Some(samples as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {rate} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} samples/s", s.per_sec());
            })
            .progress_chars("=> ");
            pb.set_style(style);
            pb.set_prefix(format!("epoch {}/{}", epoch + 1, self.epochs));
            *bar = Some(pb);
        }
    }

    /// After a batch: `seen` samples so far, the running mean loss and metric values.
    pub(crate) fn batch_end(
        &mut self,
        seen: usize,
        loss: f32,
        metrics: &mut dyn Iterator<Item = (&str, f32)>,
    ) {
        if let Kind::Bar(Some(pb)) = &self.kind {
            pb.set_position(seen as u64);
            // The message allocates: refresh it at most ten times a second.
            if self.last_message.elapsed() >= Duration::from_millis(100) {
                let mut msg = format!("loss: {loss:.4}");
                push_logs(&mut msg, metrics);
                pb.set_message(msg);
                self.last_message = Instant::now();
            }
        }
    }

    /// Ends an epoch with its logs.
    pub(crate) fn epoch_end(&mut self, epoch: usize, logs: &Logs, samples: usize) {
        let seconds = self.started.elapsed().as_secs_f64();
        match &mut self.kind {
            Kind::Silent => {}
            Kind::Lines => {
                let line = epoch_line(epoch, self.epochs, logs, seconds, samples);
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            Kind::Bar(bar) => {
                if let Some(pb) = bar.take() {
                    let mut msg = String::new();
                    push_logs(&mut msg, logs.iter());
                    pb.finish_with_message(msg.trim_start_matches(" - ").to_string());
                    // The finished bar stays; the next epoch's starts on a new line.
                    let _ = writeln!(std::io::stderr().lock());
                }
            }
        }
    }
}
