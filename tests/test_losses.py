"""Tests of ``seglab.losses``: against ``F.cross_entropy`` (values and gradients) and a pixel loop."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import seglab.losses
from seglab import losses

from _assertions import assert_doctests_pass, assert_every_public_name_has_an_example, assert_same_loss_and_gradient, raises_with_message


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def _case(generator, shape, dtype, ignore_index=None, scale=3.0):
    """Random logits ``shape = [N, C, *]`` and targets ``[N, *]``, about a quarter ignored."""
    logits = scale * torch.randn(*shape, generator=generator, dtype=dtype)
    target_shape = (shape[0], *shape[2:])
    target = torch.randint(0, shape[1], target_shape, generator=generator)
    if ignore_index is not None:
        ignored = torch.rand(target_shape, generator=generator) < 0.25
        target = torch.where(ignored, torch.tensor(ignore_index), target)
    return logits, target


def _tolerances(dtype):
    return {"rtol": 1e-12, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}


SHAPES = [(5, 3), (2, 4, 3, 5), (1, 2, 6, 6), (3, 6, 2, 2, 2)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("ignore_index", [None, -100, 255, 0])
def test_pixel_cross_entropy_equals_torch_value_and_gradient(shape, dtype, ignore_index):
    generator = _generator(0)
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}
    for _ in range(3):
        logits, target = _case(generator, shape, dtype, ignore_index)
        if not (target != (ignore_index if ignore_index is not None else -100)).any():
            continue  # every pixel ignored: tested on its own below
        assert_same_loss_and_gradient(
            lambda z: losses.pixel_cross_entropy(z, target, **kwargs),
            lambda z: F.cross_entropy(z, target, **kwargs),
            logits,
            dtype,
            **_tolerances(dtype),
        )


def _looped_cross_entropy(logits, target, weight=None, ignore_index=-100):
    """The mean over the counted pixels of ``weight * -log softmax(z)[t]``, pixel by pixel in Python
    floats: an independent computation (``weight``: one per pixel, 1 when None)."""
    total, count = 0.0, 0
    images, _, height, width = logits.shape
    for n in range(images):
        for r in range(height):
            for c in range(width):
                t = target[n, r, c].item()
                if t == ignore_index:
                    continue
                z = logits[n, :, r, c].tolist()
                w = 1.0 if weight is None else weight[n, r, c].item()
                total += w * (math.log(sum(math.exp(v) for v in z)) - z[t])  # -log softmax(z)[t]
                count += 1
    return total / count


def test_pixel_cross_entropy_matches_a_loop_over_pixels():
    generator = _generator(1)
    logits, target = _case(generator, (2, 4, 3, 5), torch.float64, ignore_index=-100)
    expected = _looped_cross_entropy(logits, target)
    assert losses.pixel_cross_entropy(logits, target).item() == pytest.approx(expected, rel=1e-12)


def test_ignored_pixels_do_not_count_in_the_mean():
    logits = torch.tensor([[[0.0, 0.0, 5.0], [0.0, 0.0, -5.0]]])  # [N=1, C=2, L=3]: pixel 2 is far off
    target = torch.tensor([[0, 1, -100]])
    assert losses.pixel_cross_entropy(logits, target).item() == pytest.approx(math.log(2))  # 2 pixels, not 3
    other_label = losses.pixel_cross_entropy(logits, torch.tensor([[0, 1, 7]]), ignore_index=7)
    assert other_label.item() == pytest.approx(math.log(2))


def test_every_pixel_ignored_gives_nan_like_torch():
    logits = torch.randn(2, 3, 4, 4, generator=_generator(2), requires_grad=True)
    target = torch.full((2, 4, 4), -100)
    ours = losses.pixel_cross_entropy(logits, target)
    assert torch.isnan(ours) and torch.isnan(F.cross_entropy(logits, target))
    ours.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))  # as torch: no gradient at all


def test_large_logits_are_stable():
    logits = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 2000.0, 0.0]])
    target = torch.tensor([2, 1])
    ours = losses.pixel_cross_entropy(logits, target)
    assert torch.isfinite(ours)
    torch.testing.assert_close(ours, F.cross_entropy(logits, target))
    assert ours.item() == pytest.approx(1000.0)  # pixel 0 costs 2000, pixel 1 about 0


def test_perfect_and_uniform_predictions():
    uniform = torch.zeros(3, 5, 2, 2)
    target = torch.randint(0, 5, (3, 2, 2), generator=_generator(3))
    assert losses.pixel_cross_entropy(uniform, target).item() == pytest.approx(math.log(5))
    confident = 50 * F.one_hot(target, 5).permute(0, 3, 1, 2).double()  # [N, C, H, W]
    assert losses.pixel_cross_entropy(confident, target).item() < 1e-15


def test_inputs_are_not_modified():
    logits, target = _case(_generator(4), (2, 3, 4, 4), torch.float32, ignore_index=-100)
    logits_before, target_before = logits.clone(), target.clone()
    losses.pixel_cross_entropy(logits, target)
    assert torch.equal(logits, logits_before) and torch.equal(target, target_before)


def test_uint8_targets_and_lists_are_accepted():
    logits, target = _case(_generator(5), (2, 3, 4, 4), torch.float32)
    expected = F.cross_entropy(logits, target)
    torch.testing.assert_close(losses.pixel_cross_entropy(logits, target.to(torch.uint8)), expected)
    torch.testing.assert_close(losses.pixel_cross_entropy(logits.tolist(), target.tolist()), expected)


# --- errors ----------------------------------------------------------------------------------------


def test_errors():
    logits = torch.zeros(2, 3, 4, 4)
    float_target = torch.zeros(2, 4, 4)
    raises_with_message(TypeError, "target", lambda: losses.pixel_cross_entropy(logits, float_target), "integer class labels")
    raises_with_message(ValueError, "target", lambda: losses.pixel_cross_entropy(logits, torch.zeros(2, 4, 5, dtype=torch.int64)),
            "(2, 4, 4)", "(2, 4, 5)")
    one_hot = torch.zeros(2, 3, 4, 4, dtype=torch.int64)
    raises_with_message(ValueError, "target", lambda: losses.pixel_cross_entropy(logits, one_hot), "argmax(dim=1)")
    too_big = torch.full((2, 4, 4), 3)
    raises_with_message(ValueError, "target", lambda: losses.pixel_cross_entropy(logits, too_big), "[0, 2]", "got 3", "C=3")
    raises_with_message(ValueError, "target", lambda: losses.pixel_cross_entropy(logits, torch.full((2, 4, 4), -1)), "got -1")
    no_batch, scalar_target = torch.zeros(3), torch.tensor(0)
    raises_with_message(ValueError, "logits", lambda: losses.pixel_cross_entropy(no_batch, scalar_target), "[N, C, H, W]", "(3,)")
    raises_with_message(TypeError, "logits", lambda: losses.pixel_cross_entropy(None, torch.tensor([0])), "got None")
    one_pixel, one_target = torch.zeros(1, 2), torch.tensor([0])
    raises_with_message(TypeError, "ignore_index", lambda: losses.pixel_cross_entropy(one_pixel, one_target, ignore_index=None))


# --- docstrings --------------------------------------------------------------------------------------


def test_docstring_examples_run():
    assert_doctests_pass(seglab.losses)


def test_every_public_function_has_an_example():
    assert_every_public_name_has_an_example(losses)


# === focal loss ======================================================================================


def _loop_focal(logits, target, gamma, alpha=None, ignore_index=-100):
    """The focal loss by visiting every pixel of ``[N, C, *]`` logits, in Python floats."""
    scores = logits.detach().double().movedim(1, -1).reshape(-1, logits.shape[1]).tolist()  # [pixels, C]
    labels = target.reshape(-1).tolist()
    total, count = 0.0, 0
    for z, t in zip(scores, labels):
        if t == ignore_index:
            continue
        p = math.exp(z[t]) / sum(math.exp(v) for v in z)
        weight = 1.0 if alpha is None else float(alpha[t])
        total += -weight * (1 - p) ** gamma * math.log(p)
        count += 1
    return total / count


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("ignore_index", [None, -100, 255])
def test_focal_loss_with_gamma_0_is_torch_cross_entropy(shape, dtype, ignore_index, one_thread):
    generator = _generator(10)
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}
    logits, target = _case(generator, shape, dtype, ignore_index)
    assert_same_loss_and_gradient(
        lambda z: losses.focal_loss(z, target, gamma=0.0, **kwargs),
        lambda z: F.cross_entropy(z, target, **kwargs),
        logits,
        dtype,
        **_tolerances(dtype),
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 5.0])
def test_focal_loss_matches_a_loop_over_pixels(shape, gamma, one_thread):
    generator = _generator(11)
    logits, target = _case(generator, shape, torch.float64, ignore_index=-100)
    alpha = torch.rand(shape[1], generator=generator, dtype=torch.float64)
    got = losses.focal_loss(logits, target, gamma=gamma)
    assert got.item() == pytest.approx(_loop_focal(logits, target, gamma), rel=1e-12)
    got = losses.focal_loss(logits, target, gamma=gamma, alpha=alpha)
    assert got.item() == pytest.approx(_loop_focal(logits, target, gamma, alpha), rel=1e-12)
    got = losses.focal_loss(logits, target, gamma=gamma, alpha=alpha.tolist())  # a list works too
    assert got.item() == pytest.approx(_loop_focal(logits, target, gamma, alpha), rel=1e-12)


def test_focal_loss_alpha_is_a_plain_mean_not_normalised_by_the_weights():
    logits, target = _case(_generator(12), (2, 3, 4, 4), torch.float64)
    alpha = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
    ce = F.cross_entropy(logits, target, reduction="none")  # [N, H, W]
    expected = (alpha[target] * ce).mean()  # divided by the number of pixels, not by sum(alpha_t)
    torch.testing.assert_close(losses.focal_loss(logits, target, gamma=0.0, alpha=alpha), expected, rtol=1e-12, atol=1e-12)
    weighted_mean = F.cross_entropy(logits, target, weight=alpha)
    assert abs(losses.focal_loss(logits, target, gamma=0.0, alpha=alpha).item() - weighted_mean.item()) > 1e-3


def test_focal_loss_down_weights_easy_pixels():
    # one easy pixel (p = 0.88) and one hard pixel (p = 0.12), both of class 0
    logits, target = torch.tensor([[2.0, 0.0], [0.0, 2.0]], dtype=torch.float64), torch.tensor([0, 0])
    p_easy, p_hard = 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(2))
    easy = losses.focal_loss(logits[:1], target[:1], gamma=2.0).item()
    hard = losses.focal_loss(logits[1:], target[1:], gamma=2.0).item()
    assert easy == pytest.approx((1 - p_easy) ** 2 * -math.log(p_easy), rel=1e-12)
    assert hard == pytest.approx((1 - p_hard) ** 2 * -math.log(p_hard), rel=1e-12)
    assert easy / -math.log(p_easy) == pytest.approx(0.0142, abs=1e-4)  # the easy pixel keeps 1.4 %
    assert hard / -math.log(p_hard) == pytest.approx(0.7758, abs=1e-4)  # the hard one 78 %
    # a larger gamma never increases the loss (1 - p < 1)
    generator = _generator(13)
    logits, target = _case(generator, (3, 4, 5, 5), torch.float64)
    values = [losses.focal_loss(logits, target, gamma=g).item() for g in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert values == sorted(values, reverse=True)


def test_focal_loss_gradcheck_and_large_logits():
    generator = _generator(14)
    logits = torch.randn(2, 3, 2, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 3, (2, 2, 2), generator=generator)
    target[0, 0, 0] = -100
    alpha = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    for gamma in (0.0, 1.5, 2.0):
        assert torch.autograd.gradcheck(lambda z: losses.focal_loss(z, target, gamma=gamma, alpha=alpha), (logits,))
    large = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 2000.0, 0.0]])
    value = losses.focal_loss(large, torch.tensor([2, 1]), gamma=2.0)
    assert torch.isfinite(value) and value.item() == pytest.approx(1000.0)  # pixel 0: p = 0, (1 - p)^2 = 1


def test_focal_loss_every_pixel_ignored_is_nan():
    logits = torch.zeros(1, 2, 3, 3)
    assert torch.isnan(losses.focal_loss(logits, torch.full((1, 3, 3), -100)))
    assert torch.isnan(losses.focal_loss(logits, torch.full((1, 3, 3), 255), ignore_index=255))


def test_focal_loss_errors():
    logits, target = torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.int64)
    raises_with_message(ValueError, "gamma", lambda: losses.focal_loss(logits, target, gamma=-1.0), ">= 0", "-1")
    raises_with_message(TypeError, "gamma", lambda: losses.focal_loss(logits, target, gamma="2"), "real number")
    raises_with_message(TypeError, "alpha", lambda: losses.focal_loss(logits, target, alpha=0.25), "[1 - a, a]", "(3,)")
    raises_with_message(ValueError, "alpha", lambda: losses.focal_loss(logits, target, alpha=torch.ones(2)), "(3,)", "(2,)")
    raises_with_message(ValueError, "alpha", lambda: losses.focal_loss(logits, target, alpha=[1.0, -1.0, 1.0]), ">= 0")
    raises_with_message(ValueError, "target", lambda: losses.focal_loss(logits, torch.full((2, 4, 4), 3)), "[0, 2]", "got 3")
    raises_with_message(ValueError, "target", lambda: losses.focal_loss(logits, target[0]), "(2, 4, 4)", "(4, 4)")
    raises_with_message(TypeError, "target", lambda: losses.focal_loss(logits, target.float()), "integer class labels")
    raises_with_message(TypeError, "ignore_index", lambda: losses.focal_loss(logits, target, ignore_index=None))


# === Dice loss =======================================================================================


def _loop_dice_loss(probs, target, eps):
    """``1 - mean_c D_c`` with every sum written as a Python loop over the pixels of all images."""
    num_classes = probs.shape[1]
    columns = probs.detach().double().movedim(1, -1).reshape(-1, num_classes).tolist()  # [pixels, C]
    labels = target.reshape(-1).tolist()
    scores = []
    for c in range(num_classes):
        intersection = sum(p[c] for p, t in zip(columns, labels) if t == c)
        squares = sum(p[c] ** 2 for p in columns) + sum(1 for t in labels if t == c)
        scores.append((2 * intersection + eps) / (squares + eps))
    return 1 - sum(scores) / num_classes


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("eps", [0.0, 1e-6, 1.0, 10.0])
def test_dice_loss_matches_a_loop_over_pixels(shape, eps, one_thread):
    generator = _generator(20)
    for _ in range(2):
        logits, target = _case(generator, shape, torch.float64)
        probs = logits.softmax(dim=1)
        got = losses.dice_loss(probs, target, eps=eps)
        assert got.shape == () and got.dtype == torch.float64
        assert got.item() == pytest.approx(_loop_dice_loss(probs, target, eps), rel=1e-12, abs=1e-14)
        sigmoid = torch.sigmoid(logits)  # per-class probabilities need not sum to 1
        assert losses.dice_loss(sigmoid, target, eps=eps).item() == pytest.approx(
            _loop_dice_loss(sigmoid, target, eps), rel=1e-12, abs=1e-14
        )


def test_dice_loss_known_values():
    target = torch.tensor([[0, 1, 1, 1]])
    perfect = F.one_hot(target, 2).movedim(-1, 1).double()  # [1, 2, 4]
    assert losses.dice_loss(perfect, target).item() == 0.0
    assert losses.dice_loss(perfect, target, eps=0.0).item() == 0.0
    # undecided p = 0.5: D_0 = 1 / 2, D_1 = 3 / 4 (eps = 0)
    assert losses.dice_loss(torch.full((1, 2, 4), 0.5), target, eps=0.0).item() == pytest.approx(0.375)
    # with eps = 1: D_0 = 2 / 3, D_1 = 4 / 5
    assert losses.dice_loss(torch.full((1, 2, 4), 0.5), target).item() == pytest.approx(1 - (2 / 3 + 4 / 5) / 2)
    # everything wrong: every overlap is 0, so D_c = eps / (|P_c| + |G_c| + eps)
    wrong = 1 - perfect
    assert losses.dice_loss(wrong, target, eps=0.0).item() == 1.0
    assert losses.dice_loss(wrong, target, eps=1.0).item() == pytest.approx(1 - (1 / 5 + 1 / 5) / 2)


def test_dice_loss_absent_class_and_eps():
    target = torch.tensor([[0, 1, 1, 1]])
    three = torch.cat([F.one_hot(target, 2).movedim(-1, 1).double(), torch.zeros(1, 1, 4, dtype=torch.float64)], dim=1)
    assert losses.dice_loss(three, target).item() == 0.0  # class 2: absent, predicted absent, D = eps / eps = 1
    assert torch.isnan(losses.dice_loss(three, target, eps=0.0))  # 0 / 0
    # a false alarm on the absent class: D_2 = eps / (sum p^2 + eps), close to 0 for a small eps
    false_alarm = three.clone()
    false_alarm[0, :, 0] = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    assert losses.dice_loss(false_alarm, target, eps=1e-6).item() == pytest.approx(1 - (0 + 1 + 1e-6 / 1.000001) / 3)


def test_dice_loss_sums_over_the_batch_not_per_image():
    generator = _generator(21)
    logits, target = _case(generator, (3, 2, 4, 4), torch.float64)
    probs = logits.softmax(dim=1)
    whole = losses.dice_loss(probs, target)
    flat = losses.dice_loss(probs.movedim(1, -1).reshape(1, -1, 2).movedim(-1, 1), target.reshape(1, -1))  # one image
    torch.testing.assert_close(whole, flat, rtol=1e-12, atol=1e-12)
    per_image = torch.stack([losses.dice_loss(probs[i : i + 1], target[i : i + 1]) for i in range(3)]).mean()
    assert abs(per_image.item() - whole.item()) > 1e-4


def test_dice_loss_gradcheck_and_dtypes():
    generator = _generator(22)
    probs = torch.rand(2, 3, 3, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 3, (2, 3, 2), generator=generator)
    for eps in (0.0, 1.0):
        assert torch.autograd.gradcheck(lambda p: losses.dice_loss(p, target, eps=eps), (probs,))
    logits = torch.randn(2, 3, 3, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: losses.dice_loss(z.softmax(dim=1), target), (logits,))
    assert losses.dice_loss(probs.float(), target).dtype == torch.float32
    torch.testing.assert_close(losses.dice_loss(probs.float(), target).double(), losses.dice_loss(probs, target), rtol=1e-5, atol=1e-6)


def test_dice_loss_errors():
    target = torch.zeros(2, 4, 4, dtype=torch.int64)
    logits = torch.randn(2, 3, 4, 4, generator=_generator(23))
    message = raises_with_message(ValueError, "probs", lambda: losses.dice_loss(logits, target), "[0, 1]")
    assert "apply softmax to logits first" in message
    raises_with_message(ValueError, "eps", lambda: losses.dice_loss(logits.softmax(1), target, eps=-1.0), ">= 0")
    raises_with_message(ValueError, "target", lambda: losses.dice_loss(logits.softmax(1), torch.full((2, 4, 4), 3)), "[0, 2]")
    raises_with_message(ValueError, "target", lambda: losses.dice_loss(logits.softmax(1), torch.full((2, 4, 4), -100)), "no ignore_index")
    one_channel, mask = torch.full((2, 1, 4, 4), 0.5), torch.ones(2, 4, 4, dtype=torch.int64)
    raises_with_message(ValueError, "target", lambda: losses.dice_loss(one_channel, mask), "torch.cat([1 - p, p], dim=1)")
    raises_with_message(ValueError, "target", lambda: losses.dice_loss(logits.softmax(1), F.one_hot(target, 3).movedim(-1, 1)), "argmax(dim=1)")
    nan = torch.full((2, 3, 4, 4), float("nan"))
    raises_with_message(ValueError, "probs", lambda: losses.dice_loss(nan, target), "[0, 1]")


# === binary Dice loss ================================================================================


def _loop_binary_dice_loss(probs, target, eps):
    """``1 - D`` of one foreground probability per element, every sum a Python loop."""
    p, g = probs.detach().double().reshape(-1).tolist(), target.double().reshape(-1).tolist()
    intersection = sum(a * b for a, b in zip(p, g))
    squares = sum(a * a for a in p) + sum(b * b for b in g)
    return 1 - (2 * intersection + eps) / (squares + eps)


@pytest.mark.parametrize("shape", [(7,), (2, 5, 4), (3, 1, 4, 4), (2, 3, 2, 2, 2)])
@pytest.mark.parametrize("eps", [0.0, 1e-6, 1.0, 10.0])
def test_binary_dice_loss_matches_a_loop_over_pixels(shape, eps):
    generator = _generator(24)
    for _ in range(2):
        probs = torch.sigmoid(3 * torch.randn(*shape, generator=generator, dtype=torch.float64))
        hard = (torch.rand(shape, generator=generator) < 0.3).long()
        soft = torch.rand(shape, generator=generator, dtype=torch.float64)
        for target in (hard, soft):
            got = losses.binary_dice_loss(probs, target, eps=eps)
            assert got.shape == () and got.dtype == torch.float64
            assert got.item() == pytest.approx(_loop_binary_dice_loss(probs, target, eps), rel=1e-12, abs=1e-14)


def test_binary_dice_loss_known_values():
    p = torch.tensor([[0.9, 0.6, 0.2, 0.1]], dtype=torch.float64)
    g = torch.tensor([[1, 1, 0, 0]])
    # 2 sum p g = 2 (0.9 + 0.6) = 3, sum p^2 = 0.81 + 0.36 + 0.04 + 0.01 = 1.22, sum g^2 = 2
    assert losses.binary_dice_loss(p, g, eps=0.0).item() == pytest.approx(1 - 3 / 3.22, rel=1e-12)
    assert losses.binary_dice_loss(p, g, eps=1.0).item() == pytest.approx(1 - 4 / 4.22, rel=1e-12)
    assert losses.binary_dice_loss(p, g).item() == losses.binary_dice_loss(p, g, eps=1.0).item()  # default eps 1
    # a soft target (1, 0.5, 0, 0): 2 sum p g = 2 (0.9 + 0.3) = 2.4, sum g^2 = 1.25
    soft = torch.tensor([[1.0, 0.5, 0.0, 0.0]], dtype=torch.float64)
    assert losses.binary_dice_loss(p, soft, eps=0.0).item() == pytest.approx(1 - 2.4 / 2.47, rel=1e-12)
    # perfect, completely wrong, and an empty target predicted empty
    assert losses.binary_dice_loss(g.double(), g, eps=0.0).item() == 0.0
    assert losses.binary_dice_loss(1 - g.double(), g, eps=0.0).item() == 1.0
    assert losses.binary_dice_loss(1 - g.double(), g, eps=1.0).item() == pytest.approx(1 - 1 / 5)
    empty = torch.zeros(1, 4, dtype=torch.float64)
    assert losses.binary_dice_loss(empty, empty.long()).item() == 0.0  # D = eps / eps = 1
    assert torch.isnan(losses.binary_dice_loss(empty, empty.long(), eps=0.0))  # 0 / 0


def test_binary_dice_loss_sums_over_the_batch_not_per_image():
    generator = _generator(25)
    probs = torch.rand(3, 4, 4, generator=generator, dtype=torch.float64)
    target = (torch.rand(3, 4, 4, generator=generator) < 0.4).long()
    whole = losses.binary_dice_loss(probs, target)
    torch.testing.assert_close(whole, losses.binary_dice_loss(probs.reshape(-1), target.reshape(-1)), rtol=1e-12, atol=1e-12)
    per_image = torch.stack([losses.binary_dice_loss(probs[i], target[i]) for i in range(3)]).mean()
    assert abs(per_image.item() - whole.item()) > 1e-4
    # a one-channel output [N, 1, H, W] with a target of the same shape is the same loss
    torch.testing.assert_close(losses.binary_dice_loss(probs[:, None], target[:, None]), whole, rtol=0, atol=0)


def test_binary_dice_loss_soft_targets():
    generator = _generator(26)
    soft = torch.rand(2, 5, 5, generator=generator, dtype=torch.float64)
    # with the squares, p = g is a perfect score for a soft target too; any other p is worse
    for eps in (0.0, 1.0):
        assert losses.binary_dice_loss(soft, soft, eps=eps).item() == pytest.approx(0.0, abs=1e-15)
        for scale in (0.5, 0.9, 1.1):
            assert losses.binary_dice_loss((soft * scale).clamp(0, 1), soft, eps=eps).item() > 1e-6
    assert losses.binary_dice_loss(soft.roll(1, dims=-1), soft).item() > 1e-3
    # the sums without squares would score p = g = 0.5 everywhere at 2 * 12.5 / (25 + 25) = 0.5
    half = torch.full((5, 5), 0.5, dtype=torch.float64)
    assert losses.binary_dice_loss(half, half, eps=0.0).item() == 0.0
    # a 0 / 1 target as int, bool or float gives one value
    hard = soft > 0.5
    expected = losses.binary_dice_loss(soft, hard.long())
    for same in (hard, hard.double(), hard.float(), hard.to(torch.uint8)):
        torch.testing.assert_close(losses.binary_dice_loss(soft, same), expected, rtol=0, atol=0)


def test_binary_dice_loss_is_half_of_the_two_class_form():
    """dice_loss of the channels [1 - p, p] is the mean of the foreground's and the background's loss."""
    generator = _generator(27)
    for shape in [(6,), (2, 4, 5), (3, 3, 3)]:
        logits = 3 * torch.randn(*shape, generator=generator, dtype=torch.float64)
        p = torch.sigmoid(logits)
        g = (torch.rand(shape, generator=generator) < 0.3).long()
        for eps in (0.0, 1e-6, 1.0):
            two_class = losses.dice_loss(torch.stack([1 - p, p], dim=1), g, eps=eps)
            halves = (losses.binary_dice_loss(p, g, eps=eps) + losses.binary_dice_loss(1 - p, 1 - g, eps=eps)) / 2
            torch.testing.assert_close(two_class, halves, rtol=1e-12, atol=1e-12)
            assert abs(two_class.item() - losses.binary_dice_loss(p, g, eps=eps).item()) > 1e-6  # not the foreground alone
    # a small foreground: the background's Dice is almost 1, the two-class loss about half the binary one
    target = torch.zeros(1, 20, 20, dtype=torch.int64)
    target[0, 8:11, 8:11] = 1  # 9 of 400 pixels
    p = torch.full((1, 20, 20), 0.02, dtype=torch.float64)
    p[0, 8:11, 8:11] = 0.3
    binary = losses.binary_dice_loss(p, target).item()
    two_class = losses.dice_loss(torch.stack([1 - p, p], dim=1), target).item()
    assert binary > 0.4 and two_class == pytest.approx(binary / 2, rel=0.05)


def test_binary_dice_loss_gradients():
    generator = _generator(28)
    probs = torch.rand(2, 3, 2, generator=generator, dtype=torch.float64).requires_grad_(True)
    soft = torch.rand(2, 3, 2, generator=generator, dtype=torch.float64)
    hard = (soft > 0.5).long()
    for eps in (0.0, 1.0):
        for target in (soft, hard):
            assert torch.autograd.gradcheck(lambda q: losses.binary_dice_loss(q, target, eps=eps), (probs,))
    logits = torch.randn(2, 3, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: losses.binary_dice_loss(torch.sigmoid(z), soft), (logits,))
    # the gradient by hand: dL/dp_i = -(2 g_i S - 2 p_i T) / S^2, T = 2 sum p g + eps, S = sum p^2 + sum g^2 + eps
    p = probs.detach()
    top, bottom = 2 * (p * soft).sum() + 1.0, (p**2).sum() + (soft**2).sum() + 1.0
    (grad,) = torch.autograd.grad(losses.binary_dice_loss(probs, soft), probs)
    torch.testing.assert_close(grad, -(2 * soft * bottom - 2 * p * top) / bottom**2, rtol=1e-12, atol=1e-12)
    # the gradient of the two-class form is the mean of the two binary gradients
    z = logits.detach().clone().requires_grad_(True)
    (two_class,) = torch.autograd.grad(losses.dice_loss(torch.stack([1 - torch.sigmoid(z), torch.sigmoid(z)], 1), hard), z)
    w = logits.detach().clone().requires_grad_(True)
    q = torch.sigmoid(w)
    (halves,) = torch.autograd.grad((losses.binary_dice_loss(q, hard) + losses.binary_dice_loss(1 - q, 1 - hard)) / 2, w)
    torch.testing.assert_close(two_class, halves, rtol=1e-12, atol=1e-12)
    # dtypes: the loss runs in the dtype of probs, whatever the target's
    assert losses.binary_dice_loss(p.float(), soft).dtype == torch.float32
    assert losses.binary_dice_loss(p, hard.bool()).dtype == torch.float64
    torch.testing.assert_close(losses.binary_dice_loss(p.float(), soft).double(), losses.binary_dice_loss(p, soft), rtol=1e-5, atol=1e-6)


def test_binary_dice_loss_errors():
    probs = torch.rand(2, 4, 4, generator=_generator(29))
    mask = (probs > 0.5).long()
    message = raises_with_message(ValueError, "probs", lambda: losses.binary_dice_loss(probs * 6 - 3, mask), "[0, 1]")
    assert "torch.sigmoid" in message
    raises_with_message(ValueError, "probs", lambda: losses.binary_dice_loss(torch.full((2, 4, 4), float("nan")), mask), "[0, 1]")
    raises_with_message(ValueError, "target", lambda: losses.binary_dice_loss(probs, mask + 1), "0 / 1", "got values from 1 to 2", "dice_loss")
    raises_with_message(ValueError, "target", lambda: losses.binary_dice_loss(probs, -0.5 * probs), "soft labels in [0, 1]")
    raises_with_message(ValueError, "target", lambda: losses.binary_dice_loss(probs[:, None], mask), "probs[:, 0]")
    two = torch.stack([1 - probs, probs], dim=1)  # [2, 2, 4, 4] softmax-like
    raises_with_message(ValueError, "target", lambda: losses.binary_dice_loss(two, mask), "2 channels", "binary_dice_loss(probs[:, 1], target == 1)")
    raises_with_message(ValueError, "target", lambda: losses.binary_dice_loss(probs, mask[0]), "(2, 4, 4)", "(4, 4)")
    raises_with_message(ValueError, "eps", lambda: losses.binary_dice_loss(probs, mask, eps=-1.0), ">= 0")
    raises_with_message(TypeError, "eps", lambda: losses.binary_dice_loss(probs, mask, eps="1"), "real number")
    raises_with_message(TypeError, "probs", lambda: losses.binary_dice_loss("probs", mask))
    raises_with_message(ValueError, "probs", lambda: losses.binary_dice_loss(torch.zeros(0), torch.zeros(0)), "non-empty")
    # dice_loss points to the binary form: a float mask, or one channel with a label 1
    message = raises_with_message(TypeError, "target", lambda: losses.dice_loss(two, mask.float()), "integer class labels")
    assert "binary_dice_loss(p, mask)" in message and "mask.long()" in message
    one_channel = probs[:, None]
    message = raises_with_message(ValueError, "target", lambda: losses.dice_loss(one_channel, mask), "torch.cat([1 - p, p], dim=1)")
    assert "binary_dice_loss(p[:, 0], mask)" in message


# === the U-Net weight map ===========================================================================


def _brute_force_weight_map(instances, w0, sigma, class_weights):
    """The U-Net weight map by a double loop: every background pixel against every object pixel."""
    rows, cols = instances.shape
    grid = instances.tolist()
    objects = {}
    for r in range(rows):
        for c in range(cols):
            if grid[r][c] > 0:
                objects.setdefault(grid[r][c], []).append((r, c))
    weight = np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            if grid[r][c] > 0:
                weight[r, c] = class_weights[1]
                continue
            weight[r, c] = class_weights[0]
            if len(objects) >= 2:
                nearest = sorted(min(math.hypot(r - i, c - j) for i, j in pixels) for pixels in objects.values())
                weight[r, c] += w0 * math.exp(-((nearest[0] + nearest[1]) ** 2) / (2 * sigma**2))
    return weight


def _random_instances(generator, rows, cols, count, scatter=False):
    """An instance map with ``count`` rectangles (or scattered pixels) of random, non-consecutive ids."""
    instances = torch.zeros(rows, cols, dtype=torch.int64)
    ids = torch.randperm(50, generator=generator)[:count] + 1
    for k in ids.tolist():
        if scatter:
            chosen = torch.rand(rows, cols, generator=generator) < 0.08
            instances[chosen & (instances == 0)] = k
        else:
            r0, c0 = torch.randint(0, rows - 1, (1,), generator=generator).item(), torch.randint(0, cols - 1, (1,), generator=generator).item()
            h, w = torch.randint(1, 5, (2,), generator=generator).tolist()
            instances[r0 : r0 + h, c0 : c0 + w] = k  # may overlap an earlier one: ids stay non-negative
    return instances


@pytest.mark.parametrize("scatter", [False, True])
def test_unet_weight_map_matches_a_brute_force_double_loop(scatter, one_thread):
    generator = _generator(30)
    for trial in range(12):
        instances = _random_instances(generator, 7 + trial % 3, 9, count=trial % 5, scatter=scatter)
        w0, sigma = [(10.0, 5.0), (5.0, 2.0), (1.0, 0.7)][trial % 3]
        class_weights = [(1.0, 1.0), (0.5, 2.0)][trial % 2]
        got = losses.unet_weight_map(instances, w0=w0, sigma=sigma, class_weights=class_weights)
        assert got.dtype == torch.float32 and got.shape == instances.shape
        expected = _brute_force_weight_map(instances, w0, sigma, class_weights)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_unet_weight_map_two_touching_squares():
    instances = torch.zeros(40, 40, dtype=torch.int64)
    instances[10:20, 5:15] = 1
    instances[10:20, 16:26] = 2  # a one-pixel gap, column 15
    weight = losses.unet_weight_map(instances, w0=10.0, sigma=5.0)
    gap = weight[10:20, 15]
    assert torch.allclose(gap, torch.tensor(1 + 10 * math.exp(-4 / 50)), rtol=1e-6)  # d1 = d2 = 1: 1 + 9.23
    assert (gap > 1 + 0.9 * 10).all()
    assert (weight[instances > 0] == 1.0).all()  # no border term on object pixels
    assert weight[39, 39].item() == pytest.approx(1.0, abs=1e-6)  # far away: w_c
    assert weight[39, 39].item() >= 1.0
    assert weight[9, 15].item() < gap.min().item()  # just outside the gap, both objects farther
    # symmetric about the gap column
    assert torch.allclose(weight[:, :15].flip(1)[:, : 15 - 4], weight[:, 16:][:, : 15 - 4], atol=1e-6)


def test_unet_weight_map_without_two_objects_has_no_border_term():
    one = torch.zeros(8, 8, dtype=torch.int64)
    one[2:4, 2:4] = 7
    assert torch.equal(losses.unet_weight_map(one), torch.where(one > 0, 1.0, 1.0))
    assert torch.equal(losses.unet_weight_map(one, class_weights=(0.5, 3.0)), torch.where(one > 0, 3.0, 0.5))
    empty = torch.zeros(5, 6, dtype=torch.int64)
    assert torch.equal(losses.unet_weight_map(empty, class_weights=(2.0, 1.0)), torch.full((5, 6), 2.0))
    full = torch.ones(3, 3, dtype=torch.int64)
    full[1, 1] = 2  # two objects, no background pixel at all
    assert torch.equal(losses.unet_weight_map(full), torch.ones(3, 3))
    assert torch.equal(losses.unet_weight_map(one, w0=0.0), torch.ones(8, 8))


def test_unet_weight_map_accepts_lists_numpy_and_uint8():
    grid = [[0, 1, 0, 2, 0]]
    expected = losses.unet_weight_map(torch.tensor(grid), sigma=1.0)
    assert expected[0, 2].item() == pytest.approx(1 + 10 * math.exp(-2), rel=1e-6)
    assert torch.equal(losses.unet_weight_map(grid, sigma=1.0), expected)
    assert torch.equal(losses.unet_weight_map(np.array(grid), sigma=1.0), expected)
    assert torch.equal(losses.unet_weight_map(torch.tensor(grid, dtype=torch.uint8), sigma=1.0), expected)


def test_unet_weight_map_with_weighted_cross_entropy():
    instances = torch.zeros(12, 12, dtype=torch.int64)
    instances[2:6, 2:6], instances[2:6, 7:11] = 1, 2
    weight = losses.unet_weight_map(instances)[None]  # [1, H, W]
    logits = torch.randn(1, 2, 12, 12, generator=_generator(31))
    target = (instances > 0).long()[None]
    expected = (weight * F.cross_entropy(logits, target, reduction="none")).mean()
    torch.testing.assert_close(losses.weighted_cross_entropy(logits, target, weight), expected)


def test_unet_weight_map_errors():
    instances = torch.zeros(4, 4, dtype=torch.int64)
    raises_with_message(ValueError, "instances", lambda: losses.unet_weight_map(instances[None]), "[H, W]", "(1, 4, 4)", "torch.stack")
    raises_with_message(ValueError, "instances", lambda: losses.unet_weight_map(instances - 1), "got -1")
    raises_with_message(TypeError, "instances", lambda: losses.unet_weight_map(instances.float()), "integer class labels")
    raises_with_message(ValueError, "sigma", lambda: losses.unet_weight_map(instances, sigma=0.0), "> 0")
    raises_with_message(ValueError, "w0", lambda: losses.unet_weight_map(instances, w0=-1.0), ">= 0")
    raises_with_message(TypeError, "class_weights", lambda: losses.unet_weight_map(instances, class_weights=1.0), "pair")
    raises_with_message(ValueError, "class_weights[1]", lambda: losses.unet_weight_map(instances, class_weights=(1.0, -2.0)), ">= 0")


# === binary cross-entropy ===========================================================================


@pytest.mark.parametrize("shape", [(7,), (2, 5, 5), (2, 1, 4, 6)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_binary_cross_entropy_equals_torch(shape, dtype):
    generator = _generator(40)
    probs = torch.rand(shape, generator=generator, dtype=dtype) * 0.98 + 0.01
    target = (torch.rand(shape, generator=generator) < 0.3).to(dtype)
    weight = torch.rand(shape, generator=generator, dtype=dtype) * 3
    for kwargs in ({}, {"weight": weight}):
        assert_same_loss_and_gradient(
            lambda p: losses.binary_cross_entropy(p, target, **kwargs),
            lambda p: F.binary_cross_entropy(p, target, **kwargs),
            probs,
            dtype,
            **_tolerances(dtype),
        )
    # int, bool targets and soft labels
    torch.testing.assert_close(losses.binary_cross_entropy(probs, target.bool()), F.binary_cross_entropy(probs, target))
    soft = torch.rand(shape, generator=generator, dtype=dtype)
    torch.testing.assert_close(losses.binary_cross_entropy(probs, soft), F.binary_cross_entropy(probs, soft), **_tolerances(dtype))


def test_binary_cross_entropy_formula_and_clamp():
    probs, target = torch.tensor([0.9, 0.2, 0.5], dtype=torch.float64), torch.tensor([1, 0, 1])
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.5)) / 3
    assert losses.binary_cross_entropy(probs, target).item() == pytest.approx(expected, rel=1e-12)
    # broadcast weight: one weight map [N, 1, H, W]... here a weight per element of a row
    assert losses.binary_cross_entropy(probs, target, weight=torch.tensor(2.0)).item() == pytest.approx(2 * expected)
    # a confident mistake costs 100 (log clamped at -100), as in PyTorch
    certain = torch.tensor([0.0, 1.0])
    assert losses.binary_cross_entropy(certain, torch.tensor([1, 0])).item() == pytest.approx(100.0)
    assert F.binary_cross_entropy(certain, torch.tensor([1.0, 0.0])).item() == pytest.approx(100.0)
    assert losses.binary_cross_entropy(certain, torch.tensor([0, 1])).item() == 0.0


def test_binary_cross_entropy_is_two_class_cross_entropy():
    logits = torch.randn(2, 5, 5, generator=_generator(41), dtype=torch.float64)  # one channel, squeezed
    target = torch.randint(0, 2, (2, 5, 5), generator=_generator(42))
    two_class = torch.stack([torch.zeros_like(logits), logits], dim=1)  # softmax([0, z]) = [1 - s(z), s(z)]
    torch.testing.assert_close(
        losses.binary_cross_entropy(torch.sigmoid(logits), target), losses.pixel_cross_entropy(two_class, target)
    )


def test_binary_cross_entropy_errors():
    probs, target = torch.full((2, 4, 4), 0.5), torch.zeros(2, 4, 4)
    message = raises_with_message(ValueError, "probs", lambda: losses.binary_cross_entropy(probs * 4 - 3, target), "[0, 1]")
    assert "softmax" in message and "sigmoid" in message
    raises_with_message(ValueError, "target", lambda: losses.binary_cross_entropy(probs, target + 2), "0 / 1", "pixel_cross_entropy")
    raises_with_message(ValueError, "target", lambda: losses.binary_cross_entropy(probs[:, None], target), "probs[:, 0]")
    raises_with_message(ValueError, "target", lambda: losses.binary_cross_entropy(probs, target[0]), "(2, 4, 4)")
    raises_with_message(ValueError, "weight", lambda: losses.binary_cross_entropy(probs, target, weight=torch.ones(3)), "broadcastable")
    raises_with_message(ValueError, "weight", lambda: losses.binary_cross_entropy(probs, target, weight=torch.ones(2, 2, 4, 4)), "broadcastable")


# === weighted and balanced cross-entropy ============================================================


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("ignore_index", [None, -100, 255])
def test_weighted_cross_entropy_per_class_equals_torch(shape, dtype, ignore_index, one_thread):
    generator = _generator(50)
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}
    logits, target = _case(generator, shape, dtype, ignore_index)
    weight = torch.rand(shape[1], generator=generator, dtype=dtype) + 0.1
    ours = assert_same_loss_and_gradient(
        lambda z: losses.weighted_cross_entropy(z, target, weight, **kwargs),
        lambda z: F.cross_entropy(z, target, weight=weight, **kwargs),
        logits,
        dtype,
        **_tolerances(dtype),
    )
    scaled = losses.weighted_cross_entropy(logits, target, 7 * weight, **kwargs)  # only ratios matter
    torch.testing.assert_close(scaled, ours.detach(), **_tolerances(dtype))


def test_weighted_cross_entropy_per_pixel_is_the_mean_of_weighted_terms():
    generator = _generator(51)
    logits, target = _case(generator, (2, 3, 4, 5), torch.float64, ignore_index=-100)
    weight = torch.rand(2, 4, 5, generator=generator, dtype=torch.float64) * 5
    got = losses.weighted_cross_entropy(logits, target, weight)
    assert got.item() == pytest.approx(_looped_cross_entropy(logits, target, weight), rel=1e-12)
    ones = losses.weighted_cross_entropy(logits, target, torch.ones(2, 4, 5, dtype=torch.float64))
    torch.testing.assert_close(ones, F.cross_entropy(logits, target))
    tens = losses.weighted_cross_entropy(logits, target, torch.full((2, 4, 5), 10.0, dtype=torch.float64))
    torch.testing.assert_close(tens, 10 * F.cross_entropy(logits, target))  # not normalised by the weights


def test_weighted_cross_entropy_one_dimensional_weight_of_length_c_is_per_class():
    logits, target = _case(_generator(52), (3, 3), torch.float64)  # target [3], C = 3
    weight = torch.tensor([1.0, 2.0, 5.0], dtype=torch.float64)
    torch.testing.assert_close(losses.weighted_cross_entropy(logits, target, weight), F.cross_entropy(logits, target, weight=weight))


def test_weighted_cross_entropy_errors():
    logits, target = torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.int64)
    raises_with_message(ValueError, "weight", lambda: losses.weighted_cross_entropy(logits, target, torch.ones(4)), "(3,)", "(2, 4, 4)")
    raises_with_message(ValueError, "weight", lambda: losses.weighted_cross_entropy(logits, target, torch.ones(4, 4)), "weight[None]")
    raises_with_message(ValueError, "weight", lambda: losses.weighted_cross_entropy(logits, target, torch.tensor([1.0, -1.0, 1.0])), ">= 0")
    raises_with_message(ValueError, "weight", lambda: losses.weighted_cross_entropy(logits, target, -torch.ones(2, 4, 4)), ">= 0")
    raises_with_message(TypeError, "weight", lambda: losses.weighted_cross_entropy(logits, target, None))


def test_balanced_cross_entropy_is_the_mean_of_per_class_means():
    generator = _generator(53)
    for ignore_index in (-100, 255):
        logits, target = _case(generator, (2, 4, 6, 6), torch.float64, ignore_index)
        target[target == 2] = 1  # class 2 absent
        target[0, :3] = 3
        ce = F.cross_entropy(logits, target, reduction="none", ignore_index=ignore_index)  # [N, H, W]
        per_class = [ce[target == c].mean().item() for c in range(4) if (target == c).any()]
        got = losses.balanced_cross_entropy(logits, target, ignore_index=ignore_index)
        assert got.item() == pytest.approx(sum(per_class) / len(per_class), rel=1e-12)
        counts = torch.bincount(target[target != ignore_index], minlength=4).double()
        inverse = torch.where(counts > 0, 1 / counts, torch.zeros(()).double())  # any scale: only ratios matter
        torch.testing.assert_close(got, F.cross_entropy(logits, target, weight=inverse, ignore_index=ignore_index))


def test_balanced_cross_entropy_equal_frequencies_is_plain_cross_entropy():
    logits = torch.randn(2, 2, 2, 2, generator=_generator(54), dtype=torch.float64)
    target = torch.tensor([[[0, 1], [1, 0]], [[1, 0], [0, 1]]])
    torch.testing.assert_close(losses.balanced_cross_entropy(logits, target), F.cross_entropy(logits, target))
    assert torch.isnan(losses.balanced_cross_entropy(logits, torch.full((2, 2, 2), -100)))


# === combo loss ======================================================================================


def test_combo_loss_is_a_weighted_sum():
    generator = _generator(60)
    logits, target = _case(generator, (2, 3, 5, 5), torch.float64)
    ce, dice = F.cross_entropy(logits, target), losses.dice_loss(logits.softmax(dim=1), target)
    for alpha in (0.0, 0.3, 0.5, 1.0):
        got = losses.combo_loss(logits, target, alpha=alpha)
        torch.testing.assert_close(got, alpha * ce + (1 - alpha) * dice, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(losses.combo_loss(logits, target, eps=0.0), (ce + losses.dice_loss(logits.softmax(1), target, eps=0.0)) / 2)
    small = logits[:1, :, :2, :2].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: losses.combo_loss(z, target[:1, :2, :2]), (small,))


def test_combo_loss_errors():
    logits, target = torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.int64)
    raises_with_message(ValueError, "alpha", lambda: losses.combo_loss(logits, target, alpha=1.5), "[0, 1]")
    raises_with_message(ValueError, "alpha", lambda: losses.combo_loss(logits, target, alpha=-0.5), ">= 0")
    raises_with_message(ValueError, "target", lambda: losses.combo_loss(logits, torch.full((2, 4, 4), -100)), "no ignore_index")


def test_losses_do_not_modify_their_inputs():
    logits, target = _case(_generator(61), (2, 3, 4, 4), torch.float32, ignore_index=-100)
    instances = (target + 1).clamp_min(0)[0]
    before = (logits.clone(), target.clone(), instances.clone())
    losses.focal_loss(logits, target, alpha=torch.ones(3))
    losses.weighted_cross_entropy(logits, target, torch.ones(3))
    losses.balanced_cross_entropy(logits, target)
    losses.dice_loss(logits.softmax(1), target.clamp_min(0))
    losses.binary_dice_loss(torch.sigmoid(logits[:, 0]), (target > 0).long())
    losses.unet_weight_map(instances)
    assert all(torch.equal(a, b) for a, b in zip(before, (logits, target, instances)))
