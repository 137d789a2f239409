"""Look inside a JCRA network: tensor shapes stage by stage, parameters and FLOPs per part, and
where the decoder's deformable attention samples the image.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add counts as 2), with
one formula added for ``grid_sample``, which PyTorch does not count: a bilinear sample of one
channel is 4 multiply-adds, 8 FLOPs. Element-wise operations (norms, activations, softmax) are
not counted, as is usual.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from .model import JCRA

# The network's parts in data-flow order: (label, attribute prefixes of the parameters).
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("backbone (ResNet)", ("backbone",)),
    ("projection + level embedding", ("input_projections", "fine_projection", "level_embedding")),
    ("deformable encoder", ("encoder",)),
    ("query selection (token proposals)", ("proposal_projection", "proposal_score", "proposal_keypoints")),
    ("pose queries (learned content)", ("query_content",)),
    ("pose decoder layers", ("decoder.layers", "decoder.pose_embedding")),
    ("per-layer heads (score, coarse pose)", ("decoder.heads",)),
    ("per-keypoint refiners (fine keypoints, visibility)", ("decoder.refiners",)),
)


def _grid_sample_flops(input_shape, grid_shape, *args, out_shape=None, **kwargs) -> int:
    batch, channels = input_shape[:2]
    return 8 * batch * channels * grid_shape[1] * grid_shape[2]


def _belongs(name: str, prefixes: tuple[str, ...] | list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _outermost(counts: dict, prefixes: list[str]) -> list[str]:
    """Counted module names under ``prefixes`` that are not inside another counted one.

    (A ModuleList is never called, so its children are counted but it is not.)
    """
    inside = [name for name in counts if _belongs(name, prefixes)]
    return [name for name in inside if not any(name.startswith(other + ".") for other in inside)]


def parameters_and_flops(model: JCRA, images: torch.Tensor, pad_mask: torch.Tensor | None = None) -> pd.DataFrame:
    """One row per part of ``PARTS``: ``part``, ``parameters``, ``gflops`` for one forward pass
    of ``images [B, 3, H, W]`` (divide by B for per image), plus a ``total`` row."""
    counter = FlopCounterMode(display=False, custom_mapping={torch.ops.aten.grid_sampler_2d: _grid_sample_flops})
    was_training = model.training
    model.eval()
    with counter:
        model(images, pad_mask)  # with autograd on: FlopCounterMode's module tracker needs it
    model.train(was_training)
    counts = counter.get_flop_counts()
    root = type(model).__name__
    rows = []
    for label, prefixes in PARTS:
        params = sum(p.numel() for name, p in model.named_parameters() if _belongs(name, prefixes))
        flops = sum(sum(counts[key].values()) for key in _outermost(counts, [f"{root}.{p}" for p in prefixes]))
        rows.append({"part": label, "parameters": params, "gflops": flops / 1e9})
    total_flops = sum(counts.get("Global", {}).values())
    rows.append(
        {"part": "total", "parameters": sum(p.numel() for p in model.parameters()), "gflops": total_flops / 1e9}
    )
    return pd.DataFrame(rows)


def shapes_through_network(model: JCRA, images: torch.Tensor, pad_mask: torch.Tensor | None = None) -> pd.DataFrame:
    """Each stage's output tensor shape for one forward pass, in execution order.

    Columns ``stage`` (module name) and ``shape`` (e.g. ``[1, 64, 16, 16]``).
    """
    watched = [
        "backbone.stem",
        *[f"backbone.stages.{i}" for i in range(len(model.backbone.stages))],
        *([] if model.fine_projection is None else ["fine_projection"]),
        *[f"input_projections.{i}" for i in range(len(model.input_projections))],
        *[f"encoder.layers.{i}" for i in range(len(model.encoder.layers))],
        *[f"decoder.layers.{i}" for i in range(len(model.decoder.layers))],
    ]
    modules = dict(model.named_modules())
    rows, handles = [], []
    for name in watched:

        def hook(_module, _inputs, output, name=name):
            rows.append({"stage": name, "shape": str(list(output.shape))})

        handles.append(modules[name].register_forward_hook(hook))
    try:
        with torch.inference_mode():
            out = model(images, pad_mask)
    finally:
        for handle in handles:
            handle.remove()
    after_encoder = max(i for i, row in enumerate(rows) if row["stage"].startswith("encoder.")) + 1
    rows.insert(
        after_encoder,
        {
            "stage": "query selection: token proposals (keypoints)",
            "shape": str(list(out["encoder"]["keypoints"].shape)),
        },
    )
    for key in ("logits", "keypoints", "visibility_logits"):
        rows.append({"stage": f"output: {key}", "shape": str(list(out[key].shape))})
    return pd.DataFrame(rows)


@torch.inference_mode()
def decoder_sampling(
    model: JCRA, images: torch.Tensor, pad_mask: torch.Tensor | None = None, layer: int = -1
) -> dict[str, torch.Tensor]:
    """Where one decoder layer's cross-attention samples, for every query.

    Returns ``locations [B, Q, H, L, K, 2]`` (canvas fractions; point k belongs to keypoint k),
    ``weights [B, Q, H, L, K]``, the layer's input ``reference [B, Q, K, 2]`` and the model's
    ``outputs``.
    """
    attention = model.decoder.layers[layer].cross_attention
    captured: dict[str, torch.Tensor] = {}

    def capture(_module, args, _output):
        query, reference, _value, shapes = args[:4]
        captured["locations"], captured["weights"] = attention.sampling(query, reference, shapes)
        captured["reference"] = reference

    handle = attention.register_forward_hook(capture)
    try:
        outputs = model(images, pad_mask)
    finally:
        handle.remove()
    return {**captured, "outputs": outputs}


def output_census(outputs: dict, queries: int) -> pd.DataFrame:
    """Every tensor the network outputs (``aux`` and ``encoder`` included): ``name``, ``shape`` and
    ``kind``: ``per query`` (axis 1 is the queries), ``spatial map`` (two axes are a feature map's
    height and width at some stride 1..128 of the canvas: what a heatmap would be) or ``per token``."""
    height, width = outputs["canvas_size"]
    grids = {(-(-height // 2**k), -(-width // 2**k)) for k in range(8)}

    def walk(name: str, value) -> list[dict]:
        if isinstance(value, dict):
            return [row for key, item in value.items() for row in walk(f"{name}.{key}".strip("."), item)]
        if isinstance(value, list | tuple) and value and not isinstance(value[0], int):
            return [row for i, item in enumerate(value) for row in walk(f"{name}[{i}]", item)]
        if not isinstance(value, torch.Tensor):
            return []
        shape = tuple(value.shape)
        spatial = any(shape[i : i + 2] in grids for i in range(1, len(shape) - 1))
        kind = "spatial map" if spatial else ("per query" if len(shape) > 1 and shape[1] == queries else "per token")
        return [{"name": name, "shape": str(list(shape)), "kind": kind}]

    return pd.DataFrame(walk("", outputs))


@torch.inference_mode()
def one_stage_check(model: JCRA, images: torch.Tensor, pad_mask: torch.Tensor | None, metas: list[dict]) -> dict:
    """Compare ``predict``'s COCO results with the network's own output tensors.

    Returns ``max_abs_difference_px`` (keypoints, original pixels), ``max_abs_difference_score``,
    ``results_per_image`` and ``queries``: one result per query, equal to the raw outputs sorted
    by score, means nothing happened between the network and the results.
    """
    from .predict import outputs_to_results

    outputs = model(images, pad_mask)
    results = outputs_to_results(outputs, metas)
    height, width = outputs["canvas_size"]
    k = model.config.num_keypoints
    worst_xy = worst_score = 0.0
    for b, meta in enumerate(metas):
        mine = [r for r in results if r["image_id"] == meta["image_id"]]
        scores = outputs["logits"][b].sigmoid()
        order = scores.argsort(descending=True, stable=True)
        scale = torch.tensor(
            [width * meta["orig_size"][1] / meta["size"][1], height * meta["orig_size"][0] / meta["size"][0]]
        )
        raw = outputs["keypoints"][b][order] * scale
        got = torch.tensor([r["keypoints"] for r in mine]).view(-1, k, 3)[..., :2]
        worst_xy = max(worst_xy, (got - raw).abs().max().item())
        worst_score = max(worst_score, (torch.tensor([r["score"] for r in mine]) - scores[order]).abs().max().item())
    return {
        "max_abs_difference_px": worst_xy,
        "max_abs_difference_score": worst_score,
        "results_per_image": len(results) / len(metas),
        "queries": model.config.num_queries,
    }
