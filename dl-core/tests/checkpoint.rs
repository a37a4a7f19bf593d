//! Safetensors checkpoints: interop with a file written by PyTorch, round trips, mismatches,
//! corrupt files.

use dl_core::io::safetensors::{self, from_bytes, to_bytes};
use dl_core::testing::{GoldenCase, golden_dir};
use dl_core::{Act, Dense, Error, Flat, Layer, Mode, Param, ParamName, Parameters};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `nn.Sequential(nn.Linear(784, H), nn.ReLU(), nn.Linear(H, 10))`'s parameters, named as in its
/// state dict ("0" and "2": the ReLU counts as layer 1). Written by hand here; `sequential!`
/// generates the same for real models.
struct Mlp<const H: usize> {
    l0: Dense<784, H>,
    l2: Dense<H, 10>,
}

impl<const H: usize> Mlp<H> {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Mlp {
            l0: Dense::new(&mut rng),
            l2: Dense::new(&mut rng),
        }
    }

    fn predict(&mut self, x: &Act<Flat<784>>) -> Vec<f32> {
        let (mut h, mut y) = (Act::default(), Act::default());
        self.l0.forward(x, &mut h, Mode::Eval);
        h.as_mut_slice().iter_mut().for_each(|v| *v = v.max(0.0));
        self.l2.forward(&h, &mut y, Mode::Eval);
        y.into_vec()
    }
}

/// Renames a child's parameters into layer `layer`.
fn visit_child(layer: &str, child: &dyn Parameters, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
    child.visit(&mut |n, p| {
        f(
            ParamName {
                layer,
                name: n.name,
            },
            p,
        )
    });
}

fn visit_child_mut(
    layer: &str,
    child: &mut dyn Parameters,
    f: &mut dyn FnMut(ParamName<'_>, &mut Param),
) {
    child.visit_mut(&mut |n, p| {
        f(
            ParamName {
                layer,
                name: n.name,
            },
            p,
        )
    });
}

impl<const H: usize> Parameters for Mlp<H> {
    fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
        visit_child("0", &self.l0, f);
        visit_child("2", &self.l2, f);
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
        visit_child_mut("0", &mut self.l0, f);
        visit_child_mut("2", &mut self.l2, f);
    }
}

/// Same parameters but the second layer named "3" instead of "2".
struct Renamed(Mlp<128>);

impl Parameters for Renamed {
    fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
        visit_child("0", &self.0.l0, f);
        visit_child("3", &self.0.l2, f);
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
        visit_child_mut("0", &mut self.0.l0, f);
        visit_child_mut("3", &mut self.0.l2, f);
    }
}

fn values(p: &dyn Parameters) -> HashMap<String, Vec<f32>> {
    let mut m = HashMap::new();
    p.visit(&mut |n, p| {
        m.insert(n.to_string(), p.value().to_vec());
    });
    m
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn pytorch_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mlp_784_128_10.safetensors")
}

fn golden() -> GoldenCase {
    GoldenCase::load(&golden_dir().join("net_mlp_784_128_10.json")).expect("golden case")
}

#[test]
fn file_written_by_pytorch_loads_with_the_golden_values_and_logits() {
    let case = golden();
    let mut mlp = Mlp::<128>::new(0);
    safetensors::load(&mut mlp, pytorch_file()).expect("PyTorch checkpoint loads");
    for (name, v) in values(&mlp) {
        let want = case.t(&format!("param.{name}"));
        assert_eq!(bits(&v), bits(want), "{name} differs from the golden JSON");
    }
    // And the network computes PyTorch's logits.
    let x = Act::<Flat<784>>::from_slice(case.t("x")).expect("x");
    let got = mlp.predict(&x);
    dl_core::testing::check_close(
        "logits",
        &got,
        case.t("logits"),
        dl_core::testing::GOLDEN_RTOL,
    )
    .expect("logits match PyTorch");
}

