"""A synthetic "things and stuff" dataset, generated on the fly (deterministic, offline, CPU-fast),
and a reader for real photos (the Oxford-IIIT Pet dataset, from a folder on disk).

Every image is a small outdoor scene. Its *stuff* is amorphous and textured: sky on top (a smooth
gradient with soft clouds) above a wavy horizon, and below it grass (high-frequency green noise
with vertical blades) and/or road (grey speckle), split by boundaries that differ per image. Its
*things* are countable: 0 to ``max_things`` shapes (circle, square, triangle), each a flat colour
with slight shading and a darker rim, drawn in random order so that later shapes occlude earlier
ones. The colour of a thing is drawn from the same distribution for every shape class, so only the
shape tells the class. Triangles are rare (about 10% of the things), so pixel accuracy and IoU
disagree visibly; things cover a small minority of the pixels.

The targets agree exactly with each other and with the image:

* ``semantic[r, c]`` is the class of the surface seen at pixel ``(r, c)``: a stuff class, or the
  class of the thing on top there;
* ``masks[i]`` is the *visible* part of instance ``i`` (after occlusion); masks never overlap, and
  their union is exactly the set of thing pixels of ``semantic``;
* ``boxes[i]`` is the tight box of ``masks[i]``; ``labels[i]`` is its thing class (1-based).

An instance left with fewer than ``dataset.min_area`` visible pixels is not drawn at all.

=====================  ==========================================================================
ThingsAndStuff         the dataset: ``dataset[i] -> (image, target)`` in torchvision's format
semantic_batch         images and semantic masks of many indices, stacked: ``[B, 3, S, S], [B, S, S]``
detection_collate      the ``collate_fn`` for torchvision's detection models (lists, not stacks)
sample_patches         ``p x p`` patches and the class of their centre pixel (sliding-window lecture)
instance_map           one ``[H, W]`` map of a target's instances: 0 background, ``k`` instance ``k``
OxfordPets             real photos of cats and dogs with pet / background masks (optional, offline)
=====================  ==========================================================================

Example:
    >>> dataset = ThingsAndStuff(length=100, size=64)
    >>> image, target = dataset[0]
    >>> image.shape, image.dtype, target["semantic"].shape
    (torch.Size([3, 64, 64]), torch.float32, torch.Size([64, 64]))
    >>> dataset.classes
    ('sky', 'grass', 'road', 'circle', 'square', 'triangle')
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

from seglab._validate import describe, flag, integer, positive_int

__all__ = [
    "STUFF_CLASSES",
    "THING_CLASSES",
    "HARD_THING_CLASSES",
    "ThingsAndStuff",
    "HardThingsAndStuff",
    "semantic_batch",
    "detection_collate",
    "sample_patches",
    "instance_map",
    "OxfordPets",
    "IGNORE_INDEX",
]

STUFF_CLASSES = ("sky", "grass", "road")
THING_CLASSES = ("circle", "square", "triangle")

IGNORE_INDEX = -100  # the mask value of pixels to leave out: F.cross_entropy's default ignore_index

_SPLITS = ("train", "val", "test")
_MAX_LENGTH = 2**30  # (split, index) must fit into 32 bits: torch's CPU generator keeps 32 bits of a seed

HARD_THING_CLASSES = THING_CLASSES + ("cross", "diamond", "ring")


@dataclasses.dataclass(frozen=True)
class _Things:
    """How a dataset draws its things: which shapes, how often, how large, where.

    Attributes:
        shapes: the thing classes, in label order (``labels`` 1, 2, ...).
        probs: how often each is drawn (they sum to 1).
        extent: the range of a thing's extent (circle diameter, about the side of a square) in
            pixels at size 64, drawn uniformly.
        margin: thing centres lie in ``(margin * S, (1 - margin) * S)``; a negative margin lets
            things hang over the border.
    """

    shapes: tuple[str, ...]
    probs: tuple[float, ...]
    extent: tuple[float, float]
    margin: float


# ThingsAndStuff: triangles are the rare class.
_THINGS = _Things(THING_CLASSES, (0.45, 0.45, 0.10), (6.0, 20.0), 0.05)
# HardThingsAndStuff: six shapes over a wide range of sizes, partly outside the image; rings are rare.
_HARD_THINGS = _Things(HARD_THING_CLASSES, (0.2, 0.2, 0.18, 0.18, 0.18, 0.06), (4.0, 34.0), -0.05)
_MIN_AREA_64 = 8  # an instance with fewer visible pixels (at size 64, scaled with the area) is dropped


class ThingsAndStuff(torch.utils.data.Dataset):
    """Synthetic scenes of textured stuff (sky, grass, road) and shape things (circle, square, triangle).

    Images are generated on the fly from a ``torch.Generator`` seeded with ``(seed, split, index)``
    (never the global random state): the same index always gives the same image, and the splits
    ``"train"``, ``"val"`` and ``"test"`` never share one.

    Args:
        length (int): the number of images, ``len(dataset)``.
        size (int): the side ``S`` of the square images, at least 16. Things scale with it
            (extent about 6-20 px at ``size=64``).
        split (str): ``"train"``, ``"val"`` or ``"test"``.
        seed (int): the dataset's seed; another seed gives other images.
        max_things (int): each image holds ``0 .. max_things`` things (uniformly), before the
            instances hidden behind later ones are dropped.
        merge_things (bool): label every thing pixel ``"thing"`` in ``"semantic"`` (four classes)
            instead of its shape class (six classes). Images, masks, boxes and labels are the same.

    Attributes:
        classes (tuple[str]): the semantic class names; ``"semantic"`` holds indices into it:
            ``("sky", "grass", "road", "circle", "square", "triangle")``, or
            ``("sky", "grass", "road", "thing")`` with ``merge_things=True``.
        num_classes (int): ``len(classes)``.
        thing_classes (tuple[str]): ``THING_CLASSES``; ``target["labels"]`` are 1-based indices
            into it (0 is the background, as in torchvision).
        stuff_classes (tuple[str]): ``STUFF_CLASSES``.
        min_area (int): instances with fewer visible pixels are not drawn.

    ``dataset[i]`` returns ``(image, target)``:

    * ``image`` (float32 Tensor[3, S, S]), values in [0, 1];
    * ``target["semantic"]`` (int64 Tensor[S, S]): class index into ``dataset.classes`` per pixel;
    * ``target["boxes"]`` (float32 Tensor[N, 4]): ``(x1, y1, x2, y2)`` in pixels, the tight box of
      the visible mask, ``x1, y1`` the first column / row inside, ``x2, y2`` one past the last (so
      ``x2 - x1`` is the width), as torchvision expects;
    * ``target["labels"]`` (int64 Tensor[N]): thing class ``1 .. 3`` (``thing_classes[label - 1]``);
    * ``target["masks"]`` (uint8 Tensor[N, S, S]): visible instance masks, disjoint;
    * ``target["image_id"]`` (int64 scalar Tensor): the index ``i``.

    Instances are listed in drawing order (later ones lie on top).

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: ``length < 0``, ``size < 16``, ``max_things < 0`` or an unknown ``split``.

    Example:
        >>> dataset = ThingsAndStuff(length=10, size=64, split="val", seed=1)
        >>> len(dataset), dataset.num_classes
        (10, 6)
        >>> image, target = dataset[3]
        >>> sorted(target)
        ['boxes', 'image_id', 'labels', 'masks', 'semantic']
        >>> n = len(target["labels"])
        >>> target["boxes"].shape == (n, 4) and target["masks"].shape == (n, 64, 64)
        True
        >>> bool(torch.equal(dataset[3][0], image))  # generated again, identically
        True
    """

    stuff_classes = STUFF_CLASSES
    thing_classes = THING_CLASSES

    def __init__(self, length=1000, size=64, split="train", seed=0, max_things=4, merge_things=False):
        self.length = integer(length, "length", hint="ThingsAndStuff(length=1000).")
        if not 0 <= self.length <= _MAX_LENGTH:
            raise ValueError(
                f"length: expected a number of images from 0 to 2**30, got {self.length}. "
                f"Hint: ThingsAndStuff(length=1000); another seed gives other images."
            )
        self.size = integer(size, "size", hint="ThingsAndStuff(size=64).")
        if self.size < 16:
            raise ValueError(
                f"size: expected an image side of at least 16 pixels, got {self.size}. "
                f"Hint: the lectures use size=64 (Mask R-CNN: 128)."
            )
        self.split = _check_split(split, _SPLITS, "ThingsAndStuff(split='val') for held-out images.")
        self.seed = integer(seed, "seed", hint="ThingsAndStuff(seed=0).")
        self.max_things = integer(
            max_things, "max_things", low=0, what="the most things per image", hint="max_things=0 draws stuff only."
        )
        self.merge_things = flag(merge_things, "merge_things")
        self.classes = STUFF_CLASSES + (("thing",) if merge_things else self.thing_classes)
        self.num_classes = len(self.classes)
        self.min_area = max(2, round(_MIN_AREA_64 * (self.size / 64) ** 2))
        self._seed32 = _fmix32(self.seed & 0xFFFFFFFF ^ _fmix32((self.seed >> 32) & 0xFFFFFFFF))

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(length={self.length}, size={self.size}, split={self.split!r}, "
            f"seed={self.seed}, max_things={self.max_things}, classes={self.classes})"
        )

    def __getitem__(self, index):
        index = self._check_index(index)
        with _one_thread():
            scene = self._render(index)
        semantic = scene["semantic"]
        if self.merge_things:
            semantic = semantic.clamp(max=len(STUFF_CLASSES))  # every thing class -> "thing"
        target = {
            "boxes": scene["boxes"],
            "labels": scene["labels"],
            "masks": scene["masks"],
            "semantic": semantic,
            "image_id": torch.tensor(index, dtype=torch.int64),
        }
        return scene["image"], target

    def _check_index(self, index) -> int:
        return _check_index(index, self.length)

    def _generator(self, index: int) -> torch.Generator:
        """The ``torch.Generator`` that draws image ``index``, seeded from ``(seed, split, index)``.

        Within one dataset seed, every ``(split, index)`` gets a different 32-bit seed (a bijective
        hash), so no two images of the three splits share a random stream.
        """
        key = (_SPLITS.index(self.split) << 30) | index  # injective: index < 2**30
        return torch.Generator().manual_seed(_fmix32(key ^ self._seed32))

    # --- drawing -----------------------------------------------------------------------------------

    def _render(self, index: int) -> dict:
        """Draw image ``index``: ``{"image", "semantic", "boxes", "labels", "masks"}``."""
        g = self._generator(index)
        size = self.size
        coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size  # pixel centres in (0, 1)
        v, u = torch.meshgrid(coords, coords, indexing="ij")  # [S, S] row (v) and column (u) coordinates

        image, semantic = _draw_stuff(g, u, v, size)  # [3, S, S], [S, S]
        things = _draw_things(g, u * size, v * size, size, self.max_things, self.min_area)
        return _scene(image, semantic, things)


class HardThingsAndStuff(ThingsAndStuff):
    """The capstone's harder scenes: six thing classes, clutter, occlusion, noise and lighting.

    The same sky, grass and road as :class:`ThingsAndStuff`, and the same targets (``semantic``,
    ``masks``, ``boxes``, ``labels``, agreeing exactly), but harder to segment:

    * six thing classes: ``circle, square, triangle, cross, diamond, ring`` (nine semantic
      classes in all). Rings are the rare class (6% of the things); the stuff under a ring's hole
      shows through it and is labelled as that stuff;
    * a wide range of sizes: extent 4-34 px at ``size=64`` (``ThingsAndStuff``: 6-20), and up to
      ``max_things=8`` things per image, so occlusion is common; things may hang over the border;
    * clutter: 0-5 pebbles, irregular blobs of dull colour lying on the stuff, which are *not*
      things: their pixels keep the class of the stuff under them;
    * lighting and noise per image: a brightness gain (0.55-1.25), a colour cast (+-0.08 per
      channel), a gamma (0.75-1.35), a shadow across the image (up to 45% darker on one side) and
      Gaussian pixel noise (standard deviation 0.01-0.07).

    Args and attributes as for :class:`ThingsAndStuff` (``max_things`` defaults to 8);
    ``thing_classes`` is ``HARD_THING_CLASSES``. The images of a ``(seed, split, index)`` differ
    from ``ThingsAndStuff``'s.

    Example:
        >>> dataset = HardThingsAndStuff(length=10, size=64)
        >>> dataset.classes
        ('sky', 'grass', 'road', 'circle', 'square', 'triangle', 'cross', 'diamond', 'ring')
        >>> image, target = dataset[0]
        >>> image.shape, int(target["semantic"].max()) < dataset.num_classes
        (torch.Size([3, 64, 64]), True)
    """

    thing_classes = HARD_THING_CLASSES

    def __init__(self, length=1000, size=64, split="train", seed=0, max_things=8, merge_things=False):
        super().__init__(length, size, split, seed, max_things, merge_things)

    def _render(self, index: int) -> dict:
        g = self._generator(index)
        g.manual_seed(g.initial_seed() ^ 0x5EED)  # not ThingsAndStuff's image of the same (seed, split, index)
        size = self.size
        coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
        v, u = torch.meshgrid(coords, coords, indexing="ij")

        image, semantic = _draw_stuff(g, u, v, size)
        image = _draw_pebbles(g, u * size, v * size, size, image)  # on the stuff, under the things
        things = _draw_things(g, u * size, v * size, size, self.max_things, self.min_area, _HARD_THINGS)
        scene = _scene(image, semantic, things)
        scene["image"] = _relight(g, scene["image"], u, v)
        return scene


def _scene(image: torch.Tensor, semantic: torch.Tensor, things: dict) -> dict:
    """The things of ``_draw_things`` painted over the stuff, in drawing order: the scene of ``_render``."""
    for k in range(things["count"]):  # in drawing order: later things cover earlier ones
        visible = things["visible"][k]  # [S, S]
        image = torch.where(visible, things["colour"][k], image)
        semantic[visible] = len(STUFF_CLASSES) + int(things["labels"][k]) - 1
    return {
        "image": image.clamp_(0.0, 1.0),
        "semantic": semantic,
        "boxes": things["boxes"],
        "labels": things["labels"],
        "masks": things["visible"].to(torch.uint8),
    }


def _check_split(split, splits: tuple[str, ...], hint: str) -> str:
    """``split``, one of the names ``splits``, or a ``TypeError`` / ``ValueError`` with ``hint``."""
    if not isinstance(split, str):
        raise TypeError(f"split: expected one of {splits}, got {describe(split)}.")
    if split not in splits:
        raise ValueError(f"split: expected one of {splits}, got {split!r}. Hint: {hint}")
    return split


def _check_index(index, length: int) -> int:
    """``index`` (an int or a one-element integer tensor; negative counts from the end) in ``0 .. length - 1``."""
    index = integer(index, "index")
    if index < 0:
        index += length
    if not 0 <= index < length:
        raise IndexError(f"index: expected 0 <= index < {length} (the dataset's length), got {index}.")
    return index


@contextlib.contextmanager
def _one_thread():
    """Run torch on one thread for a moment (then restore the setting).

    An image is far too small to gain from parallel ops, and when another process keeps a core
    busy, each op that enters a parallel region waits for it (milliseconds per op instead of
    microseconds).
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _fmix32(x: int) -> int:
    """MurmurHash3's 32-bit finaliser: a bijection of 32-bit integers that scrambles every bit."""
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def _uniform(g: torch.Generator, low: float, high: float, n: int = 1) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g)


