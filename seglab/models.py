"""Segmentation networks of the lectures, small enough to train on a laptop CPU.

=====================  ==============================================================================
PatchClassifier        lecture 2: classifies the centre pixel of a ``p x p`` patch (the sliding window);
                       ``to_fully_convolutional()`` turns it into lecture 3's fully convolutional net
SmallFCN               lecture 3: encoder (two 2x2 max pools, /4) + decoder (two bilinear 2x
                       upsamplings) + 1x1 classifier: a logit per class at every pixel
VGGBackbone            lecture 5: the FCNs' encoder, five conv stages ending in 2x2 max pools
                       (``pool1`` .. ``pool5``, strides 2 .. 32), then ``fc6``, ``fc7`` as convolutions
FCN32s                 lecture 5: class scores at stride 32, upsampled x32 in one step (blobby)
FCN16s                 lecture 5: + class scores from ``pool4`` (stride 16), upsampled x16
FCN8s                  lecture 5: + class scores from ``pool3`` (stride 8), upsampled x8 (finer edges)
FCN8sHead              lecture 5: FCN-8s's layers after the backbone, on its features (the networks assignment)
UNet                   lecture 6: contracting path, bottleneck, expanding path with crop-and-concatenate
                       skips; ``padding="valid"`` (572 -> 388) or ``"same"``; its first level can start
                       from a trained ``PatchClassifier`` (transfer learning)
DilatedNet             lecture 7: full resolution throughout, context from 3x3 convolutions at growing
                       dilation rates (``rates=(1,) * n`` is its undilated twin); optional ASPP head
dilated_context        lecture 7: the context module alone, one dilated 3x3 block per rate
ASPP                   lecture 7: atrous spatial pyramid pooling, parallel branches at several rates
SmallMaskRCNN          lecture 8: torchvision's ``MaskRCNN`` (region proposals, RoIAlign, box, class and
                       per-class mask heads) on a small backbone, for 128x128 images on a CPU
mask_head              lecture 8: its per-class mask branch (torchvision's pieces), on RoIAlign's features
SmallFPNBackbone       lecture 8: its backbone, four strided conv stages and a feature pyramid
load_checkpoint        a trained network shipped with the package (``seglab/checkpoints/*.pt``)
save_checkpoint        write one: weights, constructor arguments, the recorded training result
available_checkpoints  the names ``load_checkpoint`` accepts (these three live in ``seglab.checkpoint``)
count_parameters       the number of trainable parameters of a model
=====================  ==============================================================================

Every network is an ``nn.Module`` whose parts are named (``features``, ``classifier``,
``encoder``, ``decoder``, ...), so ``print(model)`` reads like the diagram in the lecture.
Inputs are NCHW float tensors; outputs are raw scores (logits): apply ``softmax`` over dim 1
for probabilities and ``argmax`` over dim 1 for labels.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from torch import nn

from seglab._validate import check_image_batch, check_image_list, describe, positive_int
from seglab.checkpoint import available_checkpoints, load_checkpoint, save_checkpoint
from seglab.ops import _smallest_unet_input, bilinear_kernel, crop_and_concat, fc_to_conv, receptive_field, unet_output_size

__all__ = [
    "PatchClassifier",
    "SmallFCN",
    "VGGBackbone",
    "FCN32s",
    "FCN16s",
    "FCN8s",
    "FCN8sHead",
    "UNet",
    "ASPP",
    "DilatedNet",
    "dilated_context",
    "SmallFPNBackbone",
    "SmallMaskRCNN",
    "mask_head",
    "load_checkpoint",
    "save_checkpoint",
    "available_checkpoints",
    "count_parameters",
]


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters (those with ``requires_grad``) of ``model``.

    Args:
        model (nn.Module): any network.

    Returns:
        int: the sum of ``p.numel()`` over the parameters that require gradients.

    Example:
        >>> count_parameters(nn.Linear(10, 3))  # 10 * 3 weights + 3 biases
        33
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {describe(model)}.")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --- lecture 2 -> 3: the patch classifier and its fully convolutional twin -------------------------


class PatchClassifier(nn.Module):
    """Classifies the centre pixel of a ``p x p`` patch: the sliding-window pixel classifier.

    Two unpadded 3x3 convolutions with stride 1 (no pooling) shrink the patch by 4 pixels
    (11 -> 9 -> 7), then two fully connected layers score the classes::

        features:   conv1 (3x3) -> ReLU -> conv2 (3x3) -> ReLU      [B, width, p - 4, p - 4]
        classifier: flatten -> fc1 -> ReLU -> fc2                   [B, num_classes]

    Because nothing is padded, strided or pooled, :meth:`to_fully_convolutional` gives a network
    that computes *exactly* this classifier's answer for the window centred on every pixel of a
    whole image, in one pass (lecture 3).

    Training: 20,000 class-balanced 11 x 11 patches of 500 ``ThingsAndStuff(size=64,
    merge_things=True)`` images (``seglab.data.sample_patches(..., balanced=True)``) and
    ``seglab.train.fit(model, (patches, labels), batch_size=128, max_seconds=10)`` (Adam,
    ``lr=1e-3``); the sliding window over whole images is ``to_fully_convolutional(pad=True)``.
    The README's benchmark table holds the measured results (its sliding-window rows).
    ``lr=3e-3`` learns faster but its loss spikes now and then, which a time-limited run may
    stop on.

    Args:
        num_classes (int): the number of classes ``K``.
        in_channels (int): image channels ``C`` (3 for RGB).
        patch_size (int): the patch side ``p``, odd (so the patch has a centre pixel) and >= 5.
        width (int): channels of both convolutions.
        hidden (int): units of the hidden fully connected layer.

    Shape:
        - Input: ``[B, C, p, p]`` float patches.
        - Output: ``[B, K]`` class scores (logits) for the centre pixel of each patch.

    Raises:
        ValueError: ``patch_size`` is even or smaller than 5; in ``forward``, the input is not
            ``[B, C, p, p]``.

    Example:
        >>> model = PatchClassifier(num_classes=4)  # 11 x 11 patches
        >>> model(torch.zeros(8, 3, 11, 11)).shape
        torch.Size([8, 4])
        >>> model.classifier.fc1  # 32 channels x 7 x 7 positions, flattened
        Linear(in_features=1568, out_features=64, bias=True)
        >>> dense = model.to_fully_convolutional(pad=True)  # any image size, one answer per pixel
        >>> dense(torch.zeros(2, 3, 64, 48)).shape
        torch.Size([2, 4, 64, 48])
    """

    def __init__(self, num_classes: int, in_channels: int = 3, patch_size: int = 11, width: int = 32, hidden: int = 64):
        super().__init__()
        num_classes = positive_int(num_classes, "num_classes")
        in_channels = positive_int(in_channels, "in_channels")
        patch_size = positive_int(patch_size, "patch_size")
        width = positive_int(width, "width")
        hidden = positive_int(hidden, "hidden")
        if patch_size % 2 == 0 or patch_size < 5:
            raise ValueError(
                f"patch_size: expected an odd int >= 5 (a centre pixel, and room for two 3x3 convolutions), "
                f"got {patch_size}. Hint: use {max(5, patch_size + 1)}."
            )
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.patch_size = patch_size
        feature_size = patch_size - 4  # each unpadded 3x3 convolution removes a 1-pixel border
        self.features = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, width, kernel_size=3),  # p -> p - 2
                relu1=nn.ReLU(),
                conv2=nn.Conv2d(width, width, kernel_size=3),  # p - 2 -> p - 4
                relu2=nn.ReLU(),
            )
        )
        self.classifier = nn.Sequential(
            OrderedDict(
                flatten=nn.Flatten(),  # [B, width, p - 4, p - 4] -> [B, width * (p - 4)**2]
                fc1=nn.Linear(width * feature_size * feature_size, hidden),
                relu=nn.ReLU(),
                fc2=nn.Linear(hidden, num_classes),
            )
        )

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        p = self.patch_size
        expected = (self.in_channels, p, p)
        if not isinstance(patches, torch.Tensor) or patches.dim() != 4 or tuple(patches.shape[1:]) != expected:
            raise ValueError(
                f"PatchClassifier: expected patches of shape [B, {self.in_channels}, {p}, {p}], "
                f"got {describe(patches)}. Hint: cut {p}x{p} patches (seglab.data.sample_patches(..., "
                f"patch_size={p})); to classify every pixel of whole images use "
                f"model.to_fully_convolutional(pad=True)."
            )
        return self.classifier(self.features(patches))  # [B, K]

    def to_fully_convolutional(self, pad: bool = False) -> nn.Sequential:
        """The same classifier as a fully convolutional network: one answer per window position.

        ``fc1`` becomes a convolution whose kernel covers its whole ``width x (p-4) x (p-4)``
        input, ``fc2`` a 1x1 convolution (both by :func:`seglab.ops.fc_to_conv`, same weights).
        On a ``p x p`` patch the result is the classifier's ``[B, K, 1, 1]``; on a larger input
        the classifier slides over it with stride 1, so output pixel ``(r, c)`` is the score of
        the window whose top-left corner is ``(r, c)``. Zero-padding the image by ``p // 2``
        first (``pad=True``) centres the windows: output ``(r, c)`` then classifies the window
        centred on pixel ``(r, c)``, exactly as the sliding window of lecture 2 does.

        Args:
            pad (bool): prepend ``nn.ZeroPad2d(p // 2)`` (named ``pad``), so the output has the
                input's size.

        Returns:
            nn.Sequential: ``pad`` (if asked), ``features``, ``fc1``, ``relu``, ``fc2``. A copy:
            training this classifier further does not change it.

        Shape:
            - Input: ``[B, C, H + p - 1, W + p - 1]`` (or ``[B, C, H, W]`` with ``pad=True``).
            - Output: ``[B, K, H, W]``.

        Example:
            >>> model = PatchClassifier(num_classes=4, patch_size=11)
            >>> dense = model.to_fully_convolutional()
            >>> dense.fc1
            Conv2d(32, 64, kernel_size=(7, 7), stride=(1, 1))
            >>> dense(torch.zeros(1, 3, 11, 11)).shape  # one window: the classifier itself
            torch.Size([1, 4, 1, 1])
            >>> dense(torch.zeros(1, 3, 20, 30)).shape  # 10 x 20 window positions
            torch.Size([1, 4, 10, 20])
        """
        fc1, fc2 = self.classifier.fc1, self.classifier.fc2
        width = self.features.conv2.out_channels
        feature_size = self.patch_size - 4
        layers = OrderedDict()
        if pad:
            layers["pad"] = nn.ZeroPad2d(self.patch_size // 2)
        layers["features"] = copy.deepcopy(self.features)  # copies: the result owns its weights
        layers["fc1"] = fc_to_conv(fc1, (width, feature_size, feature_size))  # kernel = whole feature map
        layers["relu"] = nn.ReLU()
        layers["fc2"] = fc_to_conv(fc2, (fc2.in_features, 1, 1))  # a 1x1 convolution
        return nn.Sequential(layers).train(self.training)


# --- lecture 3: a small fully convolutional network ----------------------------------------------


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution (padding 1, so the size is kept) -> batch norm -> ReLU."""
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            bn=nn.BatchNorm2d(out_channels),
            relu=nn.ReLU(inplace=True),
        )
    )


