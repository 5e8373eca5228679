"""Tests of ``seglab.models``: output shapes, the fully convolutional patch classifier against the
sliding window at every pixel, parameter budgets, the FCNs' bilinear and zero initialisations,
U-Net's output sizes against ``seglab.ops.unet_output_size``, the transfer of a patch classifier's
filters, checkpoints, and the error messages for wrong input sizes.

Random inputs come from local, seeded ``torch.Generator`` objects; models are built under a
fixed ``torch.manual_seed`` inside ``torch.random.fork_rng`` so the global state is untouched.
"""


import pytest
import torch
import torch.nn.functional as F
from torch import nn

import seglab.checkpoint
import seglab.models
from seglab.models import (
    ASPP,
    DilatedNet,
    FCN8s,
    FCN16s,
    FCN32s,
    PatchClassifier,
    SmallFCN,
    SmallFPNBackbone,
    SmallMaskRCNN,
    UNet,
    VGGBackbone,
    available_checkpoints,
    count_parameters,
    load_checkpoint,
    save_checkpoint,
)
from seglab.ops import center_crop, receptive_field, receptive_field_mask, unet_output_size

from _assertions import assert_doctests_pass, assert_every_public_name_has_an_example


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


# --- FCN-32s / 16s / 8s ----------------------------------------------------------------------------

FCNS = [FCN32s, FCN16s, FCN8s]


@pytest.mark.parametrize("cls", FCNS)
@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (1, 3, 32, 96), (1, 1, 128, 64)])
def test_fcns_return_logits_at_full_resolution(cls, shape):
    model = _build(cls, 5, in_channels=shape[1], width=4)
    assert model(_rand(6, *shape)).shape == (shape[0], 5, *shape[2:])


def test_vgg_backbone_returns_pool3_pool4_and_fc7_at_strides_8_16_32():
    features = _build(VGGBackbone, width=4)(_rand(7, 2, 3, 64, 128))
    assert {name: tuple(f.shape) for name, f in features.items()} == {
        "pool3": (2, 16, 8, 16),
        "pool4": (2, 32, 4, 8),
        "fc7": (2, 32, 2, 4),
    }


def test_fcns_are_named_after_the_paper():
    fcn8 = FCN8s(num_classes=4, width=4)
    assert [name for name, _ in fcn8.named_children()] == [
        "backbone", "score_fr", "upscore2", "score_pool4", "upscore_pool4", "score_pool3", "upscore8",
    ]
    assert [name for name, _ in FCN16s(4, width=4).named_children()] == [
        "backbone", "score_fr", "upscore2", "score_pool4", "upscore16",
    ]
    assert [name for name, _ in FCN32s(4, width=4).named_children()] == ["backbone", "score_fr", "upscore"]
    pools = [name for name, module in fcn8.backbone.named_children() if isinstance(module, nn.MaxPool2d)]
    assert pools == ["pool1", "pool2", "pool3", "pool4", "pool5"]
    assert (fcn8.score_pool3.in_channels, fcn8.score_pool4.in_channels, fcn8.score_fr.in_channels) == (16, 32, 32)


