//! `History`: its CSV, its PNG and SVG curves, and the progress line printed per epoch when
//! standard error is not a terminal.

use dl_core::data::Dataset;
use dl_core::loss::CrossEntropy;
use dl_core::optim::Sgd;
use dl_core::train::progress::epoch_line;
use dl_core::train::{Fit, FitConfig, History, Logs, Metric, Verbosity};
use dl_core::{Flat, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;

dl_core::sequential! {
    /// Two features, two classes.
    pub struct Tiny: [2] -> [2] {
        Dense<8, activation = Tanh>,
        Dense<2>,
    }
}

/// A short fit with validation and accuracy.
fn history() -> Result<History> {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..60 {
        let c = i % 2;
        let s = if c == 0 { -1.0 } else { 1.0 };
        let j = (i as f32 * 0.7).sin() * 0.8;
        x.extend_from_slice(&[s + j, s - j]);
        y.push(c);
    }
    let data = Dataset::<Flat<2>>::new(x, y, 2)?;
    let config = FitConfig::new()
        .epochs(4)
        .batch_size(10)
        .validation_split(0.25)
        .metrics(&[Metric::Accuracy])
        .verbose(Verbosity::Silent);
    let mut model = Tiny::new(&mut StdRng::seed_from_u64(0));
    model.fit(&data, &config, &mut Sgd::new(0.1), CrossEntropy)
}

#[test]
fn csv_has_a_header_and_one_row_per_epoch_with_the_logged_values() -> Result<()> {
    let h = history()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("history.csv");
    h.write_csv(&path)?;
    let text = std::fs::read_to_string(&path).expect("written");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "epoch,loss,accuracy,val_loss,val_accuracy,lr");
    assert_eq!(lines.len(), 5);
    for (e, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], e.to_string());
        for (name, cell) in h.names().iter().zip(&cells[1..]) {
            let v: f32 = cell.parse().expect("a number");
            assert_eq!(v, h.get(name).expect("column")[e], "{name} at epoch {e}");
        }
    }
    // The values are real: the loss falls, accuracy is a share of 45 or 15 samples.
    let loss = h.get("loss").expect("loss");
    assert!(loss[3] < loss[0]);
    let acc = h.get("val_accuracy").expect("val_accuracy");
    assert!(
        acc.iter()
            .all(|a| (a * 15.0 - (a * 15.0).round()).abs() < 1e-4)
    );
    Ok(())
}

#[test]
fn plots_write_png_and_svg_with_one_curve_per_series() -> Result<()> {
    let h = history()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("curves.png");
    h.plot(&png)?;
    let bytes = std::fs::read(&png).expect("written");
    assert!(bytes.len() > 1000, "{} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let svg = dir.path().join("curves.SVG");
    h.plot(&svg)?;
    let text = std::fs::read_to_string(&svg).expect("written");
    // Loss and accuracy panels, each with a training (blue) and a validation (red) line of one
    // point per epoch (legend samples have two points; axes and grid are black).
    let curves: Vec<(&str, usize)> = text
        .split("<polyline")
        .skip(1)
        .filter_map(|tag| {
            let stroke = tag.split("stroke=\"").nth(1)?.split('"').next()?;
            let points = tag.split("points=\"").nth(1)?.split('"').next()?;
            Some((stroke, points.split_whitespace().count()))
        })
        .filter(|&(stroke, points)| stroke != "#000000" && points == 4)
        .collect();
    assert_eq!(
        curves,
        [
            ("#0000FF", 4),
            ("#FF0000", 4),
            ("#0000FF", 4),
            ("#FF0000", 4)
        ],
        "{text}"
    );
    let err = h
        .plot(dir.path().join("curves.jpg"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid plot file name: `")
            && err.ends_with("curves.jpg` must end in .png or .svg"),
        "{err}"
    );
    Ok(())
}

#[test]
fn the_progress_line_names_every_value() {
    let logs = Logs::new(vec![
        ("loss".into(), 0.612_345),
        ("accuracy".into(), 0.5),
        ("val_loss".into(), 0.5),
        ("val_accuracy".into(), 0.75),
        ("lr".into(), 0.001),
    ]);
    assert_eq!(
        epoch_line(0, 3, &logs, 2.0, 60_000),
        "epoch 1/3 - 2.00s - 30000 samples/s - loss: 0.6123 - accuracy: 0.5000 \
         - val_loss: 0.5000 - val_accuracy: 0.7500 - lr: 0.001"
    );
}
