"""Multi-scale deformable attention: the grid_sample formulation against a direct computation."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.jcra.deformable_attention import MultiScaleDeformableAttention, multi_scale_deformable_attention


def bilinear_reference(value_map: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Value at normalised (x, y) of a ``[C, h, w]`` map: bilinear, zero outside, pixel centres at (i + 0.5) / w."""
    channels, h, w = value_map.shape
    px, py = x * w - 0.5, y * h - 0.5  # continuous cell coordinates
    x0, y0 = math.floor(px), math.floor(py)
    total = torch.zeros(channels, dtype=value_map.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            cx, cy = x0 + dx, y0 + dy
            weight = (1 - abs(px - cx)) * (1 - abs(py - cy))
            if 0 <= cx < w and 0 <= cy < h:
                total += weight * value_map[:, cy, cx]
    return total


def slow_attention(value, shapes, locations, weights):
    """Loops over every batch, query, head, level and point."""
    batch, _, heads, head_dim = value.shape
    queries = locations.shape[1]
    starts = [0]
    for h, w in shapes:
        starts.append(starts[-1] + h * w)
    out = torch.zeros(batch, queries, heads, head_dim, dtype=value.dtype)
    for b in range(batch):
        for q in range(queries):
            for m in range(heads):
                for level, (h, w) in enumerate(shapes):
                    level_map = value[b, starts[level] : starts[level + 1], m].T.reshape(head_dim, h, w)
                    for p in range(locations.shape[4]):
                        x, y = locations[b, q, m, level, p].tolist()
                        out[b, q, m] += weights[b, q, m, level, p] * bilinear_reference(level_map, x, y)
    return out.reshape(batch, queries, heads * head_dim)


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    heads=st.integers(1, 3),
    points=st.integers(1, 3),
    shapes=st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6)), min_size=1, max_size=3),
)
def test_grid_sample_formulation_matches_direct_computation(seed, heads, points, shapes):
    generator = torch.Generator().manual_seed(seed)
    batch, queries, head_dim = 2, 3, 4
    tokens = sum(h * w for h, w in shapes)
    value = torch.randn(batch, tokens, heads, head_dim, generator=generator, dtype=torch.float64)
    # Locations beyond [0, 1] too: samples off the map must read zeros.
    locations = (
        torch.rand(batch, queries, heads, len(shapes), points, 2, generator=generator, dtype=torch.float64) * 1.4 - 0.2
    )
    weights = torch.rand(batch, queries, heads, len(shapes), points, generator=generator, dtype=torch.float64)
    fast = multi_scale_deformable_attention(value, shapes, locations, weights)
    assert fast.shape == (batch, queries, heads * head_dim)
    torch.testing.assert_close(fast, slow_attention(value, shapes, locations, weights))


def test_sampling_at_a_cell_centre_reads_that_cell():
    value = torch.arange(12, dtype=torch.float32).view(1, 12, 1, 1)  # one level 3 x 4, one channel
    locations = torch.tensor([(2 + 0.5) / 4, (1 + 0.5) / 3]).view(1, 1, 1, 1, 1, 2)
    out = multi_scale_deformable_attention(value, [(3, 4)], locations, torch.ones(1, 1, 1, 1, 1))
    assert out.item() == pytest.approx(1 * 4 + 2)


def test_module_uses_per_point_references_and_masks_padding():
    torch.manual_seed(0)
    shapes = [(4, 4), (2, 2)]
    module = MultiScaleDeformableAttention(d_model=8, n_levels=2, n_heads=2, n_points=3, per_point_reference=True)
    query = torch.randn(1, 5, 8)
    references = torch.rand(1, 5, 3, 2)
    locations, weights = module.sampling(query, references, shapes)
    # Zero-initialised offsets: every point of every head and level sits on its own reference.
    torch.testing.assert_close(locations, references[:, :, None, None].expand_as(locations))
    torch.testing.assert_close(weights.sum((-1, -2)), torch.ones(1, 5, 2))
    memory = torch.randn(1, 20, 8)
    everything_padded = module(query, references, memory, shapes, torch.ones(1, 20, dtype=torch.bool))
    torch.testing.assert_close(everything_padded, module.output_proj.bias.expand(1, 5, 8))
    with pytest.raises(ValueError, match="reference_points"):
        module(query, references[:, :, :1], memory, shapes)
