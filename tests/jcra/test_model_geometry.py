"""Every feature level places a canvas fraction on the same pixel, whatever the image's sides."""

import torch

from companion.jcra.config import get_config
from companion.jcra.deformable_attention import multi_scale_deformable_attention
from companion.jcra.model import JCRA, pad_to_multiple


def test_pad_to_multiple_pads_bottom_right_and_marks_the_padding():
    images = torch.randn(2, 3, 85, 128)
    padded, mask = pad_to_multiple(images, None, 32)
    assert padded.shape == (2, 3, 96, 128) and mask.shape == (2, 96, 128)
    assert torch.equal(padded[:, :, :85], images) and (padded[:, :, 85:] == 0).all()
    assert not mask[:, :85].any() and mask[:, 85:].all()
    given = torch.zeros(2, 85, 128, dtype=torch.bool)
    given[1, :, 100:] = True
    _, grown = pad_to_multiple(images, given, 32)
    assert torch.equal(grown[:, :85], given) and grown[:, 85:].all()
    same, untouched = pad_to_multiple(torch.randn(1, 3, 64, 96), None, 32)
    assert same.shape == (1, 3, 64, 96) and untouched is None


def test_a_keypoint_on_an_85_px_high_image_is_sampled_at_its_pixel_on_every_level():
    """Each level's map holds its cells' pixel centres; bilinear sampling at the keypoint's canvas
    fraction must then read back the keypoint's own pixel, within half a cell of that level."""
    torch.manual_seed(0)
    model = JCRA(get_config("tiny")).eval()
    with torch.no_grad():
        encoded = model.encode(torch.randn(1, 3, 85, 128))
    height, width = encoded["canvas_size"]
    assert height % 32 == 0 and width % 32 == 0 and height >= 85
    pixel = torch.tensor([61.0, 80.0])  # (x, y): low in the image, where the old canvas was off by ~10 px
    fraction = pixel / torch.tensor([width, height])
    shapes = encoded["refine_shapes"]  # the stride-4 level and the encoder's levels
    strides = [height // h for h, _ in shapes]
    assert strides == [4, 8, 16, 32]
    for (h, w), stride in zip(shapes, strides):
        assert (h * stride, w * stride) == (height, width)  # the level spans exactly the canvas
        ys = (torch.arange(h, dtype=torch.float64) + 0.5) * stride
        xs = (torch.arange(w, dtype=torch.float64) + 0.5) * stride
        centres = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(1, h * w, 1, 2)
        location = fraction.double().view(1, 1, 1, 1, 1, 2)
        sampled = multi_scale_deformable_attention(centres, [(h, w)], location, torch.ones(1, 1, 1, 1, 1)).view(2)
        assert (sampled - pixel.double()).abs().max() <= stride / 2, (stride, sampled)
        torch.testing.assert_close(sampled, pixel.double())  # inside the map bilinear reads a linear map exactly


def test_model_outputs_are_fractions_of_the_padded_canvas():
    torch.manual_seed(0)
    model = JCRA(get_config("tiny")).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 85, 128))
    assert out["canvas_size"] == (96, 128)
