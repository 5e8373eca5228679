"""Checkers of the capstone (``solutions/capstone/capstone.ipynb``): a network of the student's own design.

The student designs ``build_model()``, trains the network in the notebook on
:class:`~seglab.data.HardThingsAndStuff` and saves its weights next to the notebook with
``seglab.capstone.save_weights``. At autograde nothing is trained: the hidden tests load the
weights into ``build_model()``'s network and score it on held-out images (a seed no notebook
uses), with partial credit by bands:

* ``miou`` (8 points): the mean IoU over the nine classes;
* ``rare`` (2 points): the IoU of the rare class, ring.

The bands are set from measured networks (``scripts/train_capstone.py``, the README's benchmark
table): the course's U-Net trained for one minute earns a modest part of the points, the
instructor's design trained for three minutes all of them.

The concept checks ask what the rules and the metric mean for a design.
"""

from __future__ import annotations

from seglab import capstone as rules
from seglab.checks._assignment import Assignment
from seglab.checks._concepts import Question
from seglab.checks._project import Part, Project

HELD_OUT_SEED = 10_001  # the hidden tests' images: HardThingsAndStuff(split="test", seed=HELD_OUT_SEED)
HELD_OUT_IMAGES = 120


def _mean_iou(ious: dict) -> float:
    """The mean over the classes present (a class in neither the masks nor the predictions is left out)."""
    values = [v for v in ious.values() if v == v]
    return sum(values) / len(values) if values else 0.0


def _rare_iou(ious: dict) -> float:
    value = ious[rules.RARE_CLASS]
    return value if value == value else 0.0


PROJECT = Project(
    name="capstone",
    builder="build_model",
    weights=rules.WEIGHTS,
    load=rules.load_weights,
    data=rules.capstone_data,
    validation=("val", HELD_OUT_IMAGES, 0),
    held_out=("test", HELD_OUT_IMAGES, HELD_OUT_SEED),
    classes=rules.CLASSES,
    class_iou=rules.class_iou,
    parts=(
        Part(
            "miou",
            "mean IoU over the nine classes",
            _mean_iou,
            bands=((0.35, 2), (0.45, 4), (0.55, 6), (0.65, 8)),
        ),
        Part(
            "rare",
            f"IoU of the rare class ({rules.RARE_CLASS})",
            _rare_iou,
            bands=((0.2, 1), (0.4, 2)),
        ),
    ),
    rules=f"at most {rules.MAX_PARAMETERS:,} parameters and {rules.MAX_MEGABYTES:g} MB",
)

CONCEPTS = (
    Question(
        "9.c",
        "Your network may have at most 2,000,000 parameters. How many parameters has one `nn.Conv2d(64, 128, 3, "
        "padding=1)` (with its bias)? (a whole number)",
        answer=64 * 128 * 9 + 128,
        mistakes={
            64 * 128 * 9: "the bias is missing: one per output channel.",
            64 * 128 * 9 + 64: "one bias per output channel (128), not per input channel.",
            64 * 128 + 128: "each output channel has a 3 x 3 kernel for every input channel: 9 weights per pair.",
            (64 * 9 + 1) * 128 * 64: "the weights are 3 x 3 per (input, output) pair: 64 x 128 x 9, plus the biases.",
        },
        explanation="A convolution has one k x k kernel per (input channel, output channel) pair, and one bias per output channel.",
    ),
    Question(
        "9.d",
        "A network never predicts *ring*. The held-out images contain rings. What is its IoU for ring, and what does "
        "that do to the mean IoU over the nine classes?",
        answer="b",
        kind="choice",
        options=(
            "NaN, and the mean leaves ring out",
            "0, and the mean counts it as 0: one ninth of the mean is lost",
            "0, but ring covers about 1% of the pixels, so the mean loses about 1%",
            "it cannot be computed without a ring prediction",
        ),
        mistakes={
            "a": "NaN is for a class that is in neither the masks nor the predictions; here the masks have rings, "
            "so the union is not empty and the IoU is 0 / union = 0.",
            "c": "that is how pixel accuracy would weigh it. The mean IoU weighs every class the same, whatever its area.",
            "d": "IoU = intersection / union; the union is the ring pixels of the masks, which is not empty, so the IoU is 0.",
        },
        explanation="Write IoU = TP / (TP + FP + FN) for ring when the network predicts no ring at all.",
    ),
    Question(
        "9.e",
        "You weight cross-entropy by `w_c = 1 / sqrt(f_c)`, `f_c` the fraction of the training pixels of class c. "
        "Sky covers 33% of the pixels and ring 1.3%. How many times sky's weight is ring's? (two decimals)",
        answer=(0.33 / 0.013) ** 0.5,
        tolerance=0.05,
        mistakes={
            0.33 / 0.013: "that is the ratio of 1 / f_c; the weights here are 1 / sqrt(f_c), so take the square root.",
            0.013 / 0.33: "upside down: the rarer class gets the larger weight.",
            (0.013 / 0.33) ** 0.5: "upside down: the rarer class gets the larger weight.",
        },
        explanation="Divide ring's weight 1 / sqrt(0.013) by sky's 1 / sqrt(0.33).",
    ),
)

ASSIGNMENT = Assignment(
    name="capstone",
    title="Capstone: a segmentation network of your own design",
    lectures=(9,),
    exercises=(),
    namespace=globals(),
    concepts=CONCEPTS,
    project=PROJECT,
)
__all__ = ASSIGNMENT.export()
