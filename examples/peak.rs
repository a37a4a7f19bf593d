//! Measures the f32 FMA peak of one core with every instruction set the CPU supports, widest first.
//!
//! `cargo run --release --example peak` prints one line per instruction set and, last,
//! `peak_gflops=<v>` for the widest (the figure GEMM and convolution rates are compared with).

use dl::kernels::peak::{Isa, measure};
use std::time::Duration;

fn main() {
    let mut best = None;
    for isa in Isa::available() {
        if let Some(p) = measure(isa, Duration::from_millis(500)) {
            println!(
                "isa={} lanes={} gflops={:.1}",
                isa.name(),
                isa.lanes(),
                p.gflops
            );
            best.get_or_insert(p);
        }
    }
    if let Some(p) = best {
        println!("peak_isa={}", p.isa.name());
        println!("peak_gflops={:.1}", p.gflops);
    }
}