def _smooth_noise(g: torch.Generator, cells: tuple[int, int], size: int) -> torch.Tensor:
    """Low-frequency noise in [0, 1]: a coarse random grid, bicubically upsampled to ``[S, S]``."""
    coarse = torch.rand(1, 1, *cells, generator=g)
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)[0, 0].clamp(0, 1)


def _draw_stuff(g: torch.Generator, u: torch.Tensor, v: torch.Tensor, size: int):
    """The stuff layer: ``image [3, S, S]`` and ``semantic [S, S]`` (0 sky, 1 grass, 2 road).

    ``u``, ``v`` are the column and row coordinates of the pixel centres in (0, 1).
    """
    # -- layout. Horizon: a wavy line; sky above it.
    h0, a1, f1, p1, a2, f2, p2 = torch.rand(7, generator=g).tolist()
    h0, a1, f1, a2, f2 = 0.28 + 0.25 * h0, 0.015 + 0.045 * a1, 0.5 + 1.2 * f1, 0.02 * a2, 2.0 + 2.5 * f2
    horizon = h0 + a1 * torch.sin(2 * math.pi * (f1 * u + p1)) + a2 * torch.sin(2 * math.pi * (f2 * u + p2))
    sky = v < horizon  # [S, S]

    # Ground: grass only, a road running to a vanishing point on the horizon, a road band at the
    # bottom, or road only; the boundaries are random per image.
    layout = torch.multinomial(torch.tensor([0.2, 0.45, 0.25, 0.1]), 1, generator=g).item()
    q = torch.rand(4, generator=g).tolist()
    if layout == 0:
        road = torch.zeros_like(sky)
    elif layout == 1:  # perspective road: a wedge opening from (u0, h0) towards the bottom
        u0, slant, half = 0.2 + 0.6 * q[0], 0.8 * (q[1] - 0.5), 0.25 + 0.45 * q[2]
        depth = (v - h0 + 0.04).clamp(min=0)  # 0 just above the horizon, growing downwards
        road = (u - u0 - slant * depth).abs() < half * depth
    elif layout == 2:  # band at the bottom with a tilted, gently curved edge
        edge = 0.68 + 0.17 * q[0] + 0.3 * (q[1] - 0.5) * (u - 0.5) + 0.02 * torch.sin(2 * math.pi * (u + q[2]))
        road = v > torch.maximum(edge, horizon + 0.08)
    else:
        road = torch.ones_like(sky)
    road &= ~sky
    semantic = torch.ones(size, size, dtype=torch.int64)  # grass
    semantic[sky] = 0
    semantic[road] = 2

    # -- textures. Sky: a smooth vertical gradient with soft low-frequency clouds.
    jitter = _uniform(g, -0.06, 0.06, 6).view(2, 3, 1, 1)
    top = torch.tensor([0.28, 0.47, 0.82]).view(3, 1, 1) + jitter[0]
    low = torch.tensor([0.68, 0.80, 0.94]).view(3, 1, 1) + jitter[1]
    t = (v / (h0 + 0.05)).clamp(0, 1)  # 0 at the top, 1 at the horizon
    sky_image = top + (low - top) * t
    clouds = ((_smooth_noise(g, (7, 4), size) - 0.55) * 2.5).clamp(0, 0.7)
    sky_image = sky_image + (0.96 - sky_image) * clouds

    # Grass: green with per-pixel noise and short vertical blades.
    green = torch.tensor([0.20, 0.50, 0.14]).view(3, 1, 1) + _uniform(g, -0.05, 0.05, 3).view(3, 1, 1)
    pixel_noise = torch.randn(size + 3, size, generator=g)  # [S + 3, S]
    # [S, S]: the sum of 4 vertically neighbouring noise values, streaks 4 px tall
    blades = (pixel_noise[:-3] + pixel_noise[1:-2] + pixel_noise[2:-1] + pixel_noise[3:]) / 2
    shade = 0.5 * pixel_noise[3:] + 0.6 * blades
    grass_image = green * (1 + 0.22 * shade) + 0.08 * (v - h0)  # slightly lighter towards the viewer

    # Road: grey speckle, identical in the three channels, with sparse light and dark grains.
    grey = _uniform(g, 0.34, 0.50).item()
    grains = torch.rand(size, size, generator=g)
    speckle = 0.045 * torch.randn(size, size, generator=g)
    speckle = speckle + 0.16 * (grains > 0.96) - 0.14 * (grains < 0.04)
    road_image = (grey + speckle).expand(3, size, size) + torch.tensor([0.0, 0.0, 0.02]).view(3, 1, 1)

    image = torch.where(sky, sky_image, torch.where(road, road_image, grass_image))
    return image.float(), semantic


