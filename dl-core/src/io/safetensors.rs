//! Checkpoints as safetensors files with PyTorch state-dict names, shapes and dtypes.
//!
//! A model's parameters and buffers are saved under the names given by
//! [`Parameters::visit`] (`ParamName`'s `Display`: `0.weight`, `3.bias`, `conv1.running_mean`),
//! with their PyTorch shapes ([`Param::shape`]), as little-endian `F32`; counters
//! ([`ParamKind::Counter`], BatchNorm's `num_batches_tracked`) as scalar `I64` like PyTorch. So
//! a file written here loads in Python with
//! `model.load_state_dict(safetensors.torch.load_file(path))`, and a file written by
//! `safetensors.torch.save_file(model.state_dict(), path)` loads here into the matching model.
//!
//! Loading checks everything before changing anything: every missing key, unexpected key, shape
//! mismatch and unusable dtype is reported together in [`Error::StateDict`], one per line, and the
//! model is left untouched on any error. Values may be stored as `F32`, or `F64`, `F16` and
//! `BF16` (converted to `f32`); counters as `I64`. A corrupt or truncated file is an
//! [`Error::Format`] naming the file.
//!
//! Saving is atomic: the bytes go to a temporary file in the same folder, which is synced and
//! then renamed over the target, so a failure (full disk, crash) leaves any previous checkpoint
//! intact and removes the temporary file.
//!
//! ```
//! use dl_core::{Dense, Parameters, io::safetensors};
//! use rand::SeedableRng;
//! # fn main() -> dl_core::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("dense.safetensors");
//! let a = Dense::<3, 2>::new(&mut rand::rngs::StdRng::seed_from_u64(1));
//! safetensors::save(&a, &path)?;
//! let mut b = Dense::<3, 2>::new(&mut rand::rngs::StdRng::seed_from_u64(2));
//! safetensors::load(&mut b, &path)?;
//! assert_eq!(a.weight.value(), b.weight.value());
//!
//! // A checkpoint of another shape is rejected, naming every mismatch; `c` is unchanged.
//! let mut c = Dense::<4, 2>::new(&mut rand::rngs::StdRng::seed_from_u64(3));
//! let before = c.weight.value().to_vec();
//! let err = safetensors::load(&mut c, &path).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "checkpoint does not match the model:\n`weight`: expected shape [2, 4], found [2, 3]"
//! );
//! assert_eq!(c.weight.value(), before);
//! # Ok(()) }
//! ```

use crate::error::{Error, Result};
use crate::param::{Param, ParamKind, Parameters};
use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Saves every parameter and buffer of `params` to `path`, atomically.
pub fn save(params: &dyn Parameters, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_bytes(params)?;
    write_atomic(path, |w| w.write_all(&bytes))
}

/// Loads `path` into `params`; on any error `params` is unchanged.
pub fn load(params: &mut dyn Parameters, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_bytes(params, &bytes, path)
}

/// The safetensors bytes of `params` (what [`save`] writes).
pub fn to_bytes(params: &dyn Parameters) -> Result<Vec<u8>> {
    let mut entries: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    params.visit(&mut |name, p| {
        let (dtype, data) = encode(p);
        entries.push((name.to_string(), dtype, p.shape().to_vec(), data));
    });
    let mut seen = BTreeSet::new();
    let duplicates: Vec<String> = entries
        .iter()
        .filter(|e| !seen.insert(e.0.as_str()))
        .map(|e| format!("the model has more than one parameter named `{}`", e.0))
        .collect();
    if !duplicates.is_empty() {
        return Err(Error::StateDict(duplicates));
    }
    let mut views = Vec::with_capacity(entries.len());
    for (name, dtype, shape, data) in &entries {
        let view = TensorView::new(*dtype, shape.clone(), data).map_err(|e| {
            Error::size(
                format!("parameter `{name}`"),
                format!("values for shape {shape:?}"),
                format!("{e}"),
            )
        })?;
        views.push((name.as_str(), view));
    }
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    ::safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::config("checkpoint", format!("cannot serialise: {e}")))
}

/// Loads safetensors bytes into `params`; on any error `params` is unchanged.
pub fn from_bytes(params: &mut dyn Parameters, bytes: &[u8]) -> Result<()> {
    load_bytes(params, bytes, Path::new("<checkpoint bytes>"))
}

