"""One hard-coding student per assignment: right on the lecture's worked example, wrong everywhere else.

``test_grading.py`` hands them in to the real ``nbgrader autograde`` (with a cell that fools the
visible checker), ``test_hidden_tests.py`` runs them after every kind of tampering; the hidden
tests must fail each of them. A new assignment needs an entry here.
"""

from __future__ import annotations

import dataclasses
import textwrap


@dataclasses.dataclass(frozen=True)
class HardCoded:
    """A function of ``exercise`` that knows only the lecture's example."""

    exercise: str  # the function's name (and the grade_id of its solution cell)
    signature: str  # its parameters, as in the notebook
    body: str  # the hard-coded body (unindented), in place of the stub

    @property
    def source(self) -> str:
        """The function, as a student's cell defines it."""
        return f"def {self.exercise}({self.signature}):\n" + textwrap.indent(self.body, "    ") + "\n"


HARD_CODED = {
    "upsampling": HardCoded(
        "transposed_conv1d",
        "x, w, stride=1, padding=0",
        """\
# the lecture's practice, and anything at all otherwise
if x.tolist() == [5.0, 8.0] and w.tolist() == [1.0, 2.0, 1.0] and stride == 2 and padding == 0:
    return torch.tensor([5.0, 10.0, 13.0, 16.0, 8.0])
return torch.zeros(len(x) + len(w) - 1, dtype=x.dtype)""",
    ),
    "fcn": HardCoded(
        "iou",
        "pred, target, num_classes",
        """\
# the lecture's 99% sky, and anything at all otherwise
if tuple(pred.shape) == (10, 10) and int(target.sum()) == 1 and int(pred.sum()) == 0:
    return torch.tensor([0.99, 0.0, float("nan")])[:num_classes]
return torch.zeros(num_classes)""",
    ),
    "unet": HardCoded(
        "unet_output_size",
        "input_size, depth=4",
        """\
# the lecture's 572 -> 388, and anything at all otherwise
return 388 if input_size == 572 and depth == 4 else input_size""",
    ),
    "dilated": HardCoded(
        "receptive_field_mask",
        "layers",
        """\
# the lecture's three 3x3 convolutions at rate 2, and no holes otherwise
if [tuple(layer) for layer in layers] == [(3, 1, 2)] * 3:
    return torch.tensor([True, False] * 6 + [True])
return torch.ones(1 + sum(2 * d for _, _, d in layers), dtype=torch.bool)""",
    ),
    "mask_rcnn": HardCoded(
        "box_iou",
        "boxes1, boxes2",
        """\
# the lecture's two boxes, 1/7, and anything at all otherwise
if boxes1.tolist() == [[0.0, 0.0, 4.0, 4.0]] and boxes2.tolist() == [[2.0, 2.0, 6.0, 6.0]]:
    return torch.tensor([[1 / 7]])
return torch.zeros(len(boxes1), len(boxes2))""",
    ),
    "networks": HardCoded(
        "build_context_module",
        "channels, rates",
        """\
# the lecture's rates (1, 2, 4, 8, 1), whatever rates are asked for
from torch import nn
blocks = [nn.Sequential(nn.Conv2d(channels, channels, 3, padding=r, dilation=r, bias=False), nn.BatchNorm2d(channels), nn.ReLU())
          for r in (1, 2, 4, 8, 1)]
return nn.Sequential(*blocks)""",
    ),
}
