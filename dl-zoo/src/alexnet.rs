//! AlexNet (Krizhevsky, Sutskever and Hinton, "ImageNet classification with deep convolutional
//! neural networks", NeurIPS 2012), as one tower, and a variant for 32×32 CIFAR-10 images.
//!
//! The layer tables (`SUMMARY`; a test in `lib.rs` keeps them equal):
//!
//! ```text
//! Model: AlexNet
//! Layer (type)                             Output shape      Param #
//! ==================================================================
//! input                                    [3, 227, 227]           0
//! 0 (Conv2d<3 => 96, 11, stride = 4>)      [96, 55, 55]       34,944
//! 1 (ReLU)                                 [96, 55, 55]            0
//! 2 (MaxPool2d<3, stride = 2>)             [96, 27, 27]            0
//! 3 (Conv2d<96 => 256, 5, padding = 2>)    [256, 27, 27]     614,656
//! 4 (ReLU)                                 [256, 27, 27]           0
//! 5 (MaxPool2d<3, stride = 2>)             [256, 13, 13]           0
//! 6 (Conv2d<256 => 384, 3, padding = 1>)   [384, 13, 13]     885,120
//! 7 (ReLU)                                 [384, 13, 13]           0
//! 8 (Conv2d<384 => 384, 3, padding = 1>)   [384, 13, 13]   1,327,488
//! 9 (ReLU)                                 [384, 13, 13]           0
//! 10 (Conv2d<384 => 256, 3, padding = 1>)  [256, 13, 13]     884,992
//! 11 (ReLU)                                [256, 13, 13]           0
//! 12 (MaxPool2d<3, stride = 2>)            [256, 6, 6]             0
//! 13 (Flatten)                             [9216]                  0
//! 14 (Dropout(0.5))                        [9216]                  0
//! 15 (Dense<9216 => 4096>)                 [4096]         37,752,832
//! 16 (ReLU)                                [4096]                  0
//! 17 (Dropout(0.5))                        [4096]                  0
//! 18 (Dense<4096 => 4096>)                 [4096]         16,781,312
//! 19 (ReLU)                                [4096]                  0
//! 20 (Dense<4096 => 1000>)                 [1000]          4,097,000
//! ==================================================================
//! Total params: 62,378,344
//! ```
//!
//! ```text
//! Model: AlexNetCifar
//! Layer (type)                                     Output shape     Param #
//! =========================================================================
//! input                                            [3, 32, 32]            0
//! 0 (Conv2d<3 => 64, 3, stride = 2, padding = 1>)  [64, 16, 16]       1,792
//! 1 (ReLU)                                         [64, 16, 16]           0
//! 2 (MaxPool2d<2>)                                 [64, 8, 8]             0
//! 3 (Conv2d<64 => 192, 3, padding = 1>)            [192, 8, 8]      110,784
//! 4 (ReLU)                                         [192, 8, 8]            0
//! 5 (MaxPool2d<2>)                                 [192, 4, 4]            0
//! 6 (Conv2d<192 => 384, 3, padding = 1>)           [384, 4, 4]      663,936
//! 7 (ReLU)                                         [384, 4, 4]            0
//! 8 (Conv2d<384 => 256, 3, padding = 1>)           [256, 4, 4]      884,992
//! 9 (ReLU)                                         [256, 4, 4]            0
//! 10 (Conv2d<256 => 256, 3, padding = 1>)          [256, 4, 4]      590,080
//! 11 (ReLU)                                        [256, 4, 4]            0
//! 12 (MaxPool2d<2>)                                [256, 2, 2]            0
//! 13 (Flatten)                                     [1024]                 0
//! 14 (Dropout(0.5))                                [1024]                 0
//! 15 (Dense<1024 => 4096>)                         [4096]         4,198,400
//! 16 (ReLU)                                        [4096]                 0
//! 17 (Dropout(0.5))                                [4096]                 0
//! 18 (Dense<4096 => 4096>)                         [4096]        16,781,312
//! 19 (ReLU)                                        [4096]                 0
//! 20 (Dense<4096 => 10>)                           [10]              40,970
//! =========================================================================
//! Total params: 23,272,266
//! ```

use dl_core::prelude::*;