/// A parameter's dtype and little-endian bytes as saved.
fn encode(p: &Param) -> (Dtype, Vec<u8>) {
    match p.kind() {
        ParamKind::Counter => (
            Dtype::I64,
            p.value()
                .iter()
                .flat_map(|&v| (v.round() as i64).to_le_bytes())
                .collect(),
        ),
        ParamKind::Trainable | ParamKind::Buffer => (
            Dtype::F32,
            p.value().iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
    }
}

/// The values of a stored tensor as `f32`, or `None` if its dtype does not suit a parameter of
/// `kind`. The byte length has been validated by the safetensors parser.
fn decode(dtype: Dtype, data: &[u8], kind: ParamKind) -> Option<Vec<f32>> {
    let values = match (kind, dtype) {
        (ParamKind::Counter, Dtype::I64) => data
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("invariant: 8-byte chunk")) as f32)
            .collect(),
        (ParamKind::Counter, _) => return None,
        (_, Dtype::F32) => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("invariant: 4-byte chunk")))
            .collect(),
        (_, Dtype::F64) => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("invariant: 8-byte chunk")) as f32)
            .collect(),
        (_, Dtype::F16) => data
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        (_, Dtype::BF16) => data
            .chunks_exact(2)
            .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
            .collect(),
        _ => return None,
    };
    Some(values)
}

/// IEEE half precision to single precision (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    match exp {
        0 => sign * man as f32 * f32::powi(2.0, -24),
        31 if man == 0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => f32::from_bits((u32::from(h & 0x8000) << 16) | ((exp + 127 - 15) << 23) | (man << 13)),
    }
}

/// The dtypes accepted for a parameter of `kind`, for error messages.
fn accepted(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Counter => "I64",
        ParamKind::Trainable | ParamKind::Buffer => "F32, F64, F16 or BF16",
    }
}

/// Validates the whole file against `params`, then copies the values in.
fn load_bytes(params: &mut dyn Parameters, bytes: &[u8], source: &Path) -> Result<()> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| Error::format(source, format!("not a valid safetensors file: {e}")))?;

    let mut wanted: Vec<(String, Vec<usize>, ParamKind)> = Vec::new();
    params.visit(&mut |name, p| wanted.push((name.to_string(), p.shape().to_vec(), p.kind())));

    let mut problems = Vec::new();
    let mut staged: HashMap<String, Vec<f32>> = HashMap::new();
    for (name, shape, kind) in &wanted {
        if staged.contains_key(name) {
            problems.push(format!(
                "the model has more than one parameter named `{name}`"
            ));
            continue;
        }
        let Ok(view) = file.tensor(name) else {
            problems.push(format!("missing key `{name}`: expected shape {shape:?}"));
            continue;
        };
        if view.shape() != shape.as_slice() {
            problems.push(format!(
                "`{name}`: expected shape {shape:?}, found {:?}",
                view.shape()
            ));
            continue;
        }
        match decode(view.dtype(), view.data(), *kind) {
            Some(values) if values.len() == shape.iter().product::<usize>() => {
                staged.insert(name.clone(), values);
            }
            Some(values) => problems.push(format!(
                "`{name}`: expected {} values, found {}",
                shape.iter().product::<usize>(),
                values.len()
            )),
            None => problems.push(format!(
                "`{name}`: expected dtype {}, found {:?}",
                accepted(*kind),
                view.dtype()
            )),
        }
    }
    let model_names: BTreeSet<&str> = wanted.iter().map(|w| w.0.as_str()).collect();
    let mut file_names = file.names();
    file_names.sort_unstable();
    for name in file_names {
        if !model_names.contains(name) {
            let shape = file
                .tensor(name)
                .map(|v| v.shape().to_vec())
                .unwrap_or_default();
            problems.push(format!("unexpected key `{name}` (shape {shape:?})"));
        }
    }
    if !problems.is_empty() {
        return Err(Error::StateDict(problems));
    }

    params.visit_mut(&mut |name, p| {
        if let Some(values) = staged.get(&name.to_string())
            && values.len() == p.value().len()
        {
            p.value_mut().copy_from_slice(values);
        }
    });
    Ok(())
}

/// Distinguishes temporary files of concurrent saves within one process.
static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Writes `path` atomically: `write` fills a new temporary file in the same folder, which is
/// synced and renamed over `path`. On failure the temporary file is removed and `path` is
/// untouched. Errors name `path`.
fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Some(file_name) = path.file_name() else {
        return Err(Error::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
        ));
    };
    let (tmp, mut file) =
        create_temp(dir, &file_name.to_string_lossy()).map_err(|e| Error::io(path, e))?;
    let result = write(&mut file)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            std::fs::rename(&tmp, path)
        });
    match result {
        Ok(()) => {
            // Persist the rename itself; not every platform can sync a folder, so this is best effort.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(Error::io(path, e))
        }
    }
}