@pytest.mark.parametrize(
    "cls, name, factor", [(FCN32s, "upscore", 32), (FCN16s, "upscore16", 16), (FCN8s, "upscore8", 8)]
)
def test_the_final_upsampling_is_fixed_bilinear_interpolation(cls, name, factor):
    """Away from the border (``factor // 2`` pixels), the transposed convolution is F.interpolate."""
    up = getattr(_build(cls, 3, width=4), name)
    assert (up.kernel_size, up.stride, up.padding) == ((2 * factor,) * 2, (factor,) * 2, (factor // 2,) * 2)
    assert not up.weight.requires_grad  # fixed, as in the paper
    assert up.groups == 3 and up.weight.shape == (3, 1, 2 * factor, 2 * factor)  # each class on its own
    scores = _rand(8, 2, 3, 4, 5)
    with torch.no_grad():
        got = up(scores)  # [2, 3, 4 * factor, 5 * factor]
    expected = F.interpolate(scores, scale_factor=factor, mode="bilinear", align_corners=False)
    inside = (..., slice(factor // 2, -(factor // 2)), slice(factor // 2, -(factor // 2)))
    assert got.shape == expected.shape == (2, 3, 4 * factor, 5 * factor)
    torch.testing.assert_close(got[inside], expected[inside], rtol=0, atol=1e-5)
    # at the border it fades towards zero, by the same factor in every channel: the argmax is kept
    assert not torch.allclose(got[..., 0, 0], expected[..., 0, 0])
    assert torch.equal(got.argmax(dim=1), expected.argmax(dim=1))


def test_the_learned_2x_upsamplings_start_bilinear_and_are_trained():
    model = _build(FCN8s, 3, width=4)
    scores = _rand(9, 1, 3, 6, 6)
    expected = F.interpolate(scores, scale_factor=2, mode="bilinear", align_corners=False)[..., 1:-1, 1:-1]
    for up in (model.upscore2, model.upscore_pool4):
        assert up.weight.requires_grad and up.stride == (2, 2) and up.kernel_size == (4, 4)
        with torch.no_grad():
            torch.testing.assert_close(up(scores)[..., 1:-1, 1:-1], expected, rtol=0, atol=1e-6)
    trainable = count_parameters(model)
    assert trainable == sum(p.numel() for p in model.parameters()) - model.upscore8.weight.numel()


def test_score_pool_layers_start_at_zero():
    model = _build(FCN8s, 4, width=4)
    for layer in (model.score_pool3, model.score_pool4):
        assert layer.kernel_size == (1, 1)
        assert torch.count_nonzero(layer.weight) == 0 and torch.count_nonzero(layer.bias) == 0


def test_a_fresh_fcn16s_from_an_fcn32s_starts_from_its_scores():
    """The zero skip adds nothing: FCN-16s = the FCN-32s's scores, upsampled x2 then x16 (both bilinear)."""
    fcn32 = _build(FCN32s, 4, width=4).eval()
    with torch.no_grad():  # move the weights away from their initial values, as training would
        for parameter in fcn32.parameters():
            if parameter.requires_grad:
                parameter.add_(0.1 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)))
    fcn16 = FCN16s.from_coarser(fcn32)
    images = _rand(10, 2, 3, 128, 96)
    with torch.no_grad():
        scores = fcn32.score_fr(fcn32.backbone(images)["fc7"])  # [2, 4, 4, 3]: stride 32
        expected = fcn16.upscore16(fcn16.upscore2(scores))
        got, coarse = fcn16(images), fcn32(images)
    assert not fcn16.training
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    # x2 then x16 is not exactly x32 (it rounds the corners of the bilinear surface), but close:
    assert (got.argmax(dim=1) == coarse.argmax(dim=1)).float().mean() > 0.95
    # and the copy is independent: training the new one leaves the old one alone
    with torch.no_grad():
        fcn16.score_fr.weight.add_(1.0)
    assert not torch.equal(fcn16.score_fr.weight, fcn32.score_fr.weight)


def test_a_fresh_fcn8s_from_an_fcn16s_keeps_its_learned_layers():
    fcn16 = _build(FCN16s, 3, width=4, seed=2).eval()
    with torch.no_grad():
        fcn16.score_pool4.weight.normal_(generator=torch.Generator().manual_seed(3))
        fcn16.upscore2.weight.mul_(1.5)
    fcn8 = FCN8s.from_coarser(fcn16)
    for name in ("score_fr.weight", "score_pool4.weight", "upscore2.weight", "backbone.conv3.block1.conv.weight"):
        assert torch.equal(fcn8.get_parameter(name), fcn16.get_parameter(name)), name
    images = _rand(11, 1, 3, 64, 64)
    with torch.no_grad():
        features = fcn16.backbone(images)
        fuse_pool4 = fcn16.upscore2(fcn16.score_fr(features["fc7"])) + fcn16.score_pool4(features["pool4"])
        torch.testing.assert_close(fcn8(images), fcn8.upscore8(fcn8.upscore_pool4(fuse_pool4)), rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls, coarser", [(FCN16s, FCN16s), (FCN16s, FCN8s), (FCN8s, FCN8s), (FCN8s, SmallFCN)])
def test_from_coarser_rejects_a_network_that_is_not_coarser(cls, coarser):
    with pytest.raises(TypeError) as error:
        cls.from_coarser(coarser(4, width=4))
    message = str(error.value)
    assert message.startswith("coarser: expected a trained FCN32s")
    assert f"got {coarser.__name__}" in message and "Hint: the paper's stages" in message


@pytest.mark.parametrize("cls", FCNS)
@pytest.mark.parametrize(
    "height, width, fix", [(60, 64, "pad the images to 64x64"), (64, 100, "crop them to 64x96"), (16, 16, "32x32")]
)
def test_fcns_reject_sizes_not_divisible_by_32(cls, height, width, fix):
    with pytest.raises(ValueError) as error:
        cls(4, width=4)(torch.zeros(1, 3, height, width))
    message = str(error.value)
    assert message.startswith(f"{cls.__name__}: expected H and W divisible by 32")
    assert f"got {height}x{width}" in message and fix in message


def test_fcns_reject_the_wrong_number_of_channels():
    with pytest.raises(ValueError, match=r"FCN8s: expected images of shape \[B, 3, H, W\], got .*\(1, 1, 64, 64\)"):
        FCN8s(4, width=4)(torch.zeros(1, 1, 64, 64))


def test_fcn_parameter_counts_match_the_docstrings():
    assert count_parameters(VGGBackbone(width=16)) == 753_776
    assert [count_parameters(cls(4)) for cls in FCNS] == [754_292, 755_064, 755_580]


# --- U-Net -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth, size", [(1, 8), (2, 32), (3, 48), (4, 64), (4, 96)])
def test_same_unet_keeps_the_image_size(depth, size):
    model = _build(UNet, 3, width=4, depth=depth)
    assert model(_rand(12, 2, 3, size, size + 2**depth)).shape == (2, 3, size, size + 2**depth)
    assert model.output_size(size) == size


@pytest.mark.parametrize("depth, size", [(4, 572), (4, 188), (4, 201), (3, 100), (2, 45), (1, 18), (3, 93)])
def test_valid_unet_output_size_is_unet_output_size(depth, size):
    model = _build(UNet, 2, width=2, depth=depth, padding="valid")
    expected = unet_output_size(size, depth)
    assert model.output_size(size) == expected
    with torch.no_grad():
        assert model(_rand(13, 1, 3, size, size)).shape == (1, 2, expected, expected)


def test_valid_unet_reproduces_the_papers_572_to_388_with_every_intermediate_size():
    model = _build(UNet, 2, width=2, depth=4, padding="valid")
    sizes = {}
    for name, module in model.named_modules():
        if name in ("encoder.0", "encoder.3", "bottleneck", "decoder.0.up", "decoder.3"):
            module.register_forward_hook(lambda m, i, o, name=name: sizes.__setitem__(name, o.shape[-1]))
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 572, 572))
    assert out.shape[-1] == 388
    assert sizes == {"encoder.0": 568, "encoder.3": 64, "bottleneck": 28, "decoder.0.up": 56, "decoder.3": 388}


def test_valid_unet_at_width_small_gives_388_for_572():
    """The paper's tile at a course-sized width (the lecture's example)."""
    model = _build(UNet, 2, width=8, depth=4, padding="valid")
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 572, 572)).shape == (1, 2, 388, 388)


