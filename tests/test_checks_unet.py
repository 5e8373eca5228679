"""Tests of the checkers of assignment ``unet`` (lectures 5, 6 and 9): the right answer passes, each
known mistake fails with its hint, delegating is rejected, and the answers that are not tensors
(``unet_output_size``'s int, a loss returned as a Python float) are explained.

The "students" below are written the way a student would write them: loops, masks, indexing,
``torch.outer`` and ``torch.cdist``, never a call to seglab's reference or to PyTorch's own
version of the operation.

The tests every assignment's checkers share (right answers pass silently, many seeds, the fixed
cases, delegation rejected) run on this module's tables in ``test_checker_contract.py``.
"""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seglab import checks, losses, ops
from seglab.checks import _core, unet

from _assertions import failure_message
from _checker_tables import HIDDEN_SEEDS, exercises, fixed_case


EXERCISES = exercises("unet")


pytestmark = pytest.mark.usefixtures("forbidden_operations_are_restored")


# --- correct students ------------------------------------------------------------------------------


def kernel_loops(factor):
    k = 2 * factor - factor % 2
    c = (k - 1) / 2
    kernel = torch.zeros(k, k)
    for i in range(k):
        for j in range(k):
            kernel[i, j] = (1 - abs(i - c) / factor) * (1 - abs(j - c) / factor)
    return kernel


def kernel_outer_float64(factor):
    k = 2 * factor - factor % 2
    taps = 1 - (torch.arange(k, dtype=torch.float64) - (k - 1) / 2).abs() / factor
    return torch.outer(taps, taps)  # float64: any floating dtype is right


def kernel_numpy_ogrid(factor):
    """FCN's original ``upsample_filt``, in numpy."""
    size = 2 * factor - factor % 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    og = np.ogrid[:size, :size]
    return torch.from_numpy((1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor))


def kernel_clamped_distance(factor):
    """The tent as max(0, 1 - |x| / f) on a float32 grid, then a broadcast product."""
    k = 2 * factor - factor % 2
    x = torch.arange(k, dtype=torch.float32) - (k - 1) / 2
    tent = torch.clamp(1 - x.abs() / factor, min=0)
    return tent[:, None] * tent[None, :]


def kernel_integer_steps(factor):
    """Counted in half-pixel steps (ints) so that the centre is exact: |2i - (k - 1)| / (2f)."""
    k = 2 * factor - factor % 2
    rows = torch.tensor([2 * factor - abs(2 * i - (k - 1)) for i in range(k)], dtype=torch.float64) / (2 * factor)
    return torch.einsum("i,j->ij", rows, rows)


def crop_slices(x, size):
    if isinstance(size, int):
        h = w = size
    else:
        h, w = size
    height, width = x.shape[-2], x.shape[-1]
    top, left = (height - h) // 2, (width - w) // 2
    return x[..., top : top + h, left : left + w]


def crop_narrow(x, size):
    h, w = (size, size) if isinstance(size, int) else size
    return x.narrow(-2, (x.shape[-2] - h) // 2, h).narrow(-1, (x.shape[-1] - w) // 2, w).clone()


def crop_margins(x, size):
    """The margins above and below (left and right) computed first, then sliced from both ends."""
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    height, width = x.shape[-2:]
    top, left = (height - h) // 2, (width - w) // 2
    bottom, right = height - h - top, width - w - left
    return x[..., top : height - bottom, left : width - right]


def crop_index_select(x, size):
    h, w = (size, size) if isinstance(size, int) else size
    rows = torch.arange(h) + (x.shape[-2] - h) // 2
    cols = torch.arange(w) + (x.shape[-1] - w) // 2
    return x.index_select(-2, rows).index_select(-1, cols)


def size_loop(input_size, depth=4):
    size = input_size
    for _ in range(depth):
        size = (size - 4) // 2  # two valid convs, then the pool
    size -= 4  # the bottleneck
    for _ in range(depth):
        size = 2 * size - 4  # up-convolution, then two valid convs
    return size


def size_whole_float(input_size, depth=4):
    """Float arithmetic with floor division: returns e.g. 388.0, a whole number."""
    size = float(input_size)
    for _ in range(depth):
        size = math.floor((size - 2 - 2) / 2) * 1.0
    size = size - 2 - 2
    for _ in range(depth):
        size = size * 2.0 - 4.0
    return size


def size_numpy_int(input_size, depth=4):
    size = np.int64(input_size)
    for _ in range(depth):
        size = (size - 4) // 2
    size = size - 4
    for _ in range(depth):
        size = 2 * size - 4
    return size


def weight_map_loops(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    height, width = instances.shape
    grid = instances.tolist()
    cells = {}
    for r in range(height):
        for c in range(width):
            if grid[r][c] != 0:
                cells.setdefault(grid[r][c], []).append((r, c))
    weights = []
    for r in range(height):
        row = []
        for c in range(width):
            if grid[r][c] != 0:
                row.append(class_weights[1])
                continue
            w = class_weights[0]
            if len(cells) >= 2:
                d = sorted(min(math.sqrt((r - i) ** 2 + (c - j) ** 2) for i, j in pixels) for pixels in cells.values())
                w += w0 * math.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2))
            row.append(w)
        weights.append(row)
    return torch.tensor(weights)


def weight_map_cdist(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    height, width = instances.shape
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    points = torch.stack([rows.flatten(), cols.flatten()], dim=1).double()
    labels = instances.flatten()
    ids = [k for k in labels.unique().tolist() if k != 0]
    background = instances == 0
    weights = torch.full((height, width), float(class_weights[1]), dtype=torch.float64)
    weights[background] = class_weights[0]
    if len(ids) < 2:
        return weights
    distances = torch.stack([torch.cdist(points, points[labels == k]).min(dim=1).values for k in ids])
    d = distances.sort(dim=0).values.reshape(-1, height, width)
    border = w0 * torch.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2))
    return weights + border * background  # float64: any floating dtype is right


def weight_map_numpy(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    """Broadcast distances in numpy, float64; a dict from each cell to its minimum distance map."""
    grid = instances.numpy()
    rows, cols = np.indices(grid.shape)
    per_cell = {}
    for k in np.unique(grid[grid != 0]):
        r, c = np.nonzero(grid == k)
        d = np.sqrt((rows[..., None] - r) ** 2 + (cols[..., None] - c) ** 2)  # [H, W, P_k]
        per_cell[k] = d.min(axis=-1)
    weights = np.where(grid == 0, class_weights[0], class_weights[1]).astype(np.float64)
    if len(per_cell) >= 2:
        d = np.sort(np.stack(list(per_cell.values())), axis=0)
        weights += np.where(grid == 0, w0 * np.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2)), 0.0)
    return torch.from_numpy(weights)