/// Creates a new hidden temporary file `.{name}.tmp-{pid}-{n}` in `dir`.
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..100 {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::ParamName;

    /// A writer that fails after `left` bytes, like a full disk.
    struct FailAfter<'a> {
        inner: &'a mut dyn Write,
        left: usize,
    }

    impl Write for FailAfter<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("injected failure: disk full"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            self.inner.write(&buf[..n])
        }
        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    struct Two {
        a: Param,
        n: Param,
    }

    impl Parameters for Two {
        fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
            f(
                ParamName {
                    layer: "bn",
                    name: "running_mean",
                },
                &self.a,
            );
            f(
                ParamName {
                    layer: "bn",
                    name: "num_batches_tracked",
                },
                &self.n,
            );
        }
        fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
            f(
                ParamName {
                    layer: "bn",
                    name: "running_mean",
                },
                &mut self.a,
            );
            f(
                ParamName {
                    layer: "bn",
                    name: "num_batches_tracked",
                },
                &mut self.n,
            );
        }
    }

    fn two(values: [f32; 3], count: f32) -> Two {
        let mut n = Param::counter();
        n.value_mut()[0] = count;
        Two {
            a: Param::buffer(&[3], values.to_vec()),
            n,
        }
    }

    #[test]
    fn failed_write_leaves_the_previous_checkpoint_and_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.safetensors");
        save(&two([1.0, 2.0, 3.0], 5.0), &path).expect("first save");
        let before = std::fs::read(&path).expect("read");

        let bytes = to_bytes(&two([7.0, 8.0, 9.0], 6.0)).expect("bytes");
        for cut in [0, 1, 8, bytes.len() / 2, bytes.len() - 1] {
            let err = write_atomic(&path, |w| {
                FailAfter {
                    inner: w,
                    left: cut,
                }
                .write_all(&bytes)
            })
            .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("{}: injected failure: disk full", path.display())
            );
            assert_eq!(std::fs::read(&path).expect("read"), before, "cut at {cut}");
            assert_eq!(files_in(dir.path()), ["model.safetensors"]);
        }
        let mut m = two([0.0; 3], 0.0);
        load(&mut m, &path).expect("old checkpoint still loads");
        assert_eq!((m.a.value(), m.n.value()[0]), (&[1.0, 2.0, 3.0][..], 5.0));

        // A full write replaces it.
        save(&two([7.0, 8.0, 9.0], 6.0), &path).expect("second save");
        load(&mut m, &path).expect("loads");
        assert_eq!((m.a.value(), m.n.value()[0]), (&[7.0, 8.0, 9.0][..], 6.0));
        assert_eq!(files_in(dir.path()), ["model.safetensors"]);
    }

    #[test]
    fn saving_into_a_missing_folder_is_an_error_naming_the_target() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no/such/dir/m.safetensors");
        let err = save(&two([1.0; 3], 0.0), &path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: ", path.display())), "{err}");
        assert!(err.contains("No such file"), "{err}");
    }

    #[test]
    fn counters_are_scalar_i64_and_values_f32() {
        let bytes = to_bytes(&two([1.5, 2.0, 3.0], 42.0)).expect("bytes");
        let st = SafeTensors::deserialize(&bytes).expect("valid");
        let n = st.tensor("bn.num_batches_tracked").expect("counter");
        assert_eq!((n.dtype(), n.shape()), (Dtype::I64, &[][..]));
        assert_eq!(n.data(), &42i64.to_le_bytes());
        let a = st.tensor("bn.running_mean").expect("buffer");
        assert_eq!((a.dtype(), a.shape()), (Dtype::F32, &[3][..]));
        assert_eq!(&a.data()[..4], &1.5f32.to_le_bytes());
    }

    #[test]
    fn half_precision_decodes_exactly() {
        let cases = [
            (0x3c00, 1.0),
            (0xc000, -2.0),
            (0x0001, f32::powi(2.0, -24)),
            (0x03ff, 1023.0 * f32::powi(2.0, -24)),
            (0x0400, f32::powi(2.0, -14)),
            (0x7bff, 65504.0),
            (0x3555, 0.333_251_95),
            (0x7c00, f32::INFINITY),
            (0xfc00, f32::NEG_INFINITY),
            (0x8000, -0.0),
        ];
        for (bits, want) in cases {
            assert_eq!(f16_to_f32(bits), want, "{bits:#06x}");
        }
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}