class SmallFCN(nn.Module):
    """A small fully convolutional network: downsample by 4, upsample back, classify every pixel.

    ::

        encoder     block1 (C -> w)                 [B, w, H, W]
                    pool1 (2x2 max)                 [B, w, H/2, W/2]
                    block2 (w -> 2w)                [B, 2w, H/2, W/2]
                    pool2 (2x2 max)                 [B, 2w, H/4, W/4]
                    block3, block4 (2w -> 2w)       [B, 2w, H/4, W/4]   the context
        decoder     up1 (bilinear x2)               [B, 2w, H/2, W/2]
                    block5 (2w -> w)                [B, w, H/2, W/2]
                    up2 (bilinear x2)               [B, w, H, W]
        classifier  1x1 conv (w -> K)               [B, K, H, W]        a linear classifier per pixel

    Every block is a 3x3 convolution (padding 1, so the size is kept) -> batch norm -> ReLU. The
    pools make the later 3x3 convolutions see far: every output pixel's receptive field is about
    36 x 36 pixels, where the same 5 convolutions at full resolution would see 11 x 11
    (``1 + 2L``). The decoder upsamples by plain bilinear interpolation (nothing learned) and
    has no skip connections, so fine detail must survive the trip through ``H/4``: learned
    upsampling (lecture 4), FCN-8s skips (lecture 5) and U-Net (lecture 6) do better.
    With ``width=32``: 112,100 parameters (``num_classes=4``).

    Training: on ``ThingsAndStuff(size=64, merge_things=True)``, 500 training images,
    ``seglab.train.fit(model, (images, masks), max_seconds=20)`` at its defaults (Adam,
    ``lr=1e-3``, ``batch_size=8``). The README's benchmark table holds the measured result
    (its ``SmallFCN`` row).

    Args:
        num_classes (int): the number of classes ``K``.
        in_channels (int): image channels ``C``.
        width (int): channels ``w`` at full and half resolution; ``2w`` at quarter resolution.

    Shape:
        - Input: ``[B, C, H, W]``, ``H`` and ``W`` divisible by 4.
        - Output: ``[B, K, H, W]`` logits.

    Raises:
        ValueError: in ``forward``, the input is not ``[B, C, H, W]`` or ``H`` or ``W`` is not
            divisible by 4.
        TypeError: in ``forward``, the input is not a float tensor.

    Example:
        >>> model = SmallFCN(num_classes=4)
        >>> model(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 4, 64, 64])
        >>> count_parameters(model)
        112100
        >>> model.decoder.up1
        Upsample(scale_factor=2.0, mode='bilinear')
    """

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 32):
        super().__init__()
        num_classes = positive_int(num_classes, "num_classes")
        in_channels = positive_int(in_channels, "in_channels")
        w = positive_int(width, "width")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.encoder = nn.Sequential(
            OrderedDict(
                block1=_conv_block(in_channels, w),
                pool1=nn.MaxPool2d(2),  # H -> H/2
                block2=_conv_block(w, 2 * w),
                pool2=nn.MaxPool2d(2),  # H/2 -> H/4
                block3=_conv_block(2 * w, 2 * w),
                block4=_conv_block(2 * w, 2 * w),
            )
        )
        self.decoder = nn.Sequential(
            OrderedDict(
                up1=nn.Upsample(scale_factor=2, mode="bilinear"),  # H/4 -> H/2
                block5=_conv_block(2 * w, w),
                up2=nn.Upsample(scale_factor=2, mode="bilinear"),  # H/2 -> H
            )
        )
        self.classifier = nn.Conv2d(w, num_classes, kernel_size=1)  # a linear classifier per pixel

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_image_batch(images, "SmallFCN", self.in_channels, allow_empty=True)
        _check_divisible(images, "SmallFCN", 4, "two 2x2 max pools, then two 2x upsamplings")
        features = self.encoder(images)  # [B, 2w, H/4, W/4]
        return self.classifier(self.decoder(features))  # [B, K, H, W]