def test_valid_unet_segments_a_large_image_tile_by_tile():
    """The overlap-tile strategy: with valid convolutions, the outputs of overlapping tiles (shifted
    by a multiple of 2**depth, so the pools line up) are exactly pieces of the whole image's output."""
    model = _build(UNet, 2, width=2, depth=2, padding="valid").eval()
    image = _rand(14, 1, 3, 60, 76)
    with torch.no_grad():
        whole = model(image)  # [1, 2, 20, 36]
        left, right = model(image[..., :60]), model(image[..., 16:])  # two 60 x 60 tiles -> 20 x 20
    assert whole.shape[-2:] == (20, 36) and left.shape[-2:] == right.shape[-2:] == (20, 20)
    torch.testing.assert_close(left, whole[..., :20], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(right, whole[..., 16:], rtol=1e-5, atol=1e-6)


def test_unet_has_the_lecture_layout():
    model = UNet(num_classes=4, width=8, depth=3)
    assert [name for name, _ in model.named_children()] == ["encoder", "pool", "bottleneck", "decoder", "classifier"]
    assert [level.conv1.out_channels for level in model.encoder] == [8, 16, 32]
    assert model.bottleneck.conv2.out_channels == 64
    assert [(level.up.in_channels, level.up.out_channels) for level in model.decoder] == [(64, 32), (32, 16), (16, 8)]
    assert [level.convs.conv1.in_channels for level in model.decoder] == [64, 32, 16]  # skip + up
    for level in model.decoder:
        assert level.up.kernel_size == (2, 2) and level.up.stride == (2, 2)
    assert model.classifier.kernel_size == (1, 1) and model.classifier.out_channels == 4
    assert list(dict(model.encoder[0].named_children())) == ["conv1", "bn1", "relu1", "conv2", "bn2", "relu2"]
    assert model.encoder[0].conv1.padding == (1, 1)
    assert UNet(4, padding="valid").encoder[0].conv1.padding == (0, 0)


def test_unet_skips_carry_the_fine_detail():
    """The first level's features reach the output through the last skip: cutting it changes the output."""
    model = _build(UNet, 2, width=4, depth=2).eval()
    images = _rand(15, 1, 3, 16, 16)
    with torch.no_grad():
        out = model(images)
        hook = model.decoder[-1].register_forward_pre_hook(lambda m, args: (args[0], torch.zeros_like(args[1])))
        without_skip = model(images)
        hook.remove()
    assert not torch.allclose(out, without_skip)


def test_unet_parameter_counts_match_the_docstring():
    assert count_parameters(UNet(4, width=16, depth=4)) == 1_942_628
    assert count_parameters(UNet(4, width=8, depth=4)) == 486_580
    assert count_parameters(UNet(4, width=16, depth=3)) == 482_788


@pytest.mark.parametrize(
    "depth, height, width, fix", [(4, 60, 64, "pad the images to 64x64"), (3, 20, 24, "24x24"), (2, 30, 30, "32x32")]
)
def test_same_unet_rejects_sizes_not_divisible_by_2_to_the_depth(depth, height, width, fix):
    with pytest.raises(ValueError) as error:
        UNet(4, width=2, depth=depth)(torch.zeros(1, 3, height, width))
    message = str(error.value)
    assert message.startswith(f"UNet: expected H and W divisible by {2**depth} ({depth} 2x2 max pools")
    assert f"got {height}x{width}" in message and fix in message


def test_valid_unet_rejects_an_input_too_small_for_its_depth():
    model = UNet(4, width=2, depth=4, padding="valid")
    with pytest.raises(ValueError) as error:
        model(torch.zeros(1, 3, 100, 572))
    message = str(error.value)
    smallest = next(n for n in range(1, 1000) if _fits(n, 4))
    assert f"expected an input side of at least {smallest}" in message and "got 100" in message
    assert "Hint: use larger tiles, a smaller depth, or padding='same'" in message
    with torch.no_grad():
        assert model(torch.zeros(1, 3, smallest, smallest)).shape[-1] == unet_output_size(smallest, 4)


def _fits(size, depth):
    try:
        unet_output_size(size, depth)
        return True
    except ValueError:
        return False


def test_unet_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match=r"padding: expected 'same' or 'valid', got str 'full'"):
        UNet(4, padding="full")
    with pytest.raises(ValueError, match="depth: expected an int >= 1, got 0"):
        UNet(4, depth=0)
    with pytest.raises(ValueError, match=r"UNet: expected images of shape \[B, 3, H, W\].*images\[None\]"):
        UNet(4, width=2)(torch.zeros(3, 64, 64))


