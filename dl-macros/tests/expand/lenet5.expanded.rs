/// LeNet-5 for 32×32 colour images.
#[derive(Clone)]
///
/** ```text
Model: LeNet5
Layer (type)                Output shape  Param #
=================================================
input                       [3, 32, 32]         0
conv1 (Conv2d<3 => 6, 5>)   [6, 28, 28]       456
1 (ReLU)                    [6, 28, 28]         0
2 (MaxPool2d<2>)            [6, 14, 14]         0
conv2 (Conv2d<6 => 16, 5>)  [16, 10, 10]    2,416
4 (ReLU)                    [16, 10, 10]        0
5 (MaxPool2d<2>)            [16, 5, 5]          0
6 (Flatten)                 [400]               0
fc1 (Dense<400 => 120>)     [120]          48,120
8 (ReLU)                    [120]               0
fc2 (Dense<120 => 84>)      [84]           10,164
10 (ReLU)                   [84]                0
11 (Dropout(0.5))           [84]                0
fc3 (Dense<84 => 10>)       [10]              850
=================================================
Total params: 62,006
```*/
pub struct LeNet5 {
    /// `Conv2d<3 => 6, 5>`: [3, 32, 32] → [6, 28, 28], 456 parameters (state-dict prefix `conv1`).
    pub conv1: dl::__private::Conv2d<3, 6, 5, 1, 0>,
    /// `ReLU`: [6, 28, 28] → [6, 28, 28], 0 parameters (state-dict prefix `1`).
    pub l1_relu: dl::__private::ReLU,
    /// `MaxPool2d<2>`: [6, 28, 28] → [6, 14, 14], 0 parameters (state-dict prefix `2`).
    pub l2_maxpool2d: dl::__private::MaxPool2d<2, 2>,
    /// `Conv2d<6 => 16, 5>`: [6, 14, 14] → [16, 10, 10], 2,416 parameters (state-dict prefix `conv2`).
    pub conv2: dl::__private::Conv2d<6, 16, 5, 1, 0>,
    /// `ReLU`: [16, 10, 10] → [16, 10, 10], 0 parameters (state-dict prefix `4`).
    pub l4_relu: dl::__private::ReLU,
    /// `MaxPool2d<2>`: [16, 10, 10] → [16, 5, 5], 0 parameters (state-dict prefix `5`).
    pub l5_maxpool2d: dl::__private::MaxPool2d<2, 2>,
    /// `Flatten`: [16, 5, 5] → [400], 0 parameters (state-dict prefix `6`).
    pub l6_flatten: dl::__private::Flatten,
    /// `Dense<400 => 120>`: [400] → [120], 48,120 parameters (state-dict prefix `fc1`).
    pub fc1: dl::__private::Dense<400, 120>,
    /// `ReLU`: [120] → [120], 0 parameters (state-dict prefix `8`).
    pub l8_relu: dl::__private::ReLU,
    /// `Dense<120 => 84>`: [120] → [84], 10,164 parameters (state-dict prefix `fc2`).
    pub fc2: dl::__private::Dense<120, 84>,
    /// `ReLU`: [84] → [84], 0 parameters (state-dict prefix `10`).
    pub l10_relu: dl::__private::ReLU,
    /// `Dropout(0.5)`: [84] → [84], 0 parameters (state-dict prefix `11`).
    pub l11_dropout: dl::__private::Dropout,
    /// `Dense<84 => 10>`: [84] → [10], 850 parameters (state-dict prefix `fc3`).
    pub fc3: dl::__private::Dense<84, 10>,
    buffers: LeNet5Buffers,
}
/// Activation and gradient buffers of [`LeNet5`], grown on the first call with a batch size and reused.
#[doc(hidden)]
#[derive(Clone, Debug, Default)]
pub struct LeNet5Buffers {
    /// Output of `conv1` (Conv2d<3 => 6, 5>).
    y0: dl::__private::Act<dl::__private::Chw<6, 28, 28>>,
    /// Output of `l2_maxpool2d` (MaxPool2d<2>).
    y1: dl::__private::Act<dl::__private::Chw<6, 14, 14>>,
    /// Output of `l1_relu` (ReLU).
    y2: dl::__private::Act<dl::__private::Chw<6, 14, 14>>,
    /// Output of `conv2` (Conv2d<6 => 16, 5>).
    y3: dl::__private::Act<dl::__private::Chw<16, 10, 10>>,
    /// Output of `l5_maxpool2d` (MaxPool2d<2>).
    y4: dl::__private::Act<dl::__private::Chw<16, 5, 5>>,
    /// Output of `l4_relu` (ReLU).
    y5: dl::__private::Act<dl::__private::Chw<16, 5, 5>>,
    /// Output of `l6_flatten` (Flatten).
    y6: dl::__private::Act<dl::__private::Flat<400>>,
    /// Output of `fc1` (Dense<400 => 120>).
    y7: dl::__private::Act<dl::__private::Flat<120>>,
    /// Output of `l8_relu` (ReLU).
    y8: dl::__private::Act<dl::__private::Flat<120>>,
    /// Output of `fc2` (Dense<120 => 84>).
    y9: dl::__private::Act<dl::__private::Flat<84>>,
    /// Output of `l10_relu` (ReLU).
    y10: dl::__private::Act<dl::__private::Flat<84>>,
    /// Output of `l11_dropout` (Dropout(0.5)).
    y11: dl::__private::Act<dl::__private::Flat<84>>,
    /// Output of `fc3` (Dense<84 => 10>).
    y12: dl::__private::Act<dl::__private::Flat<10>>,
    /// Gradient of the loss with respect to `y0`.
    dy0: dl::__private::Act<dl::__private::Chw<6, 28, 28>>,
    /// Gradient of the loss with respect to `y1`.
    dy1: dl::__private::Act<dl::__private::Chw<6, 14, 14>>,
    /// Gradient of the loss with respect to `y2`.
    dy2: dl::__private::Act<dl::__private::Chw<6, 14, 14>>,
    /// Gradient of the loss with respect to `y3`.
    dy3: dl::__private::Act<dl::__private::Chw<16, 10, 10>>,
    /// Gradient of the loss with respect to `y4`.
    dy4: dl::__private::Act<dl::__private::Chw<16, 5, 5>>,
    /// Gradient of the loss with respect to `y5`.
    dy5: dl::__private::Act<dl::__private::Chw<16, 5, 5>>,
    /// Gradient of the loss with respect to `y6`.
    dy6: dl::__private::Act<dl::__private::Flat<400>>,
    /// Gradient of the loss with respect to `y7`.
    dy7: dl::__private::Act<dl::__private::Flat<120>>,
    /// Gradient of the loss with respect to `y8`.
    dy8: dl::__private::Act<dl::__private::Flat<120>>,
    /// Gradient of the loss with respect to `y9`.
    dy9: dl::__private::Act<dl::__private::Flat<84>>,
    /// Gradient of the loss with respect to `y10`.
    dy10: dl::__private::Act<dl::__private::Flat<84>>,
    /// Gradient of the loss with respect to `y11`.
    dy11: dl::__private::Act<dl::__private::Flat<84>>,
    /// Gradient with respect to the model input.
    dx: dl::__private::Act<dl::__private::Chw<3, 32, 32>>,
}
impl LeNet5 {
    /// Shape of one input sample: `[3, 32, 32]`.
    pub const INPUT_SHAPE: &'static [usize] = &[3, 32, 32];
    /// Shape of one output sample: `[10]`.
    pub const OUTPUT_SHAPE: &'static [usize] = &[10];
    /// Number of trainable parameters: 62,006.
    pub const PARAMS: usize = 62006;
    /// The Keras-style summary table (also in this type's documentation).
    pub const SUMMARY: &'static str = "Model: LeNet5\nLayer (type)                Output shape  Param #\n=================================================\ninput                       [3, 32, 32]         0\nconv1 (Conv2d<3 => 6, 5>)   [6, 28, 28]       456\n1 (ReLU)                    [6, 28, 28]         0\n2 (MaxPool2d<2>)            [6, 14, 14]         0\nconv2 (Conv2d<6 => 16, 5>)  [16, 10, 10]    2,416\n4 (ReLU)                    [16, 10, 10]        0\n5 (MaxPool2d<2>)            [16, 5, 5]          0\n6 (Flatten)                 [400]               0\nfc1 (Dense<400 => 120>)     [120]          48,120\n8 (ReLU)                    [120]               0\nfc2 (Dense<120 => 84>)      [84]           10,164\n10 (ReLU)                   [84]                0\n11 (Dropout(0.5))           [84]                0\nfc3 (Dense<84 => 10>)       [10]              850\n=================================================\nTotal params: 62,006\n";
    /// A model with freshly initialised parameters drawn from `rng` (see [`Model::new`](#p Model::new)).
    pub fn new<R: dl::__private::Rng + ?Sized>(rng: &mut R) -> Self {
        <Self as dl::__private::Model>::new(rng)
    }
    /// Inference on a batch (evaluation mode); the result lives in the model's buffers.
    pub fn forward<S: dl::__private::SameShape<dl::__private::Chw<3, 32, 32>>>(
        &mut self,
        x: &dl::__private::Act<S>,
    ) -> &dl::__private::Act<dl::__private::Flat<10>> {
        <Self as dl::__private::Model>::forward(self, x)
    }
    /// Training-mode forward: keeps what [`Self::backward`] needs.
    pub fn forward_train<S: dl::__private::SameShape<dl::__private::Chw<3, 32, 32>>>(
        &mut self,
        x: &dl::__private::Act<S>,
    ) -> &dl::__private::Act<dl::__private::Flat<10>> {
        <Self as dl::__private::Model>::forward_train(self, x)
    }
    /// Fills every parameter gradient and returns the gradient with respect to `x`.
    pub fn backward<S: dl::__private::SameShape<dl::__private::Chw<3, 32, 32>>>(
        &mut self,
        x: &dl::__private::Act<S>,
        dy: &dl::__private::Act<dl::__private::Flat<10>>,
    ) -> &dl::__private::Act<dl::__private::Chw<3, 32, 32>> {
        <Self as dl::__private::Model>::backward(self, x, dy)
    }
    /// Fills every parameter gradient, without the input gradient.
    pub fn backward_params<S: dl::__private::SameShape<dl::__private::Chw<3, 32, 32>>>(
        &mut self,
        x: &dl::__private::Act<S>,
        dy: &dl::__private::Act<dl::__private::Flat<10>>,
    ) {
        <Self as dl::__private::Model>::backward_params(self, x, dy)
    }
}
/// The model [`Self::new`] builds from `StdRng::seed_from_u64(0)`: the same weights on
/// every run, like PyTorch after `torch.manual_seed(0)`. Seed an RNG yourself for others.
#[automatically_derived]
impl ::core::default::Default for LeNet5 {
    fn default() -> Self {
        Self::new(
            &mut <dl::__private::StdRng as dl::__private::SeedableRng>::seed_from_u64(0),
        )
    }
}
#[automatically_derived]
impl dl::__private::Parameters for LeNet5 {
    fn visit(
        &self,
        f: &mut dyn FnMut(dl::__private::ParamName<'_>, &dl::__private::Param),
    ) {
        use dl::__private::{ParamName, Parameters};
        self.conv1
            .visit(
                &mut |n, p| f(
                    ParamName {
                        layer: "conv1",
                        name: n.name,
                    },
                    p,
                ),
            );
        self.conv2
            .visit(
                &mut |n, p| f(
                    ParamName {
                        layer: "conv2",
                        name: n.name,
                    },
                    p,
                ),
            );
        self.fc1
            .visit(
                &mut |n, p| f(
                    ParamName {
                        layer: "fc1",
                        name: n.name,
                    },
                    p,
                ),
            );
        self.fc2
            .visit(
                &mut |n, p| f(
                    ParamName {
                        layer: "fc2",
                        name: n.name,
                    },
                    p,
                ),
            );
        self.fc3
            .visit(
                &mut |n, p| f(
                    ParamName {
                        layer: "fc3",
                        name: n.name,
                    },
                    p,
                ),
            );
    }
    fn visit_mut(
        &mut self,
        f: &mut dyn FnMut(dl::__private::ParamName<'_>, &mut dl::__private::Param),
    ) {
        use dl::__private::{ParamName, Parameters};
        self.conv1
            .visit_mut(
                &mut |n, p| f(
                    ParamName {
                        layer: "conv1",
                        name: n.name,
                    },
                    p,
                ),
            );
        self.conv2
            .visit_mut(
                &mut |n, p| f(
                    ParamName {
                        layer: "conv2",
                        name: n.name,
                    },
                    p,
                ),
            );
        self.fc1
            .visit_mut(
                &mut |n, p| f(
                    ParamName {
                        layer: "fc1",
                        name: n.name,
                    },
                    p,
                ),
            );
        self.fc2
            .visit_mut(
                &mut |n, p| f(
                    ParamName {
                        layer: "fc2",
                        name: n.name,
                    },
                    p,
                ),
            );
        self.fc3
            .visit_mut(
                &mut |n, p| f(
                    ParamName {
                        layer: "fc3",
                        name: n.name,
                    },
                    p,
                ),
            );
    }
}
#[automatically_derived]
impl dl::__private::Model for LeNet5 {
    type Input = dl::__private::Chw<3, 32, 32>;
    type Output = dl::__private::Flat<10>;
    const NUM_PARAMS: usize = 62006;
    const SUMMARY: &'static str = LeNet5::SUMMARY;
    fn new<R: dl::__private::Rng + ?Sized>(rng: &mut R) -> Self {
        LeNet5 {
            conv1: dl::__private::Conv2d::<3, 6, 5, 1, 0>::new(rng),
            l1_relu: <dl::__private::ReLU as ::core::default::Default>::default(),
            l2_maxpool2d: <dl::__private::MaxPool2d<
                2,
                2,
            > as ::core::default::Default>::default(),
            conv2: dl::__private::Conv2d::<6, 16, 5, 1, 0>::new(rng),
            l4_relu: <dl::__private::ReLU as ::core::default::Default>::default(),
            l5_maxpool2d: <dl::__private::MaxPool2d<
                2,
                2,
            > as ::core::default::Default>::default(),
            l6_flatten: <dl::__private::Flatten as ::core::default::Default>::default(),
            fc1: dl::__private::Dense::<400, 120>::new(rng),
            l8_relu: <dl::__private::ReLU as ::core::default::Default>::default(),
            fc2: dl::__private::Dense::<120, 84>::new(rng),
            l10_relu: <dl::__private::ReLU as ::core::default::Default>::default(),
            l11_dropout: dl::__private::Dropout::new(0.5f32, rng)
                .expect("invariant: p checked by sequential!"),
            fc3: dl::__private::Dense::<84, 10>::new(rng),
            buffers: ::core::default::Default::default(),
        }
    }
    fn forward_mode(
        &mut self,
        x: &dl::__private::Act<dl::__private::Chw<3, 32, 32>>,
        mode: dl::__private::Mode,
    ) -> &dl::__private::Act<dl::__private::Flat<10>> {
        use dl::__private::{Chw, Flat, Layer};
        let b = &mut self.buffers;
        Layer::<
            Chw<3, 32, 32>,
            Chw<6, 28, 28>,
        >::forward(&mut self.conv1, x, &mut b.y0, mode);
        Layer::<
            Chw<6, 28, 28>,
            Chw<6, 14, 14>,
        >::forward(&mut self.l2_maxpool2d, &b.y0, &mut b.y1, mode);
        Layer::<
            Chw<6, 14, 14>,
            Chw<6, 14, 14>,
        >::forward(&mut self.l1_relu, &b.y1, &mut b.y2, mode);
        Layer::<
            Chw<6, 14, 14>,
            Chw<16, 10, 10>,
        >::forward(&mut self.conv2, &b.y2, &mut b.y3, mode);
        Layer::<
            Chw<16, 10, 10>,
            Chw<16, 5, 5>,
        >::forward(&mut self.l5_maxpool2d, &b.y3, &mut b.y4, mode);
        Layer::<
            Chw<16, 5, 5>,
            Chw<16, 5, 5>,
        >::forward(&mut self.l4_relu, &b.y4, &mut b.y5, mode);
        Layer::<
            Chw<16, 5, 5>,
            Flat<400>,
        >::forward(&mut self.l6_flatten, &b.y5, &mut b.y6, mode);
        Layer::<Flat<400>, Flat<120>>::forward(&mut self.fc1, &b.y6, &mut b.y7, mode);
        Layer::<
            Flat<120>,
            Flat<120>,
        >::forward(&mut self.l8_relu, &b.y7, &mut b.y8, mode);
        Layer::<Flat<120>, Flat<84>>::forward(&mut self.fc2, &b.y8, &mut b.y9, mode);
        Layer::<
            Flat<84>,
            Flat<84>,
        >::forward(&mut self.l10_relu, &b.y9, &mut b.y10, mode);
        Layer::<
            Flat<84>,
            Flat<84>,
        >::forward(&mut self.l11_dropout, &b.y10, &mut b.y11, mode);
        Layer::<Flat<84>, Flat<10>>::forward(&mut self.fc3, &b.y11, &mut b.y12, mode);
        &b.y12
    }
    fn backward_mode(
        &mut self,
        x: &dl::__private::Act<dl::__private::Chw<3, 32, 32>>,
        dy: &dl::__private::Act<dl::__private::Flat<10>>,
        input_grad: bool,
    ) -> Option<&dl::__private::Act<dl::__private::Chw<3, 32, 32>>> {
        use dl::__private::{Chw, Flat, Layer};
        let b = &mut self.buffers;
        Layer::<
            Flat<84>,
            Flat<10>,
        >::backward(&mut self.fc3, &b.y11, &b.y12, dy, Some(&mut b.dy11));
        Layer::<
            Flat<84>,
            Flat<84>,
        >::backward(&mut self.l11_dropout, &b.y10, &b.y11, &b.dy11, Some(&mut b.dy10));
        Layer::<
            Flat<84>,
            Flat<84>,
        >::backward(&mut self.l10_relu, &b.y9, &b.y10, &b.dy10, Some(&mut b.dy9));
        Layer::<
            Flat<120>,
            Flat<84>,
        >::backward(&mut self.fc2, &b.y8, &b.y9, &b.dy9, Some(&mut b.dy8));
        Layer::<
            Flat<120>,
            Flat<120>,
        >::backward(&mut self.l8_relu, &b.y7, &b.y8, &b.dy8, Some(&mut b.dy7));
        Layer::<
            Flat<400>,
            Flat<120>,
        >::backward(&mut self.fc1, &b.y6, &b.y7, &b.dy7, Some(&mut b.dy6));
        Layer::<
            Chw<16, 5, 5>,
            Flat<400>,
        >::backward(&mut self.l6_flatten, &b.y5, &b.y6, &b.dy6, Some(&mut b.dy5));
        Layer::<
            Chw<16, 5, 5>,
            Chw<16, 5, 5>,
        >::backward(&mut self.l4_relu, &b.y4, &b.y5, &b.dy5, Some(&mut b.dy4));
        Layer::<
            Chw<16, 10, 10>,
            Chw<16, 5, 5>,
        >::backward(&mut self.l5_maxpool2d, &b.y3, &b.y4, &b.dy4, Some(&mut b.dy3));
        Layer::<
            Chw<6, 14, 14>,
            Chw<16, 10, 10>,
        >::backward(&mut self.conv2, &b.y2, &b.y3, &b.dy3, Some(&mut b.dy2));
        Layer::<
            Chw<6, 14, 14>,
            Chw<6, 14, 14>,
        >::backward(&mut self.l1_relu, &b.y1, &b.y2, &b.dy2, Some(&mut b.dy1));
        Layer::<
            Chw<6, 28, 28>,
            Chw<6, 14, 14>,
        >::backward(&mut self.l2_maxpool2d, &b.y0, &b.y1, &b.dy1, Some(&mut b.dy0));
        let dx = if input_grad { Some(&mut b.dx) } else { None };
        Layer::<
            Chw<3, 32, 32>,
            Chw<6, 28, 28>,
        >::backward(&mut self.conv1, x, &b.y0, &b.dy0, dx);
        if input_grad { Some(&b.dx) } else { None }
    }
}
/// The whole model as one layer, so it can be gradient-checked and nested.
#[automatically_derived]
impl dl::__private::Layer<dl::__private::Chw<3, 32, 32>, dl::__private::Flat<10>>
for LeNet5 {
    fn forward(
        &mut self,
        x: &dl::__private::Act<dl::__private::Chw<3, 32, 32>>,
        y: &mut dl::__private::Act<dl::__private::Flat<10>>,
        mode: dl::__private::Mode,
    ) {
        y.copy_from(<Self as dl::__private::Model>::forward_mode(self, x, mode));
    }
    fn backward(
        &mut self,
        x: &dl::__private::Act<dl::__private::Chw<3, 32, 32>>,
        _y: &dl::__private::Act<dl::__private::Flat<10>>,
        dy: &dl::__private::Act<dl::__private::Flat<10>>,
        dx: Option<&mut dl::__private::Act<dl::__private::Chw<3, 32, 32>>>,
    ) {
        match dx {
            Some(dx) => {
                if let Some(g) = <Self as dl::__private::Model>::backward_mode(
                    self,
                    x,
                    dy,
                    true,
                ) {
                    dx.copy_from(g);
                }
            }
            None => {
                <Self as dl::__private::Model>::backward_mode(self, x, dy, false);
            }
        }
    }
}
