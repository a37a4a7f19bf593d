//! A generated model is a `Layer` of its input and output shapes: it can be gradient-checked with
//! `dl::testing` and used inside hand-written code like any layer; `forward` on the model still
//! means the model's inference call, with `Layer` and `Model` both in scope.
use dl::prelude::*;
use rand::SeedableRng;

sequential! {
    pub struct Inner: [1, 4, 4] -> [3] {
        Conv2d<2, 3, padding = same, activation = Tanh>,
        AvgPool2d<2>,
        Flatten,
        Dense<3>,
    }
}

fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let mut inner = Inner::new(&mut rng);
    dl::testing::check_layer_gradients(&mut inner, 2, &mut rng);

    let x = Act::<Chw<1, 4, 4>>::zeros(2);
    let mut y = Act::<Flat<3>>::default();
    Layer::forward(&mut inner, &x, &mut y, Mode::Eval);
    assert_eq!(inner.forward(&x).as_slice(), y.as_slice());
}