def _check_divisible(images: torch.Tensor, model: str, multiple: int, why: str) -> None:
    """``H`` and ``W`` of ``images`` are multiples of ``multiple``, or a ``ValueError`` that says
    how to pad (or crop) them."""
    height, width = images.shape[-2:]
    if height % multiple or width % multiple:
        fit_h, fit_w = -(-height // multiple) * multiple, -(-width // multiple) * multiple  # round up
        hint = (
            f"pad the images to {fit_h}x{fit_w}, e.g. "
            f"F.pad(images, (0, {fit_w - width}, 0, {fit_h - height}))"
        )
        crop_h, crop_w = height // multiple * multiple, width // multiple * multiple  # round down
        if crop_h and crop_w:
            hint += f", or crop them to {crop_h}x{crop_w}"
        raise ValueError(
            f"{model}: expected H and W divisible by {multiple} ({why}), got {height}x{width}. Hint: {hint}."
        )


# --- lecture 5: FCN-32s, FCN-16s, FCN-8s ----------------------------------------------------------


class VGGBackbone(nn.Module):
    """The FCNs' encoder: a small VGG, five stages of two 3x3 convolutions each ending in a 2x2 max pool.

    VGG-16's layout at a ``width / 64`` of its channels, with batch norm after every convolution
    (so that it trains from scratch in seconds), and its fully connected ``fc6`` and ``fc7``
    already written as convolutions (lecture 3)::

        conv1 (C -> w),   pool1     [B, w, H/2, W/2]
        conv2 (w -> 2w),  pool2     [B, 2w, H/4, W/4]
        conv3 (2w -> 4w), pool3     [B, 4w, H/8, W/8]       returned as "pool3"
        conv4 (4w -> 8w), pool4     [B, 8w, H/16, W/16]     returned as "pool4"
        conv5 (8w -> 8w), pool5     [B, 8w, H/32, W/32]
        fc6 (3x3 conv), fc7 (1x1)   [B, 8w, H/32, W/32]     returned as "fc7"

    Each ``convN`` is two blocks of 3x3 convolution (padding 1, so the size is kept) -> batch
    norm -> ReLU; each pool halves the size. ``fc6`` is a 3x3 convolution (VGG's is 7x7, as
    large as its 224-pixel images' ``pool5``), ``fc7`` a 1x1 convolution, both followed by batch
    norm and ReLU. With ``width=16``: 753,776 parameters.

    Args:
        in_channels (int): image channels ``C``.
        width (int): channels ``w`` of the first stage; they double up to ``8w``.

    Shape:
        - Input: ``[B, C, H, W]``, ``H`` and ``W`` divisible by 32.
        - Output: a dict ``{"pool3": [B, 4w, H/8, W/8], "pool4": [B, 8w, H/16, W/16],
          "fc7": [B, 8w, H/32, W/32]}``.

    Raises:
        ValueError: in ``forward``, the input is not ``[B, C, H, W]`` or ``H`` or ``W`` is not
            divisible by 32.
        TypeError: in ``forward``, the input is not a float tensor.

    Example:
        >>> backbone = VGGBackbone(width=16)
        >>> features = backbone(torch.zeros(1, 3, 64, 64))
        >>> {name: tuple(f.shape) for name, f in features.items()}
        {'pool3': (1, 64, 8, 8), 'pool4': (1, 128, 4, 4), 'fc7': (1, 128, 2, 2)}
        >>> count_parameters(backbone)
        753776
    """

    def __init__(self, in_channels: int = 3, width: int = 16):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        w = positive_int(width, "width")
        self.conv1, self.pool1 = _vgg_stage(in_channels, w), nn.MaxPool2d(2)  # stride 2
        self.conv2, self.pool2 = _vgg_stage(w, 2 * w), nn.MaxPool2d(2)  # stride 4
        self.conv3, self.pool3 = _vgg_stage(2 * w, 4 * w), nn.MaxPool2d(2)  # stride 8
        self.conv4, self.pool4 = _vgg_stage(4 * w, 8 * w), nn.MaxPool2d(2)  # stride 16
        self.conv5, self.pool5 = _vgg_stage(8 * w, 8 * w), nn.MaxPool2d(2)  # stride 32
        self.fc6 = _conv_block(8 * w, 8 * w)  # VGG's fc6, as a (3x3) convolution
        self.fc7 = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(8 * w, 8 * w, kernel_size=1, bias=False),  # VGG's fc7, as a 1x1 convolution
                bn=nn.BatchNorm2d(8 * w),
                relu=nn.ReLU(inplace=True),
            )
        )

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        check_image_batch(images, "VGGBackbone", self.in_channels, allow_empty=True)
        _check_divisible(images, "VGGBackbone", 32, "five 2x2 max pools")
        x = self.pool1(self.conv1(images))  # [B, w, H/2, W/2]
        x = self.pool2(self.conv2(x))  # [B, 2w, H/4, W/4]
        pool3 = self.pool3(self.conv3(x))  # [B, 4w, H/8, W/8]
        pool4 = self.pool4(self.conv4(pool3))  # [B, 8w, H/16, W/16]
        x = self.pool5(self.conv5(pool4))  # [B, 8w, H/32, W/32]
        fc7 = self.fc7(self.fc6(x))  # [B, 8w, H/32, W/32]
        return {"pool3": pool3, "pool4": pool4, "fc7": fc7}


def _vgg_stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two blocks of 3x3 convolution -> batch norm -> ReLU (VGG's ``convN_1``, ``convN_2``)."""
    return nn.Sequential(
        OrderedDict(block1=_conv_block(in_channels, out_channels), block2=_conv_block(out_channels, out_channels))
    )


def _bilinear_upsampling(channels: int, factor: int, learnable: bool) -> nn.ConvTranspose2d:
    """A transposed convolution that starts as bilinear upsampling by ``factor``, channel by channel.

    ``ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2)``
    (even ``factor``) maps ``n`` pixels to ``n * factor``; with the kernel of
    :func:`seglab.ops.bilinear_kernel` it equals ``F.interpolate(..., mode="bilinear")`` away from
    the border. At the border it interpolates towards zero instead of repeating the edge: all
    channels shrink by the same factor there, so the argmax over classes does not change.

    A learnable one gets the full ``[channels, channels, k, k]`` weight (channel ``i`` to ``i``
    at first; training may mix the classes). A fixed one is depthwise (``groups=channels``,
    weight ``[channels, 1, k, k]``): the same function as the diagonal full weight, ``channels``
    times cheaper, which matters for the 64 x 64 kernel of the x32 upsampling.
    """
    k = 2 * factor - factor % 2
    groups = 1 if learnable else channels
    up = nn.ConvTranspose2d(
        channels, channels, kernel_size=k, stride=factor, padding=factor // 2, groups=groups, bias=False
    )
    with torch.no_grad():
        if learnable:
            up.weight.copy_(bilinear_kernel(factor, channels))  # [channels, channels, k, k], channel i -> i only
        else:
            up.weight.copy_(bilinear_kernel(factor).expand(channels, 1, k, k))  # one kernel per channel
    up.weight.requires_grad_(learnable)
    return up


def _zero_conv1x1(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A 1x1 convolution with zero weights and bias: adds nothing until it is trained."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class _FCN(nn.Module):
    """What FCN-32s, FCN-16s and FCN-8s share: the backbone, ``score_fr``, the input checks."""

    prediction_stride = 32  # the stride of the finest class scores, before the final upsampling

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16):
        super().__init__()
        self.num_classes = positive_int(num_classes, "num_classes")
        self.in_channels = positive_int(in_channels, "in_channels")
        self.width = positive_int(width, "width")
        self.backbone = VGGBackbone(self.in_channels, self.width)
        self.score_fr = nn.Conv2d(8 * width, num_classes, kernel_size=1)  # class scores at stride 32

    def _features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        name = type(self).__name__
        check_image_batch(images, name, self.in_channels, allow_empty=True)
        _check_divisible(images, name, 32, "five 2x2 max pools, then upsampling back by 32")
        return self.backbone(images)

    def _add_pool4_skip(self) -> None:
        """FCN-16s's skip, which FCN-8s has too: ``upscore2`` (x2, learned, starts as bilinear) and
        ``score_pool4`` (1x1 on ``pool4``, starts at zero)."""
        self.upscore2 = _bilinear_upsampling(self.num_classes, 2, learnable=True)  # H/32 -> H/16
        self.score_pool4 = _zero_conv1x1(8 * self.width, self.num_classes)

    def _fuse_pool4(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """The class scores at stride 16: ``fc7``'s upsampled x2 plus ``pool4``'s, ``[B, K, H/16, W/16]``."""
        score = self.score_fr(features["fc7"])  # [B, K, H/32, W/32]
        return self.upscore2(score) + self.score_pool4(features["pool4"])  # [B, K, H/16, W/16]

    @classmethod
    def from_coarser(cls, coarser: "_FCN"):
        """A new network of this class that starts from a trained coarser one (staged training).

        The FCN paper trains FCN-32s first, then FCN-16s from it, then FCN-8s from FCN-16s. This
        copies every layer the two networks share (the backbone, ``score_fr`` and, from an
        FCN-16s, ``score_pool4`` and ``upscore2``); the new skip layers start as in ``__init__``:
        ``score_pool3`` / ``score_pool4`` at zero, so the new network starts from the coarser
        one's class scores, and the new upsampling layers as bilinear interpolation.

        Args:
            coarser (FCN32s or FCN16s): a network whose class scores are coarser than this class's
                (``FCN16s.from_coarser(fcn32s)``, ``FCN8s.from_coarser(fcn16s)`` or ``(fcn32s)``),
                with the same ``num_classes``, ``in_channels`` and ``width``.

        Returns:
            a new network of this class (in the coarser one's train / eval mode); the coarser one is
            not changed and shares no tensors with it.

        Raises:
            TypeError: ``coarser`` is not an FCN with coarser scores.

        Example:
            >>> fcn32 = FCN32s(num_classes=4, width=8)
            >>> fcn16 = FCN16s.from_coarser(fcn32)
            >>> torch.equal(fcn16.score_fr.weight, fcn32.score_fr.weight)
            True
            >>> int(torch.count_nonzero(fcn16.score_pool4.weight))  # adds nothing yet
            0
        """
        if not isinstance(coarser, _FCN) or coarser.prediction_stride <= cls.prediction_stride:
            coarser_names = [c.__name__ for c in (FCN32s, FCN16s) if c.prediction_stride > cls.prediction_stride]
            got = type(coarser).__name__ if isinstance(coarser, nn.Module) else describe(coarser)
            raise TypeError(
                f"coarser: expected a trained {' or '.join(coarser_names) or 'coarser FCN'} to start "
                f"{cls.__name__} from, got {got}. "
                f"Hint: the paper's stages are FCN32s -> FCN16s.from_coarser(fcn32s) -> FCN8s.from_coarser(fcn16s)."
            )
        model = cls(coarser.num_classes, coarser.in_channels, coarser.width)
        mine = model.state_dict()
        shared = {key: value for key, value in coarser.state_dict().items() if key in mine}
        model.load_state_dict(shared, strict=False)  # copies the tensors
        return model.train(coarser.training)


class FCN32s(_FCN):
    """FCN-32s: class scores at 1/32 of the resolution, upsampled x32 in one step.

    ::

        backbone    VGGBackbone (conv1 .. pool5, fc6, fc7)      [B, 8w, H/32, W/32]
        score_fr    1x1 conv (8w -> K)                          [B, K, H/32, W/32]   coarse class scores
        upscore     transposed conv x32 (fixed bilinear)        [B, K, H, W]

    Every output pixel is a bilinear blend of the scores of at most 2 x 2 cells of 32 x 32
    pixels: boundaries come out blobby (a 64 x 64 image has only 2 x 2 cells). ``upscore`` is a
    ``ConvTranspose2d(K, K, 64, stride=32, padding=16)`` whose kernel is fixed to bilinear
    interpolation (``seglab.ops.bilinear_kernel``), as in the paper: it is not trained (its
    weight has ``requires_grad=False`` and is left out of :func:`count_parameters`), and it
    upsamples each class's scores on their own (``groups=K``).
    With ``width=16`` and ``num_classes=4``: 754,292 trainable parameters.

    Training: see :class:`FCN8s`, which trains the three FCNs alike; ``load_checkpoint("fcn32s")``
    is a trained one.

    Args:
        num_classes (int): the number of classes ``K``.
        in_channels (int): image channels ``C``.
        width (int): channels ``w`` of the backbone's first stage (``8w`` at ``pool4`` and after).

    Shape:
        - Input: ``[B, C, H, W]``, ``H`` and ``W`` divisible by 32.
        - Output: ``[B, K, H, W]`` logits.

    Raises:
        ValueError: in ``forward``, the input is not ``[B, C, H, W]`` or ``H`` or ``W`` is not
            divisible by 32.
        TypeError: in ``forward``, the input is not a float tensor.

    Example:
        >>> model = FCN32s(num_classes=4)
        >>> model(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 4, 64, 64])
        >>> count_parameters(model)
        754292
        >>> model.upscore
        ConvTranspose2d(4, 4, kernel_size=(64, 64), stride=(32, 32), padding=(16, 16), groups=4, bias=False)
    """

    prediction_stride = 32

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16):
        super().__init__(num_classes, in_channels, width)
        self.upscore = _bilinear_upsampling(self.num_classes, 32, learnable=False)  # H/32 -> H

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self._features(images)
        score = self.score_fr(features["fc7"])  # [B, K, H/32, W/32]
        return self.upscore(score)  # [B, K, H, W]


class FCN16s(_FCN):
    """FCN-16s: FCN-32s plus class scores from ``pool4``, upsampled x16.

    ::

        backbone      VGGBackbone: pool4                [B, 8w, H/16, W/16]
                      ... fc7                           [B, 8w, H/32, W/32]
        score_fr      1x1 conv (8w -> K)                [B, K, H/32, W/32]
        upscore2      transposed conv x2 (learned)      [B, K, H/16, W/16]
        score_pool4   1x1 conv on pool4 (8w -> K)       [B, K, H/16, W/16]   added to upscore2
        upscore16     transposed conv x16 (fixed)       [B, K, H, W]

    The skip adds scores computed from finer features (``pool4``, stride 16) to the coarse
    ones upsampled by 2. ``score_pool4`` starts at zero (as in the paper), so an FCN-16s built
    by :meth:`from_coarser` starts from its FCN-32s's scores; ``upscore2`` starts as bilinear
    interpolation and is trained, ``upscore16`` is fixed to bilinear interpolation.
    With ``width=16`` and ``num_classes=4``: 755,064 trainable parameters.

    Args:
        num_classes, in_channels, width: as :class:`FCN32s` (the three FCNs take the same).

    Shape:
        - Input: ``[B, C, H, W]``, ``H`` and ``W`` divisible by 32 (else a ``ValueError``, as
          :class:`FCN32s`).
        - Output: ``[B, K, H, W]`` logits.

    Example:
        >>> model = FCN16s(num_classes=4)
        >>> model(torch.zeros(2, 3, 64, 96)).shape
        torch.Size([2, 4, 64, 96])
        >>> count_parameters(model)
        755064
    """

    prediction_stride = 16

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16):
        super().__init__(num_classes, in_channels, width)
        self._add_pool4_skip()  # upscore2, score_pool4
        self.upscore16 = _bilinear_upsampling(self.num_classes, 16, learnable=False)  # H/16 -> H

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        fuse_pool4 = self._fuse_pool4(self._features(images))  # [B, K, H/16, W/16]
        return self.upscore16(fuse_pool4)  # [B, K, H, W]


