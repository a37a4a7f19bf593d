//! MNIST in its original IDX format, raw or gzip-compressed.
//!
//! A folder holds the four standard files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//! `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each either under that name or with a
//! `.gz` suffix. Compression is detected from the gzip magic number, not from the name.
//!
//! IDX layout (big-endian): images start with the magic number `0x00000803` (unsigned bytes, 3
//! dimensions), then the image count, rows and columns, then one byte per pixel, row-major;
//! labels start with `0x00000801`, then the count, then one byte per label.
//!
//! Pixels are returned raw as `f32` in 0–255; normalise with [`crate::data::normalize`].
//! One parser serves both sample shapes: images (`Chw<1, 28, 28>`, for convolutional networks,
//! [`load`]) and flat vectors (`Flat<784>`, for MLPs, [`load_flat`]); [`load_as`] accepts any
//! shape of 784 values and rejects others at compile time.
//!
//! ```
//! # fn main() -> dl_core::Result<()> {
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/mnist-10k");
//! let (train, test) = dl_core::data::mnist::load_flat(dir)?;
//! assert_eq!((train.len(), test.len(), train.classes()), (8000, 1000, 10));
//! assert!(train.features().iter().all(|&p| (0.0..=255.0).contains(&p)));
//! # Ok(()) }
//! ```

use crate::data::Dataset;
use crate::data::read::read_maybe_gz;
use crate::error::{Error, Result};
use crate::tensor::{Chw, Flat, Shape};
use std::path::{Path, PathBuf};

/// File name of the training images (optionally with `.gz`).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// File name of the training labels (optionally with `.gz`).
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// File name of the test images (optionally with `.gz`).
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// File name of the test labels (optionally with `.gz`).
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Image side in pixels.
pub const SIDE: usize = 28;
/// Number of classes (digits 0–9).
pub const CLASSES: usize = 10;

/// One MNIST image as a `[1, 28, 28]` sample.
pub type Image = Chw<1, 28, 28>;

/// The training and test splits of the MNIST files in `dir`, as `[1, 28, 28]` images.
pub fn load(dir: impl AsRef<Path>) -> Result<(Dataset<Image>, Dataset<Image>)> {
    load_as(dir)
}

/// The training and test splits of the MNIST files in `dir`, as flat 784-value vectors (for MLPs).
pub fn load_flat(dir: impl AsRef<Path>) -> Result<(Dataset<Flat<784>>, Dataset<Flat<784>>)> {
    load_as(dir)
}

/// The training and test splits of the MNIST files in `dir`, with samples of shape `S`; `S` must
/// hold 784 values (checked at compile time).
pub fn load_as<S: Shape>(dir: impl AsRef<Path>) -> Result<(Dataset<S>, Dataset<S>)> {
    const {
        assert!(
            S::SIZE == SIDE * SIDE,
            "MNIST samples hold 784 = 1×28×28 values"
        )
    };
    let dir = dir.as_ref();
    let train = load_pair(&find(dir, TRAIN_IMAGES)?, &find(dir, TRAIN_LABELS)?)?;
    let test = load_pair(&find(dir, TEST_IMAGES)?, &find(dir, TEST_LABELS)?)?;
    Ok((train, test))
}

/// One split from an images file and a labels file (raw or gzip), checking that the counts agree.
pub fn load_pair<S: Shape>(images: &Path, labels: &Path) -> Result<Dataset<S>> {
    const {
        assert!(
            S::SIZE == SIDE * SIDE,
            "MNIST samples hold 784 = 1×28×28 values"
        )
    };
    let (count, pixels) = read_images(images)?;
    let labels_vec = read_labels(labels)?;
    if count != labels_vec.len() {
        return Err(Error::format(
            images,
            format!(
                "holds {count} images but `{}` holds {} labels",
                labels.display(),
                labels_vec.len()
            ),
        ));
    }
    Dataset::new(pixels, labels_vec, CLASSES)
}

/// `dir/name` if it exists, else `dir/name.gz`; a not-found error naming both otherwise.
fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(Error::io(
        gz,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("file not found (nor `{name}` without `.gz`)"),
        ),
    ))
}

