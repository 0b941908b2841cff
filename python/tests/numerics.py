"""What the numerics tests share: the dtypes they run and the error bound of each, as
‖out − ref‖ / ‖ref‖ against a float64 reference (the DSL contract's bounds)."""

import torch

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}
BOUNDS = {"f32": 2e-5, "bf16": 1e-2}


def check(name, got, ref):
    """Asserts that `got` (computed in dtype `name`) is within its bound of `ref`."""
    err = ((got.double() - ref.double()).norm() / ref.double().norm()).item()
    assert err <= BOUNDS[name], f"rel err {err:.3g} > {BOUNDS[name]}"
