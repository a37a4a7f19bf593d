//! Data augmentation applied to each training batch on the fly, as the tutorials describe:
//! random horizontal and vertical flips, random crops with zero padding and small rotations
//! (bilinear), drawn anew for every sample of every batch from a caller-supplied seeded RNG.
//!
//! # For the training loop
//!
//! An augmentation is anything implementing [`Augmentation<S>`]: after gathering a training batch
//! (and before the forward pass), call `aug.apply(&mut batch, &mut rng)` once per batch, with the
//! training loop's own seeded RNG. It transforms the batch in place, keeps its size, and does not
//! allocate after its first call. Apply it to training batches only, never to validation, test
//! or prediction batches. The same seed and batch order give the same augmented batches.
//!
//! ```
//! use dl_core::data::{Augmentation, ImageAugment};
//! use dl_core::{Act, Chw};
//! use rand::SeedableRng;
//! let mut aug = ImageAugment::<3, 32, 32>::new()
//!     .horizontal_flip(0.5)
//!     .random_crop(4)
//!     .rotation(10.0);
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//! let mut batch = Act::<Chw<3, 32, 32>>::from_vec(vec![1.0; 2 * 3 * 32 * 32]).unwrap();
//! aug.apply(&mut batch, &mut rng); // once per batch, in the training loop
//! assert_eq!(batch.batch(), 2);
//! // Crops and rotations bring in zeros at the borders, never values from nowhere.
//! assert!(batch.as_slice().iter().all(|&v| (0.0..=1.0 + 1e-6).contains(&v)));
//! ```
//!
//! A closure `FnMut(&mut Act<S>, &mut dyn RngCore)` is an augmentation too, for custom ones.

use crate::tensor::{Act, Chw, Shape};
use rand::{Rng, RngCore};

/// A random transformation of a training batch, applied in place once per batch.
pub trait Augmentation<S: Shape> {
    /// Transforms every sample of `batch` in place, drawing randomness only from `rng`.
    fn apply(&mut self, batch: &mut Act<S>, rng: &mut dyn RngCore);
}

impl<S: Shape, F: FnMut(&mut Act<S>, &mut dyn RngCore)> Augmentation<S> for F {
    fn apply(&mut self, batch: &mut Act<S>, rng: &mut dyn RngCore) {
        self(batch, rng)
    }
}

/// Flips, crops and rotations of `[C, H, W]` images, each sample transformed independently.
///
/// Per sample, in this order (each step only if enabled, each drawing from the RNG):
/// 1. horizontal flip (mirror left–right) with probability `p` (torchvision
///    `RandomHorizontalFlip(p)`);
/// 2. vertical flip (upside down) with probability `p` (`RandomVerticalFlip(p)`);
/// 3. random crop with zero padding: pad by `padding` zeros on every side, crop `H×W` at a
///    uniformly random position, i.e. shift by `dy, dx ∈ [−padding, padding]`
///    (`RandomCrop(H, padding=padding)`);
/// 4. rotation by an angle uniform in `[−max, max]` degrees about the image centre, positive
///    angles counter-clockwise as displayed, bilinear interpolation, zeros outside the source
///    (`RandomRotation(max, interpolation=BILINEAR)`).
///
/// `new()` enables nothing (the identity). Probabilities above 1 mean always, 0 never. A scratch
/// buffer of one sample is allocated on the first call and reused.
#[derive(Clone, Debug, Default)]
pub struct ImageAugment<const C: usize, const H: usize, const W: usize> {
    hflip: f32,
    vflip: f32,
    padding: usize,
    max_degrees: f32,
    scratch: Vec<f32>,
}

impl<const C: usize, const H: usize, const W: usize> ImageAugment<C, H, W> {
    /// No transformation; enable steps with the builder methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mirrors left–right with probability `p`.
    pub fn horizontal_flip(mut self, p: f32) -> Self {
        self.hflip = p;
        self
    }

    /// Flips upside down with probability `p`.
    pub fn vertical_flip(mut self, p: f32) -> Self {
        self.vflip = p;
        self
    }