#[test]
fn round_trip_gives_bit_identical_values_and_predictions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mlp.safetensors");
    let mut a = Mlp::<128>::new(1);
    safetensors::save(&a, &path).expect("saves");
    let mut b = Mlp::<128>::new(2);
    assert_ne!(bits(a.l0.weight.value()), bits(b.l0.weight.value()));
    safetensors::load(&mut b, &path).expect("loads");
    let (va, vb) = (values(&a), values(&b));
    assert_eq!(va.len(), 4);
    for (name, v) in &va {
        assert_eq!(bits(v), bits(&vb[name]), "{name}");
    }
    let x = Act::<Flat<784>>::from_slice(golden().t("x")).expect("x");
    assert_eq!(bits(&a.predict(&x)), bits(&b.predict(&x)));
    // The bytes are the same as PyTorch's for the same values (same names, order-independent
    // header aside): loading the PyTorch file and saving it reproduces every tensor.
    let mut c = Mlp::<128>::new(3);
    safetensors::load(&mut c, pytorch_file()).expect("loads");
    let mut d = Mlp::<128>::new(4);
    from_bytes(&mut d, &to_bytes(&c).expect("bytes")).expect("from bytes");
    assert_eq!(bits(c.l2.weight.value()), bits(d.l2.weight.value()));
}

#[test]
fn shape_mismatches_are_all_reported_and_the_model_is_untouched() {
    let mut small = Mlp::<64>::new(5);
    let before = values(&small);
    let err = safetensors::load(&mut small, pytorch_file()).unwrap_err();
    assert!(matches!(err, Error::StateDict(ref v) if v.len() == 3));
    assert_eq!(
        err.to_string(),
        "checkpoint does not match the model:\n\
         `0.weight`: expected shape [64, 784], found [128, 784]\n\
         `0.bias`: expected shape [64], found [128]\n\
         `2.weight`: expected shape [10, 64], found [10, 128]"
    );
    assert_eq!(values(&small), before);
}

#[test]
fn missing_and_unexpected_keys_are_all_reported_and_the_model_is_untouched() {
    let mut renamed = Renamed(Mlp::<128>::new(6));
    let before = values(&renamed);
    let err = safetensors::load(&mut renamed, pytorch_file()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "checkpoint does not match the model:\n\
         missing key `3.weight`: expected shape [10, 128]\n\
         missing key `3.bias`: expected shape [10]\n\
         unexpected key `2.bias` (shape [10])\n\
         unexpected key `2.weight` (shape [10, 128])"
    );
    assert_eq!(values(&renamed), before);
}

#[test]
fn corrupt_and_truncated_files_are_errors_not_panics_and_leave_the_model_untouched() {
    let good = std::fs::read(pytorch_file()).expect("read");
    let mut mlp = Mlp::<128>::new(7);
    let before = values(&mlp);
    let header_len = u64::from_le_bytes(good[..8].try_into().expect("8 bytes")) as usize;
    let mut cuts: Vec<usize> = (0..header_len + 16).collect();
    cuts.extend([good.len() / 2, good.len() - 4, good.len() - 1]);
    for cut in cuts {
        let err = from_bytes(&mut mlp, &good[..cut]).unwrap_err().to_string();
        assert!(
            err.starts_with("<checkpoint bytes>: not a valid safetensors file: "),
            "cut {cut}: {err}"
        );
    }
    // Flipped bytes in the header (into a scratch model: some flips, e.g. in a digit of an
    // offset, still give a valid file), a huge header length, trailing garbage.
    let mut scratch = Mlp::<128>::new(8);
    for i in 8..8 + header_len {
        let mut bad = good.clone();
        bad[i] ^= 0x5a;
        let _ = from_bytes(&mut scratch, &bad); // must not panic
    }
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(from_bytes(&mut mlp, &huge).is_err());
    let mut longer = good.clone();
    longer.extend_from_slice(b"junk");
    assert!(from_bytes(&mut mlp, &longer).is_err());
    assert_eq!(values(&mlp), before);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cut.safetensors");
    std::fs::write(&path, &good[..1000]).expect("write");
    let err = safetensors::load(&mut mlp, &path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: not a valid safetensors file", path.display())),
        "{err}"
    );
    assert_eq!(values(&mlp), before);
    let missing = dir.path().join("none.safetensors");
    let err = safetensors::load(&mut mlp, &missing).unwrap_err();
    assert!(matches!(err, Error::Io { ref path, .. } if *path == missing));
}