def _draw_pebbles(g: torch.Generator, x: torch.Tensor, y: torch.Tensor, size: int, image: torch.Tensor) -> torch.Tensor:
    """``image`` with 0-5 pebbles on it: irregular blobs of dull colour (clutter, not things).

    A pebble's outline is a circle of radius ``R`` (1.5-5 px at size 64) whose radius wobbles
    with the angle, ``R (1 + 0.25 sin(3 t + p) + 0.15 sin(5 t + q))``; its colour is a dull brown,
    olive or grey, a little darker on one side.
    """
    count = int(torch.randint(0, 6, (1,), generator=g))
    scale = size / 64
    for _ in range(count):
        cx, cy = _uniform(g, 0.0, size, 2).tolist()
        radius = _uniform(g, 1.5, 5.0).item() * scale
        p, q, hue, sat, val = torch.rand(5, generator=g).tolist()
        dx, dy = x - cx, y - cy
        t = torch.atan2(dy, dx)
        outline = radius * (1 + 0.25 * torch.sin(3 * t + 2 * math.pi * p) + 0.15 * torch.sin(5 * t + 2 * math.pi * q))
        inside = torch.sqrt(dx**2 + dy**2) < outline  # [S, S]
        rgb = _hsv_to_rgb(torch.tensor([0.05 + 0.15 * hue]), torch.tensor([0.15 + 0.35 * sat]), torch.tensor([0.3 + 0.4 * val]))
        colour = rgb.view(3, 1, 1) * (1 - 0.15 * (dx + dy) / (2 * radius)).clamp(0.7, 1.2)
        image = torch.where(inside, colour, image)
    return image