def weight_map_topk_float32(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    """float32 throughout, the two nearest cells by torch.topk(largest=False) instead of a sort."""
    height, width = instances.shape
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    points = torch.stack([rows, cols], dim=-1).reshape(-1, 2).float()
    flat = instances.reshape(-1)
    background = (flat == 0).float()
    weights = class_weights[0] * background + class_weights[1] * (1 - background)
    ids = flat[flat != 0].unique()
    if len(ids) > 1:
        per_cell = torch.stack([torch.cdist(points, points[flat == k]).amin(dim=1) for k in ids], dim=1)  # [P, K]
        d = per_cell.topk(2, dim=1, largest=False).values  # [P, 2], nearest first
        weights = weights + background * w0 * torch.exp(-(d.sum(dim=1) ** 2) / (2 * sigma**2))
    return weights.reshape(height, width)


def dice_per_class(probs, target, eps=1.0):
    classes = probs.shape[1]
    total = 0
    for c in range(classes):
        p = probs[:, c]
        g = (target == c).to(probs.dtype)
        total = total + (2 * (p * g).sum() + eps) / ((p * p).sum() + (g * g).sum() + eps)
    return 1 - total / classes


def dice_one_hot(probs, target, eps=1.0):
    g = F.one_hot(target, probs.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    dice = (2 * (probs * g).sum(dims) + eps) / ((probs**2).sum(dims) + (g**2).sum(dims) + eps)
    return 1 - dice.mean()


def dice_einsum(probs, target, eps=1.0):
    g = F.one_hot(target, probs.shape[1]).movedim(-1, 1).to(probs.dtype)
    overlap = torch.einsum("nchw,nchw->c", probs, g)
    sizes = torch.einsum("nchw,nchw->c", probs, probs) + torch.einsum("nchw,nchw->c", g, g)
    return 1 - ((2 * overlap + eps) / (sizes + eps)).mean()


def dice_accumulated_over_images(probs, target, eps=1.0):
    """Sums per class accumulated image by image (float64), then one Dice per class."""
    classes = probs.shape[1]
    overlap, sizes = torch.zeros(classes, dtype=torch.float64), torch.zeros(classes, dtype=torch.float64)
    for p, t in zip(probs.double(), target):  # p [C, H, W], t [H, W]
        for c in range(classes):
            g = (t == c).double()
            overlap[c] += (p[c] * g).sum()
            sizes[c] += (p[c] ** 2).sum() + g.sum()  # g^2 = g for 0 / 1
    return (1 - ((2 * overlap + eps) / (sizes + eps)).mean()).to(probs.dtype)


def focal_gather(logits, target, gamma=2.0, alpha=None):
    log_p_t = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)  # [N, H, W]
    p_t = log_p_t.exp()
    loss = -((1 - p_t) ** gamma) * log_p_t
    if alpha is not None:
        loss = torch.as_tensor(alpha, dtype=logits.dtype)[target] * loss
    return loss.mean()


def focal_loops(logits, target, gamma=2.0, alpha=None):
    n, classes, height, width = logits.shape
    total = torch.zeros((), dtype=logits.dtype)
    for i in range(n):
        for r in range(height):
            for c in range(width):
                t = int(target[i, r, c])
                z = logits[i, :, r, c]
                log_p_t = z[t] - torch.logsumexp(z, dim=0)
                term = -((1 - log_p_t.exp()) ** gamma) * log_p_t
                total = total + (term * float(alpha[t]) if alpha is not None else term)
    return total / (n * height * width)


def focal_from_cross_entropy(logits, target, gamma=2.0, alpha=None):
    """F.cross_entropy(reduction="none") as a building block: -log p_t per pixel, p_t = exp(-ce)."""
    ce = F.cross_entropy(logits, target, reduction="none")  # [N, H, W]
    weight = 1.0 if alpha is None else alpha.to(logits.dtype)[target]
    return (weight * (-torch.expm1(-ce)) ** gamma * ce).mean()


CORRECT = {  # name -> (the model student, a vectorised one for the tests that run many seeds, other right answers ...)
    "bilinear_kernel": (kernel_loops, kernel_outer_float64, kernel_numpy_ogrid, kernel_clamped_distance, kernel_integer_steps),
    "center_crop": (crop_slices, crop_slices, crop_narrow, crop_margins, crop_index_select),
    "unet_output_size": (size_loop, size_loop, size_whole_float, size_numpy_int),
    "unet_weight_map": (weight_map_loops, weight_map_cdist, weight_map_numpy, weight_map_topk_float32),
    "dice_loss": (dice_per_class, dice_one_hot, dice_einsum, dice_accumulated_over_images),
    "focal_loss": (focal_gather, focal_gather, focal_loops, focal_from_cross_entropy),
}


# --- the lectures' worked examples, by hand ---------------------------------------------------------


def test_lecture_example_bilinear_kernel():
    case = EXERCISES["bilinear_kernel"].cases(torch.Generator(), 0)[0]
    assert case.args == (2,)
    tent = [0.25, 0.75, 0.75, 0.25]
    expected = torch.tensor([[a * b for b in tent] for a in tent])
    assert torch.allclose(ops.bilinear_kernel(*case.args).double(), expected.double(), atol=1e-7)
    assert ops.bilinear_kernel(*case.args)[1, 2].item() == pytest.approx(9 / 16)
    assert ops.bilinear_kernel(1).tolist() == [[1.0]]
    assert ops.bilinear_kernel(3)[2, 2].item() == 1.0  # "a centre tap of weight 1"
    assert ops.bilinear_kernel(3).shape == (5, 5)


def test_lecture_example_center_crop():
    case = EXERCISES["center_crop"].cases(torch.Generator(), 0)[0]
    x, size = case.args
    assert x.shape == (1, 2, 64, 64) and size == (56, 56)
    got = ops.center_crop(*case.args)
    assert got.shape == (1, 2, 56, 56)
    assert torch.equal(got, x[:, :, 4:60, 4:60])  # (64 - 56) // 2 = 4 rows and columns cut on each side
    assert got[0, 0, 0, 0].item() == 4 * 64 + 4
    # an odd margin: 7 -> 2 cuts 2 above and 3 below
    case = fixed_case("center_crop", "an odd margin")
    assert ops.center_crop(*case.args).tolist() == [[16.0, 17.0], [23.0, 24.0]]


def test_lecture_example_unet_output_size():
    case = EXERCISES["unet_output_size"].cases(torch.Generator(), 0)[0]
    assert case.args == (572,) and case.kwargs == {}
    assert ops.unet_output_size(*case.args) == 388
    assert unet._measured_output_size(572) == 388
    # the numbers in the other fixed cases' names
    assert ops.unet_output_size(10, depth=0) == 6
    assert ops.unet_output_size(18, depth=1) == 2
    assert ops.unet_output_size(128, depth=2) == 88
    with pytest.raises(ValueError):
        ops.unet_output_size(17, depth=1)  # "the smallest input that keeps a pixel everywhere"


def test_lecture_example_unet_weight_map():
    case = EXERCISES["unet_weight_map"].cases(torch.Generator(), 0)[0]
    (instances,) = case.args
    assert instances.shape == (12, 12) and case.kwargs == {}
    assert instances[5].tolist() == [0, 1, 1, 1, 1, 0, 0, 2, 2, 2, 2, 0]  # the 2-pixel gap: columns 5 and 6
    weights = losses.unet_weight_map(instances)
    # gap pixel (5, 5): d1 = 1 (cell 1 ends at column 4), d2 = 2 (cell 2 starts at column 7)
    gap = 1 + 10 * math.exp(-((1 + 2) ** 2) / (2 * 5**2))
    assert weights[5, 5].item() == pytest.approx(gap, rel=1e-6)
    assert weights[5, 6].item() == pytest.approx(gap, rel=1e-6)
    assert torch.all(weights[instances != 0] == 1.0)  # the cells keep w_c = 1
    # the corner (0, 0): d1 = sqrt(2^2 + 1^2) to (2, 1), d2 = sqrt(2^2 + 7^2) to (2, 7)
    corner = 1 + 10 * math.exp(-((math.sqrt(5) + math.sqrt(53)) ** 2) / 50)
    for r, c in [(0, 0), (0, 11), (11, 0), (11, 11)]:
        assert weights[r, c].item() == pytest.approx(corner, rel=1e-6)
    assert corner < 3 < gap  # far from the gap the weight falls towards w_c = 1
    assert weights.max().item() == pytest.approx(gap, rel=1e-6)  # "the gap weighs most"


def test_lecture_example_dice_loss():
    case = EXERCISES["dice_loss"].cases(torch.Generator(), 0)[0]
    probs, target = case.args
    assert probs.shape == (1, 2, 2, 2) and target.tolist() == [[[0, 1], [1, 1]]]
    assert torch.equal(probs.argmax(dim=1), target) and set(probs.unique().tolist()) == {0.0, 1.0}
    assert losses.dice_loss(*case.args).item() == 0.0
    # the hedged case (eps = 0), by hand: class 0 and class 1
    probs, target = fixed_case("dice_loss", "probabilities hedged").args
    dice0 = 2 * 0.8 / (0.8**2 + 0.3**2 + 0.4**2 + 0.1**2 + 1)
    dice1 = 2 * (0.7 + 0.6 + 0.9) / (0.2**2 + 0.7**2 + 0.6**2 + 0.9**2 + 3)
    assert losses.dice_loss(probs, target, eps=0.0).item() == pytest.approx(1 - (dice0 + dice1) / 2, rel=1e-5)


def test_lecture_example_focal_loss():
    case = EXERCISES["focal_loss"].cases(torch.Generator(), 0)[0]
    logits, target = case.args
    assert logits.shape == (1, 2, 1, 2) and target.tolist() == [[[0, 0]]] and case.kwargs == {}
    p_t = logits.softmax(dim=1)[0, 0, 0].tolist()
    assert p_t == pytest.approx([0.9, 0.1], rel=1e-6)
    by_hand = (0.1**2 * -math.log(0.9) + 0.9**2 * -math.log(0.1)) / 2
    assert losses.focal_loss(*case.args).item() == pytest.approx(by_hand, rel=1e-6)
    case = fixed_case("focal_loss", "large logits")
    assert losses.focal_loss(*case.args).item() == pytest.approx(100.0)  # "that pixel costs 200, the mean 100"


# --- the known mistakes ----------------------------------------------------------------------------


def kernel_centre_at_half_k(factor):
    k = 2 * factor - factor % 2
    taps = 1 - (torch.arange(k) - k / 2).abs() / factor
    return torch.outer(taps, taps)


def kernel_centre_at_floor_half_k(factor):
    k = 2 * factor - factor % 2
    taps = 1 - (torch.arange(k) - k // 2).abs() / factor
    return torch.outer(taps, taps)


def kernel_falls_off_over_k(factor):
    k = 2 * factor - factor % 2
    taps = 1 - (torch.arange(k) - (k - 1) / 2).abs() / k
    return torch.outer(taps, taps)


def kernel_normalised(factor):
    kernel = kernel_loops(factor)
    return kernel / kernel.sum()


def kernel_tents_averaged(factor):
    k = 2 * factor - factor % 2
    taps = 1 - (torch.arange(k) - (k - 1) / 2).abs() / factor
    return (taps[:, None] + taps[None, :]) / 2


def kernel_2f_taps(factor):
    k = 2 * factor
    taps = 1 - (torch.arange(k) - (k - 1) / 2).abs() / factor
    return torch.outer(taps, taps)


def _crop(x, size, top_of):
    h, w = (size, size) if isinstance(size, int) else size
    top, left = top_of(x.shape[-2], h), top_of(x.shape[-1], w)
    return x[..., top : top + h, left : left + w]


def crop_top_left(x, size):
    h, w = (size, size) if isinstance(size, int) else size
    return x[..., :h, :w]


def crop_python_round(x, size):
    return _crop(x, size, lambda n, m: round((n - m) / 2))


def crop_margin_rounded_up(x, size):
    return _crop(x, size, lambda n, m: (n - m + 1) // 2)


def crop_halves(x, size):
    return _crop(x, size, lambda n, m: n // 2 - m // 2)


def crop_one_too_far(x, size):
    return _crop(x, size, lambda n, m: (n - m) // 2 + 1)


def _size(input_size, depth, *, down=4, bottleneck=4, up=4, halve=lambda n: n // 2):
    """A student's walk through the U-Net: ``down`` pixels lost per contracting block, then
    ``halve``, the bottleneck's ``bottleneck``, then doubling and ``up`` lost per expanding block."""
    size = input_size
    for _ in range(depth):
        size = halve(size - down)
    size -= bottleneck
    for _ in range(depth):
        size = 2 * size - up
    return size


def size_one_conv_per_block(input_size, depth=4):
    return _size(input_size, depth, down=2, bottleneck=2, up=2)  # one 3x3 convolution per block


def size_conv_removes_1(input_size, depth=4):
    return _size(input_size, depth, down=1 + 1, bottleneck=1 + 1, up=1 + 1)  # "a 3x3 convolution removes 1 pixel"


def size_no_bottleneck(input_size, depth=4):
    return _size(input_size, depth, bottleneck=0)


def size_decoder_only_doubles(input_size, depth=4):
    return _size(input_size, depth, up=0)


def size_pool_rounds_up(input_size, depth=4):
    return _size(input_size, depth, halve=lambda n: math.ceil(n / 2))


def size_true_division(input_size, depth=4):
    return _size(input_size, depth, halve=lambda n: n / 2)  # keeps the half pixel of an odd map


def size_convs_before_up(input_size, depth=4):
    size = input_size
    for _ in range(depth):
        size = (size - 4) // 2
    size -= 4
    for _ in range(depth):
        size = 2 * (size - 4)  # the block, then the up-convolution
    return size


def size_pool_before_convs(input_size, depth=4):
    size = input_size
    for _ in range(depth):
        size = size // 2 - 4  # the pool, then the block
    size -= 4
    for _ in range(depth):
        size = 2 * size - 4
    return size


def size_depth_ignored(input_size, depth=4):
    return _size(input_size, 4)  # the original U-Net's four levels, whatever depth says


def size_same_padding(input_size, depth=4):
    return input_size


def _weight_map(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0), border=None, on_cells=False, distance=math.dist):
    """A loop over the pixels; ``border(d1, d2, w0, sigma)`` is the student's border term."""
    height, width = instances.shape
    grid = instances.tolist()
    cells = {}
    for r in range(height):
        for c in range(width):
            if grid[r][c]:
                cells.setdefault(grid[r][c], []).append((r, c))
    out = torch.zeros(height, width)
    for r in range(height):
        for c in range(width):
            is_cell = grid[r][c] != 0
            w = class_weights[1] if is_cell else class_weights[0]
            if len(cells) >= 2 and (on_cells or not is_cell):
                d1, d2 = sorted(min(distance((r, c), p) for p in pixels) for pixels in cells.values())[:2]
                w += border(d1, d2, w0, sigma)
            out[r, c] = w
    return out


def _right_border(d1, d2, w0, sigma):
    return w0 * math.exp(-((d1 + d2) ** 2) / (2 * sigma**2))


def weight_map_nearest_only(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    return _weight_map(instances, w0, sigma, class_weights, lambda d1, d2, w0, s: w0 * math.exp(-(d1**2) / (2 * s**2)))


def weight_map_nearest_twice(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    return _weight_map(instances, w0, sigma, class_weights, lambda d1, d2, w0, s: w0 * math.exp(-((d1 + d1) ** 2) / (2 * s**2)))


def weight_map_squared_separately(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    return _weight_map(instances, w0, sigma, class_weights, lambda d1, d2, w0, s: w0 * math.exp(-(d1**2 + d2**2) / (2 * s**2)))


def weight_map_no_factor_2(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    return _weight_map(instances, w0, sigma, class_weights, lambda d1, d2, w0, s: w0 * math.exp(-((d1 + d2) ** 2) / s**2))


def weight_map_sigma_not_squared(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    return _weight_map(instances, w0, sigma, class_weights, lambda d1, d2, w0, s: w0 * math.exp(-((d1 + d2) ** 2) / (2 * s)))


def weight_map_border_on_cells_too(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    return _weight_map(instances, w0, sigma, class_weights, _right_border, on_cells=True)


def weight_map_city_block(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    city_block = lambda p, q: abs(p[0] - q[0]) + abs(p[1] - q[1])  # noqa: E731
    return _weight_map(instances, w0, sigma, class_weights, _right_border, distance=city_block)


def weight_map_class_weights_swapped(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    background, cell = class_weights
    return _weight_map(instances, w0, sigma, (cell, background), _right_border)


def weight_map_two_nearest_pixels(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    """d1, d2: the two nearest cell pixels, whichever cells they belong to."""
    height, width = instances.shape
    cell_pixels = [(r, c) for r in range(height) for c in range(width) if instances[r, c] != 0]
    several = len(instances.unique()) > 2
    out = torch.zeros(height, width)
    for r in range(height):
        for c in range(width):
            if instances[r, c] != 0:
                out[r, c] = class_weights[1]
                continue
            out[r, c] = class_weights[0]
            if several:
                d1, d2 = sorted(math.dist((r, c), p) for p in cell_pixels)[:2]
                out[r, c] += _right_border(d1, d2, w0, sigma)
    return out


def weight_map_pixels_in_between(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    """Counts the background pixels between x and the cell: one less than the distance."""
    return _weight_map(instances, w0, sigma, class_weights, _right_border, distance=lambda p, q: math.dist(p, q) - 1)


def weight_map_one_too_far(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    return _weight_map(instances, w0, sigma, class_weights, lambda d1, d2, w0, s: _right_border(d1 + 1, d2 + 1, w0, s))


def _dice_terms(probs, target):
    g = F.one_hot(target, probs.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    return probs, g


def dice_sums_not_squared(probs, target, eps=1.0):
    p, g = _dice_terms(probs, target)
    dims = (0, 2, 3)
    return 1 - ((2 * (p * g).sum(dims) + eps) / (p.sum(dims) + g.sum(dims) + eps)).mean()


def dice_coefficient_not_loss(probs, target, eps=1.0):
    return 1 - dice_one_hot(probs, target, eps)


def dice_per_image(probs, target, eps=1.0):
    p, g = _dice_terms(probs, target)
    dims = (2, 3)
    return 1 - ((2 * (p * g).sum(dims) + eps) / ((p * p).sum(dims) + (g * g).sum(dims) + eps)).mean()


def dice_all_classes_at_once(probs, target, eps=1.0):
    p, g = _dice_terms(probs, target)
    return 1 - (2 * (p * g).sum() + eps) / ((p * p).sum() + (g * g).sum() + eps)


def dice_without_eps(probs, target, eps=1.0):
    return dice_one_hot(probs, target, eps=0.0)


def dice_eps_only_below(probs, target, eps=1.0):
    p, g = _dice_terms(probs, target)
    dims = (0, 2, 3)
    return 1 - (2 * (p * g).sum(dims) / ((p * p).sum(dims) + (g * g).sum(dims) + eps)).mean()


def dice_argmax(probs, target, eps=1.0):
    hard = F.one_hot(probs.argmax(dim=1), probs.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    return dice_one_hot(hard, target, eps)


def dice_without_background(probs, target, eps=1.0):
    total = 0
    for c in range(1, probs.shape[1]):
        p, g = probs[:, c], (target == c).to(probs.dtype)
        total = total + (2 * (p * g).sum() + eps) / ((p * p).sum() + (g * g).sum() + eps)
    return 1 - total / (probs.shape[1] - 1)


def dice_one_hot_reshaped(probs, target, eps=1.0):
    g = F.one_hot(target, probs.shape[1]).reshape(probs.shape).to(probs.dtype)  # [N, H, W, C] read as [N, C, H, W]
    dims = (0, 2, 3)
    return 1 - ((2 * (probs * g).sum(dims) + eps) / ((probs**2).sum(dims) + (g**2).sum(dims) + eps)).mean()


def dice_one_hot_view_as(probs, target, eps=1.0):
    g = F.one_hot(target, probs.shape[1]).to(probs.dtype).view_as(probs)  # the same numbers, relabelled
    return 1 - _dice_by_class(probs, g, eps).mean()


def _dice_by_class(p, g, eps):
    dims = (0, 2, 3)
    return (2 * (p * g).sum(dims) + eps) / ((p * p).sum(dims) + (g * g).sum(dims) + eps)


def dice_eps_only_above(probs, target, eps=1.0):
    p, g = _dice_terms(probs, target)
    dims = (0, 2, 3)
    return 1 - ((2 * (p * g).sum(dims) + eps) / ((p * p).sum(dims) + (g * g).sum(dims))).mean()


def dice_softmax_again(probs, target, eps=1.0):
    return dice_one_hot(torch.softmax(probs, dim=1), target, eps)  # "the network's output goes through a softmax"


def dice_classes_added(probs, target, eps=1.0):
    p, g = _dice_terms(probs, target)
    return 1 - _dice_by_class(p, g, eps).sum()


def _focal_terms(logits, target, dim=1):
    log_p_t = F.log_softmax(logits, dim=dim).gather(1, target.unsqueeze(1)).squeeze(1)
    return log_p_t, log_p_t.exp()


def focal_cross_entropy(logits, target, gamma=2.0, alpha=None):
    log_p_t, p_t = _focal_terms(logits, target)
    loss = -log_p_t
    if alpha is not None:
        loss = alpha.to(logits.dtype)[target] * loss
    return loss.mean()


def focal_factor_p_t(logits, target, gamma=2.0, alpha=None):
    log_p_t, p_t = _focal_terms(logits, target)
    loss = -(p_t**gamma) * log_p_t
    if alpha is not None:
        loss = alpha.to(logits.dtype)[target] * loss
    return loss.mean()


def focal_sum(logits, target, gamma=2.0, alpha=None):
    log_p_t, p_t = _focal_terms(logits, target)
    loss = -((1 - p_t) ** gamma) * log_p_t
    if alpha is not None:
        loss = alpha.to(logits.dtype)[target] * loss
    return loss.sum()


def focal_alpha_normalised(logits, target, gamma=2.0, alpha=None):
    log_p_t, p_t = _focal_terms(logits, target)
    loss = -((1 - p_t) ** gamma) * log_p_t
    if alpha is None:
        return loss.mean()
    weights = alpha.to(logits.dtype)[target]
    return (weights * loss).sum() / weights.sum()


def focal_alpha_ignored(logits, target, gamma=2.0, alpha=None):
    log_p_t, p_t = _focal_terms(logits, target)
    return (-((1 - p_t) ** gamma) * log_p_t).mean()


def focal_sigmoid(logits, target, gamma=2.0, alpha=None):
    g = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)
    p = torch.sigmoid(logits)
    p_t = p * g + (1 - p) * (1 - g)
    return (-((1 - p_t) ** gamma) * torch.log(p_t)).mean()


def focal_log_of_softmax(logits, target, gamma=2.0, alpha=None):
    p_t = torch.softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    loss = -((1 - p_t) ** gamma) * torch.log(p_t)
    if alpha is not None:
        loss = alpha.to(logits.dtype)[target] * loss
    return loss.mean()


def focal_softmax_last_dim(logits, target, gamma=2.0, alpha=None):
    log_p_t, p_t = _focal_terms(logits, target, dim=-1)
    loss = -((1 - p_t) ** gamma) * log_p_t
    if alpha is not None:
        loss = alpha.to(logits.dtype)[target] * loss
    return loss.mean()


def focal_gamma_multiplied(logits, target, gamma=2.0, alpha=None):
    log_p_t, p_t = _focal_terms(logits, target)
    loss = -((1 - p_t) * gamma) * log_p_t
    if alpha is not None:
        loss = alpha.to(logits.dtype)[target] * loss
    return loss.mean()


def focal_alpha_of_the_prediction(logits, target, gamma=2.0, alpha=None):
    log_p_t, p_t = _focal_terms(logits, target)
    loss = -((1 - p_t) ** gamma) * log_p_t
    if alpha is not None:
        loss = alpha.to(logits.dtype)[logits.argmax(dim=1)] * loss
    return loss.mean()


# (checker, buggy student, the case it fails first, a distinctive piece of the hint)
MISTAKES = [
    ("bilinear_kernel", kernel_centre_at_half_k, "lecture example", "the centre is off by half a pixel"),
    ("bilinear_kernel", kernel_centre_at_floor_half_k, "lecture example", "the centre is off by half a pixel"),
    ("bilinear_kernel", kernel_falls_off_over_k, "lecture example", "the weights fall off over the kernel size k"),
    ("bilinear_kernel", kernel_normalised, "lecture example", "the kernel was normalised to sum to 1"),
    ("bilinear_kernel", kernel_tents_averaged, "lecture example", "the two tents were added (averaged)"),
    ("bilinear_kernel", kernel_2f_taps, "factor 1: a 1x1 kernel", "for an odd factor the kernel has 2f - 1 taps"),
    ("center_crop", crop_top_left, "lecture example", "the crop was cut from the top-left corner"),
    ("center_crop", crop_python_round, "odd differences: 5x7 to 2x4", "Python's round(...) rounds halves to the nearest even"),
    ("center_crop", crop_margin_rounded_up, "an odd margin", "the window is one row or column too far down or right"),
    ("center_crop", crop_halves, "a single pixel from the middle of 6x8", "the window is one row or column too far down or right"),
    ("center_crop", crop_one_too_far, "lecture example", "the window starts one pixel too far down and right"),
    ("unet_output_size", size_one_conv_per_block, "lecture example", "each block removed 2 pixels; it removes 4"),
    ("unet_output_size", size_conv_removes_1, "lecture example", "each block removed 2 pixels; it removes 4"),
    ("unet_output_size", size_no_bottleneck, "lecture example", "the bottleneck was left out"),
    ("unet_output_size", size_decoder_only_doubles, "lecture example", "the expanding path only doubled the size"),
    ("unet_output_size", size_true_division, "an odd map before a pool", "the side was halved with / (true division)"),
    ("unet_output_size", size_pool_rounds_up, "an odd map before a pool", "the pooling rounded up"),
    ("unet_output_size", size_same_padding, "lecture example", "this is the input size"),
    ("unet_output_size", size_convs_before_up, "lecture example", "the expanding path ran in the wrong order"),
    ("unet_output_size", size_pool_before_convs, "lecture example", "the contracting path ran in the wrong order"),
    ("unet_output_size", size_depth_ignored, "depth 0", "the depth argument was ignored"),
    ("unet_weight_map", weight_map_nearest_only, "lecture example", "the border term used only the distance d1"),
    ("unet_weight_map", weight_map_nearest_twice, "lecture example", "the border term used the nearest cell's distance twice"),
    ("unet_weight_map", weight_map_squared_separately, "lecture example", "the distances were squared separately"),
    ("unet_weight_map", weight_map_no_factor_2, "lecture example", "the factor 2 is missing from the denominator"),
    ("unet_weight_map", weight_map_sigma_not_squared, "lecture example", "sigma is not squared"),
    ("unet_weight_map", weight_map_border_on_cells_too, "lecture example", "the border term was added on the cells' own pixels too"),
    ("unet_weight_map", weight_map_city_block, "lecture example", "the distances are city-block"),
    ("unet_weight_map", weight_map_two_nearest_pixels, "lecture example", "d2 is the distance to the second-nearest CELL"),
    ("unet_weight_map", weight_map_pixels_in_between, "lecture example", "the distances are one pixel too short"),
    ("unet_weight_map", weight_map_one_too_far, "lecture example", "the distances are one pixel too long"),
    ("unet_weight_map", weight_map_class_weights_swapped, "class_weights=(0.5, 3.0)", "the class weights are swapped"),
    ("dice_loss", dice_sums_not_squared, "probabilities hedged", "the denominator is sum p + sum g"),
    ("dice_loss", dice_coefficient_not_loss, "lecture example", "this is the Dice coefficient; the loss is 1 - Dice"),
    ("dice_loss", dice_per_image, "a batch of two images", "the Dice was computed per image and averaged"),
    ("dice_loss", dice_all_classes_at_once, "probabilities hedged", "the sums also ran over the classes"),
    ("dice_loss", dice_without_eps, "a rare class", "eps is missing"),
    ("dice_loss", dice_eps_only_below, "lecture example", "eps was added only to the denominator"),
    ("dice_loss", dice_eps_only_above, "lecture example", "eps was added only to the numerator"),
    ("dice_loss", dice_one_hot_reshaped, "lecture example", "the one-hot target is in the wrong order"),
    ("dice_loss", dice_one_hot_view_as, "lecture example", "the one-hot target is in the wrong order"),
    ("dice_loss", dice_softmax_again, "lecture example", "softmax was applied to probs"),
    ("dice_loss", dice_classes_added, "lecture example", "the Dice of the classes were added up"),
    ("dice_loss", dice_argmax, "probabilities hedged", "the probabilities were turned into hard labels (argmax)"),
    ("dice_loss", dice_without_background, "probabilities hedged", "the background (class 0) was left out of the mean"),
    ("focal_loss", focal_cross_entropy, "lecture example", "this is the plain cross-entropy"),
    ("focal_loss", focal_factor_p_t, "lecture example", "the factor is p_t^gamma"),
    ("focal_loss", focal_gamma_multiplied, "lecture example", "(1 - p_t) was multiplied by gamma"),
    ("focal_loss", focal_alpha_of_the_prediction, "alpha: one weight per class", "alpha_t was picked by the predicted class"),
    ("focal_loss", focal_sum, "lecture example", "this is a sum over the pixels"),
    ("focal_loss", focal_alpha_normalised, "alpha: one weight per class", "divided by the sum of the weights"),
    ("focal_loss", focal_alpha_ignored, "alpha: one weight per class", "alpha was ignored"),
    ("focal_loss", focal_sigmoid, "lecture example", "this is the per-class sigmoid form"),
    ("focal_loss", focal_log_of_softmax, "large logits", "softmax(...).log() underflows"),
    ("focal_loss", focal_softmax_last_dim, "lecture example", "the softmax ran over the wrong dimension"),
]


# --- what the fixed cases' names promise ---------------------------------------------------------


def test_fixed_case_names_say_what_the_cases_hold():
    assert ops.center_crop(*fixed_case("center_crop", "the same size").args).tolist() == fixed_case("center_crop", "the same size").args[0].tolist()
    pixel = fixed_case("center_crop", "a single pixel")
    assert ops.center_crop(*pixel.args).tolist() == [[2 * 8 + 3]]  # row (6 - 1) // 2, column (8 - 1) // 2
    odd = fixed_case("center_crop", "odd differences")
    assert ops.center_crop(*odd.args).tolist() == [[8.0, 9.0, 10.0, 11.0], [15.0, 16.0, 17.0, 18.0]]  # rows 1-2, columns 1-4
    for starts_with in ("one cell", "no cells at all"):
        case = fixed_case("unet_weight_map", starts_with)
        assert torch.all(losses.unet_weight_map(*case.args, **case.kwargs) == 1.0), starts_with
    ids = fixed_case("unet_weight_map", "instance ids need not be")
    assert len(ids.args[0].unique()) == 3 and 1 not in ids.args[0].unique().tolist()  # two cells, not numbered 1, 2
    case = fixed_case("focal_loss", "gamma=0 is the cross-entropy")
    assert losses.focal_loss(*case.args, **case.kwargs).item() == pytest.approx(F.cross_entropy(*case.args).item(), rel=1e-6)
    probs, target = fixed_case("dice_loss", "a class absent from the target").args
    assert not (target == 2).any() and probs[:, 2].max() < 0.05
    dice_2 = 1 / ((probs[:, 2] ** 2).sum().item() + 1)  # (0 + eps) / (sum p^2 + 0 + eps), eps = 1
    assert dice_2 == pytest.approx(1, abs=1e-3)
    probs, target = fixed_case("dice_loss", "a rare class").args
    assert target.sum() == 1 and torch.all(probs.argmax(dim=1) == 0)
    for name in EXERCISES:
        for case in EXERCISES[name].cases(torch.Generator().manual_seed(HIDDEN_SEEDS[name]), 20):
            if name == "unet_weight_map" and case.name.startswith("random"):
                count = len(case.args[0].unique()) - 1
                assert f": {count} cell(s) in {case.args[0].shape[0]}x{case.args[0].shape[1]}" in case.name
            if name == "center_crop" and case.name.startswith("random"):
                x, size = case.args
                h, w = (size, size) if isinstance(size, int) else size
                assert case.name.endswith(f"{'x'.join(map(str, x.shape))} cropped to {h}x{w}")


def test_instance_ids_case_holds_the_ids_its_name_says():
    case = fixed_case("unet_weight_map", "instance ids need not be")
    assert case.name.endswith("cells 3 and 7")
    assert sorted(case.args[0].unique().tolist()) == [0, 3, 7]


def test_measured_pytorch_answers_are_the_formulas():
    """PyTorch's side of two checkers (an impulse through F.interpolate, a real conv stack) agrees
    with the references."""
    for factor in range(1, 13):
        assert torch.allclose(unet._impulse_response(factor).float(), ops.bilinear_kernel(factor), atol=1e-6), factor
    for depth in range(6):
        smallest = next(n for n in range(1, 1000) if ops._unet_sizes(n, depth)[1] is None)
        for n in range(smallest, smallest + 40):
            assert unet._measured_output_size(n, depth) == ops.unet_output_size(n, depth), (n, depth)


def test_cross_check_detects_a_broken_reference():
    import dataclasses

    broken = dataclasses.replace(EXERCISES["center_crop"], reference=crop_one_too_far)
    with pytest.raises(RuntimeError, match=r"seglab bug: the reference center_crop disagrees with PyTorch in case 'lecture example"):
        _core.run_check(broken, crop_slices)
    broken = dataclasses.replace(EXERCISES["unet_output_size"], reference=lambda input_size, depth=4: input_size / 3)
    with pytest.raises(RuntimeError, match=r"seglab bug: the reference answer of unet_output_size in case 'lecture example.*not usable"):
        _core.run_check(broken, size_loop)


# --- answers of the wrong shape, dtype or type ----------------------------------------------------------


def kernel_1d_tent(factor):
    k = 2 * factor - factor % 2
    return 1 - (torch.arange(k) - (k - 1) / 2).abs() / factor


def crop_one_extra_row(x, size):
    h, w = (size, size) if isinstance(size, int) else size
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top : top + h + 1, left : left + w]


def weight_map_with_a_batch_dimension(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    return weight_map_cdist(instances, w0, sigma, class_weights)[None]


def focal_not_reduced(logits, target, gamma=2.0, alpha=None):
    log_p_t, p_t = _focal_terms(logits, target)
    return -((1 - p_t) ** gamma) * log_p_t  # one term per pixel


WRONG_SHAPES = [  # (name, student, case, the shape line, a piece of the hint)
    (
        "bilinear_kernel",
        kernel_1d_tent,
        "lecture example",
        "shape: expected (4, 4), got (4,)",
        "hint: the kernel is square, k x k with k = 2 * factor - factor % 2 = 4. A 1D tent t (length k) becomes "
        "the 2D kernel as the outer product torch.outer(t, t).",
    ),
    (
        "center_crop",
        crop_one_extra_row,
        "lecture example",
        "shape: expected (1, 2, 56, 56), got (1, 2, 57, 56)",
        "hint: the crop has size (56, 56) = (h, w): h rows (dimension -2) and w columns (dimension -1)",
    ),
    (
        "unet_weight_map",
        weight_map_with_a_batch_dimension,
        "lecture example",
        "shape: expected (12, 12), got (1, 12, 12)",
        "hint: one weight per pixel: the shape of instances, [H, W].",
    ),
    (
        "dice_loss",
        lambda probs, target, eps=1.0: dice_one_hot(probs, target, eps).reshape(1),
        "lecture example",
        "shape: expected (), got (1,)",
        "hint: the loss is one number: a 0-dim tensor, shape ().",
    ),
    (
        "focal_loss",
        lambda logits, target, gamma=2.0, alpha=None: focal_gather(logits, target, gamma, alpha).reshape(1),
        "lecture example",
        "shape: expected (), got (1,)",
        "hint: the loss is one number, the mean over all pixels: a 0-dim tensor, shape ().",
    ),
    (
        "focal_loss",
        focal_not_reduced,
        "lecture example",
        "shape: expected (), got (1, 1, 2)",
        "hint: the loss is one number, the mean over all pixels",
    ),
]


def test_dice_loss_as_a_python_float():
    message = failure_message(checks.dice_loss, lambda probs, target, eps=1.0: dice_one_hot(probs, target, eps).item())
    assert message.startswith("dice_loss: wrong answer in case 'lecture example: a perfect prediction has loss 0'")
    assert "expected a torch.Tensor of shape (), got float 0.0" in message
    assert "hint: return the number as a 0-dim tensor, not as a Python number: leave out .item() and float(...)" in message


def test_focal_loss_as_a_python_float():
    message = failure_message(checks.focal_loss, lambda logits, target, gamma=2.0, alpha=None: float(focal_gather(logits, target, gamma, alpha)))
    assert "expected a torch.Tensor of shape (), got float 0.9" in message
    assert "return the number as a 0-dim tensor" in message


WRONG_DTYPES = [  # (name, student, case, what the message says of the dtype)
    ("center_crop", lambda x, size: crop_slices(x, size).double(), "lecture example", "expected torch.float32 (the dtype of x), got torch.float64"),
    (
        "dice_loss",
        lambda probs, target, eps=1.0: dice_one_hot(probs.float(), target, eps),
        "float64 probabilities keep their dtype",
        "expected torch.float64 (the dtype of probs), got torch.float32",
    ),
    (
        "focal_loss",
        lambda logits, target, gamma=2.0, alpha=None: focal_gather(logits.float(), target, gamma, alpha),
        "float64 logits keep their dtype",
        "expected torch.float64 (the dtype of logits), got torch.float32",
    ),
]


def test_integer_kernel_needs_a_float():
    exercise = EXERCISES["bilinear_kernel"]
    case = fixed_case("bilinear_kernel", "factor 1")
    message = _core._compare(exercise, case, exercise.reference(*case.args), torch.tensor([[1]]))
    assert "expected a floating-point tensor (float32 or float64), got torch.int64" in message


@pytest.mark.parametrize("answer", [388, 388.0, np.int64(388), np.float64(388.0), torch.tensor(388).item()])
def test_unet_output_size_accepts_ints_and_whole_numbers(answer):
    exercise = EXERCISES["unet_output_size"]
    case = exercise.cases(torch.Generator(), 0)[0]
    assert _core._compare(exercise, case, exercise.adapt(exercise.reference(*case.args), case), answer) is None
    assert _core._compare(exercise, case, exercise.adapt(exercise.reference(*case.args), case), 389) is not None


@pytest.mark.parametrize(
    "answer, text",
    [
        (torch.tensor(388), "expected an int, got Tensor 388 (int64)\n  hint: return a Python int: int(n) or n.item() turns a tensor into a number."),
        (388.5, "expected an int, got float 388.5\n  hint: sizes are whole numbers of pixels: halve with // (floor division), not /."),
        ([572, 568, 284], "return the output side alone, one int (not a list of the sizes along the way)."),
        (None, "did you forget the `return` statement?"),
        (True, "expected an int, got bool True\n  hint: return one int, the output side."),
        ("388", "return one int, the output side."),
    ],
    ids=["tensor", "half", "list", "none", "bool", "str"],
)
def test_unet_output_size_rejects_other_answers(answer, text):
    message = failure_message(checks.unet_output_size, lambda input_size, depth=4: answer)
    assert message.startswith("unet_output_size: wrong answer in case 'lecture example: the original U-Net, 572 -> 388'\n  inputs:   572\n")
    assert text in message


def test_unet_output_size_with_true_division_fails_at_the_odd_map():
    def true_division(input_size, depth=4):
        size = input_size
        for _ in range(depth):
            size = (size - 4) / 2
        size -= 4
        for _ in range(depth):
            size = 2 * size - 4
        return size  # 388.0 for 572, but 572.5... for an odd map

    message = failure_message(checks.unet_output_size, true_division)
    assert message.startswith("unet_output_size: wrong answer in case 'an odd map before a pool")
    assert "inputs:   573\n  expected: 388 (int64)\n  got:      389 (int64)" in message  # 389.0: a whole float


def test_unet_output_size_with_true_division_gets_the_floor_division_hint():
    def true_division(input_size, depth=4):
        size = input_size
        for _ in range(depth):
            size = (size - 4) / 2
        size -= 4
        for _ in range(depth):
            size = 2 * size - 4
        return size

    message = failure_message(checks.unet_output_size, true_division)
    assert message.startswith("unet_output_size: wrong answer in case 'an odd map before a pool")
    assert "the side was halved with / (true division)" in message


def test_unet_output_size_message_shows_the_numbers():
    message = failure_message(checks.unet_output_size, size_no_bottleneck)
    assert "inputs:   572\n  expected: 388 (int64)\n  got:      452 (int64)" in message
    assert "differ at" not in message
    message = failure_message(checks.unet_output_size, size_pool_rounds_up)
    assert "inputs:   573\n" in message


def test_wrong_kernel_message_shows_where_it_differs():
    message = failure_message(checks.bilinear_kernel, kernel_normalised)
    assert "expected: [[0.0625, 0.1875, 0.1875, 0.0625], [0.1875, 0.5625, 0.5625, 0.1875]," in message
    assert "differ at 16 of 16 positions: [0, 0]: expected 0.0625, got 0.01562" in message


# --- delegating to the reference or to PyTorch ---------------------------------------------------------


def kernel_interpolate(factor):
    """The impulse response of F.interpolate: PyTorch's own bilinear upsampling computes the answer."""
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1
    up = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)[0, 0]
    k, start = 2 * factor - factor % 2, factor - factor // 2
    return up[start : start + k, start : start + k]


def kernel_upsample_module(factor):
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1
    up = nn.Upsample(scale_factor=factor, mode="bilinear")(x)[0, 0]
    k, start = 2 * factor - factor % 2, factor - factor // 2
    return up[start : start + k, start : start + k]


def kernel_upsample_bilinear(factor):
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1
    return F.upsample_bilinear(x, scale_factor=factor)[0, 0]


def kernel_import_inside(factor):
    from torch.nn.functional import interpolate

    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1
    return interpolate(x, scale_factor=factor, mode="bilinear")[0, 0]


def crop_via_crop_and_concat(x, size):
    h, w = (size, size) if isinstance(size, int) else size
    flat = x.reshape(1, -1, *x.shape[-2:])
    return ops.crop_and_concat(flat, flat.new_zeros(1, 0, h, w)).reshape(*x.shape[:-2], h, w)


def dice_class_by_class_binary(probs, target, eps=1.0):
    """The binary Dice loss of every class's channel against its mask, averaged: the reference again."""
    per_class = [losses.binary_dice_loss(probs[:, c], target == c, eps) for c in range(probs.shape[1])]
    return torch.stack(per_class).mean()


def crop_torchvision(x, size):
    import torchvision.transforms.functional as TF

    return TF.center_crop(x, [size, size] if isinstance(size, int) else list(size))


def crop_torchvision_module(x, size):
    from torchvision import transforms

    return transforms.CenterCrop(size)(x)


def focal_import_inside(logits, target, gamma=2.0, alpha=None):
    from seglab.losses import focal_loss

    return focal_loss(logits, target, gamma, alpha)


DELEGATING = [
    (checks.bilinear_kernel, ops.bilinear_kernel, "seglab.ops.bilinear_kernel"),
    (checks.bilinear_kernel, lambda factor: ops.bilinear_kernel(factor, channels=1)[0, 0], "seglab.ops.bilinear_kernel"),
    (checks.bilinear_kernel, kernel_interpolate, "torch.nn.functional.interpolate"),
    (checks.bilinear_kernel, kernel_upsample_module, "torch.nn.functional.interpolate"),
    (checks.bilinear_kernel, kernel_upsample_bilinear, "torch.nn.functional.upsample_bilinear"),
    (checks.bilinear_kernel, kernel_import_inside, "torch.nn.functional.interpolate"),
    (checks.center_crop, ops.center_crop, "seglab.ops.center_crop"),
    (checks.center_crop, lambda x, size: ops.center_crop(x, size).clone(), "seglab.ops.center_crop"),
    (checks.center_crop, crop_via_crop_and_concat, "seglab.ops.crop_and_concat"),
    (checks.center_crop, crop_torchvision, "torchvision.transforms.functional.center_crop"),
    (checks.center_crop, crop_torchvision_module, "torchvision.transforms.functional.center_crop"),
    (checks.unet_output_size, ops.unet_output_size, "seglab.ops.unet_output_size"),
    (checks.unet_output_size, lambda input_size, depth=4: ops.unet_output_size(input_size, depth), "seglab.ops.unet_output_size"),
    (checks.unet_weight_map, losses.unet_weight_map, "seglab.losses.unet_weight_map"),
    (
        checks.unet_weight_map,
        lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): losses.unet_weight_map(instances, w0, sigma, class_weights).double(),
        "seglab.losses.unet_weight_map",
    ),
    (checks.dice_loss, losses.dice_loss, "seglab.losses.dice_loss"),
    (checks.dice_loss, lambda probs, target, eps=1.0: losses.dice_loss(probs, target, eps), "seglab.losses.dice_loss"),
    (checks.dice_loss, lambda probs, target, eps=1.0: losses.combo_loss(probs.log(), target, alpha=0.0, eps=eps), "seglab.losses.combo_loss"),
    (checks.dice_loss, dice_class_by_class_binary, "seglab.losses.binary_dice_loss"),
    (checks.focal_loss, losses.focal_loss, "seglab.losses.focal_loss"),
    (checks.focal_loss, lambda logits, target, gamma=2.0, alpha=None: losses.focal_loss(logits, target, gamma, alpha), "seglab.losses.focal_loss"),
    (checks.focal_loss, focal_import_inside, "seglab.losses.focal_loss"),
]


DELEGATION_HINTS = [  # (checker, student, a piece of the hint: what a solution may use)
    (checks.bilinear_kernel, kernel_interpolate, "build the 1D tent 1 - |i - c| / f with torch.arange, then its outer product."),
    (checks.center_crop, ops.center_crop, "compute top and left, then slice x[..., top : top + h, left : left + w]."),
    (checks.unet_output_size, ops.unet_output_size, "walk down the contracting path, through the bottleneck and up the expanding path"),
    (checks.unet_weight_map, losses.unet_weight_map, "torch.cdist between pixel coordinates, or loops"),
    (checks.dice_loss, losses.dice_loss, "one-hot the target (F.one_hot(target, C).permute(0, 3, 1, 2)), then sums are welcome."),
    (checks.focal_loss, losses.focal_loss, "F.log_softmax and gather (or indexing) are welcome."),
]


def test_log_softmax_cdist_and_one_hot_are_allowed(capfd, one_thread):
    checks.focal_loss(focal_gather)  # F.log_softmax and gather
    checks.unet_weight_map(weight_map_cdist)  # torch.cdist
    checks.dice_loss(dice_one_hot)  # F.one_hot
    checks.bilinear_kernel(kernel_outer_float64)  # torch.outer
    assert [line.split(":")[0] for line in capfd.readouterr().out.splitlines()] == [
        "✓ focal_loss",
        "✓ unet_weight_map",
        "✓ dice_loss",
        "✓ bilinear_kernel",
    ]


# --- the framework's other duties, on these checkers ------------------------------------------------


def test_modifying_the_logits_is_reported():
    def stabilises_in_place(logits, target, gamma=2.0, alpha=None):
        logits -= logits.amax(dim=1, keepdim=True)  # in place: the caller's logits change
        return focal_gather(logits, target, gamma, alpha)

    message = failure_message(checks.focal_loss, stabilises_in_place)
    assert message.startswith("focal_loss modified its input logits in place, in case 'lecture example: an easy pixel")
    assert "avoid in-place updates of the arguments such as `logits += ...` or `logits[...] = ...`" in message


def test_modifying_the_instances_is_reported():
    def renumbers_in_place(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
        for new, k in enumerate([k for k in instances.unique().tolist() if k != 0], start=1):
            instances[instances == k] = new  # cells 1, 2, ...: changes the caller's map
        return weight_map_cdist(instances, w0, sigma, class_weights)

    message = failure_message(checks.unet_weight_map, renumbers_in_place)
    assert message.startswith("unet_weight_map modified its input instances in place, in case 'instance ids need not be 1, 2, ...: cells 3 and 7'")


def test_modifying_the_probabilities_is_reported():
    def clamps_in_place(probs, target, eps=1.0):
        probs.clamp_(min=1e-3)
        return dice_one_hot(probs, target, eps)

    message = failure_message(checks.dice_loss, clamps_in_place)
    assert message.startswith("dice_loss modified its input probs in place, in case 'lecture example: a perfect prediction has loss 0'")


def test_student_exception_names_the_case():
    def crop_size_always_a_pair(x, size):
        h, w = size  # an int size cannot be unpacked
        top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
        return x[..., top : top + h, left : left + w]

    with pytest.raises(TypeError) as info:
        checks.center_crop(crop_size_always_a_pair)
    notes = "\n".join(info.value.__notes__)
    assert "center_crop raised TypeError in case 'a 6x6 map cropped to 2x2 (size given as one int)'" in notes
    assert "(inputs: tensor of shape (6, 6), float32, starting [0, 1, 2, 3, 4, 5, ...], 2)" in notes

    def needs_two_cells(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
        height, width = instances.shape
        rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        points = torch.stack([rows.flatten(), cols.flatten()], dim=1).double()
        ids = [k for k in instances.unique().tolist() if k != 0]
        d = torch.stack([torch.cdist(points, points[instances.flatten() == k]).min(dim=1).values for k in ids]).sort(dim=0).values
        border = w0 * torch.exp(-((d[0] + d[1]) ** 2) / (2 * sigma**2))  # no d[1] with one cell
        return torch.where(instances == 0, class_weights[0] + border.reshape(height, width), class_weights[1])

    with pytest.raises(IndexError) as info:
        checks.unet_weight_map(needs_two_cells)
    assert "unet_weight_map raised IndexError in case 'one cell: no second-nearest cell" in "\n".join(info.value.__notes__)


def kernel_hard_coded(factor):
    if factor == 2:
        return torch.tensor([0.25, 0.75, 0.75, 0.25])[:, None] * torch.tensor([0.25, 0.75, 0.75, 0.25])
    return torch.zeros(2 * factor - factor % 2, 2 * factor - factor % 2)


def crop_hard_coded(x, size):
    return x[..., 4:60, 4:60]


def size_hard_coded(input_size, depth=4):
    return 388


_LECTURE_WEIGHTS = weight_map_loops(fixed_case("unet_weight_map", "lecture example").args[0]).tolist()  # 144 numbers


def weight_map_hard_coded(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    """The lecture example's table, typed in; 1 everywhere for any other map."""
    if tuple(instances.shape) == (12, 12):
        return torch.tensor(_LECTURE_WEIGHTS)
    return torch.ones(instances.shape)


def weight_map_gap_only(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
    out = torch.ones(instances.shape)
    out[2:10, 5:7] = 1 + 10 * math.exp(-9 / 50)  # the gap of the lecture example
    return out


def dice_hard_coded(probs, target, eps=1.0):
    return torch.zeros((), dtype=probs.dtype)


def focal_hard_coded(logits, target, gamma=2.0, alpha=None):
    return torch.tensor((0.01 * -math.log(0.9) + 0.81 * -math.log(0.1)) / 2, dtype=logits.dtype)


HARD_CODED_STUDENTS = [  # (name, student, the first case it fails)
    ("bilinear_kernel", kernel_hard_coded, "factor 1: a 1x1 kernel that copies"),
    ("center_crop", crop_hard_coded, "a 6x6 map cropped to 2x2"),
    ("unet_output_size", size_hard_coded, "depth 0: only the bottleneck's two convolutions (10 -> 6)"),
    ("unet_weight_map", weight_map_hard_coded, "three cells in a row"),
    ("dice_loss", dice_hard_coded, "probabilities hedged between two classes"),
    ("focal_loss", focal_hard_coded, "gamma=0 is the cross-entropy"),
]


def test_weighting_only_the_gap_fails_the_lecture_example():
    """The lecture example checks every pixel: the corners weigh about 2.6, not 1."""
    message = failure_message(checks.unet_weight_map, weight_map_gap_only)
    assert message.startswith("unet_weight_map: wrong answer in case 'lecture example")
    assert "differ at 64 of 144 positions: [0, 0]: expected 2.635, got 1;" in message  # 80 background pixels, 16 in the gap


def test_ignoring_w0_and_sigma_is_caught(one_thread):
    def defaults_only(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0)):
        return weight_map_cdist(instances, 10.0, 5.0, class_weights)

    message = failure_message(checks.unet_weight_map, defaults_only)
    assert re.match(r"unet_weight_map: wrong answer in case '(touching cells|random \d+)", message), message
    with pytest.raises(checks.CheckFailed):
        checks.unet_weight_map(defaults_only, seed=HIDDEN_SEEDS["unet_weight_map"], n_random=20)


# --- the hidden tests: fresh checkers, whatever earlier cells did -------------------------------------

# (exercise, student, what the hidden test says: "passed", or how its message starts and pieces of it);
# a student is a function of this module, or a dotted name bound before the hidden test reloads the
# checkers (tests/test_hidden_tests.py runs them in a process of their own)
HIDDEN = [
    ("center_crop", "crop_slices", "passed"),
    ("center_crop", "crop_top_left", "center_crop: wrong answer in case 'lecture example", "the crop was cut from the top-left corner"),
    ("center_crop", "seglab.ops.center_crop", "center_crop calls seglab.ops.center_crop, one of seglab's reference implementations"),
    ("bilinear_kernel", "kernel_interpolate", "bilinear_kernel calls torch.nn.functional.interpolate"),
    ("unet_output_size", "size_loop", "passed"),
    ("dice_loss", "dice_per_class", "passed"),
    ("focal_loss", "seglab.losses.focal_loss", "focal_loss calls seglab.losses.focal_loss"),
    ("focal_loss", "focal_alpha_of_the_prediction", "focal_loss: wrong answer in case 'alpha: one weight per class", "alpha[target]"),
    ("unet_weight_map", "weight_map_two_nearest_pixels", "unet_weight_map: wrong answer in case 'lecture example", "second-nearest CELL"),
    ("dice_loss", "dice_one_hot_reshaped", "dice_loss: wrong answer in case 'lecture example", ".permute(0, 3, 1, 2)"),
    ("center_crop", "crop_torchvision", "center_crop calls torchvision.transforms.functional.center_crop"),
]