/// A BatchNorm-like holder: buffers and a counter.
struct Bn {
    mean: Param,
    var: Param,
    count: Param,
}

impl Parameters for Bn {
    fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
        f(
            ParamName {
                layer: "1",
                name: "running_mean",
            },
            &self.mean,
        );
        f(
            ParamName {
                layer: "1",
                name: "running_var",
            },
            &self.var,
        );
        f(
            ParamName {
                layer: "1",
                name: "num_batches_tracked",
            },
            &self.count,
        );
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
        f(
            ParamName {
                layer: "1",
                name: "running_mean",
            },
            &mut self.mean,
        );
        f(
            ParamName {
                layer: "1",
                name: "running_var",
            },
            &mut self.var,
        );
        f(
            ParamName {
                layer: "1",
                name: "num_batches_tracked",
            },
            &mut self.count,
        );
    }
}

fn bn(mean: [f32; 2], var: [f32; 2], count: f32) -> Bn {
    let mut c = Param::counter();
    c.value_mut()[0] = count;
    Bn {
        mean: Param::buffer(&[2], mean.to_vec()),
        var: Param::buffer(&[2], var.to_vec()),
        count: c,
    }
}

/// Safetensors bytes of the given tensors, written with the reference crate.
fn file_of(tensors: &[(&str, ::safetensors::Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<(&str, ::safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            (
                *n,
                ::safetensors::tensor::TensorView::new(*d, s.clone(), b).expect("view"),
            )
        })
        .collect();
    ::safetensors::serialize(views, None).expect("serialize")
}

#[test]
fn buffers_and_counters_round_trip_and_other_float_dtypes_convert() {
    use ::safetensors::Dtype;
    let a = bn([0.5, -1.25], [2.0, 0.75], 17.0);
    let mut b = bn([0.0; 2], [1.0; 2], 0.0);
    from_bytes(&mut b, &to_bytes(&a).expect("bytes")).expect("loads");
    assert_eq!(
        (
            b.mean.value().to_vec(),
            b.var.value().to_vec(),
            b.count.value()[0]
        ),
        (vec![0.5, -1.25], vec![2.0, 0.75], 17.0)
    );

    let f64s: Vec<u8> = [0.1f64, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let f16s: Vec<u8> = [0x3c00u16, 0xc100]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect(); // 1, -2.5
    let bf16s: Vec<u8> = [0x4040u16, 0x3f80]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect(); // 3, 1
    let count = 9i64.to_le_bytes().to_vec();
    for (dtype, data, want) in [
        (Dtype::F64, f64s, [0.1f32, 3.0]),
        (Dtype::F16, f16s, [1.0, -2.5]),
        (Dtype::BF16, bf16s, [3.0, 1.0]),
    ] {
        let bytes = file_of(&[
            ("1.running_mean", dtype, vec![2], data.clone()),
            ("1.running_var", dtype, vec![2], data),
            ("1.num_batches_tracked", Dtype::I64, vec![], count.clone()),
        ]);
        let mut m = bn([0.0; 2], [0.0; 2], 0.0);
        from_bytes(&mut m, &bytes).expect("converts");
        assert_eq!(m.mean.value(), want, "{dtype:?}");
        assert_eq!(m.count.value()[0], 9.0);
    }

    // Integer values and float counters are refused, with every problem listed.
    let bytes = file_of(&[
        ("1.running_mean", Dtype::I32, vec![2], vec![0; 8]),
        ("1.running_var", Dtype::F32, vec![2, 1], vec![0; 8]),
        ("1.num_batches_tracked", Dtype::F32, vec![], vec![0; 4]),
        ("extra", Dtype::U8, vec![3], vec![0; 3]),
    ]);
    let mut m = bn([4.0; 2], [5.0; 2], 6.0);
    let err = from_bytes(&mut m, &bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "checkpoint does not match the model:\n\
         `1.running_mean`: expected dtype F32, F64, F16 or BF16, found I32\n\
         `1.running_var`: expected shape [2], found [2, 1]\n\
         `1.num_batches_tracked`: expected dtype I64, found F32\n\
         unexpected key `extra` (shape [3])"
    );
    assert_eq!(
        (m.mean.value()[0], m.var.value()[0], m.count.value()[0]),
        (4.0, 5.0, 6.0)
    );
}

/// `nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))`'s state dict, by hand.
struct LinearBn {
    l0: Dense<2, 3>,
    weight: Param,
    bias: Param,
    bn: Bn,
}

impl Parameters for LinearBn {
    fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
        visit_child("0", &self.l0, f);
        f(
            ParamName {
                layer: "1",
                name: "weight",
            },
            &self.weight,
        );
        f(
            ParamName {
                layer: "1",
                name: "bias",
            },
            &self.bias,
        );
        self.bn.visit(f);
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
        visit_child_mut("0", &mut self.l0, f);
        f(
            ParamName {
                layer: "1",
                name: "weight",
            },
            &mut self.weight,
        );
        f(
            ParamName {
                layer: "1",
                name: "bias",
            },
            &mut self.bias,
        );
        self.bn.visit_mut(f);
    }
}

impl LinearBn {
    fn new() -> Self {
        let mut bn = bn([0.0; 2], [1.0; 2], 0.0);
        bn.mean = Param::buffer(&[3], vec![0.0; 3]);
        bn.var = Param::buffer(&[3], vec![1.0; 3]);
        LinearBn {
            l0: Dense::new(&mut StdRng::seed_from_u64(0)),
            weight: Param::trainable(&[3], vec![1.0; 3]),
            bias: Param::trainable(&[3], vec![0.0; 3]),
            bn,
        }
    }
}

#[test]
fn batchnorm_state_written_by_pytorch_loads_with_its_int64_counter_and_round_trips() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bn_1d.safetensors");
    let mut m = LinearBn::new();
    safetensors::load(&mut m, &path).expect("PyTorch BatchNorm checkpoint loads");
    assert_eq!(m.l0.weight.value(), [0.5, -1.0, 2.0, 0.25, -0.75, 1.5]);
    assert_eq!(m.l0.bias.value(), [0.1, -0.2, 0.3]);
    assert_eq!(m.weight.value(), [1.5, 0.5, -1.0]);
    assert_eq!(m.bias.value(), [0.0, 0.25, -0.5]);
    // Values printed by the generating script (f32 values shown as f64).
    let mean = [
        0.09722500294446945f64,
        0.524331271648407,
        -0.02388746291399002,
    ];
    let var = [6.176812648773193f64, 11.518113136291504, 12.986577987670898];
    assert_eq!(m.bn.mean.value(), mean.map(|v| v as f32));
    assert_eq!(m.bn.var.value(), var.map(|v| v as f32));
    assert_eq!(m.bn.count.value(), [3.0]);

    let mut back = LinearBn::new();
    from_bytes(&mut back, &to_bytes(&m).expect("bytes")).expect("round trip");
    let (a, b) = (values(&m), values(&back));
    assert_eq!(a.len(), 7);
    for (name, v) in &a {
        assert_eq!(bits(v), bits(&b[name]), "{name}");
    }
}
