use dl::prelude::*;

sequential! {
    // The seed tutorial's LeNet declared for grey images but fed CIFAR colour images.
    pub struct LeNet5: [3, 32, 32] -> [10] {
        Conv2d<1 => 6, 5>,
        ReLU,
        MaxPool2d<2>,
        Conv2d<16, 5>,
        ReLU,
        MaxPool2d<2>,
        Flatten,
        Dense<120>,
        Dense<10>,
    }
}

fn main() {}
