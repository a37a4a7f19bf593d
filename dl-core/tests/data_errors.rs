//! Every bad-input case of the loaders gives a typed error naming the file and what is wrong,
//! on small files written here; and small valid files load with the right values.

use dl_core::Error;
use dl_core::data::{cifar, csv, mnist};
use flate2::{Compression, write::GzEncoder};
use std::io::Write;
use std::path::{Path, PathBuf};

/// IDX images: magic, count, rows, cols, then pixels.
fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [mnist::IMAGES_MAGIC, count, rows, cols] {
        v.extend(x.to_be_bytes());
    }
    v.extend_from_slice(pixels);
    v
}

/// IDX labels: magic, count, then labels.
fn idx_labels(count: u32, labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [mnist::LABELS_MAGIC, count] {
        v.extend(x.to_be_bytes());
    }
    v.extend_from_slice(labels);
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).expect("compress");
    e.finish().expect("compress")
}

/// Pixels of `n` images whose pixel `j` of image `i` is `(i + j) % 256`.
fn pixels(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| (0..784).map(move |j| ((i + j) % 256) as u8))
        .collect()
}

/// A folder with the four MNIST files (train: 3 images, test: 2), `gzip` or raw; `edit` may
/// replace any file's bytes before they are written.
fn mnist_dir(gzip: bool, edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        (mnist::TRAIN_IMAGES, idx_images(3, 28, 28, &pixels(3))),
        (mnist::TRAIN_LABELS, idx_labels(3, &[7, 0, 9])),
        (mnist::TEST_IMAGES, idx_images(2, 28, 28, &pixels(2))),
        (mnist::TEST_LABELS, idx_labels(2, &[1, 2])),
    ];
    for (name, bytes) in files {
        let bytes = edit(name, bytes);
        if gzip {
            std::fs::write(dir.path().join(format!("{name}.gz")), gz(&bytes)).expect("write");
        } else {
            std::fs::write(dir.path().join(name), bytes).expect("write");
        }
    }
    dir
}

fn file(dir: &tempfile::TempDir, name: &str, gzip: bool) -> PathBuf {
    dir.path().join(if gzip {
        format!("{name}.gz")
    } else {
        name.to_string()
    })
}

#[test]
fn small_mnist_files_load_raw_and_gzipped_with_their_values() {
    for gzip in [false, true] {
        let dir = mnist_dir(gzip, |_, b| b);
        let (train, test) = mnist::load(dir.path()).expect("loads");
        assert_eq!((train.len(), test.len()), (3, 2));
        assert_eq!(train.labels(), &[7, 0, 9]);
        assert_eq!(test.labels(), &[1, 2]);
        assert_eq!(train.sample(2)[..3], [2.0, 3.0, 4.0]);
        assert_eq!(train.sample(2)[783], ((2 + 783) % 256) as f32);
        let (flat, _) = mnist::load_flat(dir.path()).expect("loads");
        assert_eq!(flat.features(), train.features());
    }
}

#[test]
fn mnist_missing_file() {
    let dir = mnist_dir(true, |_, b| b);
    std::fs::remove_file(file(&dir, mnist::TEST_LABELS, true)).expect("remove");
    let err = mnist::load(dir.path()).unwrap_err();
    let want = file(&dir, mnist::TEST_LABELS, true);
    assert!(
        matches!(err, Error::Io { ref path, ref source } if *path == want && source.kind() == std::io::ErrorKind::NotFound)
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: file not found (nor `t10k-labels-idx1-ubyte` without `.gz`)",
            want.display()
        )
    );
}

#[test]
fn mnist_wrong_magic_number() {
    // Labels where the images should be.
    let dir = mnist_dir(false, |name, b| {
        if name == mnist::TRAIN_IMAGES {
            idx_labels(3, &[1, 2, 3])
        } else {
            b
        }
    });
    let err = mnist::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Format { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: wrong magic number 0x00000801: expected 0x00000803 (IDX images, unsigned bytes, 3 dimensions)",
            file(&dir, mnist::TRAIN_IMAGES, false).display()
        )
    );
}

