"""Checkers of the networks assignment: FCN-8s's head, a U-Net, a dilated context module and Mask R-CNN's mask branch.

Each exercise asks for a function that *builds* a network (``build_unet(num_classes, ...)``
returns an ``nn.Module``). A case builds the student's network and seglab's reference network
(:mod:`seglab.models`) for the same arguments, copies seeded random weights from the reference
into the student's (``seglab.checks._modules.transplant``), runs both on the same inputs and compares the
outputs: a network that passes computes exactly the lecture's function. Other cases probe what
the lecture says about the network: output sizes for several inputs, the trainable parameters,
how it starts (skips at zero, bilinear upsampling), where a change in one input reaches the
output, and the receptive field measured with autograd.

With ``train=True`` (the notebook's test cells and every hidden test), FCN-8s's head and the
U-Net are then trained with a fixed recipe and scored by mean IoU on images the notebook never
generates (the ``"test"`` split of ``ThingsAndStuff``, drawn with the check's seed):

* the head on the frozen features of the trained FCN-32s checkpoint (``load_checkpoint("fcn32s")``,
  whose ``score_fr`` it starts from): 400 Adam steps, about a second; FCN-32s itself scores
  about 0.63, the reference head 0.87;
* the U-Net from scratch, ``build_unet(4, width=8, depth=3)``: 120 Adam steps, the learning rate in
  one cycle up to 1e-2, cross-entropy weighted by the inverse square root of the class
  frequencies, about 5 s on one thread; the reference scores 0.95-0.97 (seeds 0-14), the
  threshold is 0.85;
* the mask branch on the RoIAlign features of the trained Mask R-CNN checkpoint (each object's
  true box, its class's mask channel only, as the lecture's loss): 100 Adam steps, under a second,
  then put into a copy of the checkpoint and scored by mask AP50 on 48 images
  (``seglab.detection``); the checkpoint's own branch scores 0.93-1.0, the threshold is 0.8.
"""

from __future__ import annotations

import copy
import functools

import torch
import torch.nn.functional as F
from torch import nn

from seglab import data, detection, metrics, models, ops
from seglab.checks._modules import as_module, run, seeded, trainable_parameters, transplant
from seglab.checks._assignment import Assignment, Graded
from seglab.checks._cases import random_int
from seglab.checks._concepts import Question
from seglab.checks._core import Case, CheckFailed, Exercise, Mistake, Training

_BUILDERS_ALLOWED = (
    "torch.nn layers (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, "
    "nn.Sequential, nn.ModuleList) and tensor operations (torch.cat, slicing)"
)


