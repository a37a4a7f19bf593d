//! Multi-layer perceptrons (Rumelhart, Hinton and Williams, "Learning representations by
//! back-propagating errors", Nature 323, 1986) in the sizes the tutorials use.

use dl_core::prelude::*;

sequential! {
    /// The scikit-learn digits MLP: 64 inputs (8×8 images), 128 ReLU units, 10 classes
    /// (`MLPClassifier(hidden_layer_sizes=(128,))`).
    ///
    /// PyTorch: `nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))`.
    ///
    /// ```
    /// use dl_core::{Act, Flat, Model};
    /// use dl_zoo::mlp::DigitsMlp;
    /// use rand::SeedableRng;
    /// let mut net = DigitsMlp::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    /// assert_eq!(net.forward(&Act::<Flat<64>>::zeros(3)).batch(), 3);
    /// assert_eq!(DigitsMlp::PARAMS, 9_610);
    /// ```
    pub struct DigitsMlp: [64] -> [10] {
        Dense<128>, ReLU,
        Dense<10>,
    }

    /// The MNIST MLP 784-128-10 with ReLU (PyTorch and scikit-learn tutorials).
    ///
    /// PyTorch: `nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))`.
    ///
    /// ```
    /// use dl_zoo::mlp::MnistMlp;
    /// assert_eq!(MnistMlp::PARAMS, 784 * 128 + 128 + 128 * 10 + 10);
    /// ```
    pub struct MnistMlp: [784] -> [10] {
        Dense<128>, ReLU,
        Dense<10>,
    }

    /// The Keras "getting started" MNIST MLP: 784-64-64-10 with ReLU, trained with Adam.
    ///
    /// Keras: `Sequential([Input((784,)), Dense(64, "relu"), Dense(64, "relu"), Dense(10)])`;
    /// PyTorch: `nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
    /// nn.Linear(64, 10))`.
    ///
    /// ```
    /// use dl_zoo::mlp::KerasMnistMlp;
    /// assert_eq!(KerasMnistMlp::PARAMS, 55_050);
    /// ```
    pub struct KerasMnistMlp: [784] -> [10] {
        Dense<64>, ReLU,
        Dense<64>, ReLU,
        Dense<10>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts() {
        assert_eq!(DigitsMlp::NUM_PARAMS, 64 * 128 + 128 + 128 * 10 + 10);
        assert_eq!(MnistMlp::NUM_PARAMS, 101_770);
        assert_eq!(
            KerasMnistMlp::NUM_PARAMS,
            784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
        );
    }
}