#[test]
fn mnist_truncated_images_labels_and_header_raw_and_gzipped() {
    for gzip in [false, true] {
        let dir = mnist_dir(gzip, |name, mut b| {
            if name == mnist::TRAIN_IMAGES {
                b.truncate(b.len() - 100);
            }
            b
        });
        let err = mnist::load(dir.path()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: truncated file: the header announces 3 images of 28×28 (2352 bytes), found 2252 bytes",
                file(&dir, mnist::TRAIN_IMAGES, gzip).display()
            )
        );
        let dir = mnist_dir(gzip, |name, mut b| {
            if name == mnist::TEST_LABELS {
                b.truncate(9);
            }
            b
        });
        let err = mnist::load(dir.path()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: truncated file: the header announces 2 labels (2 bytes), found 1 bytes",
                file(&dir, mnist::TEST_LABELS, gzip).display()
            )
        );
        let dir = mnist_dir(gzip, |name, mut b| {
            if name == mnist::TEST_IMAGES {
                b.truncate(10);
            }
            b
        });
        let err = mnist::load(dir.path()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: truncated header: expected 16 bytes, found 10",
                file(&dir, mnist::TEST_IMAGES, gzip).display()
            )
        );
    }
}

#[test]
fn mnist_truncated_gzip_stream() {
    let dir = mnist_dir(true, |_, b| b);
    let path = file(&dir, mnist::TRAIN_IMAGES, true);
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
    let err = mnist::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: corrupt gzip data: ", path.display())),
        "{err}"
    );
}

#[test]
fn mnist_trailing_bytes_and_wrong_image_size() {
    let dir = mnist_dir(false, |name, mut b| {
        if name == mnist::TRAIN_LABELS {
            b.push(3);
        }
        b
    });
    let err = mnist::load(dir.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: trailing bytes: the header announces 3 labels (3 bytes), found 4 bytes",
            file(&dir, mnist::TRAIN_LABELS, false).display()
        )
    );
    let dir = mnist_dir(false, |name, b| {
        if name == mnist::TEST_IMAGES {
            idx_images(1, 32, 32, &[0; 1024])
        } else {
            b
        }
    });
    let err = mnist::load(dir.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: expected 28×28 images, found 32×32",
            file(&dir, mnist::TEST_IMAGES, false).display()
        )
    );
}

#[test]
fn mnist_label_out_of_range() {
    let dir = mnist_dir(true, |name, b| {
        if name == mnist::TRAIN_LABELS {
            idx_labels(3, &[7, 10, 9])
        } else {
            b
        }
    });
    let err = mnist::load(dir.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: label 10 at position 1 is out of range: expected 0..10",
            file(&dir, mnist::TRAIN_LABELS, true).display()
        )
    );
}

#[test]
fn mnist_image_count_differs_from_label_count() {
    let dir = mnist_dir(false, |name, b| {
        if name == mnist::TRAIN_LABELS {
            idx_labels(2, &[7, 0])
        } else {
            b
        }
    });
    let err = mnist::load(dir.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: holds 3 images but `{}` holds 2 labels",
            file(&dir, mnist::TRAIN_IMAGES, false).display(),
            file(&dir, mnist::TRAIN_LABELS, false).display()
        )
    );
}

/// One CIFAR record: label then 3072 pixels of value `fill`.
fn record(label: u8, fill: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend(std::iter::repeat_n(fill, cifar::PIXELS));
    r
}

fn cifar_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (k, name) in cifar::TRAIN_FILES.iter().enumerate() {
        let bytes = [record(k as u8, 10), record(9, 20)].concat();
        std::fs::write(dir.path().join(name), bytes).expect("write");
    }
    std::fs::write(dir.path().join(cifar::TEST_FILE), record(5, 30)).expect("write");
    dir
}

