//! A probe of the machine's single-core f32 FMA peak, the yardstick for GEMM and convolution
//! GFLOP/s figures.
//!
//! Each probe runs a chain-free stream of fused multiply-adds on [`ACCUMULATORS`] independent
//! vector registers (enough to cover the FMA latency of every current x86 core on both FMA
//! ports), so the only limit is the core's FMA throughput. The widest instruction set the CPU
//! supports is chosen at run time: AVX-512F (16 lanes), AVX2+FMA (8 lanes), or a portable scalar
//! loop (no FMA, reported for completeness).
//!
//! ```
//! use dl_core::kernels::peak::{Isa, fma_peak};
//! let p = fma_peak(std::time::Duration::from_millis(20));
//! assert!(p.gflops > 0.0 && p.gflops.is_finite());
//! assert!(Isa::available().contains(&p.isa));
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Independent accumulators per probe.
pub const ACCUMULATORS: usize = 12;

/// Multiplier of the probe's recurrence `acc = acc·A + B`: it converges to `B/(1−A)`, so values
/// stay finite and normal however long the probe runs.
const A: f32 = 0.999_9;
/// Addend of the recurrence.
const B: f32 = 1e-3;

/// An instruction set a probe can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F `vfmadd` on 512-bit registers (16 f32 lanes).
    Avx512,
    /// AVX2 with FMA3 on 256-bit registers (8 f32 lanes).
    Avx2Fma,
    /// Portable scalar multiply and add (no fused instruction).
    Portable,
}

impl Isa {
    /// f32 lanes per instruction.
    pub const fn lanes(self) -> usize {
        match self {
            Isa::Avx512 => 16,
            Isa::Avx2Fma => 8,
            Isa::Portable => 1,
        }
    }

    /// Short name: `avx512`, `avx2+fma`, `portable`.
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2Fma => "avx2+fma",
            Isa::Portable => "portable",
        }
    }

    /// The instruction sets this CPU runs, widest first (always ends with [`Isa::Portable`]).
    pub fn available() -> Vec<Isa> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                v.push(Isa::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                v.push(Isa::Avx2Fma);
            }
        }
        v.push(Isa::Portable);
        v
    }
}

/// A measured peak.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peak {
    /// The instruction set measured.
    pub isa: Isa,
    /// Floating-point operations per second, in units of 10⁹ (one FMA = 2 operations).
    pub gflops: f64,
}

/// Runs `iters` rounds of the recurrence on every lane of every accumulator with `isa`, and
/// returns the sum of the final accumulators (so the work cannot be optimised away), or `None`
/// when the CPU does not support `isa`.
pub fn run(isa: Isa, iters: usize) -> Option<f32> {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if std::arch::is_x86_feature_detected!("avx512f") => {
            // SAFETY: the CPU supports AVX-512F (checked on the line above).
            Some(unsafe { x86::avx512(iters) })
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma") =>
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked on the lines above).
            Some(unsafe { x86::avx2_fma(iters) })
        }
        Isa::Portable => Some(portable(iters)),
        _ => None,
    }
}

/// Measures the f32 FMA throughput of the calling thread with `isa` for about `duration`; `None`
/// when the CPU does not support `isa`. The best of five timed runs is reported (after one
/// warm-up run that also lets the clock settle).
pub fn measure(isa: Isa, duration: Duration) -> Option<Peak> {
    // Calibrate the iteration count so one run lasts about a fifth of `duration`.
    let mut iters = 1 << 12;
    loop {
        let t = Instant::now();
        black_box(run(isa, black_box(iters))?);
        let dt = t.elapsed();
        if dt >= duration / 10 || iters >= 1 << 40 {
            let scale = (duration.as_secs_f64() / 5.0) / dt.as_secs_f64().max(1e-9);
            iters = ((iters as f64 * scale) as usize).max(1);
            break;
        }
        iters *= 4;
    }
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        black_box(run(isa, black_box(iters))?);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let flops = 2.0 * (iters * ACCUMULATORS * isa.lanes()) as f64;
    Some(Peak {
        isa,
        gflops: flops / best / 1e9,
    })
}

