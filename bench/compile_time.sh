#!/usr/bin/env bash
# Compile-time cost of `sequential!`: builds a scratch crate that declares LeNet-5, AlexNet
# (ImageNet) and an MLP with the macro, then times an incremental rebuild after touching its
# `main.rs` (`cargo build` and `cargo check`), and the same crate with the three declarations
# removed, so the difference is what the macro and the generated code cost.
# Usage: bench/compile_time.sh   (prints the figures; writes nothing in the project)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

make_crate() { # $1 = folder, $2 = "models" or "empty"
    mkdir -p "$1/src"
    cat >"$1/Cargo.toml" <<TOML
[package]
name = "compile_time_probe"
version = "0.1.0"
edition = "2024"
[dependencies]
dl = { path = "$root" }
rand = "0.9"
[workspace]
TOML
    if [ "$2" = models ]; then
        cat >"$1/src/main.rs" <<'RS'
use dl::prelude::*;
use rand::SeedableRng;
sequential! {
    pub struct LeNet5: [3, 32, 32] -> [10] {
        Conv2d<6, 5>, ReLU, MaxPool2d<2>, Conv2d<16, 5>, ReLU, MaxPool2d<2>,
        Flatten, Dense<120>, ReLU, Dense<84>, ReLU, Dense<10>,
    }
    pub struct AlexNet: [3, 227, 227] -> [1000] {
        Conv2d<96, 11, stride = 4>, ReLU, MaxPool2d<3, stride = 2>,
        Conv2d<256, 5, padding = 2>, ReLU, MaxPool2d<3, stride = 2>,
        Conv2d<384, 3, padding = 1>, ReLU, Conv2d<384, 3, padding = 1>, ReLU,
        Conv2d<256, 3, padding = 1>, ReLU, MaxPool2d<3, stride = 2>,
        Flatten, Dropout(0.5), Dense<4096>, ReLU, Dropout(0.5), Dense<4096>, ReLU, Dense<1000>,
    }
    pub struct Mlp: [784] -> [10] { Dense<128>, ReLU, Dense<10> }
}
fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut lenet = LeNet5::new(&mut rng);
    let mut mlp = Mlp::new(&mut rng);
    let x = Act::<Chw<3, 32, 32>>::zeros(1);
    let y = Act::<Flat<784>>::zeros(1);
    println!("{} {}", lenet.forward(&x).batch(), mlp.forward(&y).batch());
    println!("{}", AlexNet::NUM_PARAMS);
}
RS
    else
        cat >"$1/src/main.rs" <<'RS'
fn main() {
    println!("{}", std::hint::black_box(1));
}
RS
    fi
}

time_cmd() { # prints the median wall time of 5 runs of "touch main.rs; cargo $1" in $2
    local dir="$2" sub="$1" ts=()
    for _ in 1 2 3 4 5; do
        touch "$dir/src/main.rs"
        local t0 t1
        t0=$(date +%s.%N)
        (cd "$dir" && cargo "$sub" --quiet 2>/dev/null)
        t1=$(date +%s.%N)
        ts+=("$(echo "$t1 - $t0" | bc)")
    done
    printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p
}

for kind in models empty; do
    make_crate "$work/$kind" "$kind"
    (cd "$work/$kind" && cargo build --quiet && cargo check --quiet)
    echo "$kind: incremental build $(time_cmd build "$work/$kind") s, check $(time_cmd check "$work/$kind") s"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
