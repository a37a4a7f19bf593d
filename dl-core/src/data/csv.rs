//! CSV files of numeric features followed by an integer class label, raw or gzip-compressed.
//!
//! Each data line holds `F` feature values then the label (`F + 1` cells), separated by a
//! delimiter (`,` by default), read with the `csv` crate. Cells are trimmed; a cell wrapped in
//! double quotes is unwrapped.
//! Features must be finite numbers; the label a non-negative integer (`2` or `2.0`). Blank lines
//! are skipped. Line and column numbers in errors count from 1, over every line of the file.
//!
//! Header: with [`Header::Auto`] (the default) the first non-blank line is a header when one of
//! its cells does not parse as a number, so a header of column names is skipped and a file
//! without one loses no row. A header made only of numbers cannot be told from data: say
//! [`Header::Present`] (or [`Header::Absent`] to treat a non-numeric first line as an error).
//! A header line's cells are not counted or checked.
//!
//! The number of classes is the largest label plus one, unless fixed with
//! [`CsvOptions::classes`] (then a larger label is an error naming its line).
//!
//! ```
//! use dl_core::data::csv;
//! # fn main() -> dl_core::Result<()> {
//! // scikit-learn's iris: the header line is `150,4,setosa,versicolor,virginica`.
//! let iris = csv::load::<4>(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/iris/iris.csv"))?;
//! assert_eq!((iris.len(), iris.classes()), (150, 3));
//! assert_eq!(iris.sample(0), &[5.1, 3.5, 1.4, 0.2]);
//!
//! let err = csv::parse::<2>("1,2,0\n3,x,1\n", "inline.csv", &csv::CsvOptions::default()).unwrap_err();
//! assert_eq!(err.to_string(), "inline.csv: line 2, column 2: `x` is not a number");
//! # Ok(()) }
//! ```

use crate::data::Dataset;
use crate::data::read::read_maybe_gz;
use crate::error::{Error, Result};
use crate::tensor::Flat;
use std::path::Path;

/// Whether the file starts with a header line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Header {
    /// A header if the first non-blank line has a cell that is not a number.
    #[default]
    Auto,
    /// The first non-blank line is a header, whatever it holds.
    Present,
    /// Every non-blank line is data.
    Absent,
}

/// How to read a CSV file; `CsvOptions::default()` is: auto-detected header, `,`, classes from
/// the labels.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    /// Header handling.
    pub header: Header,
    /// Cell separator.
    pub delimiter: char,
    /// The number of classes; `None`: the largest label plus one.
    pub classes: Option<usize>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: Header::Auto,
            delimiter: ',',
            classes: None,
        }
    }
}

impl CsvOptions {
    /// Sets the header handling.
    pub fn header(mut self, header: Header) -> Self {
        self.header = header;
        self
    }

    /// Sets the cell separator (`;`, `\t`, …).
    pub fn delimiter(mut self, delimiter: char) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Fixes the number of classes; labels must be below it.
    pub fn classes(mut self, classes: usize) -> Self {
        self.classes = Some(classes);
        self
    }
}

/// Reads `path` (raw or gzip) with the default options: `F` features then the label per line.
pub fn load<const F: usize>(path: impl AsRef<Path>) -> Result<Dataset<Flat<F>>> {
    load_with(path, &CsvOptions::default())
}

/// Reads `path` (raw or gzip) with `options`.
pub fn load_with<const F: usize>(
    path: impl AsRef<Path>,
    options: &CsvOptions,
) -> Result<Dataset<Flat<F>>> {
    let path = path.as_ref();
    let bytes = read_maybe_gz(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::format(path, format!("not UTF-8 text: {e}")))?;
    parse(text, path, options)
}

/// The line (from 1) of the record starting at byte `start`. The reader reports a record's
/// start before the line breaks (and blank lines) that precede it, so these are skipped first.
fn line_of(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = start.min(bytes.len());
    while at < bytes.len() && bytes[at].is_ascii_whitespace() {
        at += 1;
    }
    1 + bytes[..at].iter().filter(|&&b| b == b'\n').count()
}

