"""Checkers for the assignment of lectures 5, 6 and 9: encoder-decoders, their sizes and their losses.

Each checker takes the student's function, runs it on named cases and prints one line when all
pass; see :mod:`seglab.checks._core` for what happens on a wrong answer. Signatures of the
functions checked:

* ``bilinear_kernel(factor)`` -> Tensor[k, k] with ``k = 2 * factor - factor % 2``: the FCN's
  bilinear initialisation of a transposed convolution
* ``center_crop(x, size)``: x (Tensor[..., H, W]), size int or (h, w) -> Tensor[..., h, w], the
  window starting at ``((H - h) // 2, (W - w) // 2)``
* ``unet_output_size(input_size, depth=4)`` -> int: the output side of a U-Net with valid 3x3
  convolutions (572 -> 388)
* ``unet_weight_map(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0))``: instances
  (int64 Tensor[H, W], 0 = background) -> float Tensor[H, W], the U-Net loss weights
* ``dice_loss(probs, target, eps=1.0)``: probs (Tensor[N, C, H, W]), target (int64
  Tensor[N, H, W]) -> 0-dim tensor, ``1 - mean_c (2 sum p g + eps) / (sum p^2 + sum g^2 + eps)``
* ``focal_loss(logits, target, gamma=2.0, alpha=None)``: logits (Tensor[N, C, H, W]), target
  (int64 Tensor[N, H, W]) -> 0-dim tensor, the mean of ``-alpha_t (1 - p_t)^gamma log p_t``
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from seglab import losses, ops
from seglab.checks._assignment import Assignment, Graded
from seglab.checks._cases import fixed_generator, grid, labels, pair, random_int, random_tensor
from seglab.checks._concepts import Question
from seglab.checks._core import Case, Exercise, Mistake, whole_number


# --- Exercise 5.1: the bilinear kernel -------------------------------------------------------------------


def _kernel_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("lecture example: factor 2 (a 4x4 kernel, the tent 1/4, 3/4, 3/4, 1/4 on each axis)", (2,)),
        Case("factor 1: a 1x1 kernel that copies", (1,)),
        Case("factor 3, odd: a 5x5 kernel with a centre tap of weight 1", (3,)),
        Case("factor 4: an 8x8 kernel", (4,)),
        Case("factor 8: FCN-8s's last upsampling (16x16)", (8,)),
    ]
    for i in range(n_random):
        cases.append(Case(f"random {i + 1}", (random_int(generator, 1, 12),)))
    return cases


def _impulse_response(factor: int) -> torch.Tensor:
    """PyTorch's bilinear upsampling of one lit pixel: the weights it spreads, i.e. the kernel."""
    x = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    x[0, 0, 1, 1] = 1.0
    up = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)[0, 0]  # [3f, 3f]
    k, start = 2 * factor - factor % 2, factor - factor // 2
    return up[start : start + k, start : start + k]


def _kernel_with(factor, *, size=None, centre=None, divide_by=None, combine="product", normalise=False):
    f = factor
    k = size(f) if size else 2 * f - f % 2
    c = centre(k) if centre else (k - 1) / 2
    taps = 1 - (torch.arange(k, dtype=torch.float64) - c).abs() / (divide_by(f, k) if divide_by else f)
    kernel = taps[:, None] * taps[None, :] if combine == "product" else (taps[:, None] + taps[None, :]) / 2
    return kernel / kernel.sum() if normalise else kernel


_BILINEAR_KERNEL = Exercise(
    name="bilinear_kernel",
    signature="bilinear_kernel(factor)",
    summary="the ``k x k`` bilinear upsampling kernel of a factor f, ``k = 2f - f % 2``.",
    reference=ops.bilinear_kernel,
    cases=_kernel_cases,
    torch_op=_impulse_response,
    forbidden=[
        (F, "interpolate", "torch.nn.functional.interpolate"),
        (F, "upsample", "torch.nn.functional.upsample"),
        (F, "upsample_bilinear", "torch.nn.functional.upsample_bilinear"),
    ],
    mistakes=[
        Mistake(
            "the centre is off by half a pixel: the kernel is not symmetric. With k taps the centre "
            "is c = (k - 1) / 2 (1.5 for k = 4: between taps 1 and 2), not k / 2 or k // 2.",
            lambda factor: _kernel_with(factor, centre=lambda k: k / 2),
        ),
        Mistake(
            "the weights fall off over the kernel size k; they fall off over the factor f: "
            "w = 1 - |i - c| / f, so that the nearest input pixel's weight and the next one's add up to 1.",
            lambda factor: _kernel_with(factor, divide_by=lambda f, k: k),
        ),
        Mistake(
            "the kernel was normalised to sum to 1. Each output pixel receives stamps from several "
            "input pixels, and it is those weights that add up to 1; the kernel itself sums to f * f.",
            lambda factor: _kernel_with(factor, normalise=True),
        ),
        Mistake(
            "the two tents were added (averaged); a 2D bilinear weight is the product of the row "
            "weight and the column weight: w[i, j] = t[i] * t[j], e.g. torch.outer(t, t).",
            lambda factor: _kernel_with(factor, combine="mean"),
        ),
        Mistake(
            "for an odd factor the kernel has 2f - 1 taps, not 2f: k = 2 * factor - factor % 2, so "
            "that a tap sits exactly on the centre c = (k - 1) / 2 with weight 1.",
            lambda factor: _kernel_with(factor, size=lambda f: 2 * f),
        ),
    ],
    shape_hint=lambda factor: (
        f"the kernel is square, k x k with k = 2 * factor - factor % 2 = {2 * factor - factor % 2}. A 1D "
        f"tent t (length k) becomes the 2D kernel as the outer product torch.outer(t, t)."
    ),
    dtype_from=None,
    delegation_hint="build the 1D tent 1 - |i - c| / f with torch.arange, then its outer product.",
)


# --- Exercise 6.1: the centre crop of a skip connection ---------------------------------------------------


