//! What every example shares: a tiny command-line parser (`--seed N`, `--epochs N`, `--data DIR`)
//! that rejects unknown flags with a message, and the closing lines every example prints
//! (`train_seconds=`, then `test_accuracy=` or `test_mse=` as the very last line), which scripts
//! and tests read.

// Each example compiles this module on its own and uses a subset of it.
#![allow(dead_code)]
use dl::data::{Dataset, Standardizer, csv};
use dl::{Flat, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The options an example accepts; each example says which flags it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Args {
    /// `--seed N` (default 1): seeds every RNG of the run.
    pub seed: u64,
    /// `--epochs N`, when given.
    pub epochs: Option<usize>,
    /// `--data DIR`, when given.
    pub data: Option<PathBuf>,
}

/// A flag an example may accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// `--seed N`.
    Seed,
    /// `--epochs N`.
    Epochs,
    /// `--data DIR`.
    Data,
}

impl Flag {
    fn name(self) -> &'static str {
        match self {
            Flag::Seed => "--seed",
            Flag::Epochs => "--epochs",
            Flag::Data => "--data",
        }
    }

    fn value(self) -> &'static str {
        match self {
            Flag::Seed | Flag::Epochs => "N",
            Flag::Data => "DIR",
        }
    }
}

fn usage(accepted: &[Flag]) -> String {
    let flags: Vec<String> = accepted
        .iter()
        .map(|f| format!("[{} {}]", f.name(), f.value()))
        .collect();
    format!("usage: {}", flags.join(" "))
}

impl Args {
    /// Parses `args` (without the program name), accepting only the flags in `accepted`; both
    /// `--flag value` and `--flag=value` work.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        accepted: &[Flag],
    ) -> Result<Args, String> {
        let mut out = Args {
            seed: 1,
            epochs: None,
            data: None,
        };
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            let Some(&flag) = accepted.iter().find(|f| f.name() == name) else {
                return Err(format!("unknown argument `{arg}`\n{}", usage(accepted)));
            };
            let value = match inline.or_else(|| it.next()) {
                Some(v) => v,
                None => {
                    return Err(format!(
                        "`{name}` needs a value ({})\n{}",
                        flag.value(),
                        usage(accepted)
                    ));
                }
            };
            let number = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| format!("`{name}` expects a whole number, found `{v}`"))
            };
            match flag {
                Flag::Seed => out.seed = number(&value)?,
                Flag::Epochs => {
                    let n = number(&value)?;
                    if n == 0 {
                        return Err(format!("`{name}` must be at least 1, found 0"));
                    }
                    out.epochs = Some(n as usize);
                }
                Flag::Data => out.data = Some(PathBuf::from(value)),
            }
        }
        Ok(out)
    }

    /// The seed as NumPy takes it (`RandomState(seed)` needs `0 ≤ seed < 2³²`), for the examples
    /// that draw like scikit-learn.
    pub fn numpy_seed(&self) -> Result<u32> {
        u32::try_from(self.seed)
            .map_err(|_| dl::Error::config("--seed", "NumPy's seeds are below 2^32"))
    }

    /// Parses the process's arguments; on an error prints it and exits with status 2.
    pub fn from_env(accepted: &[Flag]) -> Args {
        Args::parse(std::env::args().skip(1), accepted).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2)
        })
    }
}

/// The project's copy of a data folder (`data/<name>` at the repository root).
pub fn project_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

/// Prints the closing lines: `train_seconds=<seconds>` then `<metric>=<value>`, so the metric is
/// the last line of the output.
pub fn finish(metric: &str, value: f64, train_time: Duration) {
    println!("train_seconds={:.3}", train_time.as_secs_f64());
    if metric.ends_with("accuracy") {
        println!("{metric}={value:.4}");
    } else {
        println!("{metric}={value:.3e}");
    }
}

/// The scikit-learn digits tutorial's split of `dir/digits.csv.gz`: rows whose index is a
/// multiple of 5 are the test set (360 rows), the rest train (1,437); both standardised with
/// the training split's statistics.
pub fn digits_split(dir: &Path) -> Result<(Dataset<Flat<64>>, Dataset<Flat<64>>)> {
    let all = csv::load::<64>(dir.join("digits.csv.gz"))?;
    let test_rows: Vec<usize> = (0..all.len()).filter(|i| i % 5 == 0).collect();
    let train_rows: Vec<usize> = (0..all.len()).filter(|i| i % 5 != 0).collect();
    let (mut train, mut test) = (all.subset(&train_rows), all.subset(&test_rows));
    let st = Standardizer::fit(&train);
    st.apply(&mut train);
    st.apply(&mut test);
    Ok((train, test))
}

/// A folder for what an example writes (checkpoints, curves, synthetic data):
/// `target/examples/<name>/` under the repository, created if needed.
pub fn output_dir(name: &str) -> Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/examples")
        .join(name);
    std::fs::create_dir_all(&dir).map_err(|e| dl::Error::io(&dir, e))?;
    Ok(dir)
}
