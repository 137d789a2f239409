"""The fast inference path gives the eager reference's answers (benchmarks/jcra_reference_outputs.py).

The reference outputs were recorded by the model code before the speed-ups (commit 4bfcf5e), for
the small config with seeded, perturbed weights on the benchmark's crowd images. In float64 the
reordered sums of the fast path move keypoints by ~1e-13 px, so the 1e-5 px bar catches any change
of the computation itself; in float32 the bar is float32 rounding, which the reference itself
shows by moving up to 2e-4 px between one and two threads.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

from companion.jcra.bench_images import crowd_cases
from companion.jcra.config import get_config
from companion.jcra.model import JCRA

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
FLOAT64_PX = 1e-5
FLOAT32_PX = 1e-3  # ~5x the reference's own one-thread vs two-thread spread (1.9e-4 px)


def _reference_module():
    spec = importlib.util.spec_from_file_location("jcra_reference_outputs", BENCHMARKS / "jcra_reference_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference_and_model():
    module = _reference_module()
    reference = torch.load(module.REFERENCE)
    torch.manual_seed(reference["seed"])
    model = module.perturbed_weights(JCRA(get_config("small")), reference["seed"]).eval()
    return reference, model


def _outputs(model, record, dtype, keep=None):
    case = crowd_cases(record["persons"], record["size"], 1, 0)[0]
    assert float(case.image.double().sum()) == pytest.approx(record["image_sum"], abs=1e-6)  # same image re-rendered
    with torch.inference_mode():
        return model.to(dtype)(case.image.to(dtype), keep=keep)


@pytest.mark.parametrize("dtype, tolerance_px", [(torch.float64, FLOAT64_PX), (torch.float32, FLOAT32_PX)])
def test_fast_path_matches_the_eager_reference(reference_and_model, one_thread, dtype, tolerance_px):
    reference, model = reference_and_model
    records = [r for r in reference["records"] if r["dtype"] == str(dtype).removeprefix("torch.")]
    assert len(records) == 6
    for record in records:
        out = _outputs(model, record, dtype)
        pixels = (out["keypoints"] - record["keypoints"]).abs() * record["size"]
        assert pixels.max() <= tolerance_px, (record["size"], record["persons"], float(pixels.max()))
        torch.testing.assert_close(out["logits"], record["logits"], rtol=0, atol=tolerance_px / 10)
        torch.testing.assert_close(out["visibility_logits"], record["visibility_logits"], rtol=0, atol=tolerance_px)


def test_refining_only_the_kept_queries_gives_their_answers(reference_and_model, one_thread):
    reference, model = reference_and_model
    record = next(r for r in reference["records"] if r["dtype"] == "float64" and r["size"] == 128)
    keep = 5
    out = _outputs(model, record, torch.float64, keep=keep)
    best = record["logits"].topk(keep, dim=1).indices
    assert out["keypoints"].shape == (1, keep, 17, 2)
    assert torch.equal(out["queries"], best)
    expected = record["keypoints"].gather(1, best[..., None, None].expand(-1, -1, 17, 2))
    assert ((out["keypoints"] - expected).abs() * record["size"]).max() <= FLOAT64_PX
    torch.testing.assert_close(out["logits"], record["logits"].gather(1, best))


def test_keep_is_refused_in_training_mode():
    model = JCRA(get_config("tiny")).train()
    with pytest.raises(ValueError, match="keep"):
        model(torch.randn(1, 3, 64, 64), keep=3)


def test_eval_mode_proposes_poses_for_the_chosen_tokens_only():
    """Training needs every token's pose (the encoder loss); inference reads the chosen ones, the same values."""
    torch.manual_seed(0)
    model = _reference_module().perturbed_weights(JCRA(get_config("tiny")).double())
    images = torch.randn(1, 3, 64, 96, dtype=torch.float64)
    with torch.no_grad():
        model.train()
        for module in model.modules():  # batch statistics would change the features between the modes
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()
        trained = model(images)["encoder"]
        inferred = model.eval()(images)["encoder"]
    tokens = trained["logits"].shape[1]
    assert trained["keypoints"].shape == (1, tokens, 17, 2)
    assert torch.equal(trained["chosen"], inferred["chosen"])
    chosen = trained["keypoints"].gather(1, trained["chosen"][..., None, None].expand(-1, -1, 17, 2))
    torch.testing.assert_close(inferred["keypoints"], chosen)