def _crop_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("lecture example: U-Net's first skip, 64x64 encoder features cropped to 56x56", (grid(1, 2, 64, 64), (56, 56))),
        Case("a 6x6 map cropped to 2x2 (size given as one int)", (grid(6, 6), 2)),
        Case("an odd margin: 7x7 to 2x2 (5 rows cut: 2 above, 3 below)", (grid(7, 7), 2)),
        Case("odd differences: 5x7 to 2x4 (the extra row and column are cut at the bottom and right)", (grid(5, 7), (2, 4))),
        Case("the same size: nothing is cut", (grid(3, 4), (3, 4))),
        Case("a batch [2, 3, 8, 10] cropped to 4x6: every image and channel alike", (grid(2, 3, 8, 10), (4, 6))),
        Case("a tall crop (h != w): 7x5 from 9x9", (grid(9, 9), (7, 5))),
        Case("a single pixel from the middle of 6x8", (grid(6, 8), (1, 1))),
    ]
    for i in range(n_random):
        height, width = random_int(generator, 1, 12), random_int(generator, 1, 12)
        h, w = random_int(generator, 1, height), random_int(generator, 1, width)
        lead = [random_int(generator, 1, 2) for _ in range(random_int(generator, 0, 2))]
        x = random_tensor(generator, *lead, height, width)
        size = h if (h == w and i % 2) else (h, w)
        cases.append(Case(f"random {i + 1}: {'x'.join(map(str, lead + [height, width]))} cropped to {h}x{w}", (x, size)))
    return cases


def _crop_at(x, size, top_of):
    h, w = pair(size)
    height, width = x.shape[-2:]
    top, left = top_of(height, h), top_of(width, w)
    return x[..., top : top + h, left : left + w]


