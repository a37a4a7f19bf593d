//! The whole training API on iris: `fit` with a validation split, accuracy, early stopping that
//! restores the best weights, a best-only checkpoint, a cosine learning-rate schedule; then the
//! history as CSV and curves, and `evaluate` on a held-out test split.
//!
//! ```sh
//! cargo run --release --example train_iris -- --out /tmp/iris   # files go to --out (default: a temp folder)
//! ```
//! Progress is a bar per epoch on a terminal, one line per epoch otherwise. The last line is
//! `test_accuracy=<value>`.

use dl::data::{Dataset, Standardizer, csv};
use dl::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::path::PathBuf;

sequential! {
    /// 4 measurements → 3 species.
    pub struct IrisMlp: [4] -> [3] {
        Dense<16, activation = ReLU>,
        Dense<3>,
    }
}

fn main() -> dl::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| std::env::temp_dir().join("dl_train_iris"), PathBuf::from);
    std::fs::create_dir_all(&out).map_err(|e| dl::Error::io(&out, e))?;

    // Iris is sorted by species: shuffle once, keep 30 samples for the final test.
    let all = csv::load::<4>(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris/iris.csv"))?;
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(0));
    let (mut train, mut test): (Dataset<Flat<4>>, _) = all.subset(&order).split_at(120);
    let st = Standardizer::fit(&train);
    st.apply(&mut train);
    st.apply(&mut test);

    let best = out.join("best.safetensors");
    let config = FitConfig::new()
        .epochs(100)
        .batch_size(16)
        .shuffle(1)
        .validation_split(0.2)
        .metrics(&[Metric::Accuracy])
        .callback(Box::new(CosineAnnealingLr::new(100).eta_min(1e-3)))
        .callback(Box::new(
            EarlyStopping::new()
                .patience(10)
                .min_delta(1e-3)
                .restore_best_weights(true),
        ))
        .callback(Box::new(
            ModelCheckpoint::new(best.to_string_lossy()).save_best_only(true),
        ));
    let mut model = IrisMlp::new(&mut StdRng::seed_from_u64(2));
    println!("{}", model.summary());
    let mut sgd = Sgd::new(0.05).momentum(0.9);
    let history = model.fit(&train, &config, &mut sgd, CrossEntropy)?;
    history.write_csv(out.join("history.csv"))?;
    history.plot(out.join("curves.png"))?;
    history.plot(out.join("curves.svg"))?;
    println!(
        "trained {} epochs (best: {:?}); wrote {}",
        history.epochs(),
        history.best_epoch().map(|e| e + 1),
        out.display()
    );
    let eval = model.evaluate(&test, &config, CrossEntropy)?;
    println!("test_loss={}", eval.loss);
    println!("test_accuracy={}", eval.accuracy().unwrap_or(f32::NAN));
    Ok(())
}