def _features(generator: torch.Generator, batch: int, width: int, height: int, breadth: int) -> dict:
    """Random backbone features of a ``height x breadth`` image: pool3 at /8, pool4 at /16, fc7 at /32."""
    return {
        "pool3": torch.randn(batch, 4 * width, height // 8, breadth // 8, generator=generator),
        "pool4": torch.randn(batch, 8 * width, height // 16, breadth // 16, generator=generator),
        "fc7": torch.randn(batch, 8 * width, height // 32, breadth // 32, generator=generator).relu(),
    }


# --- Exercise 5.2: FCN-8s's head --------------------------------------------------------------------

_HEAD_LAYERS = ("score_fr", "upscore2", "score_pool4", "upscore_pool4", "score_pool3", "upscore8")


def _bilinear(channels: int, factor: int) -> torch.Tensor:
    """The ``[channels, channels, k, k]`` bilinear upsampling weight (channel i to i) of ``factor``
    (made before the student's code runs: seglab's reference ``bilinear_kernel``)."""
    return ops.bilinear_kernel(factor, channels)


def _head_layer_hint(name: str, expected: tuple, got: tuple | None) -> str | None:
    layer = name.split(".")[0]
    if got is None:
        return f"the exercise's head has {len(_HEAD_LAYERS)} layers: {', '.join(_HEAD_LAYERS)}; yours stops before {layer}."
    if layer == "upscore8" and len(expected) == 4 and len(got) == 4 and got[-1] != expected[-1]:
        return (
            "upscore8 upsamples by 8: ConvTranspose2d(K, K, 16, stride=8, padding=4, groups=K, bias=False), "
            f"kernel 2 x 8 = 16, got a kernel of {got[-1]}."
        )
    if layer in ("upscore2", "upscore_pool4") and len(got) == 4 and got[-1] != expected[-1]:
        return f"{layer} upsamples by 2: ConvTranspose2d(K, K, 4, stride=2, padding=1, bias=False), kernel 4, got {got[-1]}."
    if layer.startswith("upscore") and len(got) == 1:
        return f"{layer} has no bias (bias=False): bilinear upsampling adds nothing."
    if layer in ("score_pool3", "score_pool4", "score_fr") and len(got) == 4 and len(expected) == 4 and got[1] != expected[1]:
        source = {"score_pool3": "pool3 (4w channels)", "score_pool4": "pool4 (8w channels)", "score_fr": "fc7 (8w channels)"}[layer]
        return f"{layer} is a 1x1 convolution on {source}: expected {expected[1]} input channels, got {got[1]}."
    return f"the layer the exercise calls {layer} should be {list(expected)} here."


def _full_upsampling(name: str, value: torch.Tensor, shape: tuple) -> torch.Tensor | None:
    """A depthwise ``[K, 1, k, k]`` upsampling weight as the diagonal of a full ``[K, K, k, k]`` one
    (the same function: channel i to channel i only)."""
    if name.startswith("upscore") and value.dim() == 4 and value.shape[1] == 1 and shape == (value.shape[0], value.shape[0], *value.shape[2:]):
        full = torch.zeros(shape, dtype=value.dtype)
        full[torch.arange(shape[0]), torch.arange(shape[0])] = value[:, 0]
        return full
    return None


def _head_state(module: nn.Module, num_classes: int, bilinear_weights: dict) -> None:
    """The head's start, as the lecture describes it (a ``CheckFailed`` naming what differs)."""
    k = num_classes
    for name in _HEAD_LAYERS:
        if not isinstance(getattr(module, name, None), nn.Module):
            raise CheckFailed(
                f"  your head has no layer {name}\n"
                f"  hint: name the layers as the exercise does ({', '.join(_HEAD_LAYERS)}): the checker and the "
                f"training recipe reach them by name (the recipe starts score_fr from a trained FCN-32s)."
            )
    for name in ("score_pool3", "score_pool4"):
        layer = getattr(module, name)
        nonzero = sum(int(torch.count_nonzero(p)) for p in layer.parameters())
        if nonzero:
            raise CheckFailed(
                f"  at initialisation {name} should add nothing: its weight and bias should be zeros, got {nonzero} nonzero values\n"
                f"  hint: the paper starts the skips at zero (nn.init.zeros_ on weight and bias), so the new network "
                f"starts from FCN-32s's scores and learns what the finer features add."
            )
    for name, factor in (("upscore2", 2), ("upscore_pool4", 2), ("upscore8", 8)):
        weight = getattr(module, name).weight.detach()
        bilinear = bilinear_weights[factor]
        diagonal = bilinear[torch.arange(k), torch.arange(k)].unsqueeze(1)  # [K, 1, k, k]: depthwise form
        if not (weight.shape == bilinear.shape and torch.allclose(weight, bilinear, atol=1e-6)) and not (
            weight.shape == diagonal.shape and torch.allclose(weight, diagonal, atol=1e-6)
        ):
            raise CheckFailed(
                f"  at initialisation {name} should upsample x{factor} bilinearly, class by class: its weight should be "
                f"the bilinear kernel of factor {factor} on the diagonal (channel i to i), got {_weight_range(weight)}\n"
                f"  hint: copy bilinear_weight(num_classes, {factor}) into {name}.weight under torch.no_grad(); "
                f"a transposed convolution left at its random initialisation scrambles the classes."
            )
    if getattr(module.upscore8.weight, "requires_grad", True):
        raise CheckFailed(
            "  upscore8 should stay bilinear: its weight is trainable (requires_grad=True)\n"
            "  hint: as in the paper, the last, largest upsampling is fixed: upscore8.weight.requires_grad_(False)."
        )
    for name in ("upscore2", "upscore_pool4"):
        if not getattr(module, name).weight.requires_grad:
            raise CheckFailed(
                f"  {name} should learn (it only starts bilinear): its weight has requires_grad=False\n"
                f"  hint: only upscore8 is fixed; leave the two x2 upsamplings trainable."
            )


def _weight_range(weight: torch.Tensor) -> str:
    """``"a [4, 4, 4, 4] tensor with values from ... to ..."``, for a message."""
    return f"a {list(weight.shape)} tensor with values from {float(weight.min()):.3g} to {float(weight.max()):.3g}"


def _head_probe(value, case: Case) -> torch.Tensor:
    """What case ``case.extra["probe"]`` measures of the head ``value`` (see :func:`_head_cases`)."""
    extra = case.extra
    module = as_module(value, "the head (return FCN8sHead(num_classes, width))")
    num_classes, width = case.args
    probe = extra["probe"]
    if probe == "parameters":
        return torch.tensor(trainable_parameters(module))
    reference = extra["reference"]  # built with the case: seglab's layers call seglab's references
    if probe == "start":
        _head_state(module, num_classes, extra["bilinear"])
        module.score_fr.load_state_dict(reference.score_fr.state_dict())  # the rest: the head's own start
        return run(module.eval(), extra["features"])
    transplant(module, reference, _head_layer_hint, _full_upsampling)
    if probe == "output":
        return run(module, extra["features"])
    # "reach": which output pixels change when one input cell of one feature map changes
    features = extra["features"]
    changed = {name: tensor.clone() for name, tensor in features.items()}
    layer, row, column = extra["perturb"]
    changed[layer][:, :, row, column] += 10.0
    difference = (run(module, changed) - run(module, features)).abs().amax(dim=(0, 1))
    return (difference > 1e-4).to(torch.float32)  # [H, W]: 1 where the change reaches


def _head_cases(generator: torch.Generator, n_random: int) -> list:
    fixed = torch.Generator().manual_seed(5021)
    example = _features(fixed, 2, 8, 64, 64)
    cases = [
        Case("lecture example: 4 classes, width 8, the features of two 64x64 images", (4, 8),
             extra={"probe": "output", "features": example, "seed": 1}),
        Case("a 64x96 image: pool3 is 8x12, fc7 2x3", (4, 8),
             extra={"probe": "output", "features": _features(fixed, 1, 8, 64, 96), "seed": 2}),
        Case("a 32x32 image: fc7 is a single cell", (3, 4),
             extra={"probe": "output", "features": _features(fixed, 1, 4, 32, 32), "seed": 3}),
        Case("at initialisation: skips at zero, upsamplings bilinear (so the head computes FCN-32s's scores, "
             "upsampled x2, x2, x8)", (4, 8), extra={"probe": "start", "features": example, "seed": 4}),
        Case("trainable parameters of (4 classes, width 8): upscore8 is fixed", (4, 8),
             extra={"probe": "parameters", "seed": 5}),
        Case("pool3 changed at one cell (row 2, column 5): where the output changes", (4, 8),
             extra={"probe": "reach", "features": example, "perturb": ("pool3", 2, 5), "seed": 6}),
        Case("pool4 changed at one cell (row 1, column 2): where the output changes", (4, 8),
             extra={"probe": "reach", "features": example, "perturb": ("pool4", 1, 2), "seed": 7}),
    ]
    for i in range(n_random):
        classes, width = random_int(generator, 2, 6), 4 * random_int(generator, 1, 2)
        height, breadth = 32 * random_int(generator, 1, 3), 32 * random_int(generator, 1, 3)
        batch = random_int(generator, 1, 2)
        cases.append(Case(
            f"random {i + 1}: {classes} classes, width {width}, {batch} image(s) of {height}x{breadth}",
            (classes, width),
            extra={"probe": "output", "features": _features(generator, batch, width, height, breadth),
                   "seed": random_int(generator, 0, 10**6)},
        ))
    return [_with_reference(case, models.FCN8sHead) for case in cases]


def _with_reference(case: Case, build) -> Case:
    """``case`` with the reference network its probe needs, built now, before the student's code runs.

    ``extra["reference"]``: ``build(*case.args)`` with the weights of ``extra["seed"]``
    (``seglab.checks._modules.seeded``) or, without a seed, as it starts; ``extra["bilinear"]``: the bilinear
    upsampling weights of factors 2 and 8 for the head's classes.
    """
    extra = dict(case.extra)
    if extra["probe"] != "parameters":
        reference = build(*case.args)
        extra["reference"] = seeded(reference, extra["seed"]) if extra["probe"] != "start" else reference
        if build is models.FCN8sHead:
            extra["bilinear"] = {factor: _bilinear(case.args[0], factor) for factor in (2, 8)}
    return Case(case.name, case.args, case.kwargs, extra)


class _SoftmaxHead(models.FCN8sHead):
    def forward(self, features):
        return super().forward(features).softmax(dim=1)


class _SoftmaxOverWidthHead(models.FCN8sHead):
    def forward(self, features):
        return super().forward(features).softmax(dim=-1)


class _ReluScoresHead(models.FCN8sHead):
    def forward(self, features):
        score = F.relu(self.score_fr(features["fc7"]))
        fuse_pool4 = self.upscore2(score) + F.relu(self.score_pool4(features["pool4"]))
        return self.upscore8(self.upscore_pool4(fuse_pool4) + F.relu(self.score_pool3(features["pool3"])))


class _ReusedUpscoreHead(models.FCN8sHead):
    def forward(self, features):
        fuse_pool4 = self.upscore2(self.score_fr(features["fc7"])) + self.score_pool4(features["pool4"])
        return self.upscore8(self.upscore2(fuse_pool4) + self.score_pool3(features["pool3"]))


_HEAD_MISTAKES = (
    Mistake(
        "the head returns probabilities (a softmax over the classes): return the scores themselves (logits); "
        "F.cross_entropy applies the softmax, and an argmax gives the same classes either way.",
        make=_SoftmaxHead,
    ),
    Mistake(
        "a softmax over the last dimension (the image's columns) mixes pixels, not classes; and the head "
        "should return logits anyway, with no softmax at all.",
        make=_SoftmaxOverWidthHead,
    ),
    Mistake(
        "class scores go through a ReLU here: scores are logits and may be negative (a ReLU clips every "
        "'not this class' score to 0). No activation after score_fr, score_pool4 or score_pool3.",
        make=_ReluScoresHead,
    ),
    Mistake(
        "upscore2 is used twice: the second x2 upsampling (stride 16 -> 8) is its own layer, upscore_pool4, "
        "with its own weights.",
        make=_ReusedUpscoreHead,
    ),
)


# The recipe: the paper's staged training, from a trained FCN-32s. Its backbone is frozen and run once.


@functools.lru_cache(maxsize=4)
def _head_data(split: str, seed: int, length: int):
    fcn32 = models.load_checkpoint("fcn32s").eval()
    dataset = data.ThingsAndStuff(length=length, size=64, split=split, seed=seed, merge_things=True)
    images, masks = data.semantic_batch(dataset, range(length))
    with torch.no_grad():
        features = fcn32.backbone(images)
    return features, masks, fcn32.score_fr.state_dict()


def _head_training_data(seed: int):
    """The recipe's data, prepared before the student's code runs: the frozen FCN-32s's features and
    masks of 256 training images, its ``score_fr``, and those of 64 test images drawn with ``seed``."""
    return _head_data("train", 0, 256), _head_data("test", seed, 64)


def _train_head(student_fn, prepared, seed: int) -> nn.Module:
    (features, masks, score_fr), _ = prepared
    head = as_module(student_fn(4, 8), "the head")
    head.score_fr.load_state_dict(score_fr)  # FCN-32s's class scores: the head starts from them
    _fit(head, features, masks, steps=400, lr=3e-3, seed=seed)
    return head.eval()


def _segment_head(head: nn.Module, prepared) -> torch.Tensor:
    """The trained head's classes on the held-out images' features (``[N, H, W]``)."""
    _, (features, _, _) = prepared
    with torch.no_grad():
        return head({name: tensor.clone() for name, tensor in features.items()}).argmax(dim=1)


def _score_segmentation(predictions, prepared) -> float:
    """Mean IoU of ``predictions`` against the held-out masks (the second half of ``prepared``, masks second)."""
    masks = prepared[1][1]
    if not isinstance(predictions, torch.Tensor) or predictions.shape != masks.shape:
        return float("nan")
    return float(metrics.mean_iou(predictions, masks, 4))


def _fit(model: nn.Module, inputs, masks: torch.Tensor, *, steps: int, lr: float, seed: int, batch_size: int = 8,
         weight: torch.Tensor | None = None, one_cycle: bool = False) -> None:
    """Adam on mini-batches of ``batch_size`` drawn with ``seed``; per-pixel cross-entropy (with class
    ``weight``, if given); ``model.train()``. With ``one_cycle`` the learning rate rises to ``lr`` and
    falls again (``OneCycleLR``), else it stays ``lr``."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(parameters, lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps) if one_cycle else None
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        index = torch.randint(0, len(masks), (batch_size,), generator=generator)
        batch = {k: v[index] for k, v in inputs.items()} if isinstance(inputs, dict) else inputs[index]
        loss = F.cross_entropy(model(batch), masks[index], weight=weight)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if schedule is not None:
            schedule.step()


_FCN8S_HEAD = Exercise(
    name="build_fcn8s_head",
    signature="build_fcn8s_head(num_classes, width)",
    summary="FCN-8s's head on the backbone's pool3, pool4 and fc7: score layers, bilinear-initialised "
    "transposed convolutions, zero-initialised skips, summed.",
    reference=models.FCN8sHead,
    cases=_head_cases,
    forbidden=(
        (models, "FCN8sHead", "seglab.models.FCN8sHead"),
        (models, "FCN8s", "seglab.models.FCN8s"),
        (models, "FCN16s", "seglab.models.FCN16s"),
    ),
    mistakes=_HEAD_MISTAKES,
    dtype_from=None,
    adapt=_head_probe,
    compared=lambda case: {
        "output": "the head's scores with the checker's weights copied into it",
        "start": "the head's scores at its own initialisation (score_fr copied in)",
        "parameters": "the number of trainable parameters",
        "reach": "1 where the head's scores change, 0 where they do not ([H, W])",
    }[case.extra["probe"]],
    watch_answer=True,
    refused_modules=("seglab.models",),
    delegation_hint=_BUILDERS_ALLOWED,
    training=Training(
        recipe="the head on a trained FCN-32s's frozen features, 400 Adam steps of 8 images, lr 3e-3",
        metric="mean IoU on 64 held-out images",
        threshold=0.8,
        prepare=_head_training_data,
        train=_train_head,
        predict=_segment_head,
        score=_score_segmentation,
        hint="FCN-32s alone scores about 0.63 here and the lecture's head about 0.87: check that the skips "
        "are trainable (requires_grad) and that nothing in forward detaches the scores (.detach(), "
        "torch.no_grad(), .item()).",
    ),
)


# --- Exercise 6.4: U-Net ----------------------------------------------------------------------------


def _unet_layer_hint(name: str, expected: tuple, got: tuple | None) -> str | None:
    parts = name.split(".")
    if got is None:
        return "your U-Net has fewer layers than the exercise's: every level has two 3x3 convolutions, each followed by batch norm."
    if parts[0] == "decoder" and "convs" in parts and parts[-2] == "conv1" and len(got) == 4 and got[1] * 2 == expected[1]:
        return (
            f"the first convolution of an up level takes {expected[1]} channels: the skip ({expected[1] // 2}) "
            f"concatenated with the upsampled features ({expected[1] // 2}). Yours takes {got[1]}: did you add "
            f"them instead of concatenating (torch.cat([skip, up], dim=1))?"
        )
    if parts[0] == "decoder" and parts[2] == "up" and len(got) == 4 and got[-1] != expected[-1]:
        return f"the up-convolution is a 2x2 transposed convolution with stride 2 (kernel {expected[-1]}), got kernel {got[-1]}."
    if len(expected) == 4 and len(got) == 4 and expected[0] != got[0]:
        return f"this convolution should have {expected[0]} output channels (width doubles at every level down, halves on the way up), got {got[0]}."
    if len(expected) == 1 and len(got) == 4:
        return "a convolution comes where the exercise has a batch norm: every 3x3 convolution is followed by BatchNorm2d (and its bias is off: bias=False)."
    if len(expected) == 4 and len(got) == 1:
        return "the exercise's 3x3 convolutions have no bias (bias=False): the batch norm after each one has its own shift."
    return None


def _unet_probe(value, case: Case) -> torch.Tensor:
    extra = case.extra
    module = as_module(value, "the U-Net (return UNet(num_classes, ...))")
    if extra["probe"] == "parameters":
        return torch.tensor(trainable_parameters(module))
    transplant(module, extra["reference"], _unet_layer_hint)
    return run(module, extra["images"])


def _unet_case(name, args, size, batch, generator, seed, channels=None):
    in_channels = args[1]
    images = torch.rand(batch, in_channels, *size, generator=generator)
    return Case(name, args, extra={"probe": "output", "images": images, "seed": seed})


def _unet_cases(generator: torch.Generator, n_random: int) -> list:
    fixed = torch.Generator().manual_seed(6041)
    cases = [
        _unet_case("lecture example: 4 classes, width 8, depth 3, 'same', two 64x64 images", (4, 3, 8, 3, "same"), (64, 64), 2, fixed, 1),
        _unet_case("'valid' (no padding), depth 2: a 44x44 image gives 4x4 (unet_output_size)", (2, 3, 4, 2, "valid"), (44, 44), 1, fixed, 2),
        _unet_case("'valid', depth 2, a 47x50 image: odd sizes, the skips are centre-cropped", (3, 1, 4, 2, "valid"), (47, 50), 1, fixed, 3),
        _unet_case("depth 1: one pool, one up-convolution", (2, 3, 4, 1, "same"), (16, 24), 1, fixed, 4),
        _unet_case("the paper's U at depth 4, 'valid', width 2: a 188x188 tile gives 4x4", (2, 1, 2, 4, "valid"), (188, 188), 1, fixed, 5),
        Case("trainable parameters of UNet(4, 3, width=8, depth=3)", (4, 3, 8, 3, "same"), extra={"probe": "parameters"}),
    ]
    for i in range(n_random):
        classes, in_channels = random_int(generator, 2, 5), random_int(generator, 1, 3)
        width, depth = 2 * random_int(generator, 1, 3), random_int(generator, 1, 3)
        padding = ("same", "valid")[random_int(generator, 0, 1)]
        if padding == "same":
            size = tuple(2**depth * random_int(generator, 1, 4) for _ in range(2))
        else:
            smallest = models._smallest_unet_input(depth)
            size = tuple(smallest + random_int(generator, 0, 12) for _ in range(2))
        args = (classes, in_channels, width, depth, padding)
        cases.append(_unet_case(
            f"random {i + 1}: UNet({classes}, {in_channels}, width={width}, depth={depth}, {padding!r}) on {size[0]}x{size[1]}",
            args, size, random_int(generator, 1, 2), generator, random_int(generator, 0, 10**6)))
    return [_with_reference(case, models.UNet) for case in cases]


def _top_left(features: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return features[..., :height, :width]


class _UNetVariant(models.UNet):
    """The reference U-Net with one step of its forward pass changed (a known mistake): a subclass
    overrides ``_level`` (one level of the expanding path) or ``_out`` (the scores it returns)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if type(self)._level is not _UNetVariant._level:
            for level in self.decoder:  # the reference's forward calls level(x, skip): route it to _level
                level.forward = functools.partial(self._level, level)

    def _level(self, level, x, skip):
        return type(level).forward(level, x, skip)

    def forward(self, images):
        return self._out(super().forward(images))

    def _out(self, scores):
        return scores


def _centre(skip, up):
    from seglab.ops import center_crop  # the checker's own use of the reference

    return center_crop(skip, tuple(up.shape[-2:]))


def _rounded_crop(skip, height, width):
    """torchvision's center_crop: the top-left corner at round((H - h) / 2), rounding half to even."""
    top, left = int(round((skip.shape[-2] - height) / 2.0)), int(round((skip.shape[-1] - width) / 2.0))
    return skip[..., top : top + height, left : left + width]


class _RoundedCrop(_UNetVariant):
    def _level(self, level, x, skip):
        up = level.up(x)
        return level.convs(torch.cat([_rounded_crop(skip, *up.shape[-2:]), up], dim=1))


class _UpThenSkip(_UNetVariant):
    def _level(self, level, x, skip):
        up = level.up(x)
        return level.convs(torch.cat([up, _centre(skip, up)], dim=1))


class _TopLeftCrop(_UNetVariant):
    def _level(self, level, x, skip):
        up = level.up(x)
        return level.convs(torch.cat([_top_left(skip, *up.shape[-2:]), up], dim=1))


class _SoftmaxUNet(_UNetVariant):
    def _out(self, scores):
        return scores.softmax(dim=1)


class _NoSecondReLU(_UNetVariant):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for module in self.modules():
            if isinstance(module, nn.Sequential) and hasattr(module, "relu2"):
                module.relu2 = nn.Identity()


def _always_same(num_classes, in_channels=3, width=8, depth=3, padding="same"):
    return models.UNet(num_classes, in_channels, width, depth, "same")


_UNET_MISTAKES = (
    Mistake(
        "the upsampled features come first here: concatenate the (cropped) skip first, then the upsampled "
        "features, torch.cat([skip, up], dim=1), as the exercise's table says (the order decides which "
        "weights of the next convolution see which features).",
        make=_UpThenSkip,
    ),
    Mistake(
        "the skip is cropped from its top-left corner: crop it around its centre, rows "
        "(H - h) // 2 to (H - h) // 2 + h (and the same for columns), so that the pixels line up with the "
        "upsampled ones.",
        make=_TopLeftCrop,
    ),
    Mistake(
        "the skip's crop starts one pixel off where (H - h) is odd: start at (H - h) // 2, rounded down, as "
        "the exercise says (torchvision's center_crop rounds (H - h) / 2 to the nearest integer instead, "
        "half to even, which lands one pixel lower for some odd differences).",
        make=_RoundedCrop,
    ),
    Mistake(
        "the U-Net returns probabilities (a softmax over the classes): return the classifier's scores "
        "(logits); F.cross_entropy applies the softmax.",
        make=_SoftmaxUNet,
    ),
    Mistake(
        "the second convolution of each level is not followed by a ReLU: every 3x3 convolution is "
        "conv -> batch norm -> ReLU.",
        make=_NoSecondReLU,
    ),
    Mistake(
        "padding='valid' means no padding at all (padding=0): every 3x3 convolution removes a 1-pixel border, "
        "and the output is smaller than the input (unet_output_size).",
        make=_always_same,
    ),
)


@functools.lru_cache(maxsize=4)
def _unet_data(split: str, seed: int, length: int):
    dataset = data.ThingsAndStuff(length=length, size=64, split=split, seed=seed, merge_things=True)
    return data.semantic_batch(dataset, range(length))


def _unet_training_data(seed: int):
    """The recipe's data: 256 training images (the notebook's) with the class weights of their masks, and
    64 test images drawn with ``seed``."""
    images, masks = _unet_data("train", 0, 256)
    return (images, masks, _class_weights(masks, 4)), _unet_data("test", seed, 64)


def _class_weights(masks: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``frequency ** -0.5`` per class, mean 1: the rare "thing" pixels count about twice as much as sky.

    With plain cross-entropy at a constant learning rate a U-Net sometimes spends its first 200 steps
    on the three stuff classes and finds the things only later (mean IoU 0.70 for one seed of ten);
    weighted, and with the learning rate in one cycle, every seed of 0-14 reaches 0.95 in 120 steps.
    """
    frequency = torch.bincount(masks.flatten(), minlength=num_classes).double() / masks.numel()
    weights = frequency.clamp(min=1e-6) ** -0.5
    return (weights / weights.mean()).float()


def _train_unet(student_fn, prepared, seed: int) -> nn.Module:
    (images, masks, weight), _ = prepared
    torch.manual_seed(seed)
    model = as_module(student_fn(4, 3, 8, 3, "same"), "the U-Net")
    _fit(model, images, masks, steps=120, lr=1e-2, seed=seed, weight=weight, one_cycle=True)
    return model.eval()


def _segment_unet(model: nn.Module, prepared) -> torch.Tensor:
    """The trained U-Net's classes on the held-out images (``[N, H, W]``)."""
    _, (images, _) = prepared
    with torch.no_grad():
        return model(images.clone()).argmax(dim=1)


_UNET = Exercise(
    name="build_unet",
    signature="build_unet(num_classes, in_channels=3, width=8, depth=3, padding='same')",
    summary="a U-Net: double-conv levels, 2x2 max pools, 2x2 up-convolutions, centre-cropped skips "
    "concatenated, a 1x1 classifier.",
    reference=models.UNet,
    cases=_unet_cases,
    forbidden=((models, "UNet", "seglab.models.UNet"),),
    mistakes=_UNET_MISTAKES,
    dtype_from=None,
    adapt=_unet_probe,
    compared=lambda case: (
        "the number of trainable parameters"
        if case.extra["probe"] == "parameters"
        else "your U-Net's scores with the checker's weights copied into it"
    ),
    watch_answer=True,
    refused_modules=("seglab.models",),
    delegation_hint=_BUILDERS_ALLOWED,
    training=Training(
        recipe="build_unet(4, 3, width=8, depth=3) from scratch, 120 Adam steps of 8 images, one cycle "
        "up to lr 1e-2, class-weighted cross-entropy",
        metric="mean IoU on 64 held-out images",
        threshold=0.85,
        prepare=_unet_training_data,
        train=_train_unet,
        predict=_segment_unet,
        score=_score_segmentation,
        hint="the lecture's U-Net scores 0.95-0.97 with this recipe: check that every layer is registered "
        "(layers kept in a plain Python list are not: use nn.ModuleList) and that forward does not "
        "detach anything.",
    ),
)


# --- Exercise 7.5: a dilated context module ---------------------------------------------------------


def _context_probe(value, case: Case) -> torch.Tensor:
    extra = case.extra
    module = as_module(value, "the context module (an nn.Sequential of blocks)")
    if extra["probe"] == "parameters":
        return torch.tensor(trainable_parameters(module))
    transplant(module, extra["reference"], _context_layer_hint)
    if extra["probe"] == "output":
        return run(module, extra["images"])
    image = torch.ones(1, case.args[0], *extra["size"], requires_grad=True)
    out = module(image)
    if not isinstance(out, torch.Tensor) or out.shape[-2:] != image.shape[-2:]:
        raise CheckFailed(
            f"  your module maps a {list(image.shape)} input to {getattr(out, 'shape', type(out).__name__)}; the "
            f"receptive field is measured on an output of the input's size\n  hint: padding r at dilation r keeps the size."
        )
    centre = (extra["size"][0] // 2, extra["size"][1] // 2)
    out[0, 0, centre[0], centre[1]].backward()
    return (image.grad[0].abs().sum(dim=0) > 0).to(torch.float32)  # [H, W]


def _positive(reference: nn.Module) -> nn.Module:
    """``reference`` with positive weights and identity batch norms (in eval mode): every path from an
    input pixel to an output pixel carries gradient, so the gradient's support is the receptive field."""
    with torch.no_grad():
        for name, tensor in reference.state_dict().items():
            if name.endswith("running_var") or (name.endswith("weight") and tensor.dim() == 1):
                tensor.fill_(1.0)
            elif tensor.is_floating_point():
                tensor.copy_(torch.full_like(tensor, 0.01) if tensor.dim() > 1 else torch.zeros_like(tensor))
    return reference.eval()


def _context_layer_hint(name: str, expected: tuple, got: tuple | None) -> str | None:
    if got is None:
        return "one block per rate: a 3x3 convolution, a batch norm and a ReLU for every entry of rates."
    if len(expected) == 4 and len(got) == 4 and got[-1] != expected[-1]:
        return f"every convolution is 3x3 (a dilated 3x3 spans more pixels but keeps its 9 weights), got {got[-1]}x{got[-2]}."
    if len(expected) == 1 and len(got) == 4:
        return "each convolution is followed by a BatchNorm2d (and has no bias: bias=False)."
    if len(expected) == 4 and len(got) == 1:
        return "the convolutions have no bias (bias=False): the batch norm after each one has its own shift."
    return None


def _context_cases(generator: torch.Generator, n_random: int) -> list:
    fixed = torch.Generator().manual_seed(7051)
    cases = [
        Case("lecture example: 4 channels, rates (1, 2, 4, 8, 1), a 40x40 map", (4, (1, 2, 4, 8, 1)),
             extra={"probe": "output", "images": torch.randn(2, 4, 40, 40, generator=fixed), "seed": 1}),
        Case("receptive field of rates (1, 2, 4): a 15x15 square, no holes", (2, (1, 2, 4)),
             extra={"probe": "receptive field", "size": (21, 21)}),
        Case("receptive field of rates (2, 2, 2): 13x13 with holes (gridding)", (2, (2, 2, 2)),
             extra={"probe": "receptive field", "size": (21, 21)}),
        Case("parameters of rates (1, 2, 4, 8): as many as its undilated twin (1, 1, 1, 1)", (8, (1, 2, 4, 8)),
             extra={"probe": "parameters"}),
        Case("a map smaller than the widest tap (rate 8 on 6x9)", (3, (1, 8)),
             extra={"probe": "output", "images": torch.randn(1, 3, 6, 9, generator=fixed), "seed": 2}),
    ]
    for i in range(n_random):
        channels = random_int(generator, 1, 6)
        rates = tuple(random_int(generator, 1, 5) for _ in range(random_int(generator, 1, 4)))
        height, width = random_int(generator, 5, 24), random_int(generator, 5, 24)
        if random_int(generator, 0, 2) == 0:
            side = 2 * (1 + sum(rates)) + 1
            cases.append(Case(f"random {i + 1}: receptive field of rates {rates} on {side}x{side}", (channels, rates),
                              extra={"probe": "receptive field", "size": (side, side)}))
        else:
            images = torch.randn(random_int(generator, 1, 2), channels, height, width, generator=generator)
            cases.append(Case(f"random {i + 1}: {channels} channels, rates {rates}, a {height}x{width} map", (channels, rates),
                              extra={"probe": "output", "images": images, "seed": random_int(generator, 0, 10**6)}))
    return [_with_context_reference(case) for case in cases]


def _with_context_reference(case: Case) -> Case:
    if case.extra["probe"] == "receptive field":
        return Case(case.name, case.args, case.kwargs, {**case.extra, "reference": _positive(models.dilated_context(*case.args))})
    return _with_reference(case, models.dilated_context)


def _blocks(channels, rates, conv) -> nn.Sequential:
    return nn.Sequential(*[nn.Sequential(conv(rate), nn.BatchNorm2d(channels), nn.ReLU()) for rate in rates])


def _padding_one(channels, rates):
    return _blocks(channels, rates, lambda r: nn.Conv2d(channels, channels, 3, padding=1, dilation=r, bias=False))


def _stride_not_dilation(channels, rates):
    return _blocks(channels, rates, lambda r: nn.Conv2d(channels, channels, 3, padding=1, stride=r, bias=False))


def _no_dilation(channels, rates):
    return _blocks(channels, rates, lambda r: nn.Conv2d(channels, channels, 3, padding=r, bias=False))


def _reversed_rates(channels, rates):
    return models.dilated_context(channels, tuple(reversed(tuple(rates))))


_CONTEXT_MISTAKES = (
    Mistake(
        "with dilation r a 3x3 kernel spans 2r + 1 pixels: pad by r (padding=r), not 1, or every block "
        "shrinks the map by 2(r - 1) pixels.",
        make=_padding_one,
    ),
    Mistake(
        "the rate is the dilation (the gap between the taps), not the stride: stride r skips pixels and "
        "shrinks the map, which is what a context module avoids. Conv2d(c, c, 3, padding=r, dilation=r).",
        make=_stride_not_dilation,
    ),
    Mistake(
        "the convolutions are padded by r but not dilated: pass dilation=r too, or the taps stay adjacent "
        "(a plain 3x3) and the receptive field does not grow.",
        make=_no_dilation,
    ),
    Mistake(
        "the blocks run in the reverse order of rates: block i uses rates[i].",
        make=_reversed_rates,
    ),
)


_CONTEXT = Exercise(
    name="build_context_module",
    signature="build_context_module(channels, rates)",
    summary="a stack of 3x3 convolutions at dilation rates[i] (conv, batch norm, ReLU each) that keeps the map's size.",
    reference=models.dilated_context,
    cases=_context_cases,
    forbidden=(
        (models, "dilated_context", "seglab.models.dilated_context"),
        (models, "DilatedNet", "seglab.models.DilatedNet"),
    ),
    mistakes=_CONTEXT_MISTAKES,
    dtype_from=None,
    adapt=_context_probe,
    compared=lambda case: {
        "output": "your module's output with the checker's weights copied into it",
        "receptive field": "1 where the centre output pixel depends on the input, measured with autograd ([H, W])",
        "parameters": "the number of trainable parameters",
    }[case.extra["probe"]],
    watch_answer=True,
    refused_modules=("seglab.models",),
    delegation_hint=_BUILDERS_ALLOWED,
)


# --- Exercise 8.6: Mask R-CNN's mask branch -----------------------------------------------------------


def _mask_layer_hint(name: str, expected: tuple, got: tuple | None) -> str | None:
    if got is None:
        return "the branch has four layers with weights: two 3x3 convolutions, the 2x2 transposed convolution, the 1x1 predictor."
    if len(expected) == 4 and len(got) == 4 and expected[0] != got[0] and got[0] == 1:
        return "one mask per class: the last 1x1 convolution has num_classes output channels, not 1 (Mask R-CNN predicts a mask for every class and uses the RoI's)."
    if len(expected) == 4 and len(got) == 4 and expected[-1] == 2 and got[-1] != 2:
        return "the upsampling is a 2x2 transposed convolution with stride 2 (ConvTranspose2d(C, C, 2, stride=2)): 14 x 14 -> 28 x 28."
    if len(expected) == 1 and len(got) == 4:
        return "the convolutions have a bias (torchvision's MaskRCNNHeads: Conv2d(C, C, 3, padding=1), then ReLU, no batch norm)."
    if len(expected) == 4 and len(got) == 1:
        return "a layer is missing before this bias, or a batch norm stands where the next convolution belongs: the branch has no batch norm."
    return None


def _mask_probe(value, case: Case) -> torch.Tensor:
    extra = case.extra
    module = as_module(value, "the mask branch (an nn.Module, e.g. an nn.Sequential)")
    if extra["probe"] == "parameters":
        return torch.tensor(trainable_parameters(module))
    transplant(module, extra["reference"], _mask_layer_hint)
    return run(module, extra["rois"])


def _mask_cases(generator: torch.Generator, n_random: int) -> list:
    fixed = torch.Generator().manual_seed(8061)
    cases = [
        Case("lecture example: the checkpoint's branch, 64 channels, 4 classes, three 14x14 RoIs", (64, 4),
             extra={"probe": "output", "rois": torch.randn(3, 64, 14, 14, generator=fixed).relu(), "seed": 1}),
        Case("no RoIs at all: [0, 8, 14, 14] -> [0, 2, 28, 28]", (8, 2),
             extra={"probe": "output", "rois": torch.zeros(0, 8, 14, 14), "seed": 2}),
        Case("7x7 RoIs (the box branch's size) give 14x14 masks", (16, 3),
             extra={"probe": "output", "rois": torch.randn(2, 16, 7, 7, generator=fixed).relu(), "seed": 3}),
        Case("trainable parameters of the checkpoint's branch (64 channels, 4 classes)", (64, 4), extra={"probe": "parameters"}),
    ]
    for i in range(n_random):
        channels, classes = 4 * random_int(generator, 1, 4), random_int(generator, 2, 5)
        rois, side = random_int(generator, 0, 4), (7, 14)[random_int(generator, 0, 1)]
        cases.append(Case(
            f"random {i + 1}: {channels} channels, {classes} classes, {rois} RoIs of {side}x{side}", (channels, classes),
            extra={"probe": "output", "rois": torch.randn(rois, channels, side, side, generator=generator).relu(),
                   "seed": random_int(generator, 0, 10**6)},
        ))
    return [_with_reference(case, models.mask_head) for case in cases]


class _MaskVariant(nn.Module):
    """torchvision's branch with one step of its forward pass changed (a known mistake)."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.branch = models.mask_head(in_channels, num_classes)

    def _layers(self):
        head, predictor = self.branch
        return [head[0][0], head[1][0], predictor.conv5_mask, predictor.mask_fcn_logits]

    def forward(self, x):
        conv1, conv2, up, logits = self._layers()
        return self._after(logits(self._up(up, F.relu(conv2(F.relu(conv1(x)))))))

    def _up(self, up, x):
        return F.relu(up(x))

    def _after(self, scores):
        return scores


class _SigmoidMasks(_MaskVariant):
    def _after(self, scores):
        return scores.sigmoid()


class _SoftmaxMasks(_MaskVariant):
    def _after(self, scores):
        return scores.softmax(dim=1)


class _ReluLogits(_MaskVariant):
    def _after(self, scores):
        return F.relu(scores)


class _NoReluAfterUp(_MaskVariant):
    def _up(self, up, x):
        return up(x)


_MASK_MISTAKES = (
    Mistake(
        "the branch returns probabilities (a sigmoid): return the mask logits. The loss "
        "(binary_cross_entropy_with_logits) and torchvision's inference apply the sigmoid themselves.",
        make=_SigmoidMasks,
    ),
    Mistake(
        "a softmax over the classes makes the class masks compete for every pixel: Mask R-CNN decouples them, "
        "one independent binary mask per class (a sigmoid each, in the loss), and returns logits.",
        make=_SoftmaxMasks,
    ),
    Mistake(
        "the mask logits go through a ReLU: logits may be negative (a negative logit is a background pixel); "
        "no activation after the last 1x1 convolution.",
        make=_ReluLogits,
    ),
    Mistake(
        "no ReLU after the 2x2 transposed convolution: torchvision's predictor is conv5_mask -> ReLU -> mask_fcn_logits.",
        make=_NoReluAfterUp,
    ),
)


@functools.lru_cache(maxsize=1)
def _mask_rcnn():
    """The trained Mask R-CNN checkpoint, in eval mode (its mask branch is replaced in copies only)."""
    return models.load_checkpoint("maskrcnn_things").eval()


@functools.lru_cache(maxsize=4)
def _mask_training_rois(split: str, seed: int, length: int):
    """The checkpoint's RoIAlign features of every object's true box (``[R, 64, 14, 14]``), its class and its
    28 x 28 mask target (the true mask cut out by the same RoIAlign), for ``length`` images of ``split``."""
    from torchvision.ops import roi_align  # imported when first needed: importing the checkers stays light

    detector = _mask_rcnn().detector
    dataset = data.ThingsAndStuff(length=length, size=128, split=split, seed=seed)
    images, targets = zip(*(dataset[i] for i in range(length)))  # each image drawn once
    with torch.no_grad():
        batch, _ = detector.transform(list(images))
        features = detector.backbone(batch.tensors)
        rois = detector.roi_heads.mask_roi_pool(features, [t["boxes"] for t in targets], batch.image_sizes)
        masks = []
        for target in targets:
            boxes = target["boxes"]
            index = torch.arange(len(boxes), dtype=torch.float32)[:, None]
            masks.append(roi_align(target["masks"][:, None].float(), torch.cat([index, boxes], dim=1), (28, 28), 1.0)[:, 0])
    return rois, torch.cat([t["labels"] for t in targets]), torch.cat(masks)


def _mask_training_data(seed: int):
    """The recipe's data: RoI features of 128 training images; 48 test images drawn with ``seed``, their
    targets, and the features the checkpoint's mask branch receives on them (on 48 images the
    checkpoint's own branch scores 0.87-1.0 for the seeds tried; on 16, a missed rare triangle can
    halve a class's AP)."""
    return _mask_training_rois("train", 0, 128), _mask_test_data(seed)


@functools.lru_cache(maxsize=2)
def _mask_test_data(seed: int):
    """48 test images, their targets, and the RoI features the checkpoint hands its mask branch on them.

    The checkpoint detects with its own branch replaced by one that records its input: the boxes do
    not depend on the mask branch, so any branch receives exactly these features.
    """
    test = data.ThingsAndStuff(length=48, size=128, split="test", seed=seed)
    images, targets = zip(*(test[i] for i in range(len(test))))
    recorder = _Recorder()
    _detect_with(recorder, images)
    return list(images), list(targets), torch.cat(recorder.seen) if recorder.seen else torch.zeros(0, 64, 14, 14)


class _Recorder(nn.Module):
    """A stand-in mask branch that keeps its input (and returns zeros of the right shape)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, features):
        self.seen.append(features)
        return features.new_zeros(len(features), 4, 2 * features.shape[-2], 2 * features.shape[-1])


class _Replay(nn.Module):
    """A stand-in mask branch that returns given mask logits."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, features):
        return self.logits


def _detect_with(branch: nn.Module, images) -> list[dict]:
    """The checkpoint's detections of ``images`` with ``branch`` as its mask branch (a copy: the
    checkpoint keeps its own)."""
    model = copy.deepcopy(_mask_rcnn())
    model.detector.roi_heads.mask_head, model.detector.roi_heads.mask_predictor = branch, nn.Identity()
    with torch.no_grad():
        return model(list(images))


def _train_mask_head(student_fn, prepared, seed: int) -> nn.Module:
    (rois, labels, targets), _ = prepared
    torch.manual_seed(seed)
    head = as_module(student_fn(64, 4), "the mask branch")
    parameters = [p for p in head.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(parameters, lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    head.train()
    for _ in range(100):
        index = torch.randint(0, len(rois), (16,), generator=generator)
        logits = head(rois[index])  # [16, K, 28, 28]
        own_class = logits[torch.arange(len(index)), labels[index]]  # the RoI's class only (lecture 8)
        loss = F.binary_cross_entropy_with_logits(own_class, targets[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return head.eval()


def _mask_logits(head: nn.Module, prepared) -> torch.Tensor:
    """The trained branch's mask logits for the RoIs the checkpoint finds in the held-out images."""
    _, (_, _, features) = prepared
    with torch.no_grad():
        return head(features.clone())


def _score_mask_head(logits, prepared) -> float:
    """Mask AP50 of the checkpoint with ``logits`` as its mask branch's output, on the held-out images."""
    _, (images, targets, features) = prepared
    if not isinstance(logits, torch.Tensor) or logits.shape != (len(features), 4, 28, 28):
        return float("nan")
    predictions = _detect_with(_Replay(logits), images)
    return float(detection.evaluate_detections(predictions, targets, 4)[0].nanmean())


_MASK_HEAD = Exercise(
    name="build_mask_head",
    signature="build_mask_head(in_channels, num_classes)",
    summary="Mask R-CNN's mask branch on RoIAlign's features: two 3x3 convs, a 2x2 transposed conv, a 1x1 "
    "conv to one mask logit map per class.",
    reference=models.mask_head,
    cases=_mask_cases,
    forbidden=(
        (models, "mask_head", "seglab.models.mask_head"),
        ("torchvision.models.detection.mask_rcnn", "MaskRCNNHeads", "torchvision.models.detection.mask_rcnn.MaskRCNNHeads"),
        ("torchvision.models.detection.mask_rcnn", "MaskRCNNPredictor", "torchvision.models.detection.mask_rcnn.MaskRCNNPredictor"),
    ),
    mistakes=_MASK_MISTAKES,
    dtype_from=None,
    adapt=_mask_probe,
    compared=lambda case: (
        "the number of trainable parameters"
        if case.extra["probe"] == "parameters"
        else "your branch's mask logits with torchvision's weights copied into it"
    ),
    watch_answer=True,
    refused_modules=("seglab.models",),
    delegation_hint=_BUILDERS_ALLOWED,
    training=Training(
        recipe="the branch in the trained Mask R-CNN checkpoint, 100 Adam steps of 16 RoIs, lr 3e-3",
        metric="mask AP50 on 48 held-out images",
        threshold=0.8,
        prepare=_mask_training_data,
        train=_train_mask_head,
        predict=_mask_logits,
        score=_score_mask_head,
        hint="the checkpoint's own branch gets 0.93 to 1.0 here: check that the branch returns logits for every "
        "class (the recipe trains the channel of each RoI's class) and that nothing in forward detaches them.",
    ),
)


# --- concept checks --------------------------------------------------------------------------------

_CONCEPTS = (
    Question(
        "5.b",
        "How many trainable parameters has FCN-8s's head of Exercise 5.2 with K = 4 classes and width w = 8 "
        "(`pool3` has 32 channels, `pool4` and `fc7` 64)? (a whole number)",
        answer=1164,
        mistakes={
            1164 + 4096: "upscore8 is counted: it is fixed to bilinear upsampling (requires_grad=False), so an optimiser "
            "never changes it and it is not a trainable parameter.",
            1164 + 1024: "upscore8 is counted, in its depthwise form: it is fixed (requires_grad=False), not trainable.",
            1164 - 12: "the three 1x1 score layers have a bias each, K values per layer.",
            1164 + 8: "the two learned upsamplings have no bias (bias=False): bilinear upsampling adds nothing.",
        },
        explanation="Count each layer: a 1x1 convolution from C to K channels has C K weights and K biases; a "
        "transposed convolution K -> K with a k x k kernel has K K k k weights; fixed layers do not count "
        "(lecture 5, the FCN-8s table).",
    ),
    Question(
        "6.c",
        "In `build_unet(4, width=8, depth=3)`, the decoder level whose output has 16 channels concatenates its skip "
        "with its up-convolution's output. How many input channels has its first 3x3 convolution? (a whole number)",
        answer=32,
        mistakes={
            16: "16 channels is what adding the skip to the upsampled features would give; U-Net concatenates them, "
            "so their channels add up.",
            48: "the up-convolution halves the channels before the concatenation: the coarser level's channels are "
            "not what is concatenated, the up-convolution's output is.",
        },
        explanation="Count the channels of the two tensors that torch.cat puts side by side: the encoder's skip at that "
        "level and the up-convolution's output (lecture 6, the U).",
    ),
    Question(
        "7.e",
        "How many trainable parameters has `build_context_module(16, (1, 2, 4, 8))`: four blocks of a 3x3 convolution "
        "without bias, a batch norm and a ReLU? (a whole number)",
        answer=4 * (9 * 16 * 16 + 2 * 16),
        mistakes={
            4 * 9 * 16 * 16: "the batch norms are missing: each learns a scale and a shift per channel.",
            4 * (9 * 16 * 16 + 4 * 16): "the batch norms' running mean and variance are counted: they are buffers, "
            "estimated from the data, not trained parameters.",
            sum((2 * r + 1) ** 2 * 256 for r in (1, 2, 4, 8)) + 4 * 32: "a dilated 3x3 kernel still has 9 weights per "
            "pair of channels: the rate spreads the taps apart, it adds none.",
            4 * (9 * 16 * 16 + 2 * 16) + 64: "the convolutions have no bias (bias=False).",
        },
        explanation="A 3x3 convolution from C to C channels has 9 C C weights whatever its dilation; a batch norm has "
        "2 C trainable parameters (lecture 7: the dilated network and its undilated twin have the same weights).",
    ),
    Question(
        "8.e",
        "The mask branch turns 14 x 14 RoI features into 28 x 28 masks with one `nn.ConvTranspose2d(C, C, k, stride=2, "
        "padding=p)`. Which kernel size and padding give exactly 28?",
        answer="d",
        kind="choice",
        options=("k = 2, padding 0", "k = 3, padding 0", "k = 4, padding 1", "both k = 2, padding 0 and k = 4, padding 1"),
        mistakes={
            "a": "k = 2 with padding 0 gives 28, but it is not the only pair here: work the output size out for the others too.",
            "b": "k = 3 gives (14 - 1) 2 + 3 = 29, one pixel too many (and overlapping stamps).",
            "c": "k = 4 with padding 1 gives 28, but it is not the only pair here: work the output size out for the others too.",
        },
        explanation="A transposed convolution maps n to (n - 1) s + k - 2p (lecture 4); Mask R-CNN's predictor uses "
        "k = 2, whose stamps do not overlap.",
    ),
)


ASSIGNMENT = Assignment(
    name="networks",
    title="building and training networks: FCN-8s's head, a U-Net, a dilated context module, Mask R-CNN's mask branch",
    lectures=(5, 6, 7, 8),
    exercises=(
        Graded("5.2", _FCN8S_HEAD, points=3),
        Graded("6.4", _UNET, points=4),
        Graded("7.5", _CONTEXT, points=2),
        Graded("8.6", _MASK_HEAD, points=3),
    ),
    namespace=globals(),
    concepts=_CONCEPTS,
)
__all__ = ASSIGNMENT.export()  # ASSIGNMENT and one checker function per exercise