def test_valid_unet_trains_on_masks_cropped_to_its_output():
    """What the lecture does: crop the masks with center_crop to the output size, then train."""
    model = _build(UNet, 2, width=2, depth=1, padding="valid")
    images, masks = _rand(16, 2, 3, 20, 20), (_rand(17, 2, 20, 20) > 0.5).long()
    scores = model(images)  # 20 -> 16 -> 8 -> 4, then 8 -> 4: [2, 2, 4, 4]
    loss = F.cross_entropy(scores, center_crop(masks, model.output_size(20)))
    loss.backward()
    assert scores.shape == (2, 2, 4, 4) and model.encoder[0].conv1.weight.grad is not None


# --- transfer learning: a patch classifier's filters as U-Net's first level -------------------------


def test_load_encoder_from_copies_the_patch_classifiers_filters():
    classifier = _build(PatchClassifier, 4, width=8, seed=4)
    unet = _build(UNet, 4, width=8, depth=2, seed=5)
    untouched = {name: p.clone() for name, p in unet.state_dict().items() if not name.startswith("encoder.0.")}
    assert unet.load_encoder_from(classifier) is unet
    level = unet.encoder[0]
    assert torch.equal(level.conv1.weight, classifier.features.conv1.weight)
    assert torch.equal(level.conv2.weight, classifier.features.conv2.weight)
    assert torch.equal(level.bn1.bias, classifier.features.conv1.bias)
    assert torch.equal(level.bn2.bias, classifier.features.conv2.bias)
    for name, before in untouched.items():  # nothing else changes
        assert torch.equal(unet.state_dict()[name], before), name
    with torch.no_grad():  # a copy, not shared: training one does not change the other
        level.conv1.weight.add_(1.0)
    assert not torch.equal(level.conv1.weight, classifier.features.conv1.weight)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_transferred_first_level_computes_the_classifiers_features_in_eval_mode(padding):
    classifier = _build(PatchClassifier, 4, width=6, seed=6)
    unet = _build(UNet, 4, width=6, depth=1, padding=padding, seed=7).load_encoder_from(classifier).eval()
    images = _rand(18, 2, 3, 24, 20)
    with torch.no_grad():
        expected = classifier.features(images)  # [2, 6, 20, 16]: unpadded
        got = unet.encoder[0](images)
    if padding == "same":
        got = got[..., 2:-2, 2:-2]  # the interior, where padding plays no part
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_load_encoder_from_rejects_mismatched_networks():
    unet = UNet(4, width=16, depth=2)
    with pytest.raises(ValueError) as error:
        unet.load_encoder_from(PatchClassifier(4, width=32))
    message = str(error.value)
    assert "expected a PatchClassifier with in_channels=3 and width=16" in message
    assert "got in_channels=3 and width=32" in message
    assert "PatchClassifier(num_classes, in_channels=3, width=16)" in message
    with pytest.raises(ValueError, match="got in_channels=1 and width=16"):
        unet.load_encoder_from(PatchClassifier(4, in_channels=1, width=16))
    with pytest.raises(TypeError, match="classifier: expected a trained PatchClassifier, got SmallFCN"):
        unet.load_encoder_from(SmallFCN(4))