/// The peak of the widest instruction set this CPU supports (see [`measure`]).
pub fn fma_peak(duration: Duration) -> Peak {
    Isa::available()
        .into_iter()
        .find_map(|isa| measure(isa, duration))
        .expect("invariant: the portable probe always runs")
}

/// The scalar probe: separate multiply and add, [`ACCUMULATORS`] independent chains.
fn portable(iters: usize) -> f32 {
    let mut acc = [0.0f32; ACCUMULATORS];
    let (a, b) = (black_box(A), black_box(B));
    for _ in 0..iters {
        for v in &mut acc {
            *v = *v * a + b;
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{A, ACCUMULATORS, B};
    use std::arch::x86_64::*;
    use std::hint::black_box;

    /// Sum of all lanes of the 12 accumulators, in a fixed order.
    macro_rules! probe {
        ($set1:ident, $fmadd:ident, $lanes:expr, $store:ident, $vec:ty, $iters:expr) => {{
            let (a, b) = ($set1(black_box(A)), $set1(black_box(B)));
            let mut acc: [$vec; ACCUMULATORS] = [$set1(0.0); ACCUMULATORS];
            for _ in 0..$iters {
                // Written out so each accumulator stays in its own register.
                acc[0] = $fmadd(acc[0], a, b);
                acc[1] = $fmadd(acc[1], a, b);
                acc[2] = $fmadd(acc[2], a, b);
                acc[3] = $fmadd(acc[3], a, b);
                acc[4] = $fmadd(acc[4], a, b);
                acc[5] = $fmadd(acc[5], a, b);
                acc[6] = $fmadd(acc[6], a, b);
                acc[7] = $fmadd(acc[7], a, b);
                acc[8] = $fmadd(acc[8], a, b);
                acc[9] = $fmadd(acc[9], a, b);
                acc[10] = $fmadd(acc[10], a, b);
                acc[11] = $fmadd(acc[11], a, b);
            }
            let mut sum = 0.0f32;
            for v in acc {
                let mut lanes = [0.0f32; $lanes];
                // SAFETY: `lanes` holds exactly one vector of f32 lanes; the store is unaligned.
                unsafe { $store(lanes.as_mut_ptr(), v) };
                sum += lanes.iter().sum::<f32>();
            }
            sum
        }};
    }

    /// The AVX-512F probe.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512(iters: usize) -> f32 {
        probe!(
            _mm512_set1_ps,
            _mm512_fmadd_ps,
            16,
            _mm512_storeu_ps,
            __m512,
            iters
        )
    }

    /// The AVX2+FMA probe.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2_fma(iters: usize) -> f32 {
        probe!(
            _mm256_set1_ps,
            _mm256_fmadd_ps,
            8,
            _mm256_storeu_ps,
            __m256,
            iters
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value every lane reaches after `iters` rounds, with a fused (one rounding) or a
    /// separate multiply and add.
    fn lane_value(iters: usize, fused: bool) -> f32 {
        let mut v = 0.0f32;
        for _ in 0..iters {
            v = if fused { v.mul_add(A, B) } else { v * A + B };
        }
        v
    }

    #[test]
    fn every_available_probe_computes_its_recurrence_on_every_lane() {
        for isa in Isa::available() {
            let iters = 1000;
            let fused = isa != Isa::Portable;
            // Each accumulator's lanes are summed in order, then the accumulators in order.
            let lanes = isa.lanes();
            let per_acc: f32 = (0..lanes).map(|_| lane_value(iters, fused)).sum();
            let want: f32 = (0..ACCUMULATORS).map(|_| per_acc).sum();
            let got = run(isa, iters).expect("available isa runs");
            assert_eq!(got, want, "{isa:?}");
        }
    }

    #[test]
    fn measured_peaks_are_positive_and_widest_first() {
        let avail = Isa::available();
        assert_eq!(avail.last(), Some(&Isa::Portable));
        let p = fma_peak(Duration::from_millis(10));
        assert_eq!(p.isa, avail[0]);
        assert!(p.gflops.is_finite() && p.gflops > 0.0, "{p:?}");
    }
}
