"""seglab: the helper package of the seglab image segmentation course.

The lecture notebooks and the graded exercises import it. Its modules are named after
concepts and import nothing heavy on their own; nothing happens on import (no seeding,
no plotting style, no downloads).

Modules:
    ``seglab.ops``     reference implementations of the course's operations
                       (upsampling, unpooling, transposed convolution, convolution as a matrix).
    ``seglab.checks``  one checker per graded exercise: runs named cases against the reference
                       and PyTorch, and explains a wrong answer.
    ``seglab.viz``     plot helpers (take ``ax=None``, return the ``Axes``).

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
    * Bad input raises ``TypeError`` or ``ValueError`` whose message says what was expected,
      what was given, and how to fix it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
