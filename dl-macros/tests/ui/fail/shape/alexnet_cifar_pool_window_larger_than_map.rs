use dl::prelude::*;

sequential! {
    // The seed tutorial's AlexNet for CIFAR-10: the third pool meets a 1x1 map.
    pub struct AlexNetCifar: [3, 32, 32] -> [10] {
        Conv2d<64, 11, stride = 4, padding = 2>,
        ReLU,
        MaxPool2d<3, stride = 2>,
        Conv2d<192, 5, padding = 2>,
        ReLU,
        MaxPool2d<3, stride = 2>,
        Conv2d<384, 3, padding = 1>,
        ReLU,
        Conv2d<256, 3, padding = 1>,
        ReLU,
        Conv2d<256, 3, padding = 1>,
        ReLU,
        MaxPool2d<3, stride = 2>,
        Flatten,
        Dense<10>,
    }
}

fn main() {}