# --- DilatedNet and ASPP ----------------------------------------------------------------------------


def _all_paths_open(model):
    """``model`` in eval mode with positive weights and identity batch norms: on a positive input every
    ReLU passes, so an input pixel changes an output pixel exactly when a path of taps connects them."""
    model.eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.abs_().add_(0.01)
            elif isinstance(module, nn.BatchNorm2d):
                module.running_mean.zero_(), module.running_var.fill_(1.0)
                module.weight.fill_(1.0), module.bias.zero_()
    return model


def _seen_pixels(model, size, channel=0):
    """``[size, size]`` bool: the input pixels whose value reaches the centre output pixel."""
    x = (_rand(31, 1, model.in_channels, size, size) + 0.5).double().requires_grad_(True)
    model = model.double()
    centre = size // 2
    model(x)[0, channel, centre, centre].backward()
    return x.grad[0].abs().sum(dim=0) != 0


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (1, 3, 33, 50), (1, 1, 7, 5)])
def test_dilated_net_keeps_the_resolution(shape):
    model = _build(DilatedNet, 5, in_channels=shape[1], width=4, seed=1)
    assert model(_rand(2, *shape)).shape == (shape[0], 5, *shape[2:])
    aspp = _build(DilatedNet, 5, in_channels=shape[1], width=4, rates=(1, 2), aspp_rates=(2, 3), seed=1)
    assert aspp(_rand(2, *shape)).shape == (shape[0], 5, *shape[2:])


@pytest.mark.parametrize("rates", [(1, 2, 4, 8, 1), (1, 1, 1, 1, 1), (2, 2, 2), (1, 2, 5), (3,)])
def test_dilated_net_sees_exactly_its_receptive_field_and_its_holes(rates):
    model = _all_paths_open(_build(DilatedNet, 2, rates=rates, width=2, seed=3))
    layers = [(3, 1, 1)] + [(3, 1, r) for r in rates]
    assert model.receptive_field == receptive_field(layers) == 1 + 2 * (1 + sum(rates))
    size = model.receptive_field + 10  # room around the field: zero padding plays no part at the centre
    seen = _seen_pixels(model, size)
    mask = receptive_field_mask(layers)
    expected = torch.zeros(size, dtype=torch.bool)
    start = size // 2 - model.receptive_field // 2
    expected[start : start + len(mask)] = mask
    assert torch.equal(seen, expected[:, None] & expected[None, :])  # the 2D field: outer product, holes included


