"""scikit-learn's MLPClassifier on the project's digits split, so `tests/examples.rs` can
compare `dl_zoo::mlp::SklearnSgd` with it epoch by epoch. Writes beside this file:

- `digits_mlp_loss.txt`: from a fixed initialisation and without shuffling (no randomness);
- `digits_mlp_seeds.txt`: the digits_mlp example's settings with random_state 1-5 (NumPy's
  draws, which `dl_zoo::numpy_random::RandomState` repeats): per line the seed, the test
  accuracy and the loss of each epoch.

Run: python3 -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install scikit-learn numpy
     /tmp/skvenv/bin/python tests/sklearn/digits_mlp_reference.py

The initialisation replaces scikit-learn's random Glorot draw by a formula the Rust test
repeats: weight (in i, out o) = b·sin(i·fan_out + o + 1), bias o = b·cos(o + 1),
b = sqrt(6 / (fan_in + fan_out)) (scikit-learn's bound for ReLU networks).
"""
import gzip
import os
import sklearn
import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

EPOCHS = 20
HERE = os.path.dirname(os.path.abspath(__file__))


class FixedInit(MLPClassifier):
    def _init_coef(self, fan_in, fan_out, dtype):
        b = np.sqrt(6.0 / (fan_in + fan_out))
        i, o = np.meshgrid(np.arange(fan_in), np.arange(fan_out), indexing="ij")
        coef = b * np.sin(i * fan_out + o + 1.0)
        intercept = b * np.cos(np.arange(fan_out) + 1.0)
        return coef.astype(dtype), intercept.astype(dtype)


data = np.loadtxt(gzip.open(os.path.join(HERE, "../../data/digits/digits.csv.gz")), delimiter=",")
X, y = data[:, :64], data[:, 64].astype(int)
test = np.arange(len(y)) % 5 == 0
scaler = StandardScaler().fit(X[~test])
Xtr, Xte = scaler.transform(X[~test]), scaler.transform(X[test])
m = FixedInit(hidden_layer_sizes=(128,), solver="sgd", learning_rate_init=0.01, batch_size=200,
              momentum=0.9, nesterovs_momentum=True, alpha=1e-4, max_iter=EPOCHS, shuffle=False)
m.fit(Xtr, y[~test])
with open(os.path.join(HERE, "digits_mlp_loss.txt"), "w") as f:
    f.write(f"# scikit-learn {sklearn.__version__} MLPClassifier, digits_mlp_reference.py: loss_curve_ "
            f"of {EPOCHS} epochs, then the test accuracy\n")
    for loss in m.loss_curve_:
        f.write(f"{loss:.8f}\n")
    f.write(f"# test_accuracy\n{m.score(Xte, y[test]):.6f}\n")
print(open(os.path.join(HERE, "digits_mlp_loss.txt")).read())

with open(os.path.join(HERE, "digits_mlp_seeds.txt"), "w") as f:
    f.write(f"# scikit-learn {sklearn.__version__} MLPClassifier(hidden_layer_sizes=(128,), "
            f"solver='sgd', learning_rate_init=0.01, max_iter=100, random_state=seed), "
            f"digits_mlp_reference.py: seed, test accuracy, loss_curve_\n")
    for seed in range(1, 6):
        m = MLPClassifier(hidden_layer_sizes=(128,), solver="sgd", learning_rate_init=0.01,
                          max_iter=100, random_state=seed)
        m.fit(Xtr, y[~test])
        curve = " ".join(f"{loss:.8f}" for loss in m.loss_curve_)
        f.write(f"{seed} {m.score(Xte, y[test]):.6f} {curve}\n")
print(open(os.path.join(HERE, "digits_mlp_seeds.txt")).read()[:2000])
