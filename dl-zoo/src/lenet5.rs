//! LeNet-5 (LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to document
//! recognition", Proc. IEEE 86(11), 1998), in the form the PyTorch and Keras tutorials use:
//! ReLU instead of the scaled tanh, max pooling instead of the trainable subsampling, and a
//! fully connected C3 (the paper's sparse C3 connection table is not used).
//!
//! The layer tables (`SUMMARY`; a test in `lib.rs` keeps them equal):
//!
//! ```text
//! Model: LeNet5Mnist
//! Layer (type)                        Output shape  Param #
//! =========================================================
//! input                               [1, 28, 28]         0
//! 0 (Conv2d<1 => 6, 5, padding = 2>)  [6, 28, 28]       156
//! 1 (ReLU)                            [6, 28, 28]         0
//! 2 (MaxPool2d<2>)                    [6, 14, 14]         0
//! 3 (Conv2d<6 => 16, 5>)              [16, 10, 10]    2,416
//! 4 (ReLU)                            [16, 10, 10]        0
//! 5 (MaxPool2d<2>)                    [16, 5, 5]          0
//! 6 (Flatten)                         [400]               0
//! 7 (Dense<400 => 120>)               [120]          48,120
//! 8 (ReLU)                            [120]               0
//! 9 (Dense<120 => 84>)                [84]           10,164
//! 10 (ReLU)                           [84]                0
//! 11 (Dense<84 => 10>)                [10]              850
//! =========================================================
//! Total params: 61,706
//! ```
//!
//! ```text
//! Model: LeNet5Cifar
//! Layer (type)            Output shape  Param #
//! =============================================
//! input                   [3, 32, 32]         0
//! 0 (Conv2d<3 => 6, 5>)   [6, 28, 28]       456
//! 1 (ReLU)                [6, 28, 28]         0
//! 2 (MaxPool2d<2>)        [6, 14, 14]         0
//! 3 (Conv2d<6 => 16, 5>)  [16, 10, 10]    2,416
//! 4 (ReLU)                [16, 10, 10]        0
//! 5 (MaxPool2d<2>)        [16, 5, 5]          0
//! 6 (Flatten)             [400]               0
//! 7 (Dense<400 => 120>)   [120]          48,120
//! 8 (ReLU)                [120]               0
//! 9 (Dense<120 => 84>)    [84]           10,164
//! 10 (ReLU)               [84]                0
//! 11 (Dense<84 => 10>)    [10]              850
//! =============================================
//! Total params: 62,006
//! ```

use dl_core::prelude::*;

sequential! {
    /// LeNet-5 for MNIST: 1×28×28 digits, the first convolution padded by 2 so it sees the
    /// 32×32 input of the paper.
    ///
    /// PyTorch equivalent (same state-dict names `0`, `3`, `7`, `9`, `11`):
    /// `nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    /// nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120),
    /// nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))`.
    ///
    /// ```
    /// use dl_core::{Act, Chw, Model};
    /// use dl_zoo::lenet5::LeNet5Mnist;
    /// use rand::SeedableRng;
    /// let mut net = LeNet5Mnist::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    /// let logits = net.forward(&Act::<Chw<1, 28, 28>>::zeros(2));
    /// assert_eq!((logits.batch(), logits.as_slice().len()), (2, 20));
    /// assert_eq!(LeNet5Mnist::PARAMS, 61_706);
    /// ```
    pub struct LeNet5Mnist: [1, 28, 28] -> [10] {
        Conv2d<6, 5, padding = 2>, ReLU, MaxPool2d<2>,
        Conv2d<16, 5>, ReLU, MaxPool2d<2>,
        Flatten,
        Dense<120>, ReLU,
        Dense<84>, ReLU,
        Dense<10>,
    }

    /// LeNet-5 for CIFAR-10 (3×32×32), the layout of the PyTorch "Training a classifier"
    /// tutorial: conv 6@5, pool 2, conv 16@5, pool 2, 400-120-84-10.
    ///
    /// Layer indices are those of PyTorch's `nn.Sequential` (parameters at `0`, `3`, `7`, `9`,
    /// `11`), so a PyTorch state dict loads by name; the test `lenet5_golden` reproduces
    /// PyTorch's logits from its parameters.
    ///
    /// ```
    /// use dl_core::{Act, Chw, Model, Parameters};
    /// use dl_zoo::lenet5::LeNet5Cifar;
    /// use rand::SeedableRng;
    /// let net = LeNet5Cifar::new(&mut rand::rngs::StdRng::seed_from_u64(0));
    /// let mut names = Vec::new();
    /// net.visit(&mut |n, _| names.push(n.to_string()));
    /// assert_eq!(names[0], "0.weight");
    /// assert_eq!(names[9], "11.bias");
    /// assert_eq!(net.num_params(), 62_006);
    /// ```
    pub struct LeNet5Cifar: [3, 32, 32] -> [10] {
        Conv2d<6, 5>, ReLU, MaxPool2d<2>,
        Conv2d<16, 5>, ReLU, MaxPool2d<2>,
        Flatten,
        Dense<120>, ReLU,
        Dense<84>, ReLU,
        Dense<10>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_the_layer_arithmetic() {
        // conv 1·6·25 + 6, conv 6·16·25 + 16, 400·120 + 120, 120·84 + 84, 84·10 + 10.
        assert_eq!(LeNet5Mnist::NUM_PARAMS, 156 + 2_416 + 48_120 + 10_164 + 850);
        assert_eq!(LeNet5Cifar::NUM_PARAMS, 456 + 2_416 + 48_120 + 10_164 + 850);
        assert_eq!(LeNet5Mnist::NUM_PARAMS, 61_706);
        assert_eq!(LeNet5Cifar::NUM_PARAMS, 62_006);
        // The padded first convolution keeps 28×28, so the flattened map is 16·5·5 = 400 on both.
        assert!(
            LeNet5Mnist::SUMMARY.contains("[6, 28, 28]"),
            "{}",
            LeNet5Mnist::SUMMARY
        );
        assert!(LeNet5Cifar::SUMMARY.contains("[400]"));
    }
}