def _relight(g: torch.Generator, image: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``image`` under other light: gain, colour cast, gamma, a shadow across it, and pixel noise.

    ``out = clamp((gain * image + cast) ** gamma * (1 - depth * ramp) + sigma * noise, 0, 1)``,
    ``ramp`` rising linearly from 0 to 1 across the image in a random direction.
    """
    gain = _uniform(g, 0.55, 1.25).item()
    cast = _uniform(g, -0.08, 0.08, 3).view(3, 1, 1)
    gamma = _uniform(g, 0.75, 1.35).item()
    direction = _uniform(g, 0.0, 2 * math.pi).item()
    shadow = _uniform(g, 0.0, 0.45).item()
    sigma = _uniform(g, 0.01, 0.07).item()
    along = (u - 0.5) * math.cos(direction) + (v - 0.5) * math.sin(direction)  # [S, S], in about -0.7 .. 0.7
    ramp = (along - along.min()) / (along.max() - along.min())
    lit = (gain * image + cast).clamp(0.0, 1.0) ** gamma * (1 - shadow * ramp)
    noise = sigma * torch.randn(image.shape, generator=g)
    return (lit + noise).clamp_(0.0, 1.0)


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``[K]`` hue, saturation, value in [0, 1] -> ``[K, 3]`` RGB."""
    k = (torch.tensor([5.0, 3.0, 1.0]) + h[:, None] * 6) % 6  # [K, 3]
    return v[:, None] - v[:, None] * s[:, None] * (torch.minimum(k, 4 - k)).clamp(0, 1)


def _draw_things(
    g: torch.Generator,
    x: torch.Tensor,
    y: torch.Tensor,
    size: int,
    max_things: int,
    min_area: int,
    things: _Things = _THINGS,
):
    """Random shapes: their visible masks, colours, labels and boxes, in drawing order.

    ``x``, ``y`` are the pixel-centre coordinates in pixels (``[S, S]``). A shape is the set of
    pixels where its *depth* (the distance to its outline, positive inside) is positive:
    circle ``R - |p - c|``; axis-aligned square ``min(h - |dx|, h - |dy|)``; triangle ``min_j``
    over its three edges of ``r - (p - c) . n_j`` (three half-planes, ``r`` its inradius); the
    shapes of ``HardThingsAndStuff`` in :func:`_depth`. ``things`` says which shapes, how often,
    how large and where.
    """
    count = int(torch.randint(0, max_things + 1, (1,), generator=g))
    cumulative = torch.tensor(things.probs).cumsum(0)[:-1]  # ThingsAndStuff: [0.45, 0.90]
    labels = torch.bucketize(torch.rand(count, generator=g), cumulative, right=True) + 1  # [K] in 1..len(shapes)
    scale = size / 64
    extent = _uniform(g, *things.extent, count) * scale  # [K]
    low, high = things.margin * size, (1 - things.margin) * size
    cx = _uniform(g, low, high, count).view(-1, 1, 1)  # [K, 1, 1]
    cy = _uniform(g, low, high, count).view(-1, 1, 1)
    angle = _uniform(g, 0.0, 2 * math.pi, count).view(-1, 1, 1, 1)  # triangle orientation
    rgb = _hsv_to_rgb(torch.rand(count, generator=g), _uniform(g, 0.6, 1.0, count), _uniform(g, 0.7, 1.0, count))
    light = _uniform(g, 0.0, 2 * math.pi, count).view(-1, 1, 1)  # direction of the shading gradient
    noise = 0.015 * torch.randn(3, size, size, generator=g)  # [3, S, S], shared: things never overlap

    dx, dy = x - cx, y - cy  # [K, S, S]
    half = (extent / 2).view(-1, 1, 1)
    depth = torch.stack([_depth(shape, dx, dy, half, angle) for shape in things.shapes], dim=1)  # [K, shapes, S, S]
    depth = depth[torch.arange(count), labels - 1]  # [K, S, S], each thing's own shape
    inside = depth > 0

    visible = _visible(inside)  # [K, S, S]
    keep = visible.sum(dim=(1, 2)) >= min_area
    if not bool(keep.all()):  # drop the instances that are (almost) hidden, then look again:
        inside, depth, labels, rgb, light = inside[keep], depth[keep], labels[keep], rgb[keep], light[keep]
        dx, dy, half = dx[keep], dy[keep], half[keep]
        visible = _visible(inside)  # the kept instances only gain pixels
    count = len(labels)

    # Colour: flat, lit from one side (+-10%), with a darker rim about one pixel wide.
    lit = 1 + 0.1 * (dx * torch.cos(light) + dy * torch.sin(light)) / half  # [K, S, S]
    rim = torch.where(depth < max(1.0, scale), 0.72, 1.0)
    colour = rgb.view(count, 3, 1, 1) * (lit * rim).unsqueeze(1) + noise  # [K, 3, S, S]

    boxes = torch.zeros(count, 4)
    for k in range(count):
        rows = torch.nonzero(visible[k].any(dim=1)).flatten()
        cols = torch.nonzero(visible[k].any(dim=0)).flatten()
        boxes[k] = torch.tensor([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=torch.float32)
    return {"count": count, "visible": visible, "colour": colour, "labels": labels, "boxes": boxes}


def _depth(shape: str, dx: torch.Tensor, dy: torch.Tensor, half: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """``[K, S, S]``: how deep each pixel lies inside ``shape`` (positive inside), for ``K`` things.

    ``dx``, ``dy`` (``[K, S, S]``): the pixel's offset from the thing's centre; ``half``
    (``[K, 1, 1]``): half its extent; ``angle`` (``[K, 1, 1, 1]``): its orientation (the triangle
    and the cross turn, the others do not).

    * circle: ``h - |d|``; square (axis-aligned): ``0.9 h - max(|dx|, |dy|)``;
    * triangle: ``min_j (r - d . n_j)`` over its three edge normals ``n_j``, inradius ``r = 0.65 h``;
    * cross: two bars of half-width ``0.3 h`` and half-length ``h`` at right angles, turned by ``angle``;
    * diamond: a square standing on a corner, ``h - (|dx| + |dy|)``;
    * ring: a circle with a hole of radius ``0.5 h``: ``min(h - |d|, |d| - 0.5 h)``. What lies under
      the hole shows through it.
    """
    if shape == "circle":
        return half - torch.sqrt(dx**2 + dy**2)
    if shape == "square":
        return 0.9 * half - torch.maximum(dx.abs(), dy.abs())
    if shape == "triangle":
        normals = angle + math.pi / 3 + torch.arange(3).view(1, 3, 1, 1) * (2 * math.pi / 3)  # [K, 3, 1, 1]
        inradius = 0.65 * half.unsqueeze(1)  # circumradius 1.3 * half
        edges = inradius - (dx.unsqueeze(1) * torch.cos(normals) + dy.unsqueeze(1) * torch.sin(normals))  # [K, 3, S, S]
        return edges.amin(dim=1)
    if shape == "cross":
        turn = angle[:, 0]  # [K, 1, 1]
        a = (dx * torch.cos(turn) + dy * torch.sin(turn)).abs()  # along one bar
        b = (dy * torch.cos(turn) - dx * torch.sin(turn)).abs()  # along the other
        bar = 0.3 * half
        return torch.maximum(torch.minimum(half - a, bar - b), torch.minimum(half - b, bar - a))
    if shape == "diamond":
        return half - (dx.abs() + dy.abs())
    if shape == "ring":
        radius = torch.sqrt(dx**2 + dy**2)
        return torch.minimum(half - radius, radius - 0.5 * half)
    raise ValueError(f"shape: expected one of {HARD_THING_CLASSES}, got {shape!r}.")


def _visible(inside: torch.Tensor) -> torch.Tensor:
    """``[K, S, S]`` bool shapes in drawing order -> the visible part of each (the last one on top)."""
    count = inside.shape[0]
    order = torch.arange(1, count + 1).view(-1, 1, 1)
    top = (inside * order).amax(dim=0, keepdim=True) if count else torch.zeros(1, *inside.shape[1:], dtype=torch.int64)
    return inside & (top == order)  # [K, S, S]


# --- batches and patches ---------------------------------------------------------------------------


def semantic_batch(dataset, indices):
    """The images and semantic masks of ``indices``, stacked: the input of a segmentation network.

    Args:
        dataset (ThingsAndStuff, OxfordPets, or any dataset of ``(image, target)`` pairs whose
            target is a dict with ``target["semantic"]`` or the mask itself (int64 Tensor[S, S]),
            e.g. a ``torch.utils.data.Subset`` of one).
        indices (iterable of int): e.g. ``range(64)``.

    Returns:
        tuple: ``images`` (float32 Tensor[B, 3, S, S]) and ``masks`` (int64 Tensor[B, S, S]).

    Raises:
        TypeError: an index is not an int.
        ValueError: ``indices`` is empty.

    Example:
        >>> images, masks = semantic_batch(ThingsAndStuff(size=64), range(8))
        >>> images.shape, masks.shape, masks.dtype
        (torch.Size([8, 3, 64, 64]), torch.Size([8, 64, 64]), torch.int64)
    """
    indices = _as_index_list(indices)
    images, masks = [], []
    for index in indices:
        image, target = dataset[index]
        images.append(image)
        masks.append(target if isinstance(target, torch.Tensor) else target["semantic"])
    return torch.stack(images), torch.stack(masks)


def _as_index_list(indices) -> list:
    if isinstance(indices, torch.Tensor):
        indices = indices.flatten().tolist()
    try:
        indices = list(indices)
    except TypeError as error:
        raise TypeError(
            f"indices: expected an iterable of ints such as range(64), got {describe(indices)}."
        ) from error
    if not indices:
        raise ValueError("indices: expected at least one index, got none. Hint: semantic_batch(dataset, range(64)).")
    return indices


def detection_collate(batch):
    """Collate ``(image, target)`` pairs into ``(list of images, list of targets)``.

    torchvision's detection models take lists (images of one batch may differ in size and every
    target has its own number of instances), so nothing is stacked. Use it as
    ``DataLoader(dataset, batch_size=4, collate_fn=detection_collate)``.

    Args:
        batch (sequence of (image, target) pairs).

    Returns:
        tuple: ``images`` (list of Tensor[3, H, W]) and ``targets`` (list of dict).

    Example:
        >>> dataset = ThingsAndStuff(length=4)
        >>> images, targets = detection_collate([dataset[0], dataset[1]])
        >>> len(images), sorted(targets[0])[:2]
        (2, ['boxes', 'image_id'])
    """
    batch = list(batch)
    for i, item in enumerate(batch):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise TypeError(
                f"batch[{i}]: expected an (image, target) pair, got {describe(item)}. "
                f"Hint: pass a list of dataset[i] items, as DataLoader does."
            )
    return [image for image, _ in batch], [target for _, target in batch]


def sample_patches(dataset, count, patch_size, seed=0, balanced=False):
    """``patch_size x patch_size`` patches at random image positions, labelled by their centre pixel.

    The training data of the sliding-window classifier: patch ``k`` is cut from image ``i_k``,
    zero-padded by ``p // 2`` on every side so that every pixel can be a centre, and centred on
    pixel ``(r_k, c_k)``:

    .. math::
        \\text{patch}_k = \\text{pad}(x_{i_k})[:, r_k : r_k + p, c_k : c_k + p], \\quad
        \\text{label}_k = \\text{semantic}_{i_k}[r_k, c_k]

    The images come from ``min(count, len(dataset))`` distinct random indices. Uniform sampling
    reproduces the class frequencies of the pixels (mostly stuff); with ``balanced=True`` every
    class present in those images gets about ``count / num_present`` patches, drawn uniformly
    among the pixels of that class (rare triangles are then repeated, not invented).

    Args:
        dataset (ThingsAndStuff or a dataset of ``(image, target)`` with ``target["semantic"]``).
        count (int): the number of patches, at least 1.
        patch_size (int): the odd side ``p`` of a patch.
        seed (int): seeds a local ``torch.Generator`` (the global random state is untouched).
        balanced (bool): draw about equally many patches of every class present.

    Returns:
        tuple: ``patches`` (float32 Tensor[count, 3, p, p]) and ``labels`` (int64 Tensor[count]),
        class indices into ``dataset.classes``.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: ``patch_size`` is even or < 1, ``count < 1``, or the dataset is empty.

    Example:
        >>> patches, labels = sample_patches(ThingsAndStuff(length=20), count=100, patch_size=11)
        >>> patches.shape, labels.shape
        (torch.Size([100, 3, 11, 11]), torch.Size([100]))
    """
    count = positive_int(count, "count")
    patch_size = positive_int(patch_size, "patch_size")
    if patch_size % 2 == 0:
        raise ValueError(
            f"patch_size: expected an odd size, so that a patch has a centre pixel, got {patch_size}. "
            f"Hint: use patch_size={patch_size + 1}."
        )
    seed = integer(seed, "seed", hint="sample_patches(..., seed=0).")
    balanced = flag(balanced, "balanced")
    if len(dataset) == 0:
        raise ValueError("dataset: expected at least one image, got an empty dataset.")

    g = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(dataset), generator=g)[: min(count, len(dataset))].tolist()
    images, semantics = semantic_batch(dataset, chosen)  # [M, 3, S, S], [M, S, S]
    n_images, _, height, width = images.shape

    if balanced:
        flat = semantics.flatten()  # positions m * S * S + r * S + c
        present = torch.unique(flat)
        per_class = torch.full((len(present),), count // len(present))
        per_class[: count % len(present)] += 1
        positions = []
        for cls, n in zip(present.tolist(), per_class.tolist()):
            where = torch.nonzero(flat == cls).flatten()
            positions.append(where[torch.randint(len(where), (n,), generator=g)])
        positions = torch.cat(positions)[torch.randperm(count, generator=g)]  # mix the classes
    else:
        positions = torch.randint(n_images * height * width, (count,), generator=g)
    image_index = positions // (height * width)
    rows, cols = (positions // width) % height, positions % width

    half = patch_size // 2
    padded = F.pad(images, (half, half, half, half))  # [M, 3, S + p - 1, S + p - 1], zeros outside
    offsets = torch.arange(patch_size)
    r = (rows[:, None] + offsets)[:, :, None]  # [count, p, 1]: padded row r_k + i is image row r_k + i - p // 2
    c = (cols[:, None] + offsets)[:, None, :]  # [count, 1, p]
    patches = padded[image_index[:, None, None], :, r, c]  # [count, p, p, 3]
    labels = semantics[image_index, rows, cols]
    return patches.permute(0, 3, 1, 2).contiguous(), labels


def instance_map(target) -> torch.Tensor:
    """One label map of the instances of an image: 0 on the background, ``k`` on instance ``k``.

    The instance masks of a target (``[N, H, W]``, one 0/1 plane per instance) folded into one
    plane, numbered from 1 in the order of the masks:

    .. math::
        \\text{out}[r, c] = \\max \\{\\, k : \\text{masks}[k - 1, r, c] = 1 \\,\\} \\quad (0 \\text{ if none})

    The masks of ``ThingsAndStuff`` are disjoint, so every instance keeps all its pixels; should
    masks overlap, the later one (drawn on top) wins. This is the input of U-Net's weight map
    (``seglab.losses.unet_weight_map``), which needs to know where one object ends and the next
    begins, even when the semantic mask gives both the same class.

    Args:
        target (dict or Tensor): a target of ``ThingsAndStuff`` (its ``target["masks"]`` is used)
            or the masks themselves, a 0/1 or bool Tensor[N, H, W] (``N`` may be 0).

    Returns:
        int64 Tensor[H, W]: 0 for the background, ``1 .. N`` for the instances.

    Raises:
        TypeError: ``target`` is neither a dict with ``"masks"`` nor an integer or bool tensor.
        ValueError: the masks are not ``[N, H, W]`` or hold values other than 0 and 1.

    Example:
        >>> dataset = ThingsAndStuff(length=10)
        >>> image, target = dataset[2]
        >>> instances = instance_map(target)
        >>> instances.shape, instances.dtype, instances.max().item() == len(target["labels"])
        (torch.Size([64, 64]), torch.int64, True)
        >>> bool(torch.equal(instances > 0, target["semantic"] >= len(STUFF_CLASSES)))  # exactly the things
        True
        >>> masks = torch.zeros(2, 3, 4, dtype=torch.uint8)
        >>> masks[0, 0, :2] = 1  # instance 1: two pixels of the top row
        >>> masks[1, 2, 1:] = 1  # instance 2: three pixels of the bottom row
        >>> instance_map(masks)
        tensor([[1, 1, 0, 0],
                [0, 0, 0, 0],
                [0, 2, 2, 2]])
    """
    masks = target.get("masks") if isinstance(target, dict) else target
    if masks is None:
        raise TypeError(
            f"target: expected a target dict with 'masks' (as ThingsAndStuff returns), got a dict with "
            f"the keys {sorted(target)}. Hint: instance_map(dataset[i][1])."
        )
    if not isinstance(masks, torch.Tensor) or masks.is_floating_point() or masks.is_complex():
        raise TypeError(
            f"target: expected a target dict or instance masks (0/1 or bool Tensor[N, H, W]), got "
            f"{describe(masks)}. Hint: instance_map(dataset[i][1]), or masks.round().to(torch.uint8) "
            f"for float masks."
        )
    if masks.dim() != 3:
        raise ValueError(
            f"masks: expected instance masks of shape [N, H, W] (one plane per instance), got "
            f"{describe(masks)}. Hint: a single mask [H, W] is masks[None]."
        )
    if masks.numel() and not bool(((masks == 0) | (masks == 1)).all()):
        raise ValueError(
            f"masks: expected values 0 and 1, got values from {masks.min().item()} to {masks.max().item()}. "
            f"Hint: this takes one plane per instance; a map of instance ids is already the answer."
        )
    count, height, width = masks.shape
    if count == 0:
        return torch.zeros(height, width, dtype=torch.int64)
    ids = torch.arange(1, count + 1).view(-1, 1, 1)  # [N, 1, 1]: instance k has id k
    return (masks.bool() * ids).amax(dim=0)  # [H, W]: the last instance that covers each pixel


# --- real photos: the Oxford-IIIT Pet dataset ------------------------------------------------------

_PETS_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/"
_PETS_FOLDER = "oxford-iiit-pet"
_PETS_SPLITS = ("trainval", "test")
_PETS_LAYOUT = (
    "oxford-iiit-pet/images/<name>.jpg, oxford-iiit-pet/annotations/trimaps/<name>.png, "
    "oxford-iiit-pet/annotations/trainval.txt and test.txt"
)
# trimap value -> mask value: 1 the pet, 2 the background, 3 the uncertain border around the pet
_TRIMAP_TO_MASK = {1: 1, 2: 0, 3: IGNORE_INDEX}


class OxfordPets(torch.utils.data.Dataset):
    """Photos of cats and dogs with pet / background masks: the Oxford-IIIT Pet dataset, read from disk.

    A thin layer over ``torchvision.datasets.OxfordIIITPet(root, split, target_types="segmentation",
    download=False)`` that turns every photo and its *trimap* into the tensors a segmentation
    network trains on. The trimap marks each pixel 1 (pet), 2 (background) or 3 (the uncertain
    border around the pet, a few pixels wide, where fur meets the background); the mask maps them to

    ===========  ==========================================
    trimap       mask
    ===========  ==========================================
    1 (pet)      1 (``"pet"``)
    2            0 (``"background"``)
    3 (border)   ``IGNORE_INDEX`` = -100: left out of losses and metrics
    ===========  ==========================================

    -100 is the default ``ignore_index`` of ``F.cross_entropy`` and of ``seglab.losses``, so a
    loss leaves the border out on its own; pass ``ignore_index=IGNORE_INDEX`` to the metrics
    (``seglab.metrics.mean_iou(pred, mask, 2, ignore_index=-100)``, ``seglab.train.evaluate``).
    Before plotting a mask, give the border a class of its own: ``mask.clamp(min=0)`` shows it as
    background, ``torch.where(mask < 0, 2, mask)`` as a third colour.

    Photos come in many sizes; each is stretched to ``size x size`` (the aspect ratio is not kept):
    the photo with bilinear interpolation (antialiased when it shrinks), the trimap with nearest
    neighbour (``mode="nearest-exact"``), so the mask holds labels only, never blends of them.

    Nothing is downloaded, ever. Get the data by hand (about 800 MB) from
    https://www.robots.ox.ac.uk/~vgg/data/pets/: unpack ``images.tar.gz`` and
    ``annotations.tar.gz`` into one folder ``oxford-iiit-pet``, so that it holds::

        oxford-iiit-pet/images/Abyssinian_1.jpg ...
        oxford-iiit-pet/annotations/trimaps/Abyssinian_1.png ...
        oxford-iiit-pet/annotations/trainval.txt     (3,680 images)
        oxford-iiit-pet/annotations/test.txt         (3,669 images)

    and pass its parent folder as ``root`` (the folder itself is accepted too). Each line of a
    split file reads ``<name> <breed 1..37> <species 1 cat, 2 dog> <breed id within species>``.

    Args:
        root (str or pathlib.Path): the folder that contains ``oxford-iiit-pet/`` (as for
            torchvision), or the ``oxford-iiit-pet`` folder itself.
        split (str): ``"trainval"`` or ``"test"`` (the dataset's official split).
        size (int): the side ``S`` of the returned images and masks.
        limit (int, optional): use only the first ``limit`` images of the split (in the order of
            the split file): a quick experiment on a laptop. ``None``: all of them.

    Attributes:
        classes (tuple[str]): ``("background", "pet")``.
        num_classes (int): 2.
        ignore_index (int): ``IGNORE_INDEX`` (-100), the mask value of the border pixels.
        names (list[str]): the image names in dataset order, e.g. ``"Abyssinian_1"``.

    ``dataset[i]`` returns ``(image, mask)``:

    * ``image`` (float32 Tensor[3, S, S]): RGB, values in [0, 1];
    * ``mask`` (int64 Tensor[S, S]): 0 background, 1 pet, -100 border (ignored).

    ``seglab.data.semantic_batch(dataset, range(32))`` stacks them, and a ``DataLoader`` with its
    default ``collate_fn`` batches them for ``seglab.train.fit``.

    Raises:
        FileNotFoundError: ``root`` does not hold the dataset in the layout above (the message
            names what is missing and where to get it).
        TypeError, ValueError: a bad ``split``, ``size`` or ``limit``.

    Example:
        >>> dataset = OxfordPets("data", split="trainval", size=128)  # doctest: +SKIP
        >>> image, mask = dataset[0]  # doctest: +SKIP
        >>> image.shape, mask.shape, mask.unique().tolist()  # doctest: +SKIP
        (torch.Size([3, 128, 128]), torch.Size([128, 128]), [-100, 0, 1])
        >>> OxfordPets("no/such/folder")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: root: expected the Oxford-IIIT Pet dataset in no/such/folder/oxford-iiit-pet ...
    """

    classes = ("background", "pet")
    num_classes = 2
    ignore_index = IGNORE_INDEX

    def __init__(self, root, split="trainval", size=128, limit=None):
        self.split = _check_split(
            split, _PETS_SPLITS, "the Oxford-IIIT Pet dataset has two splits; hold out part of 'trainval' for validation."
        )
        self.size = positive_int(size, "size")
        self.limit = None if limit is None else positive_int(limit, "limit")
        self.root = self._find_root(root)

        from torchvision.datasets import OxfordIIITPet  # imported here: nothing heavy on import

        self._pets = OxfordIIITPet(str(self.root), split=split, target_types="segmentation", download=False)
        base = self.root / _PETS_FOLDER
        with open(base / "annotations" / f"{split}.txt") as file:  # the order torchvision reads them in
            names = [line.split()[0] for line in file if line.strip()]  # e.g. "Abyssinian_1"
        self.names = names if self.limit is None else names[: self.limit]
        self._trimaps = [base / "annotations" / "trimaps" / f"{name}.png" for name in self.names]
        photos = [base / "images" / f"{name}.jpg" for name in self.names]
        missing = [path for pair in zip(photos, self._trimaps) for path in pair if not path.is_file()]
        if missing:
            raise FileNotFoundError(
                f"root: expected an image and a trimap for every name in annotations/{split}.txt, got "
                f"{len(missing)} missing file(s), the first {missing[0]}. Hint: unpack both images.tar.gz "
                f"and annotations.tar.gz from {_PETS_URL} completely ({_PETS_LAYOUT})."
            )

    @staticmethod
    def _find_root(root):
        """The folder that contains ``oxford-iiit-pet/`` (what torchvision calls ``root``)."""
        if not isinstance(root, (str, pathlib.Path)):
            raise TypeError(f"root: expected a folder name (str or pathlib.Path), got {describe(root)}.")
        root = pathlib.Path(root)
        base = root / _PETS_FOLDER
        if not base.is_dir() and root.name == _PETS_FOLDER and root.is_dir():
            root, base = root.parent, root  # the dataset folder itself was given
        needed = [base / "images", base / "annotations" / "trimaps", base / "annotations" / "trainval.txt",
                  base / "annotations" / "test.txt"]  # fmt: skip
        missing = [path for path in needed if not path.exists()]
        if missing:
            got = "no such folder" if not base.is_dir() else f"no {missing[0].relative_to(base)} in it"
            raise FileNotFoundError(
                f"root: expected the Oxford-IIIT Pet dataset in {base} ({_PETS_LAYOUT}), got {got}. "
                f"Hint: nothing is downloaded for you: get images.tar.gz and annotations.tar.gz (about "
                f"800 MB) from {_PETS_URL}, unpack both into {base}, and pass root={str(root)!r}."
            )
        return root

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return (
            f"OxfordPets(root={str(self.root)!r}, split={self.split!r}, size={self.size}, "
            f"limit={self.limit}, images={len(self)}, classes={self.classes})"
        )

    def __getitem__(self, index):
        index = _check_index(index, len(self))
        photo, trimap = self._pets[index]  # PIL images: RGB, and one channel of values 1, 2, 3
        with photo, trimap:
            image = torch.from_numpy(np.array(photo, dtype=np.uint8))  # [H, W, 3]
            codes = torch.from_numpy(np.array(trimap, dtype=np.uint8))  # [H, W]
        if codes.dim() != 2 or not bool(((codes >= 1) & (codes <= 3)).all()):
            raise ValueError(
                f"trimap {self._trimaps[index]}: expected one channel of values 1 (pet), 2 (background) "
                f"and 3 (border), got {describe(codes)} with values {torch.unique(codes).tolist()[:8]}. "
                f"Hint: the trimaps come from annotations.tar.gz of {_PETS_URL}, unchanged."
            )
        size = (self.size, self.size)
        with _one_thread():
            image = image.permute(2, 0, 1)[None].float() / 255  # [1, 3, H, W] in [0, 1]
            image = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)[0]
            codes = F.interpolate(codes[None, None].float(), size=size, mode="nearest-exact")[0, 0].long()  # [S, S]
            mask = torch.full(size, IGNORE_INDEX, dtype=torch.int64)
            mask[codes == 1] = 1
            mask[codes == 2] = 0
        return image.clamp_(0.0, 1.0), mask
