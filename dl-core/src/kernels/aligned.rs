//! [`AlignedVec`]: a growable buffer of `f32` whose first element lies on a 64-byte boundary.
//!
//! The kernels read and write whole 64-byte lines (16 AVX-512 lanes): a row that starts
//! mid-line splits every vector load and store across two lines. `Vec<f32>` is only 4-byte
//! aligned (glibc gives large blocks a 16-byte offset from the page), so activations,
//! parameters, gradients and scratch buffers are `AlignedVec`s, like PyTorch's tensors (its CPU
//! allocator aligns to 64 bytes). Measured before the switch with an aligning global allocator
//! (bench/NOTES.md section 47): `TN 4096 9216 16` 63 → 95 GFLOP/s, LeNet-5 training 1.06×,
//! MNIST MLP inference 1.10–1.19×.
//!
//! ```
//! use dl_core::kernels::aligned::AlignedVec;
//! let mut v = AlignedVec::zeros(3);
//! v[1] = 2.0;
//! v.resize(5, 7.0);
//! assert_eq!(v, [0.0, 2.0, 0.0, 7.0, 7.0]);
//! assert_eq!(v.as_ptr().align_offset(64), 0);
//! ```

use std::fmt;
use std::ops::{Deref, DerefMut};

/// Floats per 64-byte line.
const LANES: usize = 16;

/// One 64-byte line of floats: the unit of storage, whose alignment the buffer inherits.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; LANES]);

/// A `Vec<f32>` whose storage starts on a 64-byte boundary; it dereferences to `[f32]`.
///
/// Shrinking keeps the storage (like `Vec::resize`), so a buffer resized back and forth
/// allocates only when it grows past its largest length.
#[derive(Clone, Default)]
pub struct AlignedVec {
    lines: Vec<Line>,
    /// Valid floats: `len ≤ lines.len() · LANES`; the floats past it are initialised but unused.
    len: usize,
}

impl AlignedVec {
    /// An empty buffer (no allocation).
    pub const fn new() -> Self {
        AlignedVec {
            lines: Vec::new(),
            len: 0,
        }
    }

    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        Self::filled(len, 0.0)
    }

    /// `len` copies of `value`.
    pub fn filled(len: usize, value: f32) -> Self {
        let mut v = Self::new();
        v.resize(len, value);
        v
    }

    /// A copy of `values`.
    pub fn from_slice(values: &[f32]) -> Self {
        let mut v = Self::zeros(values.len());
        v.copy_from_slice(values);
        v
    }

    /// Sets the length to `len`, the new elements (if any) to `value`, the others kept.
    /// Allocates only when `len` is past every length the buffer has had.
    pub fn resize(&mut self, len: usize, value: f32) {
        let old = self.len;
        let lines = len.div_ceil(LANES);
        if lines > self.lines.len() {
            self.lines.resize(lines, Line([value; LANES]));
        }
        self.len = len;
        if len > old {
            self[old..].fill(value);
        }
    }

    /// The first `len` values, after growing the buffer to at least `len` (new values zero;
    /// never shrinks it, so a workspace used for two sizes in turn keeps its content and
    /// allocates only for a larger size than ever before).
    pub fn at_least(&mut self, len: usize) -> &mut [f32] {
        if self.len < len {
            self.resize(len, 0.0);
        }
        &mut self[..len]
    }
}

impl Deref for AlignedVec {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        // SAFETY: a `Line` is 16 `f32`s with no padding (`repr(C)`, size 64 = its alignment), so
        // `lines` is `lines.len() · 16` initialised, contiguous floats; `len` is at most that.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<f32>(), self.len) }
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, through the unique borrow of `lines`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f32>(), self.len) }
    }
}

impl From<Vec<f32>> for AlignedVec {
    fn from(v: Vec<f32>) -> Self {
        Self::from_slice(&v)
    }
}

impl<'a> IntoIterator for &'a AlignedVec {
    type Item = &'a f32;
    type IntoIter = std::slice::Iter<'a, f32>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut AlignedVec {
    type Item = &'a mut f32;
    type IntoIter = std::slice::IterMut<'a, f32>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl fmt::Debug for AlignedVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.deref().fmt(f)
    }
}

impl PartialEq for AlignedVec {
    fn eq(&self, other: &Self) -> bool {
        self.deref() == other.deref()
    }
}

impl<const N: usize> PartialEq<[f32; N]> for AlignedVec {
    fn eq(&self, other: &[f32; N]) -> bool {
        self.deref() == other
    }
}

impl PartialEq<[f32]> for AlignedVec {
    fn eq(&self, other: &[f32]) -> bool {
        self.deref() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_starts_on_a_line_and_keeps_its_values() {
        let mut v = AlignedVec::new();
        assert!(v.is_empty());
        for len in [1, 15, 16, 17, 100, 3, 0, 40] {
            let old = v.to_vec();
            v.resize(len, len as f32);
            assert_eq!(v.len(), len);
            assert_eq!(v.as_ptr().align_offset(64), 0, "length {len}");
            let kept = old.len().min(len);
            assert_eq!(v[..kept], old[..kept], "length {len}");
            // Values past the old length take the new value, even where storage was kept.
            assert!(v[kept..].iter().all(|&x| x == len as f32), "length {len}");
        }
    }

    #[test]
    fn at_least_grows_but_never_shrinks() {
        let mut v = AlignedVec::filled(5, 3.0);
        assert_eq!(v.at_least(2), [3.0, 3.0]);
        assert_eq!(v.len(), 5);
        assert_eq!(v.at_least(7), [3.0, 3.0, 3.0, 3.0, 3.0, 0.0, 0.0]);
        assert_eq!(v.len(), 7);
    }

    #[test]
    fn shrinking_and_growing_back_keeps_the_storage() {
        let mut v = AlignedVec::zeros(100);
        let p = v.as_ptr();
        v.resize(10, 1.0);
        v.resize(100, 2.0);
        assert_eq!(v.as_ptr(), p);
        assert_eq!(v[9], 0.0);
        assert_eq!(v[10], 2.0);
    }

    #[test]
    fn clones_and_conversions_hold_the_same_values() {
        let v = AlignedVec::from(vec![1.0, 2.0, 3.0]);
        let w = v.clone();
        assert_eq!(w, [1.0, 2.0, 3.0]);
        assert_eq!(w.as_ptr().align_offset(64), 0);
        assert_eq!(w.to_vec(), vec![1.0, 2.0, 3.0]);
        assert_eq!(format!("{w:?}"), "[1.0, 2.0, 3.0]");
    }
}