def test_the_shipped_twins_differ_only_in_their_rates():
    dilated, plain = load_checkpoint("dilated_things"), load_checkpoint("undilated_things")
    assert (dilated.rates, plain.rates) == ((1, 2, 4, 8, 1), (1, 1, 1, 1, 1))
    assert (dilated.receptive_field, plain.receptive_field) == (35, 13)
    assert count_parameters(dilated) == count_parameters(plain)
    a, b = dilated.checkpoint_result["recipe"], plain.checkpoint_result["recipe"]
    assert {**a, "kwargs": None} == {**b, "kwargs": None}  # the same data, steps and learning rates
    assert dilated.checkpoint_result["val"]["mean_iou"] > plain.checkpoint_result["val"]["mean_iou"]
    aspp = load_checkpoint("aspp_things")
    assert aspp.aspp_rates == (2, 4, 8) and list(aspp.aspp.branches) == ["1x1", "rate 2", "rate 4", "rate 8", "image"]


def test_the_undilated_twin_has_the_same_weights_and_a_smaller_field():
    dilated, plain = DilatedNet(6, width=24), DilatedNet(6, width=24, rates=(1,) * 5)
    assert count_parameters(dilated) == count_parameters(plain) == 3 * 24 * 9 + 5 * 24 * 24 * 9 + 6 * 2 * 24 + 24 * 6 + 6
    assert (dilated.receptive_field, plain.receptive_field) == (35, 13)
    for (name, a), (_, b) in zip(dilated.named_parameters(), plain.named_parameters()):
        assert a.shape == b.shape, name
    convs = [m for m in dilated.modules() if isinstance(m, nn.Conv2d)]
    assert [c.dilation[0] for c in convs] == [1, 1, 2, 4, 8, 1, 1] and [c.padding[0] for c in convs[:-1]] == [1, 1, 2, 4, 8, 1]


def test_aspp_has_its_branches_and_the_image_branch_sees_the_whole_image():
    aspp = _build(ASPP, 4, 3, rates=(2, 4), seed=5)
    assert list(aspp.branches) == ["1x1", "rate 2", "rate 4", "image"]
    assert aspp.branches["rate 4"].conv.dilation == (4, 4) and aspp.project.conv.in_channels == 4 * 3
    model = _all_paths_open(_build(DilatedNet, 2, rates=(1,), width=2, aspp_rates=(2,), seed=6))
    assert model.receptive_field == 1 + 2 * (1 + 1 + 2)
    seen = _seen_pixels(model, 31)
    assert bool(seen.all())  # the image branch: every pixel counts, far beyond the 9 x 9 of the convolutions
    cascade = _all_paths_open(_build(DilatedNet, 2, rates=(1, 2), width=2, seed=6))
    assert int(_seen_pixels(cascade, 31).sum()) == cascade.receptive_field**2  # no pooling: only the field


def test_dilated_net_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match=r"rates: expected at least one dilation rate, got \(\)"):
        DilatedNet(3, rates=())
    with pytest.raises(ValueError, match=r"rates\[1\]: expected an int >= 1, got 0"):
        DilatedNet(3, rates=(1, 0))
    with pytest.raises(TypeError, match="rates: expected a sequence of dilation rates, got str"):
        DilatedNet(3, rates="124")
    with pytest.raises(TypeError, match=r"aspp_rates\[0\]: expected an int >= 1, got float 2.0"):
        DilatedNet(3, aspp_rates=(2.0,))
    with pytest.raises(ValueError, match=r"DilatedNet: expected images of shape \[B, 3, H, W\]"):
        DilatedNet(3)(torch.zeros(3, 16, 16))


# --- checkpoints -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (UNet, dict(width=4, depth=2, padding="valid")),
        (FCN8s, dict(width=4)),
        (FCN32s, dict(width=2, in_channels=1)),
        (DilatedNet, dict(width=3, rates=(1, 2, 3), aspp_rates=(2, 4))),
    ],
)
def test_checkpoint_round_trip(tmp_path, cls, kwargs):
    model = _build(cls, 3, **kwargs, seed=8)
    with torch.no_grad():  # not the initial weights, and batch norm statistics that are not 0 / 1
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.01 * torch.randn(tensor.shape, generator=torch.Generator().manual_seed(9)).abs())
    result = {"seconds": 12.5, "steps": 300, "val": {"mean_iou": 0.9, "iou": [0.8, float("nan"), 1.0]}}
    save_checkpoint(model, tmp_path / "mine.pt", result)
    assert available_checkpoints(tmp_path) == ["mine"]

    loaded = load_checkpoint("mine", folder=tmp_path)
    assert type(loaded) is cls and not loaded.training
    for name, expected in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], expected), name
    assert loaded.checkpoint_result["steps"] == 300 and loaded.checkpoint_result["val"]["iou"][0] == 0.8
    images = _rand(19, 2, kwargs.get("in_channels", 3), 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), model.eval()(images), rtol=0, atol=0)
    raw = torch.load(tmp_path / "mine.pt", weights_only=True)  # plain tensors and values only
    assert raw["model"] == cls.__name__ and raw["kwargs"] == {"num_classes": 3, "in_channels": 3, **kwargs}
    assert all(t.dtype in (torch.float32, torch.int64) for t in raw["state_dict"].values())