class FCN8s(_FCN):
    """FCN-8s: FCN-16s plus class scores from ``pool3``, upsampled x8: the finest of the three.

    ::

        backbone        VGGBackbone: pool3              [B, 4w, H/8, W/8]
                        pool4                           [B, 8w, H/16, W/16]
                        ... fc7                         [B, 8w, H/32, W/32]
        score_fr        1x1 conv (8w -> K)              [B, K, H/32, W/32]
        upscore2        transposed conv x2 (learned)    [B, K, H/16, W/16]
        score_pool4     1x1 conv on pool4 (8w -> K)     [B, K, H/16, W/16]   added: fuse_pool4
        upscore_pool4   transposed conv x2 (learned)    [B, K, H/8, W/8]
        score_pool3     1x1 conv on pool3 (4w -> K)     [B, K, H/8, W/8]     added: fuse_pool3
        upscore8        transposed conv x8 (fixed)      [B, K, H, W]

    Scores from ``pool3`` (stride 8) see fine, local detail; scores from ``fc7`` (stride 32)
    see the context: their sum gives sharper boundaries than FCN-32s. ``score_pool3`` and
    ``score_pool4`` start at zero, ``upscore2`` and ``upscore_pool4`` as bilinear interpolation
    (both trained), ``upscore8`` is fixed to bilinear interpolation, as in the paper.
    With ``width=16`` and ``num_classes=4``: 755,580 trainable parameters.

    Training: on ``ThingsAndStuff(size=64, merge_things=True)`` (sky, grass, road, thing; 500
    training images), ``width=8`` and ``seglab.train.fit(model, (images, masks), steps=300,
    lr=3e-3)``, the three FCNs alike; compare them by mean IoU and by boundary IoU
    (``seglab.metrics.boundary_iou``), where the skips show most (FCN-32s's scores on a 64 x 64
    image are a 2 x 2 grid). The checkpoints ``load_checkpoint("fcn8s")``, ``"fcn16s"`` and
    ``"fcn32s"`` are the three trained longer with one recipe (``scripts/train_checkpoints.py``):
    ``load_checkpoint(name).checkpoint_result`` holds the recorded training result, and the
    README's benchmark table the measured ones.

    Args:
        num_classes, in_channels, width: as :class:`FCN32s` (the three FCNs take the same).

    Shape:
        - Input: ``[B, C, H, W]``, ``H`` and ``W`` divisible by 32 (else a ``ValueError``, as
          :class:`FCN32s`).
        - Output: ``[B, K, H, W]`` logits.

    Example:
        >>> model = FCN8s(num_classes=4)
        >>> model(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 4, 64, 64])
        >>> count_parameters(model)
        755580
        >>> model.upscore8
        ConvTranspose2d(4, 4, kernel_size=(16, 16), stride=(8, 8), padding=(4, 4), groups=4, bias=False)
        >>> model(torch.zeros(1, 3, 60, 64))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: FCN8s: expected H and W divisible by 32 (...), got 60x64. Hint: pad the images to 64x64, ...
    """

    prediction_stride = 8

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16):
        super().__init__(num_classes, in_channels, width)
        k = self.num_classes
        self._add_pool4_skip()  # upscore2, score_pool4: FCN-16s's skip
        self.upscore_pool4 = _bilinear_upsampling(k, 2, learnable=True)  # H/16 -> H/8
        self.score_pool3 = _zero_conv1x1(4 * self.width, k)
        self.upscore8 = _bilinear_upsampling(k, 8, learnable=False)  # H/8 -> H

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return _fcn8s_scores(self, self._features(images))  # [B, K, H, W]


def _fcn8s_scores(layers: nn.Module, features: dict[str, torch.Tensor]) -> torch.Tensor:
    """FCN-8s's class scores from the backbone's features, with the layers of ``layers`` (FCN8s or FCN8sHead)."""
    score = layers.score_fr(features["fc7"])  # [B, K, H/32, W/32]
    fuse_pool4 = layers.upscore2(score) + layers.score_pool4(features["pool4"])  # [B, K, H/16, W/16]
    fuse_pool3 = layers.upscore_pool4(fuse_pool4) + layers.score_pool3(features["pool3"])  # [B, K, H/8, W/8]
    return layers.upscore8(fuse_pool3)  # [B, K, H, W]