_CENTER_CROP = Exercise(
    name="center_crop",
    signature="center_crop(x, size)",
    summary="the central ``h x w`` window of x, starting at ``(H - h) // 2``.",
    reference=ops.center_crop,
    cases=_crop_cases,
    torch_op=lambda x, size: _crop_at(x, size, lambda n, m: (n - m) // 2),
    forbidden=[
        ("torchvision.transforms.functional", "center_crop", "torchvision.transforms.functional.center_crop"),
    ],
    mistakes=[
        Mistake(
            "the crop was cut from the top-left corner; U-Net keeps the centre: start at "
            "top = (H - h) // 2 and left = (W - w) // 2.",
            lambda x, size: _crop_at(x, size, lambda n, m: 0),
        ),
        Mistake(
            "Python's round(...) rounds halves to the nearest even number (round(1.5) = 2, round(2.5) = 2; "
            "torchvision's center_crop does this): an odd margin is then cut unevenly. Use top = (H - h) // 2.",
            lambda x, size: _crop_at(x, size, lambda n, m: int(round((n - m) / 2))),
        ),
        Mistake(
            "the window is one row or column too far down or right: when H - h is odd the extra row "
            "is cut at the bottom, so top = (H - h) // 2, rounding the margin down (H // 2 - h // 2 "
            "and (H - h + 1) // 2 round it up).",
            lambda x, size: _crop_at(x, size, lambda n, m: (n - m + 1) // 2),
        ),
        Mistake(
            "the window starts one pixel too far down and right: top = (H - h) // 2 counts the rows "
            "cut above the window, and Python's slices start at 0, so x[..., top : top + h, ...] needs no + 1.",
            lambda x, size: _crop_at(x, size, lambda n, m: (n - m) // 2 + 1),
        ),
    ],
    shape_hint=lambda x, size: (
        f"the crop has size {pair(size)} = (h, w): h rows (dimension -2) and w columns (dimension -1); "
        f"a single int means a square. Slice x[..., top : top + h, left : left + w], which keeps the "
        f"leading dimensions."
    ),
    dtype_from="x",
    delegation_hint="compute top and left, then slice x[..., top : top + h, left : left + w].",
)


# --- Exercise 6.2: U-Net's output size with valid convolutions -------------------------------------------


def _size_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    cases = [
        Case("lecture example: the original U-Net, 572 -> 388", (572,)),
        Case("depth 4 given explicitly", (572,), {"depth": 4}),
        Case("depth 0: only the bottleneck's two convolutions (10 -> 6)", (10,), {"depth": 0}),
        Case("depth 1, the smallest input that keeps a pixel everywhere (18 -> 2)", (18,), {"depth": 1}),
        Case("an odd map before a pool: 2x2 max pooling rounds down (573 at depth 4)", (573,)),
        Case("depth 2, 128 -> 88", (128,), {"depth": 2}),
        Case("depth 5", (700,), {"depth": 5}),
    ]
    smallest = {depth: next(n for n in range(1, 1000) if ops._unet_sizes(n, depth)[1] is None) for depth in range(6)}
    for i in range(n_random):
        depth = random_int(generator, 0, 5)
        n = random_int(generator, smallest[depth], smallest[depth] + 300)
        cases.append(Case(f"random {i + 1}: depth {depth}", (n,), {"depth": depth}))
    return cases


def _measured_output_size(input_size, depth=4) -> int:
    """PyTorch's answer: the height of a real stack of valid convolutions, pools and up-convolutions
    (run on an ``input_size x 1`` column, with 3x1 and 2x1 kernels: only the rows matter)."""
    conv = torch.ones(1, 1, 3, 1, dtype=torch.float64)  # a valid 3x3 convolution, along the rows
    up = torch.ones(1, 1, 2, 1, dtype=torch.float64)  # a 2x2 up-convolution at stride 2, along the rows
    x = torch.zeros(1, 1, input_size, 1, dtype=torch.float64)
    for _ in range(depth):
        x = F.max_pool2d(F.conv2d(F.conv2d(x, conv), conv), (2, 1))
    x = F.conv2d(F.conv2d(x, conv), conv)
    for _ in range(depth):
        x = F.conv2d(F.conv2d(F.conv_transpose2d(x, up, stride=(2, 1)), conv), conv)
    return x.shape[-2]


def _size_with(input_size, depth=4, *, convs=2, bottleneck=True, decoder_convs=True, ceil=False, true_division=False,
               pool_first=False, convs_before_up=False):
    size = input_size
    for _ in range(depth):
        if not pool_first:
            size -= 2 * convs
        size = size / 2 if true_division else -(-size // 2) if ceil else size // 2
        if pool_first:
            size -= 2 * convs
    if bottleneck:
        size -= 2 * convs
    for _ in range(depth):
        if convs_before_up:
            size = 2 * (size - 2 * convs)
        else:
            size = 2 * size - (2 * convs if decoder_convs else 0)
    return size


_UNET_OUTPUT_SIZE = Exercise(
    name="unet_output_size",
    signature="unet_output_size(input_size, depth=4)",
    summary="the output side of a U-Net with unpadded convolutions, an int (572 -> 388).",
    reference=ops.unet_output_size,
    cases=_size_cases,
    torch_op=_measured_output_size,
    mistakes=[
        Mistake(
            "each block removed 2 pixels; it removes 4: it has TWO valid 3x3 convolutions, and each "
            "removes 2 pixels (one on each side).",
            lambda input_size, depth=4: _size_with(input_size, depth, convs=1),
        ),
        Mistake(
            "the side was halved with / (true division), which keeps the half pixel of an odd map; "
            "nn.MaxPool2d(2) drops it: halve with // (floor division).",
            lambda input_size, depth=4: _size_with(input_size, depth, true_division=True),
        ),
        Mistake(
            "the bottleneck was left out: after the last pool come two more valid 3x3 convolutions "
            "(32 -> 28 in the original) before the first up-convolution.",
            lambda input_size, depth=4: _size_with(input_size, depth, bottleneck=False),
        ),
        Mistake(
            "the expanding path only doubled the size; after every 2x2 up-convolution come two valid "
            "3x3 convolutions (56 -> 52 in the original).",
            lambda input_size, depth=4: _size_with(input_size, depth, decoder_convs=False),
        ),
        Mistake(
            "the pooling rounded up; nn.MaxPool2d(2) rounds down (an odd last row is dropped): size // 2.",
            lambda input_size, depth=4: _size_with(input_size, depth, ceil=True),
        ),
        Mistake(
            "the expanding path ran in the wrong order: the two valid convolutions came before the "
            "up-convolution, 2 (n - 4). Each level first doubles (the 2x2 up-convolution), then "
            "loses 4 pixels to its two convolutions: n -> 2n - 4 (28 -> 56 -> 52 in the original).",
            lambda input_size, depth=4: _size_with(input_size, depth, convs_before_up=True),
        ),
        Mistake(
            "the contracting path ran in the wrong order: the pool came before the two convolutions, "
            "n // 2 - 4. Each level first loses 4 pixels to its two valid convolutions, then pools: "
            "n -> (n - 4) // 2 (572 -> 568 -> 284 in the original).",
            lambda input_size, depth=4: _size_with(input_size, depth, pool_first=True),
        ),
        Mistake(
            "the depth argument was ignored: the answer is that of the original U-Net's 4 levels. "
            "Loop `for _ in range(depth)` down the contracting path and again up the expanding path.",
            lambda input_size, depth=4: _size_with(input_size, 4),
        ),
        Mistake(
            "this is the input size: with padding='same' the size would be kept, but this U-Net's "
            "convolutions are valid (unpadded), so every one of them shrinks the map.",
            lambda input_size, depth=4: input_size,
        ),
    ],
    dtype_from=None,
    adapt=lambda value, case: whole_number(
        value,
        what="the output side",
        variable="n",
        list_hint="return the output side alone, one int (not a list of the sizes along the way).",
        fraction_hint="sizes are whole numbers of pixels: halve with // (floor division), not /.",
    ),
    delegation_hint="walk down the contracting path, through the bottleneck and up the expanding path, "
    "keeping the side in one variable.",
)


# --- Exercise 6.3: the U-Net weight map ----------------------------------------------------------------


def _instances(height: int, width: int, *boxes) -> torch.Tensor:
    """An instance map with instance ``k + 1`` filling ``boxes[k] = (top, left, bottom, right)`` (inclusive)."""
    instances = torch.zeros(height, width, dtype=torch.int64)
    for k, (top, left, bottom, right) in enumerate(boxes):
        instances[top : bottom + 1, left : right + 1] = k + 1
    return instances


def _weight_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    two_cells = _instances(12, 12, (2, 1, 9, 4), (2, 7, 9, 10))  # two 8x4 cells, a 2-pixel gap between them
    cases = [
        Case("lecture example: two cells 2 pixels apart (12x12): the gap weighs most", (two_cells,)),
        Case("one cell: no second-nearest cell, so no border term (w = w_c everywhere)", (_instances(8, 8, (2, 2, 5, 5)),)),
        Case("no cells at all", (torch.zeros(5, 6, dtype=torch.int64),)),
        Case("three cells in a row (10x14)", (_instances(10, 14, (1, 0, 8, 3), (1, 5, 8, 8), (1, 10, 8, 13)),)),
        Case("touching cells (no gap) and w0=5, sigma=2 (9x11)", (_instances(9, 11, (0, 0, 8, 3), (0, 4, 8, 8)),), {"w0": 5.0, "sigma": 2.0}),
        Case(
            "class_weights=(0.5, 3.0): w_c is 0.5 on background, 3 on cells",
            (two_cells,),
            {"class_weights": (0.5, 3.0)},
        ),
        Case("instance ids need not be 1, 2, ...: cells 3 and 7", (torch.tensor([0, 3, 7])[two_cells],)),
    ]
    for i in range(n_random):
        height, width = random_int(generator, 6, 14), random_int(generator, 6, 14)
        boxes = []
        for _ in range(random_int(generator, 2, 4)):
            top, left = random_int(generator, 0, height - 2), random_int(generator, 0, width - 2)
            boxes.append((top, left, random_int(generator, top, min(height - 1, top + 5)), random_int(generator, left, min(width - 1, left + 5))))
        kwargs = {}
        if i % 2:
            kwargs = {"w0": float(random_int(generator, 1, 10)), "sigma": float(random_int(generator, 1, 6))}
        instances = _instances(height, width, *boxes)
        count = len(instances.unique()) - 1
        cases.append(Case(f"random {i + 1}: {count} cell(s) in {height}x{width}", (instances,), kwargs))
    return cases


def _distances(instances: torch.Tensor, metric: str = "euclidean") -> torch.Tensor:
    """``[K, H, W]``: the distance from every pixel to the nearest pixel of each instance, sorted over K."""
    height, width = instances.shape
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    points = torch.stack([rows.flatten(), cols.flatten()], dim=1).double()  # [P, 2] pixel centres
    ids = [k for k in instances.unique().tolist() if k != 0]
    if not ids:
        return torch.zeros(0, height, width, dtype=torch.float64)
    p = 2.0 if metric == "euclidean" else 1.0
    per_instance = [
        torch.cdist(points, points[instances.flatten() == k], p=p).min(dim=1).values.reshape(height, width)
        for k in ids
    ]
    return torch.stack(per_instance).sort(dim=0).values  # [K, H, W]: nearest first


def _two_nearest_pixels(instances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[H, W]`` twice: the distances to the nearest and the second-nearest cell PIXEL, of any cell."""
    height, width = instances.shape
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    points = torch.stack([rows.flatten(), cols.flatten()], dim=1).double()
    nearest = torch.cdist(points, points[instances.flatten() != 0]).sort(dim=1).values  # [P, cell pixels]
    return nearest[:, 0].reshape(height, width), nearest[:, 1].reshape(height, width)


def _weight_map_with(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0), *, term="two", where="background",
                     metric="euclidean", offset=0.0, pixels=False):
    instances = torch.as_tensor(instances)
    cells = instances != 0
    weights = torch.where(cells, float(class_weights[1]), float(class_weights[0])).double()
    d = _distances(instances, metric)
    if d.shape[0] < 2:
        return weights
    d1, d2 = _two_nearest_pixels(instances) if pixels else (d[0], d[1])
    d1, d2 = d1 + offset, d2 + offset
    if term == "two":
        border = w0 * torch.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
    elif term == "one":
        border = w0 * torch.exp(-(d1**2) / (2 * sigma**2))
    elif term == "one twice":
        border = w0 * torch.exp(-((2 * d1) ** 2) / (2 * sigma**2))
    elif term == "squares":
        border = w0 * torch.exp(-(d1**2 + d2**2) / (2 * sigma**2))
    elif term == "no 2":
        border = w0 * torch.exp(-((d1 + d2) ** 2) / sigma**2)
    elif term == "sigma":
        border = w0 * torch.exp(-((d1 + d2) ** 2) / (2 * sigma))
    else:
        raise ValueError(term)
    if where == "background":
        border = torch.where(cells, 0.0, border)
    return weights + border


_UNET_WEIGHT_MAP = Exercise(
    name="unet_weight_map",
    signature="unet_weight_map(instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0))",
    summary="the U-Net weight map of an instance map [H, W]: class weights plus ``w0 exp(-(d1 + d2)^2 / (2 sigma^2))``.",
    reference=losses.unet_weight_map,
    cases=_weight_cases,
    torch_op=_weight_map_with,  # computed independently: torch.cdist, then the two smallest
    mistakes=[
        Mistake(
            "the border term used only the distance d1 to the nearest cell. It is large only where TWO "
            "cells are close: exp(-(d1 + d2)^2 / (2 sigma^2)) with d2 the distance to the second-nearest cell.",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights, term="one"),
        ),
        Mistake(
            "the border term used the nearest cell's distance twice (2 d1): d2 is the distance to the "
            "second-nearest cell, a different cell from the nearest one.",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights, term="one twice"),
        ),
        Mistake(
            "the distances were squared separately (d1^2 + d2^2); the formula squares their sum: (d1 + d2)^2.",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights, term="squares"),
        ),
        Mistake(
            "the factor 2 is missing from the denominator: exp(-(d1 + d2)^2 / (2 sigma^2)).",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights, term="no 2"),
        ),
        Mistake(
            "sigma is not squared: exp(-(d1 + d2)^2 / (2 sigma^2)).",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights, term="sigma"),
        ),
        Mistake(
            "the border term was added on the cells' own pixels too; it belongs to the background pixels "
            "between cells (a cell pixel keeps w = w_c).",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights, where="all"),
        ),
        Mistake(
            "the distances are city-block (|dr| + |dc|); the weight map uses the Euclidean distance "
            "between pixel centres, sqrt(dr^2 + dc^2).",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights, metric="manhattan"),
        ),
        Mistake(
            "d2 is the distance to the second-nearest CELL, not to the second-nearest cell pixel: the two "
            "nearest pixels usually belong to the same cell. Take each cell's smallest distance first "
            "(one number per cell), then the two smallest of those: d1 and d2 come from two different cells.",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights, pixels=True),
        ),
        Mistake(
            "the distances are one pixel too short: they are measured between pixel centres, so a "
            "background pixel right next to a cell is at distance 1, not 0 (do not subtract 1, nor count "
            "only the background pixels in between).",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights, offset=-1.0),
        ),
        Mistake(
            "the distances are one pixel too long: they are measured between pixel centres, so a "
            "background pixel right next to a cell is at distance 1, not 2 (do not add 1, nor count the "
            "cell's pixel and the pixel itself).",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights, offset=1.0),
        ),
        Mistake(
            "the class weights are swapped: class_weights[0] is w_c on background pixels, class_weights[1] on cell pixels.",
            lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): _weight_map_with(instances, w0, sigma, class_weights[::-1]),
        ),
    ],
    shape_hint=lambda instances, w0=10.0, sigma=5.0, class_weights=(1.0, 1.0): (
        "one weight per pixel: the shape of instances, [H, W]."
    ),
    dtype_from=None,
    delegation_hint="compute each cell's distance map (torch.cdist between pixel coordinates, or loops), "
    "sort them, and combine the nearest two.",
)


# --- Exercise 9.1: the Dice loss --------------------------------------------------------------------------


def _softmax_probs(generator: torch.Generator, *shape: int, dtype=torch.float32) -> torch.Tensor:
    return (random_tensor(generator, *shape, dtype=torch.float64) * 2).softmax(dim=1).to(dtype)


def _dice_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    fixed = fixed_generator(20250)
    target = labels([[[0, 1], [1, 1]]])  # [N=1, H=2, W=2]
    perfect = F.one_hot(target, 2).permute(0, 3, 1, 2).float()  # [1, 2, 2, 2]
    hedged = torch.tensor([[[[0.8, 0.3], [0.4, 0.1]], [[0.2, 0.7], [0.6, 0.9]]]])  # [1, 2, 2, 2], sums to 1
    rare_target = torch.zeros(1, 4, 4, dtype=torch.int64)
    rare_target[0, 1, 2] = 1  # one foreground pixel of 16
    rare_probs = torch.stack([torch.full((4, 4), 0.9), torch.full((4, 4), 0.1)])[None]  # "background" everywhere
    absent_target = labels([[[0, 0, 1], [1, 0, 1]]])  # class 2 absent
    absent_probs = _softmax_probs(fixed, 1, 3, 2, 3)
    absent_probs = torch.cat([absent_probs[:, :2], absent_probs[:, 2:] * 0.01], dim=1)
    absent_probs = absent_probs / absent_probs.sum(dim=1, keepdim=True)
    batch_target = labels([[[0, 1, 1], [0, 0, 0]], [[1, 1, 1], [1, 1, 0]]])
    cases = [
        Case("lecture example: a perfect prediction has loss 0", (perfect, target)),
        Case("probabilities hedged between two classes (1x2x2x2)", (hedged, target), {"eps": 0.0}),
        Case("a rare class: 1 foreground pixel of 16, predicted 'background' everywhere", (rare_probs, rare_target)),
        Case("a class absent from the target and (almost) not predicted: eps makes its Dice ~1", (absent_probs, absent_target)),
        Case("a batch of two images: the sums run over both images", (_softmax_probs(fixed, 2, 2, 2, 3), batch_target), {"eps": 1e-6}),
        Case("float64 probabilities keep their dtype", (_softmax_probs(fixed, 1, 3, 3, 2, dtype=torch.float64), labels([[[0, 1], [2, 2], [1, 0]]]))),
    ]
    for i in range(n_random):
        n, classes, height, width = random_int(generator, 1, 2), random_int(generator, 2, 4), random_int(generator, 1, 4), random_int(generator, 1, 5)
        probs = _softmax_probs(generator, n, classes, height, width)
        truth = torch.randint(0, classes, (n, height, width), generator=generator)
        eps = (1.0, 0.5, 1e-6)[i % 3]
        cases.append(Case(f"random {i + 1}: {n} image(s) of {height}x{width}, {classes} classes, eps={eps}", (probs, truth), {"eps": eps}))
    return cases


def _dice_with(probs, target, eps=1.0, *, squares=True, per_image=False, micro=False, eps_where="both", hard=False, loss=True,
               skip_background=False, reshaped=False, softmax=False, summed=False):
    classes = probs.shape[1]  # computed in the dtype of probs, as a student's code would
    if hard:
        probs = F.one_hot(probs.argmax(dim=1), classes).movedim(-1, 1).to(probs.dtype)
    if softmax:
        probs = probs.softmax(dim=1)
    if reshaped:  # [N, H, W, C] read as [N, C, H, W] without moving the classes
        onehot = F.one_hot(target, classes).reshape(probs.shape).to(probs.dtype)
    else:
        onehot = F.one_hot(target, classes).movedim(-1, 1).to(probs.dtype)  # [N, C, H, W]
    dims = tuple(range(2, probs.dim())) if per_image else (0,) + tuple(range(2, probs.dim()))
    if micro:
        dims = tuple(range(probs.dim()))
    intersection = (probs * onehot).sum(dims)
    if squares:
        denominator = (probs**2).sum(dims) + (onehot**2).sum(dims)
    else:
        denominator = probs.sum(dims) + onehot.sum(dims)
    top = 2 * intersection + (eps if eps_where in ("both", "top") else 0.0)
    bottom = denominator + (eps if eps_where in ("both", "bottom") else 0.0)
    dice = top / bottom
    if skip_background:
        dice = dice[..., 1:]
    if summed:
        value = 1 - dice.sum()
    else:
        value = 1 - dice.mean() if loss else dice.mean()
    return value.to(probs.dtype)


def _dice_independent(probs, target, eps=1.0):
    """A second computation, one class at a time."""
    total = 0.0
    for c in range(probs.shape[1]):
        p, g = probs[:, c].double(), (target == c).double()
        total = total + (2 * (p * g).sum() + eps) / ((p * p).sum() + (g * g).sum() + eps)
    return 1 - total / probs.shape[1]


_DICE_LOSS = Exercise(
    name="dice_loss",
    signature="dice_loss(probs, target, eps=1.0)",
    summary="``1 - mean_c (2 sum p g + eps) / (sum p^2 + sum g^2 + eps)``, a 0-dim tensor.",
    reference=losses.dice_loss,
    cases=_dice_cases,
    torch_op=_dice_independent,
    mistakes=[
        Mistake(
            "the denominator is sum p + sum g; the lecture's form squares them: sum p^2 + sum g^2. "
            "(For a one-hot g, g^2 = g, but p^2 != p for probabilities between 0 and 1.)",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, squares=False),
        ),
        Mistake(
            "this is the Dice coefficient; the loss is 1 - Dice (0 for a perfect prediction).",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, loss=False),
        ),
        Mistake(
            "the Dice was computed per image and averaged; the sums run over all pixels of all images "
            "at once (dimensions 0, 2 and 3 of [N, C, H, W]), one Dice per class.",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, per_image=True),
        ),
        Mistake(
            "the sums also ran over the classes (one Dice for everything), so the frequent classes drown "
            "the rare ones: compute one Dice per class (sum over dimensions 0, 2, 3), then average them.",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, micro=True),
        ),
        Mistake(
            "eps is missing: it is added to both the numerator and the denominator, "
            "(2 sum p g + eps) / (sum p^2 + sum g^2 + eps), so a class absent from both has Dice 1.",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, eps_where="none"),
        ),
        Mistake(
            "eps was added only to the denominator; it goes into both: (2 sum p g + eps) / (sum p^2 + sum g^2 + eps).",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, eps_where="bottom"),
        ),
        Mistake(
            "eps was added only to the numerator; it goes into both: (2 sum p g + eps) / (sum p^2 + sum g^2 + eps) "
            "(with eps above only, a perfect prediction scores above 1 and the loss turns negative).",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, eps_where="top"),
        ),
        Mistake(
            "the one-hot target is in the wrong order: F.one_hot(target, C) is [N, H, W, C], classes LAST, "
            "and a reshape (or view) to [N, C, H, W] only relabels the numbers, it does not move them. "
            "Move the classes with .permute(0, 3, 1, 2) (or .movedim(-1, 1)).",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, reshaped=True),
        ),
        Mistake(
            "softmax was applied to probs, which already are probabilities (they sum to 1 over dimension "
            "1); a second softmax pulls them towards 1 / C. Use probs as they are.",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, softmax=True),
        ),
        Mistake(
            "the Dice of the classes were added up; the loss averages them: L = 1 - (1 / C) sum_c Dice_c, "
            "so that it lies in [0, 1].",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, summed=True),
        ),
        Mistake(
            "the probabilities were turned into hard labels (argmax): the loss must use the "
            "probabilities themselves, which is what makes it differentiable.",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, hard=True),
        ),
        Mistake(
            "the background (class 0) was left out of the mean; average the Dice of all C classes.",
            lambda probs, target, eps=1.0: _dice_with(probs, target, eps, skip_background=True),
        ),
    ],
    shape_hint=lambda probs, target, eps=1.0: "the loss is one number: a 0-dim tensor, shape ().",
    dtype_from="probs",
    delegation_hint="one-hot the target (F.one_hot(target, C).permute(0, 3, 1, 2)), then sums are welcome.",
)


# --- Exercise 9.2: the focal loss -------------------------------------------------------------------------


def _focal_cases(generator: torch.Generator, n_random: int) -> list[Case]:
    fixed = fixed_generator(20250)
    log9 = math.log(9.0)
    two_pixels = torch.tensor([[[[log9, -log9]], [[0.0, 0.0]]]])  # [N=1, C=2, H=1, W=2]: p_t = 0.9 and 0.1 for class 0
    batch_logits = random_tensor(fixed, 2, 3, 2, 3) * 2
    batch_target = labels([[[0, 1, 2], [2, 2, 0]], [[1, 0, 0], [2, 1, 1]]])
    confident = torch.tensor([[[[100.0, 100.0]], [[-100.0, -100.0]]]])  # class 0 certain at both pixels
    cases = [
        Case("lecture example: an easy pixel (p_t = 0.9) and a hard one (p_t = 0.1), gamma=2", (two_pixels, labels([[[0, 0]]]))),
        Case("gamma=0 is the cross-entropy", (two_pixels, labels([[[0, 1]]])), {"gamma": 0.0}),
        Case("a batch of two 2x3 images with 3 classes", (batch_logits, batch_target)),
        Case("alpha: one weight per class, alpha_t picked by the target", (batch_logits, batch_target), {"alpha": torch.tensor([0.25, 1.0, 2.0])}),
        Case("gamma=5", (batch_logits, batch_target), {"gamma": 5.0}),
        Case("large logits: one confident right pixel, one confidently wrong (that pixel costs 200, the mean 100)", (confident, labels([[[0, 1]]]))),
        Case("float64 logits keep their dtype", (random_tensor(fixed, 1, 4, 2, 2, dtype=torch.float64), labels([[[0, 3], [1, 2]]]))),
    ]
    for i in range(n_random):
        n, classes, height, width = random_int(generator, 1, 2), random_int(generator, 2, 4), random_int(generator, 1, 4), random_int(generator, 1, 4)
        logits = random_tensor(generator, n, classes, height, width) * 2
        truth = torch.randint(0, classes, (n, height, width), generator=generator)
        kwargs = {"gamma": (2.0, 0.5, 3.0, 1.0)[i % 4]}
        if i % 2:
            kwargs["alpha"] = (torch.rand(classes, generator=generator) + 0.25).mul(100).round().div(100)
        cases.append(Case(f"random {i + 1}: {n} image(s) of {height}x{width}, {classes} classes", (logits, truth), kwargs))
    return cases


def _focal_with(logits, target, gamma=2.0, alpha=None, *, factor="1-p", reduce="mean", dim=1, unstable=False, alpha_mode="plain",
                sigmoid=False):
    x = logits  # computed in the dtype of the logits, as a student's code would (float32 can underflow)
    if sigmoid:  # per-class binary focal loss (torchvision's sigmoid_focal_loss), no alpha
        onehot = F.one_hot(target, x.shape[1]).movedim(-1, 1).to(x.dtype)
        p = torch.sigmoid(x)
        ce = F.binary_cross_entropy_with_logits(x, onehot, reduction="none")
        p_t = p * onehot + (1 - p) * (1 - onehot)
        return (ce * (1 - p_t) ** gamma).mean().to(logits.dtype)
    log_p = x.softmax(dim=dim).log() if unstable else x.log_softmax(dim=dim)
    log_p_t = log_p.gather(1, target.unsqueeze(1)).squeeze(1)  # [N, H, W]
    p_t = log_p_t.exp()
    modulation = {"1-p": (1 - p_t) ** gamma, "p": p_t**gamma, "none": torch.ones_like(p_t), "times": (1 - p_t) * gamma}[factor]
    terms = -modulation * log_p_t
    picked_by = x.argmax(dim=1) if alpha_mode == "argmax" else target
    weights = torch.ones_like(terms) if alpha is None or alpha_mode == "ignored" else torch.as_tensor(alpha).to(x.dtype)[picked_by]
    terms = weights * terms
    if reduce == "sum":
        value = terms.sum()
    elif alpha_mode == "normalised":
        value = terms.sum() / weights.sum()
    else:
        value = terms.mean()
    return value.to(logits.dtype)


def _focal_independent(logits, target, gamma=2.0, alpha=None):
    """A second computation from PyTorch's per-pixel cross-entropy: p_t = exp(-ce)."""
    ce = F.cross_entropy(logits.double(), target, reduction="none")  # -log p_t, [N, H, W]
    weights = 1.0 if alpha is None else torch.as_tensor(alpha).double()[target]
    return (weights * (1 - torch.exp(-ce)) ** gamma * ce).mean()


_FOCAL_LOSS = Exercise(
    name="focal_loss",
    signature="focal_loss(logits, target, gamma=2.0, alpha=None)",
    summary="the mean of ``-alpha_t (1 - p_t)^gamma log p_t`` over the pixels, a 0-dim tensor.",
    reference=losses.focal_loss,
    cases=_focal_cases,
    torch_op=_focal_independent,
    mistakes=[
        Mistake(
            "this is the plain cross-entropy: the modulating factor (1 - p_t)^gamma, which shrinks the "
            "loss of the easy pixels, is missing.",
            lambda logits, target, gamma=2.0, alpha=None: _focal_with(logits, target, gamma, alpha, factor="none"),
        ),
        Mistake(
            "the factor is p_t^gamma; it is (1 - p_t)^gamma: an easy pixel (p_t near 1) must count LESS.",
            lambda logits, target, gamma=2.0, alpha=None: _focal_with(logits, target, gamma, alpha, factor="p"),
        ),
        Mistake(
            "(1 - p_t) was multiplied by gamma; it is raised to the power gamma: (1 - p_t) ** gamma "
            "(at gamma = 2 an easy pixel with p_t = 0.9 is scaled by 0.01, not by 0.2).",
            lambda logits, target, gamma=2.0, alpha=None: _focal_with(logits, target, gamma, alpha, factor="times"),
        ),
        Mistake(
            "alpha_t was picked by the predicted class (logits.argmax(dim=1)); it is the weight of the "
            "pixel's TRUE class: alpha[target].",
            lambda logits, target, gamma=2.0, alpha=None: _focal_with(logits, target, gamma, alpha, alpha_mode="argmax"),
        ),
        Mistake(
            "this is a sum over the pixels; the loss is their mean.",
            lambda logits, target, gamma=2.0, alpha=None: _focal_with(logits, target, gamma, alpha, reduce="sum"),
        ),
        Mistake(
            "the alpha-weighted terms were divided by the sum of the weights (as F.cross_entropy(weight=...) "
            "does); the focal loss takes the plain mean over the pixels of alpha_t (1 - p_t)^gamma (-log p_t).",
            lambda logits, target, gamma=2.0, alpha=None: _focal_with(logits, target, gamma, alpha, alpha_mode="normalised"),
        ),
        Mistake(
            "alpha was ignored: each pixel's term is multiplied by alpha[target] (alpha_t, the weight of its true class).",
            lambda logits, target, gamma=2.0, alpha=None: _focal_with(logits, target, gamma, alpha, alpha_mode="ignored"),
        ),
        Mistake(
            "this is the per-class sigmoid form (as torchvision.ops.sigmoid_focal_loss); here the classes "
            "compete: p_t is the softmax probability of the true class, over dimension 1.",
            lambda logits, target, gamma=2.0, alpha=None: _focal_with(logits, target, gamma, alpha, sigmoid=True),
        ),
        Mistake(
            "softmax(...).log() underflows for large logits (a probability of 1e-87 becomes 0 and its log "
            "-inf); F.log_softmax(logits, dim=1) gives log p_t safely, and p_t = log_p_t.exp().",
            lambda logits, target, gamma=2.0, alpha=None: _focal_with(logits, target, gamma, alpha, unstable=True),
        ),
        Mistake(
            "the softmax ran over the wrong dimension; the classes are dimension 1 of [N, C, H, W].",
            lambda logits, target, gamma=2.0, alpha=None: _focal_with(logits, target, gamma, alpha, dim=-1),
        ),
    ],
    shape_hint=lambda logits, target, gamma=2.0, alpha=None: "the loss is one number, the mean over all pixels: a 0-dim tensor, shape ().",
    dtype_from="logits",
    delegation_hint="F.log_softmax and gather (or indexing) are welcome.",
)


# --- concept checks --------------------------------------------------------------------------------

_CONCEPTS = (
    Question(
        "5.a",
        "FCN-8s with K = 4 classes segments one 64 x 64 image; its backbone's `pool3` holds 32 channels at stride 8. "
        "What is the shape of the output of `score_pool3`? (a tuple, the batch dimension first)",
        answer=(1, 4, 8, 8),
        kind="shape",
        mistakes={
            (1, 32, 8, 8): "that is pool3 itself. score_pool3 is a 1x1 convolution from pool3's features to the K "
            "class scores.",
            (1, 4, 4, 4): "4 x 4 is the grid of pool4, at stride 16; pool3 comes one pooling earlier.",
            (1, 4, 2, 2): "2 x 2 is the grid of pool5, at stride 32; pool3 comes two poolings earlier.",
            (1, 4, 64, 64): "the skip's scores are at the resolution of pool3; only the last step, upscore8, brings "
            "the sum to the size of the image.",
            (4, 8, 8): "the layers of the network work on batches: keep the batch dimension of the one image.",
        },
        explanation="A 1x1 convolution keeps the rows and columns of its input and changes only the channels; and a "
        "layer at stride s has one position per s x s pixels of the image (lecture 5, sections 1 and 3).",
    ),
    Question(
        "6.a",
        "In the paper's U-Net, the encoder's third level gives 136 x 136 feature maps and the decoder's "
        "up-convolution at that level gives 104 x 104. How many pixels does the crop cut off each side of the "
        "encoder's map? (a whole number)",
        answer=16,
        mistakes={
            32: "32 is what the crop removes in all, both sides together. The crop keeps the centre, so half of it "
            "goes on each side.",
            8: "the crop removes the difference of the sides, split evenly between the two sides; nothing is halved "
            "twice.",
        },
        explanation="The crop keeps the centre of the encoder's map, so that pixel (i, j) of both maps lies at the "
        "same place in the image: it removes the difference of the sides, shared evenly between the two sides "
        "(lecture 6, section 2).",
    ),
    Question(
        "6.b",
        "Two cells are separated by a gap of three columns of background. What weight does U-Net's weight map "
        "$w_c + w_0 \\exp(-(d_1 + d_2)^2 / 2\\sigma^2)$ give the pixel in the middle of the gap, with $w_c = 1$, "
        "$w_0 = 10$ and $\\sigma = 5$? (to two decimals)",
        answer=1 + 10 * math.exp(-16 / 50),
        tolerance=0.005,
        mistakes={
            1 + 10 * math.exp(-8 / 50): "the distances were squared one by one, d1^2 + d2^2; the formula squares "
            "their sum, (d1 + d2)^2.",
            1 + 10 * math.exp(-16 / 25): "the denominator is 2 sigma^2 = 50, not sigma^2.",
            10 * math.exp(-16 / 50): "the class weight w_c is added to the border term, on the gap's pixels too.",
            1 + 10 * math.exp(-9 / 50): "that is the weight in a gap of two columns, where a pixel is 1 and 2 "
            "pixels from the cells (the lecture's example). The middle of a three-column gap is 2 pixels from each.",
            1 + 10 * math.exp(-4 / 50): "that is the weight in a gap of one column (d1 = d2 = 1), or d1 + d2 left "
            "unsquared. The middle of a three-column gap is 2 pixels from each cell, and the sum is squared.",
            11: "the exponential is 1 only where d1 + d2 = 0, inside no gap at all.",
        },
        explanation="Measure d1 and d2 from the middle pixel to the nearest pixel of each cell, counted in whole "
        "pixels, and put them into the formula as written: the sum squared, over 2 sigma^2 (lecture 6, section 3).",
    ),
    Question(
        "9.a",
        "How does the Dice loss, $1 - \\frac{1}{C} \\sum_c \\mathrm{Dice}_c$, weigh the classes?",
        answer="b",
        kind="choice",
        options=(
            "each class in proportion to its number of pixels",
            "every class the same, 1/C, however few pixels it has",
            "each class by the inverse of its frequency, so that rare classes weigh more",
            "only the foreground classes; the background is left out",
        ),
        mistakes={
            "a": "that is the cross-entropy, an average over the pixels, in which each class counts in proportion to "
            "its number of pixels.",
            "c": "that is a cross-entropy with class weights (lecture 9). The Dice loss needs no weights: it scores "
            "each class as a region, by its overlap with the truth.",
            "d": "the mean runs over all C classes, the background included: every channel of the probabilities is "
            "scored.",
        },
        explanation="Look at where the pixels go in the formula: each Dice_c is a ratio of sums over the pixels of "
        "one class, and the loss averages these ratios (lecture 6, section 4; lecture 9, section 4).",
    ),
    Question(
        "9.b",
        "The focal loss multiplies the cross-entropy of a pixel by $(1 - p_t)^\\gamma$. With $\\gamma = 2$, by which "
        "factor is the cross-entropy of a pixel with $p_t = 0.8$ multiplied? (to three decimals)",
        answer=0.04,
        tolerance=0.0005,
        mistakes={
            0.2: "that is 1 - p_t without the power: gamma is an exponent.",
            0.64: "that is p_t^gamma. The factor uses 1 - p_t, which is small for an easy pixel, one already right.",
            0.4: "that is (1 - p_t) * gamma: gamma is an exponent, not a factor.",
            0.96: "that is how much of the cross-entropy is taken away, 1 - (1 - p_t)^gamma; the question asks for "
            "the factor that multiplies it.",
            25: "that is the inverse of the factor: for an easy pixel the focal loss shrinks the cross-entropy.",
        },
        explanation="The factor is close to 0 for a pixel that is already right (p_t near 1) and close to 1 for a "
        "wrong one: compute it as written, 1 - p_t raised to the power gamma (lecture 9, section 3).",
    ),
)


ASSIGNMENT = Assignment(
    name="unet",
    title="encoder-decoders, their skips and their losses",
    lectures=(5, 6, 9),
    exercises=(
        Graded("5.1", _BILINEAR_KERNEL, points=2),
        Graded("6.1", _CENTER_CROP, points=1),
        Graded("6.2", _UNET_OUTPUT_SIZE, points=1),
        Graded("6.3", _UNET_WEIGHT_MAP, points=2),
        Graded("9.1", _DICE_LOSS, points=2),
        Graded("9.2", _FOCAL_LOSS, points=2),
    ),
    namespace=globals(),
    concepts=_CONCEPTS,
)
__all__ = ASSIGNMENT.export()  # ASSIGNMENT and one checker per exercise: bilinear_kernel, center_crop, ...
