"""Writes mlp_784_128_10.safetensors with PyTorch, for dl-core/tests/checkpoint.rs.

Builds nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)), loads the parameters of
the golden case ../golden/net_mlp_784_128_10.json (`param.0.weight`, ...) and saves
`model.state_dict()` with safetensors.torch.save_file, exactly as a PyTorch user would.

Also writes bn_1d.safetensors: nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)) with fixed
values after three training-mode forward passes, so BatchNorm's buffers and its int64
`num_batches_tracked` counter are covered.

Run from any folder (needs `pip install torch safetensors`; tested with torch 2.15, safetensors 0.8):
    python dl-core/tests/data/make_pytorch_checkpoint.py
The Rust tests never run this; the output file is checked in.
"""

import json
import pathlib

import torch
from safetensors.torch import save_file

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN = HERE.parent / "golden" / "net_mlp_784_128_10.json"
OUT = HERE / "mlp_784_128_10.safetensors"
OUT_BN = HERE / "bn_1d.safetensors"


def main() -> None:
    case = json.loads(GOLDEN.read_text())
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    state = {}
    for name, param in model.state_dict().items():
        t = case["tensors"]["param." + name]
        assert list(param.shape) == t["shape"], (name, param.shape, t["shape"])
        state[name] = torch.tensor(t["data"], dtype=torch.float32).reshape(t["shape"])
    model.load_state_dict(state)
    save_file(model.state_dict(), str(OUT))
    # Check that the golden logits are reproduced by the model that was saved.
    x = torch.tensor(case["tensors"]["x"]["data"], dtype=torch.float32).reshape(case["tensors"]["x"]["shape"])
    want = torch.tensor(case["tensors"]["logits"]["data"]).reshape(case["tensors"]["logits"]["shape"])
    got = model(x).detach()
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-5), (got - want).abs().max()
    print(f"wrote {OUT} with", {k: list(v.shape) for k, v in model.state_dict().items()})

    bn = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    with torch.no_grad():
        bn[0].weight.copy_(torch.tensor([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]]))
        bn[0].bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        bn[1].weight.copy_(torch.tensor([1.5, 0.5, -1.0]))
        bn[1].bias.copy_(torch.tensor([0.0, 0.25, -0.5]))
        bn.train()
        for k in range(3):
            bn(torch.tensor([[1.0, 2.0], [-1.0, 0.5], [0.0, -3.0], [2.0, 1.0]]) * (k + 1))
    save_file(bn.state_dict(), str(OUT_BN))
    print(f"wrote {OUT_BN} with", {k: (str(v.dtype), v.tolist()) for k, v in bn.state_dict().items()})


if __name__ == "__main__":
    main()
