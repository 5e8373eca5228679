"""seglab: the helper package of the seglab image segmentation course.

The lecture notebooks and the graded exercises import it. Its modules are named after
concepts and import nothing heavy on their own; nothing happens on import (no seeding,
no plotting style, no downloads).

Modules:
    ``seglab.data``     a deterministic synthetic "things and stuff" dataset (semantic, instance
                        and box targets), generated on the fly, offline, and the capstone's harder
                        variant (``HardThingsAndStuff``).
    ``seglab.ops``      reference implementations of the course's operations (upsampling,
                        unpooling, transposed convolution, convolution as a matrix, sliding
                        windows, receptive fields, fully connected layers as convolutions, the
                        bilinear kernel, U-Net's crops and output sizes, dilated kernels and
                        convolutions, the holes of a dilated receptive field).
    ``seglab.detection``
                        the detection pieces of Mask R-CNN: box IoU, non-maximum suppression,
                        RoIPool and RoIAlign, the per-class mask loss, matching predictions to
                        the ground truth, average precision (11-point, all-point and COCO's
                        101-point), and AP per class and IoU threshold over a set of images
                        (AP50, AP@[.5:.95]).
    ``seglab.coco``     COCO's formats (results with RLE masks, annotation files) and COCO's own
                        evaluation, ``COCOeval`` of pycocotools, on the same predictions.
    ``seglab.metrics``  confusion matrix, pixel accuracy, IoU / mean IoU, Dice, boundary IoU.
    ``seglab.losses``   segmentation losses: cross-entropy and its binary, weighted, balanced and
                        focal forms, Dice (per class, and binary on one probability per pixel),
                        their combination, the U-Net weight map.
    ``seglab.models``   the course's small networks (patch classifier, small FCN, FCN-32s/16s/8s,
                        U-Net, a dilated context network with an optional ASPP head, a small
                        Mask R-CNN built on torchvision's) and the trained checkpoints shipped
                        in ``seglab/checkpoints`` (``seglab.models.load_checkpoint``).
    ``seglab.checkpoint``
                        writing, listing and loading those checkpoints (``load_checkpoint``,
                        ``save_checkpoint``, ``available_checkpoints``, also in ``seglab.models``).
    ``seglab.train``    a short, seeded training loop, evaluation and prediction, and their
                        versions for detection models.
    ``seglab.checks``   one checker per graded exercise: runs named cases against the reference
                        and PyTorch, and explains a wrong answer; ``seglab.checks.ASSIGNMENTS``
                        is the registry of the graded assignments.
    ``seglab.grading``  ``hidden_test``, ``hidden_concept`` and ``hidden_project``: the one line of
                        every hidden test of the notebooks.
    ``seglab.capstone`` the capstone's rules and tools: its data, ``save_weights`` and
                        ``load_weights`` (within the limits), the IoU of every class.
    ``seglab.leaderboard``
                        ``python -m seglab.leaderboard capstone``: the class leaderboard (CSV and
                        picture) from the gradebook.
    ``seglab.viz``      plot helpers (take ``ax=None``, return the ``Axes``).

Conventions, written once:
    * Tensors are PyTorch tensors in NCHW order (batch, channels, rows, columns). The
      single-channel reference operations take ``(..., L)`` or ``(..., H, W)`` tensors: any
      leading dimensions are carried along. Lists and numpy arrays are accepted as input and
      converted with ``torch.as_tensor``.
    * Reference implementations compute in float64, for clarity and exactness, and return the
      input's floating dtype (integer or bool input gives ``torch.get_default_dtype()``).
    * Indices into a plane are flat, row-major: position ``(r, c)`` of an ``H x W`` plane has
      index ``r * W + c``, as in ``F.max_pool2d(..., return_indices=True)``.
    * Convolutions are cross-correlations, as in PyTorch (the kernel is not flipped).
    * Labels are int64. Semantic masks are ``[N, H, W]`` (or ``[H, W]``) class indices; instance
      targets follow torchvision's detection format: boxes ``[N, 4]`` float, xyxy in pixels,
      labels ``[N]`` with 0 for background, masks ``[N, H, W]`` of 0/1.
    * ``ignore_index``: target pixels equal to it are left out of metrics and losses.
    * Metrics are accumulated over all pixels of all images (one confusion matrix), never
      averaged per image; a class absent from both prediction and target has IoU / Dice NaN and
      is left out of the mean.
    * Devices: CPU first; ``seglab.train.pick_device()`` picks CUDA when there is one.
    * Bad input raises ``TypeError`` or ``ValueError`` whose message says what was expected,
      what was given, and how to fix it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