    /// Random crop of the image padded with `padding` zeros on every side.
    pub fn random_crop(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// Rotation by a uniform angle in `[−max_degrees, max_degrees]`.
    pub fn rotation(mut self, max_degrees: f32) -> Self {
        self.max_degrees = max_degrees.abs();
        self
    }

    /// Transforms one sample (`C·H·W` values).
    fn apply_sample(&mut self, s: &mut [f32], rng: &mut dyn RngCore) {
        if self.hflip > 0.0 && rng.random::<f32>() < self.hflip {
            flip_horizontal::<C, H, W>(s);
        }
        if self.vflip > 0.0 && rng.random::<f32>() < self.vflip {
            flip_vertical::<C, H, W>(s);
        }
        if self.padding > 0 {
            let p = self.padding as i64;
            let dy = rng.random_range(-p..=p) as isize;
            let dx = rng.random_range(-p..=p) as isize;
            if (dy, dx) != (0, 0) {
                self.scratch.copy_from_slice(s);
                shift::<C, H, W>(&self.scratch, s, dy, dx);
            }
        }
        if self.max_degrees > 0.0 {
            let deg = rng.random_range(-self.max_degrees..=self.max_degrees);
            self.scratch.copy_from_slice(s);
            rotate::<C, H, W>(&self.scratch, s, deg.to_radians());
        }
    }
}

impl<const C: usize, const H: usize, const W: usize> Augmentation<Chw<C, H, W>>
    for ImageAugment<C, H, W>
{
    fn apply(&mut self, batch: &mut Act<Chw<C, H, W>>, rng: &mut dyn RngCore) {
        if self.scratch.len() != C * H * W {
            self.scratch.resize(C * H * W, 0.0);
        }
        for i in 0..batch.batch() {
            self.apply_sample(batch.sample_mut(i), rng);
        }
    }
}

/// Mirrors every row of every channel.
fn flip_horizontal<const C: usize, const H: usize, const W: usize>(s: &mut [f32]) {
    s.chunks_exact_mut(W).for_each(<[f32]>::reverse);
}

/// Reverses the row order of every channel.
fn flip_vertical<const C: usize, const H: usize, const W: usize>(s: &mut [f32]) {
    for plane in s.chunks_exact_mut(H * W) {
        for y in 0..H / 2 {
            let (top, bottom) = plane.split_at_mut((H - 1 - y) * W);
            top[y * W..(y + 1) * W].swap_with_slice(&mut bottom[..W]);
        }
    }
}

/// `dst[c, y, x] = src[c, y + dy, x + dx]`, zero where that is outside the image.
fn shift<const C: usize, const H: usize, const W: usize>(
    src: &[f32],
    dst: &mut [f32],
    dy: isize,
    dx: isize,
) {
    for c in 0..C {
        for y in 0..H {
            let row = &mut dst[(c * H + y) * W..(c * H + y + 1) * W];
            let sy = y as isize + dy;
            if sy < 0 || sy >= H as isize {
                row.fill(0.0);
                continue;
            }
            let src_row = &src[(c * H + sy as usize) * W..(c * H + sy as usize + 1) * W];
            for (x, v) in row.iter_mut().enumerate() {
                let sx = x as isize + dx;
                *v = if sx < 0 || sx >= W as isize {
                    0.0
                } else {
                    src_row[sx as usize]
                };
            }
        }
    }
}

/// Rotates by `theta` radians (counter-clockwise as displayed) about the centre, bilinear,
/// zeros outside the source.
fn rotate<const C: usize, const H: usize, const W: usize>(
    src: &[f32],
    dst: &mut [f32],
    theta: f32,
) {
    let (sin, cos) = theta.sin_cos();
    let (cy, cx) = ((H as f32 - 1.0) / 2.0, (W as f32 - 1.0) / 2.0);
    let at = |c: usize, y: isize, x: isize| -> f32 {
        if y < 0 || x < 0 || y >= H as isize || x >= W as isize {
            0.0
        } else {
            src[(c * H + y as usize) * W + x as usize]
        }
    };
    for y in 0..H {
        let dy = y as f32 - cy;
        for x in 0..W {
            let dx = x as f32 - cx;
            let sx = cx + dx * cos - dy * sin;
            let sy = cy + dx * sin + dy * cos;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            for c in 0..C {
                let v = (1.0 - fy) * ((1.0 - fx) * at(c, y0, x0) + fx * at(c, y0, x0 + 1))
                    + fy * ((1.0 - fx) * at(c, y0 + 1, x0) + fx * at(c, y0 + 1, x0 + 1));
                dst[(c * H + y) * W + x] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// A `[2, 3, 4]` image with distinct values `c·100 + y·10 + x`.
    fn image() -> Vec<f32> {
        let mut v = Vec::new();
        for c in 0..2 {
            for y in 0..3 {
                for x in 0..4 {
                    v.push((c * 100 + y * 10 + x) as f32);
                }
            }
        }
        v
    }

    fn at(s: &[f32], c: usize, y: usize, x: usize) -> f32 {
        s[(c * 3 + y) * 4 + x]
    }

    #[test]
    fn flips_mirror_rows_and_reverse_row_order() {
        let mut s = image();
        flip_horizontal::<2, 3, 4>(&mut s);
        assert_eq!(&s[..4], &[3.0, 2.0, 1.0, 0.0]);
        assert_eq!(at(&s, 1, 2, 0), 123.0);
        let mut t = image();
        flip_vertical::<2, 3, 4>(&mut t);
        assert_eq!(&t[..4], &[20.0, 21.0, 22.0, 23.0]);
        assert_eq!(at(&t, 1, 1, 3), 113.0);
        assert_eq!(at(&t, 1, 0, 0), 120.0);
    }

    #[test]
    fn shift_moves_content_and_pads_with_zeros() {
        let src = image();
        let mut dst = vec![f32::NAN; src.len()];
        shift::<2, 3, 4>(&src, &mut dst, 1, -2);
        for c in 0..2usize {
            for y in 0..3usize {
                for x in 0..4usize {
                    let (sy, sx) = (y as isize + 1, x as isize - 2);
                    let want = if (0..3).contains(&sy) && (0..4).contains(&sx) {
                        (c as isize * 100 + sy * 10 + sx) as f32
                    } else {
                        0.0
                    };
                    assert_eq!(at(&dst, c, y, x), want, "c{c} y{y} x{x}");
                }
            }
        }
    }

    #[test]
    fn rotation_by_90_degrees_is_a_transpose_and_flip_and_180_is_both_flips() {
        // 3×3: out[y][x] = in[x][2 − y] for a quarter turn counter-clockwise.
        let src: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut dst = vec![0.0; 9];
        rotate::<1, 3, 3>(&src, &mut dst, std::f32::consts::FRAC_PI_2);
        for y in 0..3 {
            for x in 0..3 {
                let want = src[x * 3 + (2 - y)];
                assert!(
                    (dst[y * 3 + x] - want).abs() < 1e-5,
                    "y{y} x{x}: {} vs {want}",
                    dst[y * 3 + x]
                );
            }
        }
        // The top-right corner moves to the top-left.
        assert!((dst[0] - 2.0).abs() < 1e-5);
        let src = image();
        let mut rot = vec![0.0; src.len()];
        rotate::<2, 3, 4>(&src, &mut rot, std::f32::consts::PI);
        let mut flipped = image();
        flip_horizontal::<2, 3, 4>(&mut flipped);
        flip_vertical::<2, 3, 4>(&mut flipped);
        for (r, f) in rot.iter().zip(&flipped) {
            assert!((r - f).abs() < 1e-4, "{r} vs {f}");
        }
    }

    #[test]
    fn small_rotation_interpolates_between_neighbours_and_zero_fills() {
        // A constant image rotated keeps its value in the middle and loses mass at the corners.
        let src = vec![1.0; 8 * 8];
        let mut dst = vec![0.0; 64];
        rotate::<1, 8, 8>(&src, &mut dst, 10f32.to_radians());
        assert!((dst[3 * 8 + 4] - 1.0).abs() < 1e-6);
        assert!(dst[0] < 0.9);
        assert!(dst.iter().all(|&v| (0.0..=1.0 + 1e-6).contains(&v)));
    }

    #[test]
    fn identity_leaves_the_batch_unchanged_and_always_flip_flips_every_sample() {
        let mut rng = StdRng::seed_from_u64(0);
        let data: Vec<f32> = image().into_iter().chain(image()).collect();
        let mut batch = Act::<Chw<2, 3, 4>>::from_vec(data.clone()).expect("batch");
        ImageAugment::<2, 3, 4>::new().apply(&mut batch, &mut rng);
        assert_eq!(batch.as_slice(), &data[..]);
        ImageAugment::<2, 3, 4>::new()
            .horizontal_flip(1.0)
            .apply(&mut batch, &mut rng);
        let mut one = image();
        flip_horizontal::<2, 3, 4>(&mut one);
        assert_eq!(batch.sample(0), &one[..]);
        assert_eq!(batch.sample(1), &one[..]);
    }

    #[test]
    fn same_seed_gives_the_same_batch_and_flips_happen_about_half_the_time() {
        let make = || {
            ImageAugment::<2, 3, 4>::new()
                .horizontal_flip(0.5)
                .vertical_flip(0.5)
                .random_crop(1)
        };
        let data: Vec<f32> = (0..200).flat_map(|_| image()).collect();
        let run = |seed| {
            let mut b = Act::<Chw<2, 3, 4>>::from_vec(data.clone()).expect("batch");
            make().apply(&mut b, &mut StdRng::seed_from_u64(seed));
            b.into_vec()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        // Horizontal flips alone: the first pixel is 3 when flipped, 0 otherwise.
        let mut b = Act::<Chw<2, 3, 4>>::from_vec(data.clone()).expect("batch");
        ImageAugment::<2, 3, 4>::new()
            .horizontal_flip(0.5)
            .apply(&mut b, &mut StdRng::seed_from_u64(5));
        let flipped = (0..200).filter(|&i| b.sample(i)[0] == 3.0).count();
        assert!((70..130).contains(&flipped), "{flipped} of 200 flipped");
    }

    #[test]
    fn every_crop_is_a_shift_within_the_padding() {
        let data: Vec<f32> = (0..50).flat_map(|_| image()).collect();
        let mut b = Act::<Chw<2, 3, 4>>::from_vec(data).expect("batch");
        ImageAugment::<2, 3, 4>::new()
            .random_crop(1)
            .apply(&mut b, &mut StdRng::seed_from_u64(9));
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..50 {
            let found = (-1..=1)
                .flat_map(|dy| (-1..=1).map(move |dx| (dy, dx)))
                .find(|&(dy, dx)| {
                    let mut want = vec![0.0; 24];
                    shift::<2, 3, 4>(&image(), &mut want, dy, dx);
                    b.sample(i) == &want[..]
                });
            seen.insert(found.expect("sample is a shifted copy"));
        }
        assert_eq!(
            seen.len(),
            9,
            "all nine offsets occur in 50 draws: {seen:?}"
        );
    }

    #[test]
    fn scratch_is_allocated_once() {
        let mut aug = ImageAugment::<2, 3, 4>::new().random_crop(1).rotation(15.0);
        let mut rng = StdRng::seed_from_u64(1);
        let mut b = Act::<Chw<2, 3, 4>>::from_vec(image()).expect("batch");
        aug.apply(&mut b, &mut rng);
        let ptr = aug.scratch.as_ptr();
        for _ in 0..10 {
            aug.apply(&mut b, &mut rng);
        }
        assert_eq!(aug.scratch.as_ptr(), ptr);
        assert_eq!(aug.scratch.capacity(), 24);
    }

    #[test]
    fn closures_are_augmentations() {
        let mut add_noise = |b: &mut Act<Chw<1, 1, 2>>, rng: &mut dyn RngCore| {
            b.as_mut_slice()
                .iter_mut()
                .for_each(|v| *v += rng.random_range(0.0..1.0));
        };
        let mut b = Act::<Chw<1, 1, 2>>::zeros(1);
        Augmentation::apply(&mut add_noise, &mut b, &mut StdRng::seed_from_u64(0));
        assert!(b.as_slice().iter().all(|&v| v > 0.0 && v < 1.0));
    }
}
