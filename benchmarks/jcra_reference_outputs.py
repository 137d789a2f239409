"""Write the eager reference outputs that the fast JCRA inference path is tested against.

The reference was made by the model code of commit 4bfcf5e (before the inference speed-ups):
the small config at 128 and 256 px, in float32 (one thread) and in float64, seeded weights
perturbed so that every attention path is non-trivial (from scratch the sampling offsets and
attention weights start at zero), on the
benchmark's synthetic crowd images. ``tests/jcra/test_model_fast_path.py`` checks that today's
model gives the same keypoints: within 1e-5 px in float64, where a reordered sum moves results by
about 1e-13 px, so any remaining difference is a change of the computation; and within float32
rounding (set by how far one thread against two moves the reference itself) in float32.

    git archive 4bfcf5e src/companion | tar -x -C /tmp/old && mv /tmp/old/src/companion /tmp/old/companion_before
    PYTHONPATH=/tmp/old .venv/bin/python benchmarks/jcra_reference_outputs.py --package companion_before
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import torch

REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "jcra" / "fixtures" / "jcra_small_reference_outputs.pt"
SIZES = (128, 256)
CROWDS = (1, 5, 20)
SEED = 0


def perturbed_weights(model: torch.nn.Module, seed: int = SEED, scale: float = 0.05) -> torch.nn.Module:
    """``model`` with every parameter moved by ``scale`` x N(0, 1) noise (seeded), in place."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", default="companion", help="package holding the model code to record")
    parser.add_argument("--out", type=Path, default=REFERENCE)
    args = parser.parse_args()
    config = importlib.import_module(f"{args.package}.jcra.config")
    model_module = importlib.import_module(f"{args.package}.jcra.model")
    torch.set_num_threads(1)
    try:  # the test images moved from jcra.bench to jcra.bench_images with the speed-ups
        bench = importlib.import_module(f"{args.package}.jcra.bench_images")
    except ModuleNotFoundError:
        bench = importlib.import_module(f"{args.package}.jcra.bench")
    torch.manual_seed(SEED)
    model = perturbed_weights(model_module.JCRA(config.get_config("small"))).eval()
    records = []
    with torch.inference_mode():
        for dtype in (torch.float32, torch.float64):
            model = model.to(dtype)
            for size in SIZES:
                for crowd in CROWDS:
                    case = bench.crowd_cases(crowd, size, 1, SEED)[0]
                    out = model(case.image.to(dtype))
                    records.append(
                        {
                            "dtype": str(dtype).removeprefix("torch."),
                            "size": size,
                            "persons": crowd,
                            "image_sum": float(case.image.double().sum()),  # the image is re-rendered: check it
                            "logits": out["logits"].clone(),
                            "keypoints": out["keypoints"].clone(),
                            "visibility_logits": out["visibility_logits"].clone(),
                        }
                    )
    torch.save({"seed": SEED, "records": records}, args.out)
    print(f"wrote {len(records)} reference outputs to {args.out}")


if __name__ == "__main__":
    main()
