"""The baseline's flip and multi-scale test protocols (HigherHRNet's aggregation)."""

import numpy as np
import pytest
import torch

from companion.jcra.bench_images import crowd_cases, ideal_outputs
from companion.jcra.bottomup import augmented_inference as augmented
from companion.jcra.bottomup import train
from companion.jcra.bottomup.augmented_inference import FLIP, MULTI_SCALE, SINGLE_SCALE, InferenceProtocol, NetworkPass
from companion.jcra.bottomup.model import AssociativeEmbedding
from companion.jcra.bottomup.predict import postprocess_image
from companion.jcra.data.skeleton import get_layout

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return AssociativeEmbedding(train.make_config("tiny", head_width=8)).eval()


def test_protocols_run_the_published_passes(model):
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert [(p.scale, p.mirrored) for p in augmented.network_passes(model, image, SINGLE_SCALE)] == [(1.0, False)]
        assert [(p.scale, p.mirrored) for p in augmented.network_passes(model, image, FLIP)] == [
            (1.0, False),
            (1.0, True),
        ]
        passes = augmented.network_passes(model, image, MULTI_SCALE)
    assert [p.input_size for p in passes] == [(128, 128)] * 2 + [(64, 64)] * 2 + [(32, 32)] * 2
    with pytest.raises(ValueError, match="scales"):
        InferenceProtocol("no base", flip=False, scales=(2.0,))


def test_single_scale_is_the_plain_post_processing(model):
    case = crowd_cases(3, 64, 1, seed=0)[0]
    with torch.no_grad():
        passes = augmented.network_passes(model, case.image, SINGLE_SCALE)
    assert augmented.aggregate_and_parse(passes, case.meta) == postprocess_image(passes[0].outputs, 0, case.meta)


def test_flip_test_on_ideal_maps_finds_every_person_once():
    """A mirrored pass of perfect maps, mirrored back with the joint swap, lands on the same joints."""
    case = crowd_cases(3, 64, 1, seed=1)[0]
    size = tuple(case.meta["size"])
    layout = get_layout("coco")
    mirrored = case.keypoints.copy()
    mirrored[..., 0] = np.where(mirrored[..., 2] > 0, size[1] - mirrored[..., 0], 0.0)
    mirrored = mirrored[:, layout.flip_index]  # what the network would see in the mirrored image
    passes = [
        NetworkPass(1.0, False, ideal_outputs(case.keypoints, size, (4, 2), 2.0), size),
        NetworkPass(1.0, True, ideal_outputs(mirrored, size, (4, 2), 2.0), size),
    ]
    heatmaps, tags = augmented.aggregate(passes, size, layout.flip_index)
    single, _ = augmented.aggregate(passes[:1], size, layout.flip_index)
    assert tags.shape == (*heatmaps.shape, 2)
    # Mirroring and back moves a peak by at most one pixel (its centre reflects to the neighbouring cell).
    peaks = heatmaps.flatten(1).argmax(1)
    single_peaks = single.flatten(1).argmax(1)
    assert ((peaks % size[1] - single_peaks % size[1]).abs() <= 1).all()
    assert ((peaks // size[1] - single_peaks // size[1]).abs() <= 1).all()
    results = augmented.aggregate_and_parse(passes, case.meta)
    assert len(results) == len(case.keypoints)
