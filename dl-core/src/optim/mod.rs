//! Optimizers with PyTorch's update rules and defaults, one file per optimizer.
//!
//! An optimizer visits a model's trainable parameters through [`Parameters::visit_mut`] in its
//! fixed order; its per-parameter state is allocated on the first step and reused after.
//!
//! | optimizer | PyTorch |
//! | --- | --- |
//! | [`Sgd`] | `torch.optim.SGD` (momentum, dampening, Nesterov, weight decay) |
//! | [`Adam`], [`Adam::adamw`] | `torch.optim.Adam` (L2 weight decay, AMSGrad), `torch.optim.AdamW` |
//! | [`Adagrad`] | `torch.optim.Adagrad` |
//! | [`RmsProp`] | `torch.optim.RMSprop` (momentum, centered) |

mod adagrad;
mod adam;
mod rmsprop;
mod sgd;

pub use adagrad::Adagrad;
pub use adam::Adam;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

use crate::error::{Error, Result};
use crate::kernels::aligned::AlignedVec;
use crate::kernels::run_batch_parts;
use crate::param::Parameters;

/// Updates parameters from their gradients.
pub trait Optimizer {
    /// One update of every trainable parameter of `params` from its current gradient.
    fn step(&mut self, params: &mut dyn Parameters);
    /// The current learning rate.
    fn learning_rate(&self) -> f32;
    /// Sets the learning rate (used by schedules).
    fn set_learning_rate(&mut self, lr: f32);

    /// Rejects invalid hyper-parameters (a negative learning rate, a momentum outside `[0, 1)`,
    /// …) with a message naming the setting, the accepted range and the value. The training loop
    /// calls it before the first step.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Everything needed to resume training exactly: named `f32` buffers (`"step"`, `"lr"`, and
    /// per parameter `"{param}.{buffer}"`, e.g. `"0.weight.exp_avg"`), for a checkpoint.
    /// Stateless optimizers return nothing.
    fn state(&self) -> Vec<(String, Vec<f32>)> {
        Vec::new()
    }

    /// Restores what [`Optimizer::state`] exported, checked against the parameters it will
    /// update; every missing, unexpected or wrongly sized buffer is reported in one
    /// [`Error::StateDict`].
    fn load_state(&mut self, params: &dyn Parameters, state: &[(String, Vec<f32>)]) -> Result<()> {
        let _ = params;
        if state.is_empty() {
            Ok(())
        } else {
            Err(Error::StateDict(vec![
                "this optimizer keeps no state, but the checkpoint has some".into(),
            ]))
        }
    }
}

