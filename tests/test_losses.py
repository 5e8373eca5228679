"""Tests of ``seglab.losses``: against ``F.cross_entropy`` (values and gradients) and a pixel loop."""

import doctest
import math

import pytest
import torch
import torch.nn.functional as F

import seglab.losses
from seglab import losses

from _assertions import raises_with_message


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
        ours_input = logits.clone().requires_grad_(True)
        torch_input = logits.clone().requires_grad_(True)
        ours = losses.pixel_cross_entropy(ours_input, target, **kwargs)
        expected = F.cross_entropy(torch_input, target, **kwargs)
        assert ours.shape == () and ours.dtype == dtype
        torch.testing.assert_close(ours, expected, **_tolerances(dtype))
        ours.backward()
        expected.backward()
        torch.testing.assert_close(ours_input.grad, torch_input.grad, **_tolerances(dtype))


def test_pixel_cross_entropy_matches_a_loop_over_pixels():
    generator = _generator(1)
    logits, target = _case(generator, (2, 4, 3, 5), torch.float64, ignore_index=-100)
    total, count = 0.0, 0
    for n in range(2):
        for r in range(3):
            for c in range(5):
                t = target[n, r, c].item()
                if t == -100:
                    continue
                z = logits[n, :, r, c].tolist()
                total += math.log(sum(math.exp(v) for v in z)) - z[t]  # -log softmax(z)[t]
                count += 1
    assert losses.pixel_cross_entropy(logits, target).item() == pytest.approx(total / count, rel=1e-12)


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
    result = doctest.testmod(seglab.losses, verbose=False, report=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_public_function_has_an_example():
    for name in losses.__all__:
        assert ">>>" in getattr(losses, name).__doc__, name