class FCN8sHead(nn.Module):
    """FCN-8s without its backbone: the score layers, upsamplings and skips, from the backbone's features.

    The layers of :class:`FCN8s` after :class:`VGGBackbone`, by the same names (so
    ``head.load_state_dict({k: v for k, v in fcn8s.state_dict().items() if not k.startswith("backbone.")})``
    copies a trained FCN-8s's head)::

        score_fr        1x1 conv on fc7 (8w -> K)            [B, K, H/32, W/32]
        upscore2        transposed conv x2, bilinear start   [B, K, H/16, W/16]
        score_pool4     1x1 conv on pool4 (8w -> K), zeros   [B, K, H/16, W/16]   added
        upscore_pool4   transposed conv x2, bilinear start   [B, K, H/8, W/8]
        score_pool3     1x1 conv on pool3 (4w -> K), zeros   [B, K, H/8, W/8]     added
        upscore8        transposed conv x8, fixed bilinear   [B, K, H, W]

    The networks assignment has students build it; on the frozen features of a trained
    FCN-32s it learns, in about a second, what the skips add (``seglab.checks.networks``).

    Args:
        num_classes (int): ``K``.
        width (int): the backbone's ``w`` (``pool3`` has ``4w`` channels, ``pool4`` and ``fc7`` ``8w``).

    Shape:
        - Input: a dict ``{"pool3": [B, 4w, h, w'], "pool4": [B, 8w, h/2, w'/2], "fc7": [B, 8w, h/4, w'/4]}``
          (what ``VGGBackbone`` returns; ``h = H/8``).
        - Output: ``[B, K, 8h, 8w']`` logits.

    Example:
        >>> head = FCN8sHead(num_classes=4, width=8)
        >>> features = VGGBackbone(width=8)(torch.zeros(1, 3, 64, 96))
        >>> head(features).shape
        torch.Size([1, 4, 64, 96])
        >>> count_parameters(head)  # upscore8 is fixed
        1164
    """

    def __init__(self, num_classes: int, width: int = 16):
        super().__init__()
        self.num_classes = k = positive_int(num_classes, "num_classes")
        self.width = w = positive_int(width, "width")
        self.score_fr = nn.Conv2d(8 * w, k, kernel_size=1)
        self.upscore2 = _bilinear_upsampling(k, 2, learnable=True)  # H/32 -> H/16
        self.score_pool4 = _zero_conv1x1(8 * w, k)
        self.upscore_pool4 = _bilinear_upsampling(k, 2, learnable=True)  # H/16 -> H/8
        self.score_pool3 = _zero_conv1x1(4 * w, k)
        self.upscore8 = _bilinear_upsampling(k, 8, learnable=False)  # H/8 -> H

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return _fcn8s_scores(self, features)  # [B, K, H, W]


# --- lecture 6: U-Net ------------------------------------------------------------------------------


_PADDINGS = ("same", "valid")


def _double_conv(in_channels: int, out_channels: int, padding: str) -> nn.Sequential:
    """Two blocks of 3x3 convolution -> batch norm -> ReLU: one U-Net level.

    ``padding="same"`` pads by 1 and keeps the size; ``"valid"`` does not pad, and each
    convolution removes a 1-pixel border (``n -> n - 4`` for the pair).
    """
    pad = 1 if padding == "same" else 0
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=pad, bias=False),
            bn1=nn.BatchNorm2d(out_channels),
            relu1=nn.ReLU(inplace=True),
            conv2=nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=pad, bias=False),
            bn2=nn.BatchNorm2d(out_channels),
            relu2=nn.ReLU(inplace=True),
        )
    )


class _UpLevel(nn.Module):
    """One level of U-Net's expanding path: 2x2 up-convolution, crop-and-concatenate, two 3x3 convs."""

    def __init__(self, in_channels: int, out_channels: int, padding: str):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)  # n -> 2n, channels halve
        self.convs = _double_conv(2 * out_channels, out_channels, padding)  # skip + up, concatenated

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.up(x)  # [B, c, 2h, 2w]
        return self.convs(crop_and_concat(skip, up))  # [B, 2c, 2h, 2w] -> [B, c, ...]


