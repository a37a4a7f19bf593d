//! CIFAR-10 in its binary format.
//!
//! A folder holds `data_batch_1.bin` … `data_batch_5.bin` (training) and `test_batch.bin`. Each
//! file is a sequence of 3,073-byte records: one label byte (0–9), then 3,072 pixel bytes, the
//! 1,024 red values of the 32×32 image row by row, then green, then blue (channel-major, the
//! PyTorch `[3, 32, 32]` layout). Pixels are returned raw as `f32` in 0–255.
//!
//! [`write_synthetic`] and [`write_synthetic_dir`] write small files in the same format, with a
//! learnable class-dependent pattern, so examples and tests run without the 163 MB download.
//!
//! ```
//! use rand::SeedableRng;
//! # fn main() -> dl_core::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! dl_core::data::cifar::write_synthetic_dir(dir.path(), 20, &mut rng)?;
//! let (train, test) = dl_core::data::cifar::load(dir.path())?;
//! assert_eq!((train.len(), test.len(), train.classes()), (100, 20, 10));
//! # Ok(()) }
//! ```

use crate::data::Dataset;
use crate::data::read::read_maybe_gz;
use crate::error::{Error, Result};
use crate::tensor::Chw;
use rand::Rng;
use std::path::Path;

/// One CIFAR image as a `[3, 32, 32]` sample.
pub type Image = Chw<3, 32, 32>;
/// Pixel bytes per image.
pub const PIXELS: usize = 3 * 32 * 32;
/// Bytes per record: the label byte and the pixels.
pub const RECORD: usize = 1 + PIXELS;
/// Number of classes.
pub const CLASSES: usize = 10;
/// The training batch files, in order.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch file.
pub const TEST_FILE: &str = "test_batch.bin";
/// Class names, by label.
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The training split (the five `data_batch_N.bin`, in order) and the test split
/// (`test_batch.bin`) of the CIFAR-10 files in `dir`.
pub fn load(dir: impl AsRef<Path>) -> Result<(Dataset<Image>, Dataset<Image>)> {
    let dir = dir.as_ref();
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for name in TRAIN_FILES {
        read_records(&dir.join(name), &mut features, &mut labels)?;
    }
    let train = Dataset::new(features, labels, CLASSES)?;
    let test = load_batch(dir.join(TEST_FILE))?;
    Ok((train, test))
}

/// The records of one batch file (raw or gzip).
pub fn load_batch(path: impl AsRef<Path>) -> Result<Dataset<Image>> {
    let mut features = Vec::new();
    let mut labels = Vec::new();
    read_records(path.as_ref(), &mut features, &mut labels)?;
    Dataset::new(features, labels, CLASSES)
}

/// Appends the records of `path` to `features` and `labels`, checking size and labels.
fn read_records(path: &Path, features: &mut Vec<f32>, labels: &mut Vec<usize>) -> Result<()> {
    let bytes = read_maybe_gz(path)?;
    if bytes.is_empty() {
        return Err(Error::format(
            path,
            "empty file: expected records of 3073 bytes",
        ));
    }
    if bytes.len() % RECORD != 0 {
        return Err(Error::format(
            path,
            format!(
                "truncated file: {} bytes is not a whole number of {RECORD}-byte records ({} records and {} bytes left over)",
                bytes.len(),
                bytes.len() / RECORD,
                bytes.len() % RECORD
            ),
        ));
    }
    features.reserve(bytes.len() / RECORD * PIXELS);
    for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = usize::from(record[0]);
        if label >= CLASSES {
            return Err(Error::format(
                path,
                format!("label {label} of record {i} is out of range: expected 0..{CLASSES}"),
            ));
        }
        labels.push(label);
        features.extend(record[1..].iter().map(|&b| f32::from(b)));
    }
    Ok(())
}

/// The bytes of `labels.len()` records built from `pixels` (`labels.len() × 3072` bytes).
pub fn encode(labels: &[u8], pixels: &[u8]) -> Result<Vec<u8>> {
    if pixels.len() != labels.len() * PIXELS {
        return Err(Error::size(
            "CIFAR records",
            format!(
                "{} pixel bytes for {} labels",
                labels.len() * PIXELS,
                labels.len()
            ),
            format!("{} pixel bytes", pixels.len()),
        ));
    }
    let mut out = Vec::with_capacity(labels.len() * RECORD);
    for (&l, px) in labels.iter().zip(pixels.chunks_exact(PIXELS)) {
        out.push(l);
        out.extend_from_slice(px);
    }
    Ok(out)
}

/// Writes `n` synthetic records in the CIFAR-10 binary format to `path`.
///
/// Class `k` is a learnable pattern: a base colour from `k`, a bright horizontal bar whose row
/// depends on `k`, and uniform noise (±30) on every pixel. Labels cycle 0, 1, …, 9.
pub fn write_synthetic<R: Rng + ?Sized>(
    path: impl AsRef<Path>,
    n: usize,
    rng: &mut R,
) -> Result<()> {
    let path = path.as_ref();
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * PIXELS);
    for i in 0..n {
        let k = i % CLASSES;
        labels.push(k as u8);
        for c in 0..3 {
            let base = 30.0 + 15.0 * ((k * (c + 1) * 3) % 10) as f32;
            for y in 0..32 {
                let bar = if y / 3 == k { 80.0 } else { 0.0 };
                for _x in 0..32 {
                    let v = base + bar + rng.random_range(-30.0f32..30.0);
                    pixels.push(v.clamp(0.0, 255.0) as u8);
                }
            }
        }
    }
    let bytes = encode(&labels, &pixels)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Writes the six CIFAR-10 files into `dir` (created if needed), each with `per_file` synthetic
/// records (see [`write_synthetic`]), so [`load`] reads them like the real data.
pub fn write_synthetic_dir<R: Rng + ?Sized>(
    dir: impl AsRef<Path>,
    per_file: usize,
    rng: &mut R,
) -> Result<()> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for name in TRAIN_FILES.iter().chain(std::iter::once(&TEST_FILE)) {
        write_synthetic(dir.join(name), per_file, rng)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn records_are_read_channel_major_with_their_labels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.bin");
        let labels = [3u8, 9];
        let pixels: Vec<u8> = (0..2 * PIXELS).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, encode(&labels, &pixels).expect("encode")).expect("write");
        let ds = load_batch(&path).expect("loads");
        assert_eq!(ds.labels(), &[3, 9]);
        // Sample 1, channel 2 (blue), row 5, column 7.
        let at = PIXELS + 2 * 1024 + 5 * 32 + 7;
        assert_eq!(ds.sample(1)[2 * 1024 + 5 * 32 + 7], (at % 251) as f32);
    }

    #[test]
    fn synthetic_classes_are_separable_by_their_mean_colour() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let path = dir.path().join("s.bin");
        write_synthetic(&path, 30, &mut rng).expect("writes");
        let ds = load_batch(&path).expect("loads");
        assert_eq!(ds.len(), 30);
        assert_eq!(&ds.labels()[..12], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
        // The bar row of class k is brighter than the rest of the image.
        for i in 0..ds.len() {
            let k = ds.labels()[i];
            let s = ds.sample(i);
            let row_mean = |y: usize| s[y * 32..(y + 1) * 32].iter().sum::<f32>() / 32.0;
            let other = if k == 0 { 31 } else { 0 };
            assert!(row_mean(3 * k) > row_mean(other) + 40.0, "sample {i}");
        }
    }
}
