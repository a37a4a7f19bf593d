#!/usr/bin/env python3
"""PyTorch CPU reference for dl's benchmark suite (issue 7).

Times the same models, batch sizes, optimizers and thread counts as `examples/bench.rs`, on
synthetic data, and prints lines that `bench/report.py` reads:

    python3 bench/pytorch_reference.py --model lenet --threads 1
    ...
    peak_rss_kib=<v>             (ru_maxrss of this process: import + model + train + infer)
    baseline_rss_kib=<v>         (ru_maxrss right after `import torch`, before the model)
    train_samples_per_sec=<v>
    infer_samples_per_sec=<v>

Run each model in its own process so the peak RSS belongs to that model alone.

    python3 bench/pytorch_reference.py --gemm --threads 1   # torch.mm GFLOP/s on the models' GEMM shapes
    python3 bench/pytorch_reference.py --conv --threads 1   # Conv2d forward/backward GFLOP/s per zoo conv layer

Timing protocol (identical in examples/bench.rs): `warmup` steps, then `repeats` timings of
`steps` consecutive steps each; the figure is batch·steps / median(timing).
A training step is forward, cross-entropy, backward, optimizer step (gradients zeroed with
`set_to_none`, PyTorch's default); inference is a forward in eval mode under `torch.inference_mode()`.
"""
import argparse
import resource
import statistics
import sys
import time

BASELINE_RSS_KIB = None


def rss_kib():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# name: (batch, input shape, (warmup, steps, repeats) train, (warmup, steps, repeats) infer)
# Keep in sync with `Protocol` in examples/bench.rs.
PROTOCOL = {
    "mlp": (100, (784,), (20, 50, 15), (50, 200, 15)),
    "digits_mlp": (32, (64,), (50, 200, 15), (100, 500, 15)),
    "lenet": (32, (3, 32, 32), (5, 20, 11), (10, 50, 11)),
    "alexnet_cifar": (32, (3, 32, 32), (2, 2, 7), (3, 5, 7)),
    "alexnet_imagenet": (16, (3, 227, 227), (1, 1, 3), (1, 1, 5)),
}


def build(name, nn, torch):
    """The model (dl-zoo's layout and state-dict indices) and its optimizer (as examples/bench.rs)."""
    if name == "mlp":
        m = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        return m, torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    if name == "digits_mlp":
        m = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        return m, torch.optim.SGD(m.parameters(), lr=0.01)
    if name == "lenet":
        m = nn.Sequential(
            nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),
        )
        return m, torch.optim.SGD(m.parameters(), lr=0.01)
    if name == "alexnet_cifar":
        m = alexnet_cifar(nn)
        return m, torch.optim.Adam(m.parameters(), lr=1e-3)
    if name == "alexnet_imagenet":
        m = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, stride=2),
            nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, stride=2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(3, stride=2),
            nn.Flatten(),
            nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, 1000),
        )
        return m, torch.optim.SGD(m.parameters(), lr=0.01)
    raise SystemExit(f"unknown model {name!r}; expected one of {', '.join(PROTOCOL)}")