class UNet(nn.Module):
    """U-Net: a contracting path, a bottleneck, and an expanding path with skip connections.

    At ``depth=4`` (``w = width``, sizes for ``padding="same"``)::

        encoder[0]    two 3x3 convs (C -> w)         [B, w, H, W]            skip 1
        pool          2x2 max                        [B, w, H/2, W/2]
        encoder[1]    two 3x3 convs (w -> 2w)        [B, 2w, H/2, W/2]       skip 2
        pool                                         [B, 2w, H/4, W/4]
        encoder[2]    two 3x3 convs (2w -> 4w)       [B, 4w, H/4, W/4]       skip 3
        pool                                         [B, 4w, H/8, W/8]
        encoder[3]    two 3x3 convs (4w -> 8w)       [B, 8w, H/8, W/8]       skip 4
        pool                                         [B, 8w, H/16, W/16]
        bottleneck    two 3x3 convs (8w -> 16w)      [B, 16w, H/16, W/16]
        decoder[0]    up: 2x2 up-conv (16w -> 8w)    [B, 8w, H/8, W/8]
                      crop_and_concat(skip 4, up)    [B, 16w, H/8, W/8]
                      two 3x3 convs (16w -> 8w)      [B, 8w, H/8, W/8]
        decoder[1]    (8w -> 4w)                     [B, 4w, H/4, W/4]       with skip 3
        decoder[2]    (4w -> 2w)                     [B, 2w, H/2, W/2]       with skip 2
        decoder[3]    (2w -> w)                      [B, w, H, W]            with skip 1
        classifier    1x1 conv (w -> K)              [B, K, H, W]

    Every 3x3 convolution is followed by batch norm and ReLU. The skips are *concatenated*
    (``seglab.ops.crop_and_concat``: the encoder's features, centre-cropped to the size of the
    upsampled ones, then the upsampled ones), where FCN adds class scores; every upsampling is a
    learned 2x2 transposed convolution (FCN's start as bilinear interpolation, and its last,
    largest one stays fixed).

    ``padding="valid"`` is the paper's: no padding, so each 3x3 convolution removes a 1-pixel
    border, and the output covers only the pixels whose whole receptive field lies inside the
    input: its side is ``seglab.ops.unet_output_size(input_side, depth)`` (572 -> 388 at depth 4),
    and the skips are centre-cropped to fit. Train it on masks cropped the same way
    (``seglab.ops.center_crop(masks, model.output_size(side))``); large images are segmented in
    overlapping tiles. ``padding="same"`` pads every convolution by 1: the output has the input's
    size, which must then be divisible by ``2**depth``.

    Parameters (``num_classes=4``): 1,942,628 at ``width=16, depth=4``; 486,580 at
    ``width=8, depth=4``; 482,788 at ``width=16, depth=3``. The paper's network is
    ``width=64, depth=4`` (31 million).

    Training: on ``ThingsAndStuff(size=64, merge_things=True)`` (sky, grass, road, thing; 500
    training images), ``UNet(4, width=16, depth=3)`` and ``seglab.train.fit(model, (images,
    masks), steps=100, lr=3e-3)``. With every thing class separate (``merge_things=False``) the
    shape is the only cue: for a long while a U-Net labels every thing with one shape class,
    then it learns to tell them apart. ``load_checkpoint("unet_things")`` is one trained that
    long (``width=8, depth=4``, cross-entropy weighted by the inverse square root of the class
    frequencies, ``scripts/train_checkpoints.py``): ``load_checkpoint(name).checkpoint_result``
    holds the recorded training result, and the README's benchmark table the measured ones.

    Args:
        num_classes (int): the number of classes ``K``.
        in_channels (int): image channels ``C``.
        width (int): channels ``w`` of the first level; they double at every level down.
        depth (int): the number of 2x2 max pools (and of up-convolutions), at least 1.
        padding (str): ``"same"`` or ``"valid"`` (see above).

    Shape:
        - Input: ``[B, C, H, W]``; with ``"same"``, ``H`` and ``W`` divisible by ``2**depth``;
          with ``"valid"``, large enough for every level to keep at least one pixel.
        - Output: ``[B, K, H, W]`` (``"same"``) or ``[B, K, h, w]`` with
          ``h = unet_output_size(H, depth)``, ``w = unet_output_size(W, depth)`` (``"valid"``).

    Raises:
        ValueError: ``padding`` is not ``"same"`` or ``"valid"``; in ``forward``, the input is not
            ``[B, C, H, W]``, not divisible by ``2**depth`` (``"same"``) or too small (``"valid"``).
        TypeError: in ``forward``, the input is not a float tensor.

    Example:
        >>> model = UNet(num_classes=4, width=16, depth=4)
        >>> model(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 4, 64, 64])
        >>> count_parameters(model)
        1942628
        >>> valid = UNet(num_classes=2, width=4, depth=4, padding="valid")
        >>> valid(torch.zeros(1, 3, 572, 572)).shape  # the paper's tile
        torch.Size([1, 2, 388, 388])
        >>> valid.output_size(572)
        388
    """

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 16, depth: int = 4, padding: str = "same"):
        super().__init__()
        self.num_classes = positive_int(num_classes, "num_classes")
        self.in_channels = positive_int(in_channels, "in_channels")
        self.width = positive_int(width, "width")
        self.depth = positive_int(depth, "depth")
        if padding not in _PADDINGS:
            raise ValueError(
                f"padding: expected 'same' or 'valid', got {describe(padding)}. "
                f"Hint: 'valid' is the paper's (572 -> 388), 'same' keeps the image size."
            )
        self.padding = padding
        channels = [width * 2**level for level in range(depth + 1)]  # w, 2w, ..., 2**depth * w (bottleneck)
        inputs = [in_channels] + channels[: depth - 1]  # each level's input channels: the image, then w, 2w, ...
        self.encoder = nn.ModuleList([_double_conv(inputs[level], channels[level], padding) for level in range(depth)])
        self.pool = nn.MaxPool2d(2)  # floor for odd sizes, as the size formula assumes
        self.bottleneck = _double_conv(channels[depth - 1], channels[depth], padding)
        self.decoder = nn.ModuleList(
            [_UpLevel(channels[level + 1], channels[level], padding) for level in reversed(range(depth))]
        )
        self.classifier = nn.Conv2d(width, num_classes, kernel_size=1)  # a linear classifier per pixel

    def output_size(self, input_size: int) -> int:
        """The output side for an input side: ``input_size`` (``"same"``) or
        ``seglab.ops.unet_output_size(input_size, depth)`` (``"valid"``).

        Raises:
            ValueError: with ``"valid"``, the input is too small for ``depth`` levels.

        Example:
            >>> UNet(2, depth=4, padding="valid").output_size(572)
            388
            >>> UNet(2, depth=4).output_size(64)
            64
        """
        input_size = positive_int(input_size, "input_size")
        if self.padding == "same":
            return input_size
        try:
            return unet_output_size(input_size, self.depth)
        except ValueError:
            smallest = _smallest_unet_input(self.depth)
            raise ValueError(
                f"UNet(padding='valid', depth={self.depth}): expected an input side of at least {smallest} "
                f"(every level of unpadded 3x3 convolutions must keep at least one pixel), got {input_size}. "
                f"Hint: use larger tiles, a smaller depth, or padding='same'."
            ) from None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_image_batch(images, "UNet", self.in_channels, allow_empty=True)
        if self.padding == "same":
            _check_divisible(
                images, "UNet", 2**self.depth, f"{self.depth} 2x2 max pools, then {self.depth} 2x up-convolutions"
            )
        else:
            for side in images.shape[-2:]:
                self.output_size(side)  # a clear error when the input is too small
        skips = []
        x = images
        for level in self.encoder:  # contracting path
            x = level(x)  # [B, c, h, w]
            skips.append(x)
            x = self.pool(x)  # [B, c, h/2, w/2]
        x = self.bottleneck(x)  # [B, 2**depth * w, H / 2**depth, W / 2**depth] ("same")
        for level, skip in zip(self.decoder, reversed(skips)):  # expanding path, coarsest level first
            x = level(x, skip)  # up-convolution, crop and concatenate, two convs
        return self.classifier(x)  # [B, K, H, W] ("same")

    def load_encoder_from(self, classifier: PatchClassifier) -> "UNet":
        """Initialise the first encoder level from a trained :class:`PatchClassifier` (transfer learning).

        A patch classifier's ``features`` (two 3x3 convolutions with ReLUs) and U-Net's
        ``encoder[0]`` (two 3x3 convolutions, each followed by batch norm and ReLU) have the same
        shape when the widths agree. This copies:

        * ``features.conv1.weight`` -> ``encoder[0].conv1.weight`` and
          ``features.conv2.weight`` -> ``encoder[0].conv2.weight`` (the learned filters);
        * each convolution's bias into the ``bias`` (beta) of the batch norm that follows it
          (U-Net's convolutions have no bias), and sets that batch norm to the identity
          otherwise: ``weight`` 1, ``running_mean`` 0, ``running_var`` ``1 - eps``.

        So in ``eval()`` mode ``encoder[0]`` computes exactly the classifier's ``features``
        (on the interior with ``padding="same"``, everywhere with ``"valid"``). In training
        mode batch norm normalises with the batch's statistics, so the filters are kept and
        their scale is re-learned. Nothing else changes, and nothing is frozen: to keep the
        copied filters fixed, call ``model.encoder[0].requires_grad_(False)``.

        Args:
            classifier (PatchClassifier): trained on patches of the same kind of images, with
                ``width`` equal to this U-Net's and the same ``in_channels``.

        Returns:
            UNet: ``self``, so that ``UNet(4, width=32).load_encoder_from(classifier)`` works.

        Raises:
            TypeError: ``classifier`` is not a ``PatchClassifier``.
            ValueError: its width or input channels differ from this U-Net's.

        Example:
            >>> classifier = PatchClassifier(num_classes=4, width=16)
            >>> unet = UNet(num_classes=4, width=16, padding="valid").load_encoder_from(classifier)
            >>> torch.equal(unet.encoder[0].conv2.weight, classifier.features.conv2.weight)
            True
            >>> x = torch.rand(1, 3, 11, 11)
            >>> torch.allclose(unet.encoder[0].eval()(x), classifier.features(x), atol=1e-6)
            True
        """
        if not isinstance(classifier, PatchClassifier):
            got = type(classifier).__name__ if isinstance(classifier, nn.Module) else describe(classifier)
            raise TypeError(
                f"classifier: expected a trained PatchClassifier, got {got}. "
                f"Hint: PatchClassifier(num_classes, width={self.width}), trained on patches (lecture 2)."
            )
        source, level = classifier.features, self.encoder[0]
        got = (source.conv1.in_channels, source.conv1.out_channels)
        if got != (self.in_channels, self.width):
            raise ValueError(
                f"classifier: expected a PatchClassifier with in_channels={self.in_channels} and "
                f"width={self.width} (this U-Net's first level), got in_channels={got[0]} and width={got[1]}. "
                f"Hint: build the classifier as PatchClassifier(num_classes, in_channels={self.in_channels}, "
                f"width={self.width}), or the U-Net with width={got[1]}."
            )
        with torch.no_grad():
            for conv_name, bn_name in (("conv1", "bn1"), ("conv2", "bn2")):
                conv, bn = getattr(source, conv_name), getattr(level, bn_name)
                getattr(level, conv_name).weight.copy_(conv.weight)  # [w, c, 3, 3] filters
                bn.weight.fill_(1.0)
                bn.bias.copy_(conv.bias)  # the convolution's bias, added after the (identity) normalisation
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)  # (y - 0) / sqrt(1 - eps + eps) = y in eval mode
        return self


# --- lecture 7: dilated convolutions ----------------------------------------------------------------


def _dilated_block(in_channels: int, out_channels: int, rate: int) -> nn.Sequential:
    """3x3 convolution at dilation ``rate`` (padding ``rate``, so the size is kept) -> batch norm -> ReLU."""
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=rate, dilation=rate, bias=False),
            bn=nn.BatchNorm2d(out_channels),
            relu=nn.ReLU(inplace=True),
        )
    )


def dilated_context(channels: int, rates=(1, 2, 4, 8, 1)) -> nn.Sequential:
    """A context module: one 3x3 convolution -> batch norm -> ReLU per dilation rate, at full resolution.

    Block ``i`` is ``nn.Sequential(Conv2d(c, c, 3, padding=r, dilation=r, bias=False),
    BatchNorm2d(c), ReLU())`` with ``r = rates[i]``: padding ``r`` keeps the size, so the
    module maps ``[B, c, H, W]`` to ``[B, c, H, W]``; its receptive field is
    ``1 + 2 * sum(rates)`` (:func:`seglab.ops.receptive_field`), and its parameters
    (``len(rates) * (9 c^2 + 2 c)``) are those of its undilated twin ``rates=(1,) * n``.
    :class:`DilatedNet`'s ``context`` is this module with named blocks.

    Example:
        >>> context = dilated_context(8, rates=(1, 2, 4))
        >>> context(torch.zeros(1, 8, 20, 20)).shape
        torch.Size([1, 8, 20, 20])
        >>> count_parameters(context) == count_parameters(dilated_context(8, rates=(1, 1, 1)))
        True
    """
    channels = positive_int(channels, "channels")
    return nn.Sequential(*[_dilated_block(channels, channels, rate) for rate in _check_rates(rates, "rates")])


