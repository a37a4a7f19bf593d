//! Small helpers shared by the classifiers: predicted classes, accuracy, one-hot targets.

use dl_core::data::Dataset;
use dl_core::prelude::*;

/// Index of the largest output of each sample: the predicted class (ties: the first).
///
/// ```
/// use dl_core::{Act, Flat};
/// let y = Act::<Flat<3>>::from_vec(vec![0.1, 0.7, 0.2, 3.0, -1.0, 2.0]).unwrap();
/// assert_eq!(dl_zoo::classify::argmax(&y), [1, 0]);
/// ```
pub fn argmax<const C: usize>(y: &Act<Flat<C>>) -> Vec<usize> {
    y.as_slice()
        .chunks_exact(C)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |m, (i, &v)| if v > m.1 { (i, v) } else { m },
                )
                .0
        })
        .collect()
}

/// Fraction of `data` whose largest model output (evaluation mode) is the label, computed in
/// batches of `batch` samples (at least 1).
///
/// ```
/// use dl_core::{data::Dataset, Flat, Model};
/// use dl_zoo::{classify::accuracy, mlp::DigitsMlp};
/// use rand::SeedableRng;
/// let mut net = DigitsMlp::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// let data = Dataset::<Flat<64>>::new(vec![0.0; 128], vec![3, 3], 10).unwrap();
/// let acc = accuracy(&mut net, &data, 32).unwrap();
/// assert!(acc == 0.0 || acc == 1.0); // both samples are the same
/// ```
pub fn accuracy<M: Model<Output = Flat<C>>, const C: usize>(
    model: &mut M,
    data: &Dataset<M::Input>,
    batch: usize,
) -> Result<f32> {
    let mut x = Act::<M::Input>::default();
    let mut right = 0;
    let size = <M::Input as Shape>::SIZE;
    for (xs, labels) in data
        .features()
        .chunks(batch.max(1) * size)
        .zip(data.labels().chunks(batch.max(1)))
    {
        x.fill_from_slice(xs)?;
        let pred = argmax(model.forward(&x));
        right += pred.iter().zip(labels).filter(|(p, l)| p == l).count();
    }
    Ok(right as f32 / data.len().max(1) as f32)
}

/// One-hot rows (`labels.len() × classes`) for least-squares or MSE classification targets.
///
/// ```
/// assert_eq!(dl_zoo::classify::one_hot(&[2, 0], 3), [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
/// ```
pub fn one_hot(labels: &[usize], classes: usize) -> Vec<f32> {
    let mut t = vec![0.0; labels.len() * classes];
    for (row, &l) in t.chunks_exact_mut(classes.max(1)).zip(labels) {
        if l < classes {
            row[l] = 1.0;
        }
    }
    t
}
