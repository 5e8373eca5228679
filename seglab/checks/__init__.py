"""Checkers for the graded exercises: ``seglab.checks.<exercise>(student_fn)``.

Assignment ``upsampling`` (lecture 4): ``nearest_upsample``, ``bed_of_nails``, ``max_unpool2d``,
``transposed_conv1d``, ``transposed_conv2d``, ``conv1d_matrix`` (in :mod:`seglab.checks.upsampling`).
Assignment ``fcn`` (lectures 1-3): ``pixel_accuracy``, ``iou``, ``sliding_window_predict``,
``fc_to_conv``, ``receptive_field``, ``pixel_cross_entropy`` (in :mod:`seglab.checks.fcn`).
Assignment ``unet`` (lectures 5, 6 and 9): ``bilinear_kernel``, ``center_crop``, ``unet_output_size``,
``unet_weight_map``, ``dice_loss``, ``focal_loss`` (in :mod:`seglab.checks.unet`).
Assignment ``dilated`` (lecture 7): ``effective_kernel_size``, ``dilate_kernel``, ``dilated_conv2d``,
``receptive_field_mask`` (in :mod:`seglab.checks.dilated`).
Assignment ``mask_rcnn`` (lecture 8): ``box_iou``, ``nms``, ``roi_align``, ``mask_head_loss``,
``average_precision`` (in :mod:`seglab.checks.mask_rcnn`; torchvision is imported when one first runs).

A checker runs the student's function on named cases (the lecture's worked example, edge
cases, then seeded random cases), compares every answer with seglab's reference and with
PyTorch's own operation where one exists, and then either prints one line::

    ✓ transposed_conv1d: 16/16 cases passed

or raises :class:`CheckFailed` (an ``AssertionError``) naming the case, the inputs, expected vs
got and, when the answer matches a known mistake, a hint. Checkers write nothing to stderr:
nbgrader gives a test cell that does 0 points.

Example:
    >>> from seglab import checks, ops
    >>> def my_upsample(x, scale):
    ...     return x.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    >>> checks.nearest_upsample(my_upsample)
    ✓ nearest_upsample: 13/13 cases passed
"""

from seglab.checks._core import CheckFailed
from seglab.checks.dilated import (
    dilate_kernel,
    dilated_conv2d,
    effective_kernel_size,
    receptive_field_mask,
)
from seglab.checks.fcn import (
    fc_to_conv,
    iou,
    pixel_accuracy,
    pixel_cross_entropy,
    receptive_field,
    sliding_window_predict,
)
from seglab.checks.mask_rcnn import (
    average_precision,
    box_iou,
    mask_head_loss,
    nms,
    roi_align,
)
from seglab.checks.unet import (
    bilinear_kernel,
    center_crop,
    dice_loss,
    focal_loss,
    unet_output_size,
    unet_weight_map,
)
from seglab.checks.upsampling import (
    bed_of_nails,
    conv1d_matrix,
    max_unpool2d,
    nearest_upsample,
    transposed_conv1d,
    transposed_conv2d,
)

__all__ = [
    "CheckFailed",
    # assignment upsampling (lecture 4)
    "nearest_upsample",
    "bed_of_nails",
    "max_unpool2d",
    "transposed_conv1d",
    "transposed_conv2d",
    "conv1d_matrix",
    # assignment fcn (lectures 1-3)
    "pixel_accuracy",
    "iou",
    "sliding_window_predict",
    "fc_to_conv",
    "receptive_field",
    "pixel_cross_entropy",
    # assignment unet (lectures 5, 6 and 9)
    "bilinear_kernel",
    "center_crop",
    "unet_output_size",
    "unet_weight_map",
    "dice_loss",
    "focal_loss",
    # assignment dilated (lecture 7)
    "effective_kernel_size",
    "dilate_kernel",
    "dilated_conv2d",
    "receptive_field_mask",
    # assignment mask_rcnn (lecture 8)
    "box_iou",
    "nms",
    "roi_align",
    "mask_head_loss",
    "average_precision",
]