def test_load_checkpoint_rejects_an_unknown_name(tmp_path):
    save_checkpoint(UNet(2, width=2, depth=1), tmp_path / "only.pt")
    with pytest.raises(ValueError) as error:
        load_checkpoint("unet", folder=tmp_path)
    message = str(error.value)
    assert message.startswith("name: expected one of the checkpoints in")
    assert "['only'], got 'unet'" in message and "scripts/train_checkpoints.py" in message
    with pytest.raises(ValueError, match=r"shipped with seglab: \[.*'unet_things'.*\], got 'nothing'"):
        load_checkpoint("nothing")
    with pytest.raises(TypeError, match="name: expected a checkpoint name"):
        load_checkpoint(3)
    torch.save(UNet(2, width=2, depth=1).state_dict(), tmp_path / "bare.pt")  # a state dict alone
    with pytest.raises(ValueError, match="name: expected bare.pt to be a checkpoint written by save_checkpoint"):
        load_checkpoint("bare", folder=tmp_path)
    with pytest.raises(TypeError, match="model: expected one of FCN32s, FCN16s, FCN8s, UNet, DilatedNet, SmallMaskRCNN, got SmallFCN"):
        save_checkpoint(SmallFCN(2), tmp_path / "no.pt")


@pytest.mark.parametrize(
    "result, where",
    [
        ({"val": {"iou": torch.tensor([0.5, 0.7])}}, "result['val']['iou']: expected a plain value"),
        ({"torch": torch.__version__}, "result['torch']: expected a plain value"),  # a str subclass
        ({"steps": [1, 2, torch.tensor(3)]}, "result['steps'][2]: expected a plain value"),
        ({1: "one"}, "result: expected str keys"),
    ],
)
def test_save_checkpoint_rejects_results_that_would_not_load(tmp_path, result, where):
    """Anything but plain values makes the file unreadable with torch.load(weights_only=True)."""
    with pytest.raises(TypeError) as error:
        save_checkpoint(UNet(2, width=2, depth=1), tmp_path / "bad.pt", result)
    assert str(error.value).startswith(where)
    assert not (tmp_path / "bad.pt").exists()


def test_shipped_checkpoints_load_and_record_their_training():
    names = available_checkpoints()
    semantic = {"unet_things", "fcn32s", "fcn16s", "fcn8s", "dilated_things", "undilated_things", "aspp_things"}
    assert semantic | {"maskrcnn_things"} <= set(names)
    for name in names:
        model = load_checkpoint(name)
        result = model.checkpoint_result
        assert result["name"] == name and result["seconds"] > 0 and result["steps"] > 0
        if isinstance(model, SmallMaskRCNN):
            assert 0 < result["val"]["mask_ap"] < result["val"]["mask_ap50"] <= 1
            assert len(result["val"]["mask_ap50_per_class"]) == model.num_classes - 1
        else:
            assert 0 < result["val"]["mean_iou"] <= 1 and len(result["val"]["iou"]) == model.num_classes


def test_the_mask_rcnn_checkpoint_meets_its_targets():
    """The Mask R-CNN's targets (CONTRIBUTING.md, "Budgets"): mask AP50 >= 0.95 on held-out images
    (at least 0.9 for every class), from a checkpoint of at most 10 MB trained in at most 10 minutes
    on at most two threads; the checkpoint records what the training script measured on 200 val images."""
    model = load_checkpoint("maskrcnn_things")
    result = model.checkpoint_result
    assert result["val"]["images"] == 200 and result["val"]["mask_ap50"] >= 0.95
    assert min(result["val"]["mask_ap50_per_class"]) >= 0.9  # triangles, the rare class, too
    assert result["seconds"] <= 600 and result["threads"] <= 2
    path = seglab.checkpoint._checkpoint_folder() / "maskrcnn_things.pt"
    assert path.stat().st_size <= 10e6
    assert result["parameters"] == count_parameters(model)


