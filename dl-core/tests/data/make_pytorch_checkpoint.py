"""Writes mlp_784_128_10.safetensors with PyTorch, for dl-core/tests/checkpoint.rs.

Builds nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)), loads the parameters of
the golden case ../golden/net_mlp_784_128_10.json (`param.0.weight`, ...) and saves
`model.state_dict()` with safetensors.torch.save_file, exactly as a PyTorch user would.

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


if __name__ == "__main__":
    main()