/// A named per-parameter buffer and its initial value (`("exp_avg", 0.0)`).
type Kind = (&'static str, f32);

/// Most buffers an optimizer keeps per parameter (Adam with AMSGrad, centered RMSprop with
/// momentum: three).
const MAX_KINDS: usize = 3;

/// Parameters with at least this many values (64 Ki) are updated in two halves on the worker
/// pool, see [`Slots::step`]; for smaller ones waking a worker costs more than the update.
const PARALLEL_MIN_VALUES: usize = 1 << 16;

/// The state shared by every optimizer: the step count and, per trainable parameter (in visiting
/// order), its name and one buffer per [`Kind`].
#[derive(Clone, Debug, Default)]
struct Slots {
    steps: u64,
    names: Vec<String>,
    buffers: Vec<Vec<AlignedVec>>,
}

impl Slots {
    /// Whether the buffers were made for these parameters and kinds.
    fn fits(&self, params: &dyn Parameters, kinds: &[Kind]) -> bool {
        let mut k = 0;
        let mut fits = true;
        params.visit(&mut |_, p| {
            if p.is_trainable() {
                fits &= self.buffers.get(k).is_some_and(|b| {
                    b.len() == kinds.len() && b.iter().all(|b| b.len() == p.len())
                });
                k += 1;
            }
        });
        fits && k == self.buffers.len()
    }

    /// Fresh buffers for `params`, step count 0.
    fn reset(&mut self, params: &dyn Parameters, kinds: &[Kind]) {
        self.steps = 0;
        self.names.clear();
        self.buffers.clear();
        params.visit(&mut |name, p| {
            if p.is_trainable() {
                self.names.push(name.to_string());
                self.buffers.push(
                    kinds
                        .iter()
                        .map(|&(_, init)| AlignedVec::filled(p.len(), init))
                        .collect(),
                );
            }
        });
    }

    /// Counts a step and calls `update(t, value, grad, buffers)` for every trainable parameter,
    /// `t` being the 1-based step number. Buffers are allocated on the first step, or afresh when
    /// `params` is not the set of parameters they were made for.
    ///
    /// Every update is elementwise, so a parameter of at least [`PARALLEL_MIN_VALUES`] values is
    /// updated in two halves (value, gradient and buffers cut at the same index) on the worker
    /// pool ([`run_batch_parts`]): the same bits at any thread count, and at 2 threads twice the
    /// memory bandwidth for a step that only streams memory (Adam over AlexNet CIFAR's 23 M
    /// parameters reads and writes 650 MB: 15% of its training step at 1 thread).
    fn step(
        &mut self,
        params: &mut dyn Parameters,
        kinds: &[Kind],
        update: impl Fn(u64, &mut [f32], &[f32], &mut [&mut [f32]]) + Sync,
    ) {
        assert!(
            kinds.len() <= MAX_KINDS,
            "invariant: at most {MAX_KINDS} buffers per parameter"
        );
        if !self.fits(params, kinds) {
            self.reset(params, kinds);
        }
        self.steps += 1;
        let t = self.steps;
        let mut buffers = self.buffers.iter_mut();
        params.visit_mut(&mut |_, p| {
            if p.is_trainable() {
                let bufs = buffers
                    .next()
                    .expect("invariant: one slot per trainable parameter");
                let (value, grad) = p.value_and_grad();
                let mid = if value.len() >= PARALLEL_MIN_VALUES {
                    (value.len() / 2).next_multiple_of(16)
                } else {
                    value.len()
                };
                let (v0, v1) = value.split_at_mut(mid);
                let (g0, g1) = grad.split_at(mid);
                let k = bufs.len();
                let (mut b0, mut b1): ([&mut [f32]; MAX_KINDS], [&mut [f32]; MAX_KINDS]) =
                    Default::default();
                for ((b, lo), hi) in bufs.iter_mut().zip(&mut b0).zip(&mut b1) {
                    (*lo, *hi) = b.split_at_mut(mid);
                }
                if v1.is_empty() {
                    update(t, v0, g0, &mut b0[..k]);
                } else {
                    let halves = [(v0, g0, b0), (v1, g1, b1)].into_iter();
                    run_batch_parts(halves, &|(v, g, mut b)| update(t, v, g, &mut b[..k]));
                }
            }
        });
    }

    /// `"step"`, `"lr"` and every buffer as `"{param}.{kind}"`. The step count is exact up to
    /// 2²⁴ steps (it is stored as `f32` like every other value of a checkpoint).
    fn export(&self, lr: f32, kinds: &[Kind]) -> Vec<(String, Vec<f32>)> {
        let mut out = vec![
            ("step".to_string(), vec![self.steps as f32]),
            ("lr".to_string(), vec![lr]),
        ];
        for (name, bufs) in self.names.iter().zip(&self.buffers) {
            for ((kind, _), buf) in kinds.iter().zip(bufs) {
                out.push((format!("{name}.{kind}"), buf.to_vec()));
            }
        }
        out
    }

    /// Restores [`Slots::export`]ed state for `params`; returns the learning rate. Leaves `self`
    /// unchanged on error.
    fn import(
        &mut self,
        params: &dyn Parameters,
        kinds: &[Kind],
        state: &[(String, Vec<f32>)],
    ) -> Result<f32> {
        let get = |key: &str| state.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let mut errors = Vec::new();
        let mut scalar = |key: &str| match get(key).map(Vec::as_slice) {
            Some(&[v]) if v.is_finite() && v >= 0.0 => v,
            Some(v) => {
                errors.push(format!(
                    "`{key}`: expected one finite value >= 0, found {v:?}"
                ));
                0.0
            }
            None => {
                errors.push(format!("`{key}`: missing"));
                0.0
            }
        };
        let steps = scalar("step");
        let lr = scalar("lr");
        if steps.fract() != 0.0 {
            errors.push(format!("`step`: expected a whole number, found {steps}"));
        }
        let mut fresh = Slots::default();
        let mut used = 2;
        if steps > 0.0 {
            fresh.reset(params, kinds);
            for (name, bufs) in fresh.names.iter().zip(&mut fresh.buffers) {
                for ((kind, _), buf) in kinds.iter().zip(bufs) {
                    let key = format!("{name}.{kind}");
                    match get(&key) {
                        Some(v) if v.len() == buf.len() => {
                            buf.copy_from_slice(v);
                            used += 1;
                        }
                        Some(v) => errors.push(format!(
                            "`{key}`: expected {} values, found {}",
                            buf.len(),
                            v.len()
                        )),
                        None => errors.push(format!("`{key}`: missing")),
                    }
                }
            }
            fresh.steps = steps as u64;
        }
        if used != state.len() {
            let known: Vec<String> = fresh
                .names
                .iter()
                .flat_map(|n| kinds.iter().map(move |(k, _)| format!("{n}.{k}")))
                .collect();
            for (key, _) in state {
                if key != "step" && key != "lr" && !known.contains(key) {
                    errors.push(format!("`{key}`: not a buffer of this optimizer and model"));
                }
            }
        }
        if !errors.is_empty() {
            return Err(Error::StateDict(errors));
        }
        *self = fresh;
        Ok(lr)
    }
}

/// `Ok` if `ok`, else ``invalid `{opt}` {what}: expected {expected}, found {value}``.
fn check(opt: &str, what: &str, value: f32, ok: bool, expected: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            format!("`{opt}` {what}"),
            format!("expected {expected}, found {value}"),
        ))
    }
}