# --- Mask R-CNN ------------------------------------------------------------------------------------


def test_fpn_backbone_gives_three_levels_at_strides_4_8_16():
    backbone = _build(SmallFPNBackbone, width=8, fpn_channels=16, seed=3)
    features = backbone(_rand(4, 2, 3, 64, 96))
    assert list(features) == ["0", "1", "2"] and backbone.out_channels == 16
    assert [tuple(level.shape) for level in features.values()] == [(2, 16, 16, 24), (2, 16, 8, 12), (2, 16, 4, 6)]
    stages = [sum(p.numel() for p in getattr(backbone, f"stage{i}").parameters()) for i in range(1, 5)]
    widths = [3, 8, 16, 32, 64]  # 3x3 convs without bias, then batch norm's two vectors
    assert stages == [9 * widths[i] * widths[i + 1] + 9 * widths[i + 1] ** 2 + 4 * widths[i + 1] for i in range(4)]


def test_small_mask_rcnn_is_torchvisions_mask_rcnn_with_the_documented_sizes():
    from torchvision.models.detection import MaskRCNN

    model = _build(SmallMaskRCNN, seed=4)
    detector = model.detector
    assert isinstance(detector, MaskRCNN) and isinstance(detector.backbone, SmallFPNBackbone)
    assert count_parameters(model) < 2_000_000
    assert detector.transform.min_size == (128,) and detector.transform.max_size == 128
    assert detector.rpn.anchor_generator.sizes == ((8, 12), (16, 24), (32, 48))
    assert detector.rpn.anchor_generator.num_anchors_per_location() == [6, 6, 6]
    assert detector.roi_heads.box_roi_pool.sampling_ratio == 1 and detector.roi_heads.mask_roi_pool.sampling_ratio == 1
    assert detector.roi_heads.box_predictor.cls_score.out_features == 4
    assert detector.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 4  # one mask per class


def test_small_mask_rcnn_trains_and_predicts_in_torchvisions_format():
    model = _build(SmallMaskRCNN, num_classes=3, width=8, fpn_channels=16, representation_size=32, image_size=64, seed=5)
    image = torch.zeros(3, 64, 64)
    mask = torch.zeros(1, 64, 64, dtype=torch.uint8)
    mask[0, 10:30, 20:44] = 1
    target = {"boxes": torch.tensor([[20.0, 10.0, 44.0, 30.0]]), "labels": torch.tensor([2]), "masks": mask}
    losses = model.train()([image], [target])
    assert sorted(losses) == ["loss_box_reg", "loss_classifier", "loss_mask", "loss_objectness", "loss_rpn_box_reg"]
    assert all(value.dim() == 0 and torch.isfinite(value) for value in losses.values())
    with torch.no_grad():
        prediction = model.eval()([image, torch.ones(3, 80, 48)])
    assert len(prediction) == 2 and prediction[1]["masks"].shape[1:] == (1, 80, 48)  # back to each image's size


def test_small_mask_rcnn_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="num_classes: expected at least 2"):
        SmallMaskRCNN(1)
    with pytest.raises(TypeError, match=r"images: expected a list of Tensor\[3, H, W\].*detection_collate"):
        SmallMaskRCNN(2, width=4, fpn_channels=8, representation_size=8)(torch.zeros(2, 3, 64, 64))


def test_mask_rcnn_checkpoint_round_trip(tmp_path):
    model = _build(SmallMaskRCNN, 3, width=4, fpn_channels=8, representation_size=16, image_size=64, seed=6)
    save_checkpoint(model, tmp_path / "tiny.pt", {"steps": 1})
    loaded = load_checkpoint("tiny", folder=tmp_path)
    assert type(loaded) is SmallMaskRCNN and not loaded.training
    assert (loaded.num_classes, loaded.width, loaded.fpn_channels, loaded.representation_size, loaded.image_size) == (3, 4, 8, 16, 64)
    for name, expected in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], expected), name


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
    assert_doctests_pass(seglab.models)


def test_every_public_name_has_an_example_and_shapes():
    assert_every_public_name_has_an_example(seglab.models)
    for name in ("PatchClassifier", "SmallFCN", "VGGBackbone", "FCN32s", "FCN16s", "FCN8s", "UNet", "DilatedNet", "ASPP", "SmallFPNBackbone"):
        assert "Shape:" in getattr(seglab.models, name).__doc__, name