#[test]
fn small_cifar_files_load_in_order() {
    let dir = cifar_dir();
    let (train, test) = cifar::load(dir.path()).expect("loads");
    assert_eq!(train.labels(), &[0, 9, 1, 9, 2, 9, 3, 9, 4, 9]);
    assert_eq!(test.labels(), &[5]);
    assert!(train.sample(1).iter().all(|&v| v == 20.0));
    assert!(test.sample(0).iter().all(|&v| v == 30.0));
    // gzip is detected too.
    let path = dir.path().join("test_batch.bin.gz");
    std::fs::write(&path, gz(&record(4, 1))).expect("write");
    assert_eq!(cifar::load_batch(&path).expect("loads").labels(), &[4]);
}

#[test]
fn cifar_missing_truncated_empty_and_bad_label() {
    let dir = cifar_dir();
    let p4 = dir.path().join("data_batch_4.bin");
    std::fs::remove_file(&p4).expect("remove");
    let err = cifar::load(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Io { ref path, .. } if *path == p4));

    let dir = cifar_dir();
    let p2 = dir.path().join("data_batch_2.bin");
    let mut bytes = std::fs::read(&p2).expect("read");
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&p2, &bytes).expect("write");
    assert_eq!(
        cifar::load(dir.path()).unwrap_err().to_string(),
        format!(
            "{}: truncated file: 6145 bytes is not a whole number of 3073-byte records (1 records and 3072 bytes left over)",
            p2.display()
        )
    );

    std::fs::write(&p2, []).expect("write");
    assert_eq!(
        cifar::load(dir.path()).unwrap_err().to_string(),
        format!(
            "{}: empty file: expected records of 3073 bytes",
            p2.display()
        )
    );

    let pt = dir.path().join(cifar::TEST_FILE);
    std::fs::write(&pt, [record(3, 0), record(12, 0)].concat()).expect("write");
    assert_eq!(
        cifar::load_batch(&pt).unwrap_err().to_string(),
        format!(
            "{}: label 12 of record 1 is out of range: expected 0..10",
            pt.display()
        )
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn csv_cell_that_is_not_a_number_names_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "a.csv", "f1,f2,label\n1,2,0\n\n3,4x,1\n");
    let err = csv::load::<2>(&path).unwrap_err();
    assert!(matches!(err, Error::Format { ref path, .. } if path.ends_with("a.csv")));
    assert_eq!(
        err.to_string(),
        format!("{}: line 4, column 2: `4x` is not a number", path.display())
    );
}

#[test]
fn csv_wrong_column_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "b.csv", "1,2,3,0\n1,2,3,1\n1,2,1\n");
    assert_eq!(
        csv::load::<3>(&path).unwrap_err().to_string(),
        format!(
            "{}: line 3: expected 4 columns (3 features and the label), found 3",
            path.display()
        )
    );
    // Declaring the wrong feature count is caught on the first line.
    assert_eq!(
        csv::load::<4>(&path).unwrap_err().to_string(),
        format!(
            "{}: line 1: expected 5 columns (4 features and the label), found 4",
            path.display()
        )
    );
}

#[test]
fn csv_label_out_of_range_missing_file_and_gzip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "c.csv", "0.5,0\n0.25,3\n");
    let opts = csv::CsvOptions::default().classes(3);
    assert_eq!(
        csv::load_with::<1>(&path, &opts).unwrap_err().to_string(),
        format!(
            "{}: line 2: label 3 is out of range: expected 0..3",
            path.display()
        )
    );
    let ds = csv::load::<1>(&path).expect("classes from the labels");
    assert_eq!((ds.classes(), ds.features()), (4, &[0.5, 0.25][..]));

    let missing = dir.path().join("none.csv");
    let err = csv::load::<1>(&missing).unwrap_err();
    assert!(matches!(err, Error::Io { ref path, .. } if *path == missing));

    let gz_path = dir.path().join("d.csv.gz");
    std::fs::write(&gz_path, gz(b"h1,label\n7,1\n")).expect("write");
    let ds = csv::load::<1>(&gz_path).expect("gzip csv");
    assert_eq!((ds.features(), ds.labels()), (&[7.0][..], &[1][..]));
}