/// A finite value `≥ 0` (learning rates, weight decay, epsilons).
fn non_negative(opt: &str, what: &str, value: f32) -> Result<()> {
    check(
        opt,
        what,
        value,
        value.is_finite() && value >= 0.0,
        "a finite value >= 0",
    )
}

/// A value in `[0, 1)` (momenta, betas, averaging factors).
fn unit(opt: &str, what: &str, value: f32) -> Result<()> {
    check(
        opt,
        what,
        value,
        (0.0..1.0).contains(&value),
        "a value in [0, 1)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Dense;
    use crate::param::{Param, ParamName};
    use rand::{Rng, SeedableRng};

    fn model(seed: u64) -> Dense<3, 2> {
        Dense::new(&mut rand::rngs::StdRng::seed_from_u64(seed))
    }

    fn set_grads(d: &mut Dense<3, 2>, rng: &mut impl Rng) {
        for g in d.weight.grad.iter_mut().chain(&mut d.bias.grad) {
            *g = rng.random_range(-1.0..1.0);
        }
    }

    /// Parameters as plain lists (one parameter per list entry).
    struct Plain(Vec<Param>);

    impl Parameters for Plain {
        fn visit(&self, f: &mut dyn FnMut(ParamName<'_>, &Param)) {
            for p in &self.0 {
                f(ParamName::local("p"), p);
            }
        }
        fn visit_mut(&mut self, f: &mut dyn FnMut(ParamName<'_>, &mut Param)) {
            for p in &mut self.0 {
                f(ParamName::local("p"), p);
            }
        }
    }

    #[test]
    fn large_parameters_updated_in_halves_match_an_update_in_one_pass() {
        // One parameter of 70 000 values (past PARALLEL_MIN_VALUES: two halves on the pool)
        // against the same values as two parameters of 35 000 (each updated in one pass).
        const N: usize = 70_000;
        const { assert!(N >= PARALLEL_MIN_VALUES && N / 2 < PARALLEL_MIN_VALUES) };
        type Make = fn() -> Box<dyn Optimizer>;
        let optimizers: [(&str, Make); 5] = [
            ("adam amsgrad", || Box::new(Adam::new(0.01).amsgrad(true))),
            ("adamw", || Box::new(Adam::adamw(0.01))),
            ("sgd nesterov", || {
                Box::new(Sgd::new(0.1).momentum(0.9).nesterov(true))
            }),
            ("adagrad", || Box::new(Adagrad::new(0.1))),
            ("rmsprop", || {
                Box::new(RmsProp::new(0.01).momentum(0.5).centered(true))
            }),
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let init: Vec<f32> = (0..N).map(|_| rng.random_range(-1.0..1.0)).collect();
        for (name, make) in optimizers {
            let (mut whole, mut split) = (make(), make());
            let mut one = Plain(vec![Param::trainable(&[N], init.clone())]);
            let mut two = Plain(
                init.chunks(N / 2)
                    .map(|c| Param::trainable(&[N / 2], c.to_vec()))
                    .collect(),
            );
            for _ in 0..3 {
                let grad: Vec<f32> = (0..N).map(|_| rng.random_range(-1.0..1.0)).collect();
                one.0[0].grad.copy_from_slice(&grad);
                for (p, g) in two.0.iter_mut().zip(grad.chunks(N / 2)) {
                    p.grad.copy_from_slice(g);
                }
                whole.step(&mut one);
                split.step(&mut two);
                let joined: Vec<u32> = two
                    .0
                    .iter()
                    .flat_map(|p| p.value())
                    .map(|v| v.to_bits())
                    .collect();
                let bits: Vec<u32> = one.0[0].value().iter().map(|v| v.to_bits()).collect();
                assert!(bits == joined, "{name}");
            }
        }
    }

    /// Two steps, a state round trip into a fresh optimizer, then three more steps of both: the
    /// parameters must stay bit-identical.
    fn round_trip(mut a: impl Optimizer, mut b: impl Optimizer) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut da = model(1);
        for _ in 0..2 {
            set_grads(&mut da, &mut rng);
            a.step(&mut da);
        }
        a.set_learning_rate(a.learning_rate() * 0.5);
        let mut db = da.clone();
        b.load_state(&db, &a.state()).unwrap();
        assert_eq!(b.learning_rate(), a.learning_rate());
        for _ in 0..3 {
            set_grads(&mut da, &mut rng);
            db.weight.grad.clone_from(&da.weight.grad);
            db.bias.grad.clone_from(&da.bias.grad);
            a.step(&mut da);
            b.step(&mut db);
            assert_eq!(da.weight.value(), db.weight.value());
            assert_eq!(da.bias.value(), db.bias.value());
        }
    }

    #[test]
    fn state_round_trip_resumes_exactly() {
        let sgd = || {
            Sgd::new(0.1)
                .momentum(0.9)
                .dampening(0.1)
                .weight_decay(0.01)
        };
        round_trip(sgd(), sgd());
        let adam = || Adam::new(0.01).amsgrad(true).weight_decay(0.1);
        round_trip(adam(), adam());
        round_trip(Adam::adamw(0.01), Adam::adamw(0.01));
        let adagrad = || {
            Adagrad::new(0.1)
                .lr_decay(0.1)
                .initial_accumulator_value(0.5)
        };
        round_trip(adagrad(), adagrad());
        let rms = || RmsProp::new(0.01).momentum(0.5).centered(true);
        round_trip(rms(), rms());
    }

    #[test]
    fn state_without_the_round_trip_differs() {
        // The control for the test above: a fresh Adam (no state) takes a different next step.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (mut a, mut b) = (Adam::new(0.01), Adam::new(0.01));
        let mut da = model(1);
        set_grads(&mut da, &mut rng);
        a.step(&mut da);
        set_grads(&mut da, &mut rng);
        let mut db = da.clone();
        a.step(&mut da);
        b.step(&mut db);
        assert_ne!(da.weight.value(), db.weight.value());
    }

    #[test]
    fn state_names_the_buffers() {
        let mut opt = Adam::new(0.01);
        let mut d = model(1);
        opt.step(&mut d);
        let keys: Vec<(String, usize)> =
            opt.state().into_iter().map(|(k, v)| (k, v.len())).collect();
        let want = [
            ("step", 1),
            ("lr", 1),
            ("weight.exp_avg", 6),
            ("weight.exp_avg_sq", 6),
            ("bias.exp_avg", 2),
            ("bias.exp_avg_sq", 2),
        ];
        assert_eq!(keys, want.map(|(k, n)| (k.to_string(), n)));
    }

    #[test]
    fn bad_state_lists_every_problem() {
        let mut opt = Sgd::new(0.1).momentum(0.9);
        let mut d = model(1);
        opt.step(&mut d);
        let mut state = opt.state();
        state.retain(|(k, _)| k != "bias.momentum_buffer");
        state[2].1.pop();
        state.push(("extra".into(), vec![1.0]));
        let err = Sgd::new(0.1)
            .momentum(0.9)
            .load_state(&d, &state)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "checkpoint does not match the model:\n\
             `weight.momentum_buffer`: expected 6 values, found 5\n\
             `bias.momentum_buffer`: missing\n\
             `extra`: not a buffer of this optimizer and model"
        );
        state.retain(|(k, _)| k.starts_with('s') || k.starts_with('l') || k == "extra");
        let err = Sgd::new(0.1).load_state(&d, &state).unwrap_err();
        assert_eq!(
            err.to_string(),
            "checkpoint does not match the model:\n\
             `extra`: not a buffer of this optimizer and model"
        );
    }

    #[test]
    fn invalid_hyper_parameters_are_rejected_with_their_range() {
        let cases: Vec<(Box<dyn Optimizer>, &str)> = vec![
            (
                Box::new(Sgd::new(-0.1)),
                "invalid `Sgd` learning rate: expected a finite value >= 0, found -0.1",
            ),
            (
                Box::new(Sgd::new(f32::NAN)),
                "invalid `Sgd` learning rate: expected a finite value >= 0, found NaN",
            ),
            (
                Box::new(Sgd::new(0.1).momentum(1.0)),
                "invalid `Sgd` momentum: expected a value in [0, 1), found 1",
            ),
            (
                Box::new(Sgd::new(0.1).momentum(0.9).dampening(0.1).nesterov(true)),
                "invalid `Sgd` nesterov: needs momentum > 0 and dampening 0, found momentum 0.9 and dampening 0.1",
            ),
            (
                Box::new(Adam::new(0.01).betas(-0.1, 0.999)),
                "invalid `Adam` beta1: expected a value in [0, 1), found -0.1",
            ),
            (
                Box::new(Adam::adamw(0.01).weight_decay(f32::INFINITY)),
                "invalid `AdamW` weight decay: expected a finite value >= 0, found inf",
            ),
            (
                Box::new(Adam::new(0.01).eps(-1e-8)),
                "invalid `Adam` eps: expected a finite value >= 0, found -0.00000001",
            ),
            (
                Box::new(Adagrad::new(0.1).lr_decay(-1.0)),
                "invalid `Adagrad` lr_decay: expected a finite value >= 0, found -1",
            ),
            (
                Box::new(RmsProp::new(0.01).alpha(1.5)),
                "invalid `RmsProp` alpha: expected a value in [0, 1), found 1.5",
            ),
        ];
        for (opt, message) in cases {
            assert_eq!(opt.validate().unwrap_err().to_string(), message);
        }
        // The defaults and typical settings pass.
        Sgd::new(0.1)
            .momentum(0.9)
            .nesterov(true)
            .validate()
            .unwrap();
        Adam::adamw(1e-3).amsgrad(true).validate().unwrap();
        Adagrad::new(0.01).validate().unwrap();
        RmsProp::new(0.01)
            .momentum(0.9)
            .centered(true)
            .validate()
            .unwrap();
    }

    #[test]
    fn only_trainable_parameters_move_and_another_model_restarts_the_state() {
        let mut bn = crate::layers::BatchNorm1d::<2>::new();
        bn.weight.grad.fill(1.0);
        bn.bias.grad.fill(1.0);
        let mut opt = Sgd::new(0.5).momentum(0.9);
        opt.step(&mut bn);
        opt.step(&mut bn);
        assert_eq!(bn.weight.value(), [1.0 - 0.5 - 0.95; 2]);
        bn.visit(&mut |name, p| {
            if !p.is_trainable() {
                assert!(
                    p.value().iter().all(|&v| v == 0.0 || v == 1.0),
                    "{name} changed"
                );
            }
        });
        // A model with other parameters: fresh buffers, counted from step 1 (b = g).
        let mut d = model(3);
        d.weight.grad.fill(1.0);
        d.bias.grad.fill(1.0);
        let before = d.weight.value().to_vec();
        opt.step(&mut d);
        for (a, b) in d.weight.value().iter().zip(&before) {
            assert!((b - a - 0.5).abs() < 1e-6);
        }
    }
}