def _check_rates(rates, name: str) -> tuple[int, ...]:
    if isinstance(rates, (str, bytes)) or not hasattr(rates, "__iter__"):
        raise TypeError(f"{name}: expected a sequence of dilation rates, got {describe(rates)}. Hint: (1, 2, 4, 8).")
    rates = tuple(rates)
    if not rates:
        raise ValueError(f"{name}: expected at least one dilation rate, got {rates}. Hint: (1, 2, 4, 8).")
    return tuple(positive_int(rate, f"{name}[{index}]") for index, rate in enumerate(rates))


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLab v3): look at several scales at once, side by side.

    ::

        branch "1x1"        1x1 conv (C -> w), BN, ReLU                       [B, w, H, W]
        branch "rate r"     3x3 conv at dilation r (C -> w), BN, ReLU         [B, w, H, W]   one per rate
        branch "image"      global average pool, 1x1 conv (C -> w), ReLU,
                            copied to every pixel                             [B, w, H, W]
        project             concatenate ((len(rates) + 2) w), 1x1 conv (-> w), BN, ReLU   [B, w, H, W]

    A cascade of dilated convolutions (:class:`DilatedNet`) grows the receptive field layer by
    layer; ASPP instead runs the branches in parallel on the same features, each with its own
    receptive field (``1``, ``2r + 1``, ..., the whole image), and lets the 1x1 projection choose.
    The image branch gives every pixel a summary of the whole image: global context that no
    stack of 3x3 convolutions reaches on a large image. DeepLab uses rates 6, 12, 18 on features
    at stride 16; on the course's 64 x 64 images at full resolution, 2, 4, 8 play that role.

    Args:
        in_channels (int): ``C``.
        out_channels (int): ``w``, the channels of every branch and of the output.
        rates (sequence of int): the dilation rates of the 3x3 branches.

    Shape:
        - Input: ``[B, C, H, W]``.
        - Output: ``[B, w, H, W]``.

    Example:
        >>> aspp = ASPP(16, 8, rates=(2, 4))
        >>> aspp(torch.zeros(2, 16, 20, 20)).shape
        torch.Size([2, 8, 20, 20])
        >>> list(aspp.branches)
        ['1x1', 'rate 2', 'rate 4', 'image']
    """

    def __init__(self, in_channels: int, out_channels: int, rates=(2, 4, 8)):
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        w = positive_int(out_channels, "out_channels")
        self.rates = _check_rates(rates, "rates")
        branches = OrderedDict()
        branches["1x1"] = nn.Sequential(
            nn.Conv2d(in_channels, w, kernel_size=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)
        )
        for rate in self.rates:
            branches[f"rate {rate}"] = _dilated_block(in_channels, w, rate)
        # No batch norm after the pooled branch: one value per image and channel is too few to normalise.
        branches["image"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, w, kernel_size=1), nn.ReLU())
        self.branches = nn.ModuleDict(branches)
        self.project = nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(len(branches) * w, w, kernel_size=1, bias=False),
                bn=nn.BatchNorm2d(w),
                relu=nn.ReLU(inplace=True),
            )
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        height, width = features.shape[-2:]
        outputs = [branch(features) for branch in self.branches.values()]  # each [B, w, H, W] or [B, w, 1, 1]
        outputs[-1] = outputs[-1].expand(-1, -1, height, width)  # the image summary, at every pixel
        return self.project(torch.cat(outputs, dim=1))  # [B, (n + 2) w, H, W] -> [B, w, H, W]


class DilatedNet(nn.Module):
    """A network that never downsamples: its context comes from dilated 3x3 convolutions.

    ::

        stem        3x3 conv (C -> w), BN, ReLU                             [B, w, H, W]
        context     one block per rate r: 3x3 conv at dilation r,
                    padding r (w -> w), BN, ReLU                            [B, w, H, W]
        aspp        (optional) ASPP(w, w, aspp_rates)                       [B, w, H, W]
        classifier  1x1 conv (w -> K)                                       [B, K, H, W]

    Every layer works at full resolution, so nothing has to be upsampled: the output is as sharp
    as the input. The rates set the receptive field (lecture 7): each 3x3 block at rate ``r``
    adds ``2r`` pixels, so the default rates ``(1, 2, 4, 8, 1)`` see
    ``1 + 2 (1 + 1 + 2 + 4 + 8 + 1) = 35`` pixels, while the same six layers at rate 1 see 13,
    with exactly the same weights to learn: ``DilatedNet(K, rates=(1,) * 5)`` is the
    undilated twin. The default cascade has no holes (the rates 1, 2, 4 fill the gaps that a
    stack of equal rates such as ``(2, 2, 2)`` leaves: gridding). With ``aspp_rates``, an
    :class:`ASPP` head adds parallel branches at those rates and an image-level branch.

    Training: on ``ThingsAndStuff(size=64)`` with every thing class separate, the shapes are
    told apart only by a network that sees them whole (things are 6-20 pixels across); the
    checkpoints ``dilated_things`` and ``undilated_things`` (``scripts/train_checkpoints.py``)
    compare the two twins trained alike.

    Args:
        num_classes (int): the number of classes ``K``.
        rates (sequence of int): the dilation rate of each context block, in order.
        in_channels (int): image channels ``C``.
        width (int): the channels ``w`` of every layer.
        aspp_rates (sequence of int, optional): add an ASPP head with these rates.

    Attributes:
        receptive_field (int): the side of the square region one output pixel sees through its
            convolutions (:func:`seglab.ops.receptive_field`); with ASPP, its image branch
            sees the whole image on top of that.

    Shape:
        - Input: ``[B, C, H, W]``, any ``H`` and ``W``.
        - Output: ``[B, K, H, W]`` logits.

    Raises:
        ValueError: in ``forward``, the input is not ``[B, C, H, W]``.
        TypeError: in ``forward``, the input is not a float tensor.

    Example:
        >>> dilated, plain = DilatedNet(6), DilatedNet(6, rates=(1, 1, 1, 1, 1))
        >>> dilated.receptive_field, plain.receptive_field
        (35, 13)
        >>> count_parameters(dilated) == count_parameters(plain)
        True
        >>> dilated(torch.zeros(2, 3, 40, 40)).shape
        torch.Size([2, 6, 40, 40])
    """

    def __init__(self, num_classes: int, rates=(1, 2, 4, 8, 1), in_channels: int = 3, width: int = 32, aspp_rates=None):
        super().__init__()
        self.num_classes = positive_int(num_classes, "num_classes")
        self.in_channels = positive_int(in_channels, "in_channels")
        self.width = w = positive_int(width, "width")
        self.rates = _check_rates(rates, "rates")
        self.aspp_rates = None if aspp_rates is None else _check_rates(aspp_rates, "aspp_rates")
        self.stem = _dilated_block(self.in_channels, w, 1)
        self.context = nn.Sequential(
            OrderedDict((f"rate{index + 1}_{rate}", _dilated_block(w, w, rate)) for index, rate in enumerate(self.rates))
        )
        self.aspp = None if self.aspp_rates is None else ASPP(w, w, self.aspp_rates)
        self.classifier = nn.Conv2d(w, self.num_classes, kernel_size=1)  # a linear classifier per pixel
        layers = [(3, 1, 1)] + [(3, 1, rate) for rate in self.rates]
        if self.aspp_rates is not None:
            layers.append((3, 1, max(self.aspp_rates)))  # its widest branch
        self.receptive_field = receptive_field(layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_image_batch(images, "DilatedNet", self.in_channels, allow_empty=True)
        features = self.context(self.stem(images))  # [B, w, H, W]: full resolution throughout
        if self.aspp is not None:
            features = self.aspp(features)
        return self.classifier(features)  # [B, K, H, W]


# --- Mask R-CNN (lecture 8) ------------------------------------------------------------------------


class SmallFPNBackbone(nn.Module):
    """A backbone small enough for a CPU: four strided conv stages and a feature pyramid on the last three.

    ::

        stage1  3x3 conv stride 2 + 3x3 conv (3 -> w)         [B, w, H/2, W/2]
        stage2  the same (w -> 2w)                            [B, 2w, H/4, W/4]     -> FPN level "0"
        stage3  the same (2w -> 4w)                           [B, 4w, H/8, W/8]     -> FPN level "1"
        stage4  the same (4w -> 8w)                           [B, 8w, H/16, W/16]   -> FPN level "2"
        fpn     1x1 lateral convs to ``fpn_channels``, top-down 2x nearest upsampling and sums,
                then a 3x3 conv per level (torchvision's ``FeaturePyramidNetwork``)

    Every conv is followed by batch normalisation and a ReLU. The pyramid gives every level the
    same channels and both fine detail (from the early stage) and meaning (from the deep ones): a
    small shape is found on level "0" (stride 4), a large one on level "2" (stride 16).

    Args:
        width (int): the channels ``w`` of the first stage (doubled at every stage).
        fpn_channels (int): the channels of every pyramid level.

    Attributes:
        out_channels (int): ``fpn_channels`` (torchvision's detection models read it).

    Shape:
        - Input: ``[B, 3, H, W]`` with ``H`` and ``W`` multiples of 16.
        - Output: an ``OrderedDict`` ``{"0": [B, F, H/4, W/4], "1": [B, F, H/8, W/8], "2": [B, F, H/16, W/16]}``.

    Example:
        >>> features = SmallFPNBackbone()(torch.zeros(1, 3, 128, 128))
        >>> {name: tuple(level.shape) for name, level in features.items()}
        {'0': (1, 64, 32, 32), '1': (1, 64, 16, 16), '2': (1, 64, 8, 8)}
    """

    def __init__(self, width: int = 32, fpn_channels: int = 64):
        super().__init__()
        from torchvision.ops import FeaturePyramidNetwork

        self.width = w = positive_int(width, "width")
        self.out_channels = positive_int(fpn_channels, "fpn_channels")
        widths = (w, 2 * w, 4 * w, 8 * w)
        self.stage1 = _strided_stage(3, widths[0])
        self.stage2 = _strided_stage(widths[0], widths[1])
        self.stage3 = _strided_stage(widths[1], widths[2])
        self.stage4 = _strided_stage(widths[2], widths[3])
        self.fpn = FeaturePyramidNetwork(list(widths[1:]), self.out_channels)

    def forward(self, images: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        c1 = self.stage1(images)  # [B, w, H/2, W/2]
        c2 = self.stage2(c1)  # [B, 2w, H/4, W/4]
        c3 = self.stage3(c2)  # [B, 4w, H/8, W/8]
        c4 = self.stage4(c3)  # [B, 8w, H/16, W/16]
        return self.fpn(OrderedDict([("0", c2), ("1", c3), ("2", c4)]))


def _strided_stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 conv at stride 2, BN, ReLU, then 3x3 conv, BN, ReLU: half the resolution."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def mask_head(in_channels: int, num_classes: int) -> nn.Sequential:
    """Mask R-CNN's per-class mask branch after RoIAlign: torchvision's ``MaskRCNNHeads`` and ``MaskRCNNPredictor``.

    ::

        [0] MaskRCNNHeads      two 3x3 convs (C -> C, padding 1, bias), each + ReLU     [R, C, S, S]
        [1] MaskRCNNPredictor  conv5_mask: 2x2 transposed conv, stride 2 (C -> C) + ReLU [R, C, 2S, 2S]
                               mask_fcn_logits: 1x1 conv (C -> K)                       [R, K, 2S, 2S]

    One mask logit map per class for every RoI (``S = 14``: 28 x 28 masks); the loss and the
    prediction use only the channel of the RoI's class. :class:`SmallMaskRCNN` passes ``[0]`` as
    its ``mask_head`` and ``[1]`` as its ``mask_predictor``; the networks assignment has students
    build the same branch.

    Example:
        >>> branch = mask_head(64, 4)
        >>> branch(torch.zeros(3, 64, 14, 14)).shape
        torch.Size([3, 4, 28, 28])
    """
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

    in_channels, num_classes = positive_int(in_channels, "in_channels"), positive_int(num_classes, "num_classes")
    return nn.Sequential(MaskRCNNHeads(in_channels, (in_channels, in_channels), 1), MaskRCNNPredictor(in_channels, in_channels, num_classes))


class SmallMaskRCNN(nn.Module):
    """torchvision's Mask R-CNN with a small backbone, sized for 128x128 images and a CPU.

    ::

        transform   normalise ((x - 0.5) / 0.25), resize to image_size     list -> [B, 3, S, S]
        backbone    SmallFPNBackbone(width, fpn_channels)                 levels at strides 4, 8, 16
        rpn         3 anchor sizes per level (8-12, 16-24, 32-48 px) x 3 aspect ratios:
                    an objectness score and a box refinement per anchor -> proposals after NMS
        roi_heads   box branch:  MultiScaleRoIAlign 7x7 -> two FC layers (representation_size)
                                 -> class scores (num_classes) and per-class box refinements
                    mask branch: MultiScaleRoIAlign 14x14 -> two 3x3 convs -> 2x transposed conv
                                 -> one 28x28 mask per class

    Mask R-CNN (lecture 8) is Faster R-CNN plus a mask branch: the region proposal network (RPN)
    proposes boxes, RoIAlign cuts a fixed-size feature window out of each (bilinear sampling, no
    rounding; ``sampling_ratio=1`` here, one point per bin, because RoIAlign's backward pass
    dominates CPU training), and three heads predict the class, a refined box and a binary mask
    per class, of which the loss uses only the ground-truth class's. Everything except the
    backbone and the sizes is torchvision's ``MaskRCNN``, the model itself is ``self.detector``.

    Args:
        num_classes (int): classes including the background (4 for ``ThingsAndStuff``'s circle,
            square and triangle).
        width (int): the backbone's first stage width.
        fpn_channels (int): channels of the feature pyramid and of the mask head.
        representation_size (int): width of the box head's two fully connected layers.
        image_size (int): the side images are resized to (``min_size = max_size``).

    Forward:
        ``model(images)`` in ``eval()`` mode: ``images`` is a list of ``Tensor[3, H, W]`` in
        ``[0, 1]``; returns one dict per image with ``boxes`` (float ``[N, 4]``, xyxy pixels),
        ``labels`` (int64 ``[N]``), ``scores`` (``[N]``, decreasing) and ``masks`` (``[N, 1, H, W]``
        probabilities: threshold at 0.5 for a binary mask). ``model(images, targets)`` in
        ``train()`` mode returns the five losses as a dict: ``loss_objectness``,
        ``loss_rpn_box_reg`` (RPN), ``loss_classifier``, ``loss_box_reg`` and ``loss_mask``.

    Example:
        >>> model = SmallMaskRCNN().eval()
        >>> count_parameters(model) < 2_000_000
        True
        >>> with torch.no_grad():
        ...     prediction = model([torch.rand(3, 128, 128)])[0]
        >>> sorted(prediction)
        ['boxes', 'labels', 'masks', 'scores']
    """

    def __init__(self, num_classes: int = 4, width: int = 32, fpn_channels: int = 64, representation_size: int = 128, image_size: int = 128):
        super().__init__()
        from torchvision.models.detection import MaskRCNN
        from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
        from torchvision.models.detection.rpn import AnchorGenerator
        from torchvision.ops import MultiScaleRoIAlign

        self.num_classes = positive_int(num_classes, "num_classes")
        if self.num_classes < 2:
            raise ValueError(f"num_classes: expected at least 2 (the background and one class), got {num_classes}.")
        self.width = positive_int(width, "width")
        self.fpn_channels = f = positive_int(fpn_channels, "fpn_channels")
        self.representation_size = positive_int(representation_size, "representation_size")
        self.image_size = positive_int(image_size, "image_size")
        levels = ["0", "1", "2"]
        backbone = SmallFPNBackbone(self.width, f)
        mask_branch = mask_head(f, self.num_classes)
        anchors = AnchorGenerator(sizes=((8, 12), (16, 24), (32, 48)), aspect_ratios=((0.5, 1.0, 2.0),) * 3)
        box_align = MultiScaleRoIAlign(levels, output_size=7, sampling_ratio=1)
        mask_align = MultiScaleRoIAlign(levels, output_size=14, sampling_ratio=1)
        self.detector = MaskRCNN(
            backbone,
            num_classes=None,  # the predictors below fix it
            min_size=self.image_size,
            max_size=self.image_size,
            image_mean=[0.5, 0.5, 0.5],
            image_std=[0.25, 0.25, 0.25],
            rpn_anchor_generator=anchors,
            rpn_pre_nms_top_n_train=600,
            rpn_post_nms_top_n_train=300,
            rpn_pre_nms_top_n_test=300,
            rpn_post_nms_top_n_test=100,
            rpn_batch_size_per_image=128,
            box_roi_pool=box_align,
            box_head=TwoMLPHead(f * 7 * 7, self.representation_size),
            box_predictor=FastRCNNPredictor(self.representation_size, self.num_classes),
            box_batch_size_per_image=32,
            mask_roi_pool=mask_align,
            mask_head=mask_branch[0],
            mask_predictor=mask_branch[1],
        )

    def forward(self, images, targets=None):
        check_image_list(images)
        return self.detector(list(images), targets)
