"""Segmentation networks of the lectures, small enough to train on a laptop CPU.

=================  ================================================================================
PatchClassifier    lecture 2: classifies the centre pixel of a ``p x p`` patch (the sliding window);
                   ``to_fully_convolutional()`` turns it into lecture 3's fully convolutional net
SmallFCN           lecture 3: encoder (two 2x2 max pools, /4) + decoder (two bilinear 2x
                   upsamplings) + 1x1 classifier: a logit per class at every pixel
count_parameters   the number of trainable parameters of a model
=================  ================================================================================

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

from seglab._validate import describe, positive_int
from seglab.ops import fc_to_conv

__all__ = ["PatchClassifier", "SmallFCN", "count_parameters"]


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
    ``lr=1e-3``; about 1,000-1,500 steps on 2 CPU cores) give a patch accuracy of about 0.98 on
    balanced validation patches, and the sliding window (``to_fully_convolutional(pad=True)``)
    a mean IoU of about 0.93-0.95 on whole validation images. ``lr=3e-3`` learns faster but
    its loss spikes now and then, which a time-limited run may stop on.

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
    ``lr=1e-3``, ``batch_size=8``: about 250-350 steps on 2 CPU cores) reaches a validation mIoU
    of about 0.95 (pixel accuracy about 0.99, "thing" IoU about 0.87); 100 steps give 0.92-0.93.

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
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(
                f"SmallFCN: expected images of shape [B, {self.in_channels}, H, W], got {describe(images)}. "
                f"Hint: add a batch dimension with images[None] for a single image."
            )
        height, width = images.shape[-2:]
        if height % 4 or width % 4:
            fit_h, fit_w = -(-height // 4) * 4, -(-width // 4) * 4
            raise ValueError(
                f"SmallFCN: expected H and W divisible by 4 (two 2x2 max pools, then two 2x upsamplings), "
                f"got {height}x{width}. Hint: pad the images to {fit_h}x{fit_w}, e.g. "
                f"F.pad(images, (0, {fit_w - width}, 0, {fit_h - height})), or crop them to "
                f"{height // 4 * 4}x{width // 4 * 4}."
            )
        features = self.encoder(images)  # [B, 2w, H/4, W/4]
        return self.classifier(self.decoder(features))  # [B, K, H, W]