/// Parses CSV text; `path` only names the source in errors.
pub fn parse<const F: usize>(
    text: &str,
    path: impl AsRef<Path>,
    options: &CsvOptions,
) -> Result<Dataset<Flat<F>>> {
    let path = path.as_ref();
    let delimiter = u8::try_from(options.delimiter)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| {
            Error::config(
                "CSV delimiter",
                format!("must be an ASCII character, found `{}`", options.delimiter),
            )
        })?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let columns = F + 1;
    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut label_lines = Vec::new();
    let mut first = true;
    let mut record = ::csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let at = e.position().map_or(String::new(), |p| {
                    format!("line {}: ", line_of(text, p.byte() as usize))
                });
                return Err(Error::format(path, format!("{at}{e}")));
            }
        }
        let line_no = line_of(text, record.position().map_or(0, |p| p.byte() as usize));
        // A line of spaces is one empty cell: a blank line.
        if record.iter().all(str::is_empty) {
            continue;
        }
        let is_first = std::mem::take(&mut first);
        if is_first {
            let header = match options.header {
                Header::Present => true,
                Header::Absent => false,
                Header::Auto => record.iter().any(|cell| cell.parse::<f64>().is_err()),
            };
            if header {
                continue;
            }
        }
        let n = record.len();
        if n != columns {
            return Err(Error::format(
                path,
                format!(
                    "line {line_no}: expected {columns} columns ({F} features and the label), found {n}"
                ),
            ));
        }
        for (col, cell) in record.iter().enumerate() {
            let at = || format!("line {line_no}, column {}", col + 1);
            let value: f64 = cell
                .parse()
                .map_err(|_| Error::format(path, format!("{}: `{cell}` is not a number", at())))?;
            if !value.is_finite() {
                return Err(Error::format(
                    path,
                    format!("{}: `{cell}` is not a finite number", at()),
                ));
            }
            if col < F {
                features.push(value as f32);
            } else {
                if value < 0.0 || value.fract() != 0.0 || value > u32::MAX as f64 {
                    return Err(Error::format(
                        path,
                        format!(
                            "{}: label `{cell}` is not a class id (a non-negative integer)",
                            at()
                        ),
                    ));
                }
                labels.push(value as usize);
                label_lines.push(line_no);
            }
        }
    }
    if labels.is_empty() {
        return Err(Error::format(path, "no data rows"));
    }
    let max = labels.iter().copied().max().unwrap_or(0);
    let classes = options.classes.unwrap_or(max + 1);
    if let Some((i, &label)) = labels.iter().enumerate().find(|&(_, &l)| l >= classes) {
        return Err(Error::format(
            path,
            format!(
                "line {}: label {label} is out of range: expected 0..{classes}",
                label_lines[i]
            ),
        ));
    }
    Dataset::new(features, labels, classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data")
            .join(name)
    }

    #[test]
    fn iris_has_150_rows_3_balanced_classes_and_its_header_skipped() {
        let iris = load::<4>(data("iris/iris.csv")).expect("iris loads");
        assert_eq!((iris.len(), iris.classes()), (150, 3));
        let mut counts = [0; 3];
        iris.labels().iter().for_each(|&l| counts[l] += 1);
        assert_eq!(counts, [50, 50, 50]);
        assert_eq!(iris.sample(149), &[5.9, 3.0, 5.1, 1.8]);
    }

    #[test]
    fn iris_with_header_absent_reports_the_header_cell() {
        let opts = CsvOptions::default().header(Header::Absent);
        let err = load_with::<4>(data("iris/iris.csv"), &opts)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("iris.csv: line 1, column 3: `setosa` is not a number"),
            "{err}"
        );
    }

    #[test]
    fn digits_gz_has_1797_rows_of_64_features_0_to_16() {
        let digits = load::<64>(data("digits/digits.csv.gz")).expect("digits loads");
        assert_eq!((digits.len(), digits.classes()), (1797, 10));
        assert!(digits.features().iter().all(|&v| (0.0..=16.0).contains(&v)));
        assert_eq!(digits.labels()[..5], [0, 1, 2, 3, 4]);
    }

    #[test]
    fn numeric_header_needs_header_present_and_quotes_crlf_and_blank_lines_are_handled() {
        let text = "2,1\r\n\"0.5\", 1.5 ,0\r\n\r\n2,3,1\r\n";
        let auto = parse::<1>(text, "t.csv", &CsvOptions::default()).unwrap_err();
        assert_eq!(
            auto.to_string(),
            "t.csv: line 2: expected 2 columns (1 features and the label), found 3"
        );
        let ds = parse::<2>(
            "2,1,0\n\"0.5\", 1.5 ,0\n\n2,3,1\n",
            "t.csv",
            &CsvOptions::default().header(Header::Present),
        )
        .expect("parses");
        assert_eq!(
            (ds.features(), ds.labels()),
            (&[0.5, 1.5, 2.0, 3.0][..], &[0, 1][..])
        );
        let semi = parse::<2>(
            "1;2;1\n",
            "t.csv",
            &CsvOptions::default().delimiter(';').classes(4),
        )
        .expect("parses");
        assert_eq!(semi.classes(), 4);
    }

    #[test]
    fn bad_labels_and_non_finite_values_are_errors_with_their_line() {
        let opts = CsvOptions::default();
        let cases = [
            (
                "1,2,0\n1,2,1.5\n",
                "t.csv: line 2, column 3: label `1.5` is not a class id (a non-negative integer)",
            ),
            (
                "1,2,-1\n",
                "t.csv: line 1, column 3: label `-1` is not a class id (a non-negative integer)",
            ),
            (
                "1,nan,0\n",
                "t.csv: line 1, column 2: `nan` is not a finite number",
            ),
            ("\n\n", "t.csv: no data rows"),
        ];
        for (text, want) in cases {
            let err = parse::<2>(text, "t.csv", &opts).unwrap_err().to_string();
            assert_eq!(err, want);
        }
        let fixed = CsvOptions::default().classes(2);
        let err = parse::<2>("1,2,0\n\n1,2,2\n", "t.csv", &fixed)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "t.csv: line 3: label 2 is out of range: expected 0..2");
    }
}