sequential! {
    /// AlexNet for ImageNet, one tower (the two GPU halves of the paper merged, no local response
    /// normalisation): 3×227×227 input, 96@11 stride 4, max pool 3/2, 256@5 padding 2, pool 3/2,
    /// 384@3, 384@3, 256@3 (padding 1), pool 3/2, then 9216-4096-4096-1000 with dropout 0.5
    /// before the first two dense layers: 62,378,344 parameters.
    ///
    /// PyTorch equivalent (same state-dict indices): `nn.Sequential(nn.Conv2d(3, 96, 11, 4),
    /// nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(),
    /// nn.MaxPool2d(3, 2), nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3,
    /// padding=1), nn.ReLU(), nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
    /// nn.Flatten(), nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
    /// nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))`.
    ///
    /// ```
    /// use dl_zoo::alexnet::AlexNet;
    /// assert_eq!(AlexNet::PARAMS, 62_378_344);
    /// assert!(AlexNet::SUMMARY.contains("[256, 6, 6]"));
    /// ```
    pub struct AlexNet: [3, 227, 227] -> [1000] {
        Conv2d<96, 11, stride = 4>, ReLU, MaxPool2d<3, stride = 2>,
        Conv2d<256, 5, padding = 2>, ReLU, MaxPool2d<3, stride = 2>,
        Conv2d<384, 3, padding = 1>, ReLU,
        Conv2d<384, 3, padding = 1>, ReLU,
        Conv2d<256, 3, padding = 1>, ReLU, MaxPool2d<3, stride = 2>,
        Flatten,
        Dropout(0.5), Dense<4096>, ReLU,
        Dropout(0.5), Dense<4096>, ReLU,
        Dense<1000>,
    }

    /// AlexNet for CIFAR-10 (3×32×32 → 10 classes): the ImageNet layout (five convolutions with
    /// 64, 192, 384, 256, 256 filters, three max pools, three dense layers with dropout) scaled
    /// to a 32×32 input.
    ///
    /// What changed, and why: the Keras tutorial's CIFAR version keeps the 11×11 stride-4 first
    /// convolution and the 3/2 pools, which shrink 32×32 to 7×7, 3×3 and then 1×1, so its third
    /// pool meets a 1×1 map and the model does not compile (kept as the compile-fail case
    /// `dl-macros/tests/ui/fail/shape/alexnet_cifar_pool_window_larger_than_map.rs`). Here the
    /// first convolution is 3×3 with stride 2 and padding 1 (32 → 16), every other convolution
    /// is 3×3 with padding 1 (size-preserving), and the pools are 2×2 stride 2, so the map goes
    /// 16 → 8 → 4 → 2 and the classifier is 256·2·2 = 1024 → 4096 → 4096 → 10 — the common
    /// PyTorch CIFAR-10 AlexNet.
    ///
    /// ```
    /// use dl_zoo::alexnet::AlexNetCifar;
    /// assert_eq!(AlexNetCifar::PARAMS, 23_272_266);
    /// assert!(AlexNetCifar::SUMMARY.contains("[256, 2, 2]"));
    /// ```
    pub struct AlexNetCifar: [3, 32, 32] -> [10] {
        Conv2d<64, 3, stride = 2, padding = 1>, ReLU, MaxPool2d<2>,
        Conv2d<192, 3, padding = 1>, ReLU, MaxPool2d<2>,
        Conv2d<384, 3, padding = 1>, ReLU,
        Conv2d<256, 3, padding = 1>, ReLU,
        Conv2d<256, 3, padding = 1>, ReLU, MaxPool2d<2>,
        Flatten,
        Dropout(0.5), Dense<4096>, ReLU,
        Dropout(0.5), Dense<4096>, ReLU,
        Dense<10>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagenet_alexnet_has_the_papers_parameter_count() {
        let convs = (3 * 96 * 121 + 96)
            + (96 * 256 * 25 + 256)
            + (256 * 384 * 9 + 384)
            + (384 * 384 * 9 + 384)
            + (384 * 256 * 9 + 256);
        let dense = (9216 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000);
        assert_eq!(AlexNet::NUM_PARAMS, convs + dense);
        assert_eq!(AlexNet::NUM_PARAMS, 62_378_344);
        assert!(
            AlexNet::SUMMARY.contains("[96, 55, 55]"),
            "{}",
            AlexNet::SUMMARY
        );
        assert!(AlexNet::SUMMARY.contains("[9216]"));
    }

    #[test]
    fn cifar_alexnet_parameter_count() {
        let convs = (3 * 64 * 9 + 64)
            + (64 * 192 * 9 + 192)
            + (192 * 384 * 9 + 384)
            + (384 * 256 * 9 + 256)
            + (256 * 256 * 9 + 256);
        let dense = (1024 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10);
        assert_eq!(AlexNetCifar::NUM_PARAMS, convs + dense);
        assert_eq!(AlexNetCifar::NUM_PARAMS, 23_272_266);
        assert!(AlexNetCifar::SUMMARY.contains("[64, 16, 16]"));
    }
}
