"""Tests of ``seglab.models``: output shapes, the fully convolutional patch classifier against the
sliding window at every pixel, parameter budgets, and the error messages for wrong input sizes.

Random inputs come from local, seeded ``torch.Generator`` objects; models are built under a
fixed ``torch.manual_seed`` inside ``torch.random.fork_rng`` so the global state is untouched.
"""

import doctest

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import seglab.models
from seglab.models import PatchClassifier, SmallFCN, count_parameters


pytestmark = pytest.mark.usefixtures("one_thread")


def _rand(seed, *shape):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _build(cls, *args, seed=0, **kwargs):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return cls(*args, **kwargs)


def _sliding_window(model, images):
    """The obvious reference: classify the window centred on every pixel, one window at a time."""
    p = model.patch_size
    padded = F.pad(images, [p // 2] * 4)  # zero padding
    batch, _, height, width = images.shape
    out = torch.empty(batch, model.num_classes, height, width, dtype=images.dtype)
    with torch.no_grad():
        for r in range(height):
            for c in range(width):
                out[:, :, r, c] = model(padded[:, :, r : r + p, c : c + p])  # centred on (r, c)
    return out


# --- PatchClassifier -------------------------------------------------------------------------------


@pytest.mark.parametrize("patch_size, num_classes", [(11, 4), (5, 2), (9, 6)])
def test_patch_classifier_scores_every_patch(patch_size, num_classes):
    model = _build(PatchClassifier, num_classes, patch_size=patch_size, width=8, hidden=16)
    scores = model(_rand(0, 7, 3, patch_size, patch_size))
    assert scores.shape == (7, num_classes)
    assert model.classifier.fc1.in_features == 8 * (patch_size - 4) ** 2


def test_patch_classifier_has_the_lecture_layout():
    model = PatchClassifier(num_classes=4)
    assert [name for name, _ in model.named_children()] == ["features", "classifier"]
    assert list(dict(model.features.named_children())) == ["conv1", "relu1", "conv2", "relu2"]
    assert list(dict(model.classifier.named_children())) == ["flatten", "fc1", "relu", "fc2"]
    assert model.classifier[1] is model.classifier.fc1  # indexable as in the contract
    assert (model.classifier.fc1.in_features, model.classifier.fc1.out_features) == (32 * 7 * 7, 64)
    for conv in (model.features.conv1, model.features.conv2):
        assert conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (0, 0)


@pytest.mark.parametrize("patch_size", [11, 7])
def test_fully_convolutional_patch_classifier_is_the_sliding_window_at_every_pixel(patch_size):
    model = _build(PatchClassifier, 3, patch_size=patch_size, width=6, hidden=10, seed=patch_size)
    images = _rand(1, 2, 3, 9, 13)
    expected = _sliding_window(model, images)  # [2, 3, 9, 13]

    dense = model.to_fully_convolutional()
    got = dense(F.pad(images, [patch_size // 2] * 4))  # [B, C, H + p - 1, W + p - 1] -> [B, K, H, W]
    assert got.shape == (2, 3, 9, 13)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)

    padded_inside = model.to_fully_convolutional(pad=True)(images)  # the padding as a layer
    torch.testing.assert_close(padded_inside, expected, rtol=1e-5, atol=1e-5)


def test_fully_convolutional_patch_classifier_on_one_patch_is_the_classifier():
    model = _build(PatchClassifier, 4)
    patches = _rand(2, 5, 3, 11, 11)
    dense = model.to_fully_convolutional()
    assert isinstance(dense.fc1, nn.Conv2d) and dense.fc1.kernel_size == (7, 7)
    assert isinstance(dense.fc2, nn.Conv2d) and dense.fc2.kernel_size == (1, 1)
    torch.testing.assert_close(dense(patches)[:, :, 0, 0], model(patches), rtol=1e-5, atol=1e-6)


def test_fully_convolutional_patch_classifier_is_a_snapshot():
    model = _build(PatchClassifier, 4)
    patches = _rand(3, 2, 3, 11, 11)
    dense = model.to_fully_convolutional()
    before = dense(patches).detach().clone()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    assert torch.equal(dense(patches).detach(), before)


@pytest.mark.parametrize("shape", [(2, 3, 13, 13), (2, 3, 11, 9), (2, 1, 11, 11), (3, 11, 11)])
def test_patch_classifier_rejects_the_wrong_patch_size(shape):
    model = PatchClassifier(num_classes=4)
    with pytest.raises(ValueError) as error:
        model(torch.zeros(shape))
    message = str(error.value)
    assert "expected patches of shape [B, 3, 11, 11]" in message
    assert f"got Tensor of shape {shape}" in message
    assert "to_fully_convolutional" in message  # the hint for whole images


@pytest.mark.parametrize("patch_size", [10, 3, 1])
def test_patch_classifier_rejects_a_patch_size_without_centre_or_room(patch_size):
    with pytest.raises(ValueError, match=rf"odd int >= 5.*got {patch_size}\. Hint: use"):
        PatchClassifier(num_classes=4, patch_size=patch_size)


def test_patch_classifier_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_classes: expected an int >= 1, got 0"):
        PatchClassifier(num_classes=0)
    with pytest.raises(TypeError, match="width"):
        PatchClassifier(num_classes=2, width=3.5)


# --- SmallFCN --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (1, 3, 32, 48), (3, 3, 4, 8)])
def test_small_fcn_returns_logits_at_full_resolution(shape):
    model = _build(SmallFCN, 5, width=8)
    logits = model(_rand(4, *shape))
    assert logits.shape == (shape[0], 5, *shape[2:])


def test_small_fcn_is_small_and_named():
    model = SmallFCN(num_classes=4)
    assert 50_000 < count_parameters(model) < 200_000
    assert [name for name, _ in model.named_children()] == ["encoder", "decoder", "classifier"]
    assert list(dict(model.encoder.named_children())) == ["block1", "pool1", "block2", "pool2", "block3", "block4"]
    assert list(dict(model.decoder.named_children())) == ["up1", "block5", "up2"]
    assert model.decoder.up1.mode == "bilinear" and model.decoder.up2.scale_factor == 2
    assert model.classifier.kernel_size == (1, 1) and model.classifier.out_channels == 4
    assert count_parameters(SmallFCN(num_classes=6, in_channels=1, width=16)) < count_parameters(model)


def test_small_fcn_output_depends_on_nearby_pixels_only_through_the_network():
    """A pixel's logits change when a pixel 8 px away changes (the pools give it context)."""
    model = _build(SmallFCN, 2, width=8).eval()
    images = _rand(5, 1, 3, 32, 32)
    changed = images.clone()
    changed[0, :, 16, 24] += 1.0
    with torch.no_grad():
        difference = (model(changed) - model(images))[0, :, 16, 16].abs().max()
    assert difference > 0


@pytest.mark.parametrize("height, width, fix", [(62, 64, "pad the images to 64x64"), (30, 33, "36"), (6, 8, "8x8")])
def test_small_fcn_rejects_sizes_not_divisible_by_4(height, width, fix):
    model = SmallFCN(num_classes=4, width=4)
    with pytest.raises(ValueError) as error:
        model(torch.zeros(1, 3, height, width))
    message = str(error.value)
    assert "expected H and W divisible by 4" in message
    assert f"got {height}x{width}" in message
    assert fix in message


def test_small_fcn_rejects_a_missing_batch_dimension_or_wrong_channels():
    model = SmallFCN(num_classes=4, width=4)
    with pytest.raises(ValueError, match=r"expected images of shape \[B, 3, H, W\].*\(3, 16, 16\).*images\[None\]"):
        model(torch.zeros(3, 16, 16))
    with pytest.raises(ValueError, match=r"\(1, 1, 16, 16\)"):
        model(torch.zeros(1, 1, 16, 16))


# --- count_parameters ------------------------------------------------------------------------------


def test_count_parameters_counts_trainable_weights_only():
    assert count_parameters(nn.Linear(10, 3)) == 33
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1))  # 3*4*9 + 4 and 4*2 + 2
    assert count_parameters(model) == 112 + 10
    model[0].requires_grad_(False)
    assert count_parameters(model) == 10
    assert count_parameters(PatchClassifier(4)) == (3 * 32 * 9 + 32) + (32 * 32 * 9 + 32) + (1568 * 64 + 64) + (64 * 4 + 4)


def test_count_parameters_rejects_a_non_module():
    with pytest.raises(TypeError, match="expected an nn.Module"):
        count_parameters([torch.zeros(3)])


# --- documentation ---------------------------------------------------------------------------------


def test_docstring_examples_run():
    with torch.random.fork_rng():
        result = doctest.testmod(seglab.models, verbose=False, report=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_public_name_has_an_example_and_shapes():
    for name in seglab.models.__all__:
        doc = getattr(seglab.models, name).__doc__
        assert ">>>" in doc, name
    for name in ("PatchClassifier", "SmallFCN"):
        assert "Shape:" in getattr(seglab.models, name).__doc__, name