/// Big-endian `u32` at `at`; the caller has checked the length.
fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks the header length and magic number of an IDX file; returns the announced count.
fn check_header(path: &Path, bytes: &[u8], header: usize, magic: u32, what: &str) -> Result<usize> {
    let truncated = || {
        Error::format(
            path,
            format!(
                "truncated header: expected {header} bytes, found {}",
                bytes.len()
            ),
        )
    };
    if bytes.len() < 4 {
        return Err(truncated());
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(Error::format(
            path,
            format!("wrong magic number {found:#010x}: expected {magic:#010x} ({what})"),
        ));
    }
    if bytes.len() < header {
        return Err(truncated());
    }
    Ok(be_u32(bytes, 4) as usize)
}

/// Checks that the body after the header has exactly `expected` bytes.
fn check_body(path: &Path, found: usize, expected: usize, what: &str) -> Result<()> {
    if found != expected {
        let hint = if found < expected {
            "truncated file"
        } else {
            "trailing bytes"
        };
        return Err(Error::format(
            path,
            format!("{hint}: the header announces {what} ({expected} bytes), found {found} bytes"),
        ));
    }
    Ok(())
}

/// Reads an IDX images file of 28×28 images: the image count and the pixels as `f32` 0–255.
pub fn read_images(path: &Path) -> Result<(usize, Vec<f32>)> {
    let bytes = read_maybe_gz(path)?;
    let count = check_header(
        path,
        &bytes,
        16,
        IMAGES_MAGIC,
        "IDX images, unsigned bytes, 3 dimensions",
    )?;
    let (rows, cols) = (be_u32(&bytes, 8) as usize, be_u32(&bytes, 12) as usize);
    if (rows, cols) != (SIDE, SIDE) {
        return Err(Error::format(
            path,
            format!("expected {SIDE}×{SIDE} images, found {rows}×{cols}"),
        ));
    }
    let body = &bytes[16..];
    let expected = count.checked_mul(SIDE * SIDE).ok_or_else(|| {
        Error::format(
            path,
            format!("image count {count} in the header is too large"),
        )
    })?;
    check_body(
        path,
        body.len(),
        expected,
        &format!("{count} images of {SIDE}×{SIDE}"),
    )?;
    Ok((count, body.iter().map(|&b| f32::from(b)).collect()))
}

/// Reads an IDX labels file; every label must be a digit 0–9.
pub fn read_labels(path: &Path) -> Result<Vec<usize>> {
    let bytes = read_maybe_gz(path)?;
    let count = check_header(
        path,
        &bytes,
        8,
        LABELS_MAGIC,
        "IDX labels, unsigned bytes, 1 dimension",
    )?;
    let body = &bytes[8..];
    check_body(path, body.len(), count, &format!("{count} labels"))?;
    if let Some((i, &l)) = body
        .iter()
        .enumerate()
        .find(|&(_, &l)| usize::from(l) >= CLASSES)
    {
        return Err(Error::format(
            path,
            format!("label {l} at position {i} is out of range: expected 0..{CLASSES}"),
        ));
    }
    Ok(body.iter().map(|&l| usize::from(l)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mnist_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist-10k")
    }

    #[test]
    fn real_files_have_the_documented_sizes_labels_and_pixel_range() {
        let (train, test) = load(mnist_dir()).expect("mnist-10k loads");
        assert_eq!(train.len(), 8000);
        assert_eq!(test.len(), 1000);
        for ds in [&train, &test] {
            assert_eq!(ds.classes(), 10);
            assert!(ds.labels().iter().all(|&l| l < 10));
            let (lo, hi) = ds
                .features()
                .iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
            assert_eq!((lo, hi), (0.0, 255.0));
            assert!(ds.features().iter().all(|p| p.fract() == 0.0));
        }
        // Every digit occurs in the training split, roughly 800 times each.
        let mut counts = [0usize; 10];
        train.labels().iter().for_each(|&l| counts[l] += 1);
        assert!(
            counts.iter().all(|&c| (600..1000).contains(&c)),
            "{counts:?}"
        );
        // A digit has ink in the middle and none in the corners (mean over the test split).
        let n = test.len() as f32;
        let mean_at = |r: usize, c: usize| {
            (0..test.len())
                .map(|i| test.sample(i)[r * 28 + c])
                .sum::<f32>()
                / n
        };
        assert_eq!(mean_at(0, 0), 0.0);
        assert!(mean_at(14, 14) > 50.0);
    }

    #[test]
    fn flat_and_image_shapes_hold_the_same_values() {
        let (img, _) = load(mnist_dir()).expect("loads");
        let (flat, _) = load_flat(mnist_dir()).expect("loads");
        assert_eq!(img.features(), flat.features());
        assert_eq!(img.labels(), flat.labels());
    }
}