def alexnet_cifar(nn):
    """AlexNet for 3×32×32 CIFAR-10: the layout of dl-zoo's `AlexNetCifar` (same indices)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(1024, 4096), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, 10),
    )


def median_rate(fn, samples_per_call, warmup, steps, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        times.append(time.perf_counter() - t0)
    return samples_per_call * steps / statistics.median(times)


def run_model(name, torch):
    nn = torch.nn
    batch, shape, train_p, infer_p = PROTOCOL[name]
    torch.manual_seed(0)
    model, opt = build(name, nn, torch)
    x = torch.randn(batch, *shape)
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    train = median_rate(train_step, batch, *train_p)

    model.eval()

    def infer_step():
        with torch.inference_mode():
            model(x)

    infer = median_rate(infer_step, batch, *infer_p)
    print(f"model={name} threads={torch.get_num_threads()} batch={batch}")
    print(f"baseline_rss_kib={BASELINE_RSS_KIB}")
    print(f"peak_rss_kib={rss_kib()}")
    print(f"train_samples_per_sec={train:.1f}")
    print(f"infer_samples_per_sec={infer:.1f}")


# (label, transA, transB, m, n, k); keep in sync with GEMM_SHAPES in examples/bench.rs.
GEMM_SHAPES = [
    ("mlp fc1 fwd", "N", "T", 100, 128, 784),
    ("mlp fc1 dW", "T", "N", 128, 784, 100),
    ("mlp fc2 fwd", "N", "T", 100, 10, 128),
    ("digits fc1 fwd", "N", "T", 32, 128, 64),
    ("digits fc1 dW", "T", "N", 128, 64, 32),
    ("lenet conv1 fwd", "N", "N", 6, 25088, 75),
    ("lenet conv1 dW", "N", "T", 6, 75, 25088),
    ("lenet conv2 fwd", "N", "N", 16, 3200, 150),
    ("lenet conv2 dX", "T", "N", 150, 3200, 16),
    ("lenet fc1 fwd", "N", "T", 32, 120, 400),
    ("cifar conv1 fwd", "N", "N", 64, 8192, 27),
    ("cifar conv2 fwd", "N", "N", 192, 2048, 576),
    ("cifar conv3 fwd", "N", "N", 384, 512, 1728),
    ("cifar conv4 fwd", "N", "N", 256, 512, 3456),
    ("cifar conv4 dW", "N", "T", 256, 3456, 512),
    ("cifar conv4 dX", "T", "N", 3456, 512, 256),
    ("cifar fc2 fwd", "N", "T", 32, 4096, 4096),
    ("cifar fc2 dW", "T", "N", 4096, 4096, 32),
    ("imagenet conv1 fwd", "N", "N", 96, 48400, 363),
    ("imagenet conv2 fwd", "N", "N", 256, 11664, 2400),
    ("imagenet conv3 fwd", "N", "N", 384, 2704, 2304),
    ("imagenet fc1 fwd", "N", "T", 16, 4096, 9216),
    ("imagenet fc1 dW", "T", "N", 4096, 9216, 16),
    ("square 1024", "N", "N", 1024, 1024, 1024),
]


def bench_gemm(torch):
    for label, ta, tb, m, n, k in GEMM_SHAPES:
        a = torch.randn(k, m).t() if ta == "T" else torch.randn(m, k)
        b = torch.randn(n, k).t() if tb == "T" else torch.randn(k, n)
        c = torch.empty(m, n)
        flop = 2.0 * m * n * k
        reps = max(1, int(2e8 / flop))
        rate = median_rate(lambda: torch.mm(a, b, out=c), 1, reps, reps, 7)
        print(f"gemm {label:<20} {ta}{tb} m={m} n={n} k={k} gflops={rate * flop / 1e9:.1f}")


# (label, batch, in_c, h, w, out_c, k, stride, pad); keep in sync with CONV_LAYERS in examples/bench.rs.
CONV_LAYERS = [
    ("lenet conv1", 32, 3, 32, 32, 6, 5, 1, 0),
    ("lenet conv2", 32, 6, 14, 14, 16, 5, 1, 0),
    ("cifar conv1", 32, 3, 32, 32, 64, 3, 2, 1),
    ("cifar conv2", 32, 64, 8, 8, 192, 3, 1, 1),
    ("cifar conv3", 32, 192, 4, 4, 384, 3, 1, 1),
    ("cifar conv4", 32, 384, 4, 4, 256, 3, 1, 1),
    ("cifar conv5", 32, 256, 4, 4, 256, 3, 1, 1),
    ("imagenet conv1", 16, 3, 227, 227, 96, 11, 4, 0),
    ("imagenet conv2", 16, 96, 27, 27, 256, 5, 1, 2),
    ("imagenet conv3", 16, 256, 13, 13, 384, 3, 1, 1),
    ("imagenet conv4", 16, 384, 13, 13, 384, 3, 1, 1),
    ("imagenet conv5", 16, 384, 13, 13, 256, 3, 1, 1),
]


def bench_conv(torch):
    for label, n, ic, h, w, oc, k, s, p in CONV_LAYERS:
        conv = torch.nn.Conv2d(ic, oc, k, stride=s, padding=p)
        x = torch.randn(n, ic, h, w, requires_grad=True)
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        flop = 2.0 * n * oc * ic * k * k * oh * ow
        y = conv(x)
        dy = torch.randn_like(y)
        reps = max(1, int(2e8 / flop))

        def fwd():
            with torch.no_grad():
                conv(x)

        def bwd():
            # Input and weight gradient (+ bias): 2× the forward FLOPs; the forward is re-run
            # because autograd frees its graph.
            x.grad = None
            conv.zero_grad(set_to_none=True)
            conv(x).backward(dy)

        f = median_rate(fwd, 1, reps, reps, 7)
        fb = median_rate(bwd, 1, reps, reps, 7)
        # Backward time = (forward + backward) − forward.
        b = 1.0 / (1.0 / fb - 1.0 / f)
        print(f"conv {label:<16} fwd_gflops={f * flop / 1e9:.1f} bwd_gflops={b * 2 * flop / 1e9:.1f}")


def main():
    global BASELINE_RSS_KIB
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=list(PROTOCOL))
    ap.add_argument("--gemm", action="store_true")
    ap.add_argument("--conv", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("torch_missing=1")
        sys.exit(3)
    BASELINE_RSS_KIB = rss_kib()
    torch.set_num_threads(args.threads)
    print(f"torch_version={torch.__version__}")
    if args.gemm:
        bench_gemm(torch)
    elif args.conv:
        bench_conv(torch)
    elif args.model:
        run_model(args.model, torch)
    else:
        ap.error("give --model NAME, --gemm or --conv")


if __name__ == "__main__":
    main()
