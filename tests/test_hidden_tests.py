"""The hidden tests grade with real checkers, whatever a student's cells did before them.

A class of hostile students, each in a fresh kernel-like namespace: the setup cell of the
notebook (``from seglab import checks``), the student's hard-coded function (``_hard_coded.py``:
right on the lecture's example only), one cell of tampering, then the hidden line of the
notebook. Every kind of tampering below replaces something a naive hidden test would trust: the
checker functions, the registry, the checker framework, the reference, the module objects
themselves (``seglab.checks``, ``sys.modules`` entries), or deletes them. The hidden test must
fail every one of these students with the checker's own ``CheckFailed``; a student who calls a
forbidden operation after switching the traps off must still be caught; and a right answer must
still pass after the same tampering.

Each student runs in a process of its own (forked from one that has imported torch and seglab,
as the notebook's setup cell does), because the tampering outlives the student.

Last, the ``HIDDEN`` table of every ``tests/test_checks_<assignment>.py`` (right students, wrong
ones, and delegating ones bound before the reload) is graded by the hidden tests in a fresh process.
"""

from __future__ import annotations

import importlib
import json
import textwrap

import pytest
import torch

from seglab.checks import ASSIGNMENTS

from _checker_tables import HIDDEN_SEEDS, number_of_cases, run_script
from _hard_coded import HARD_CODED

HIDDEN_LINE = 'from seglab.grading import hidden_test; hidden_test("{assignment}", "{name}", {name})'
SETUP = "import torch\nimport torch.nn.functional as F\nfrom seglab import checks\n"

FAKE = 'lambda *args, **kwargs: print("✓ {name}: all cases passed")'

# name -> the tampering cell ({assignment}, {name}, {fake} and {reference} are filled in)
TAMPERING = {
    "checker attributes": """\
import seglab.checks.{assignment}
checks.{name} = {fake}
seglab.checks.{assignment}.{name} = {fake}""",
    "the registry": """\
import seglab.checks.{assignment}
seglab.checks.{assignment}.ASSIGNMENT.checkers["{name}"] = {fake}
seglab.checks.ASSIGNMENTS["{assignment}"].checkers["{name}"] = {fake}
object.__setattr__(seglab.checks.{assignment}.ASSIGNMENT.graded("{name}"), "number", "99.9")""",
    "the hidden seed and case count": """\
import seglab.checks._assignment
seglab.checks._assignment.HIDDEN_N_RANDOM = 0
seglab.checks._assignment.hidden_seed = lambda number: 0""",
    "the checker framework": """\
import seglab.checks._core
seglab.checks._core.run_check = {fake}
seglab.checks._core._compare = lambda *args, **kwargs: None""",
    "the random cases": """\
import torch, seglab.checks._cases
seglab.checks._cases.random_tensor = lambda generator, *shape, dtype=torch.float32: torch.zeros(*shape, dtype=dtype)""",
    "the reference": """\
import {reference_module}
{reference_module}.{reference} = {name}""",
    "the checker module object": """\
import sys, types, seglab.checks
fake = types.ModuleType("seglab.checks.{assignment}")
fake.{name} = {fake}
sys.modules["seglab.checks.{assignment}"] = fake
seglab.checks.{assignment} = fake""",
    "the seglab.checks package": """\
import sys, types, seglab
fake = types.SimpleNamespace({name}={fake}, CheckFailed=AssertionError)
checks = fake
seglab.checks = fake
sys.modules["seglab.checks"] = fake""",
    "the reference module object": """\
import sys, types, seglab
fake = types.ModuleType("{reference_module}")
fake.{reference} = {name}
sys.modules["{reference_module}"] = fake
setattr(seglab, "{reference_module}".split(".")[1], fake)""",
    "deleted modules": """\
import sys
for module in [m for m in sys.modules if m.startswith("seglab.")]:
    del sys.modules[module]""",
    "a name of the hidden line": """\
hidden_test = {fake}""",
}


def _fill(template: str, assignment: str, name: str) -> str:
    reference = ASSIGNMENTS[assignment].graded(name).exercise.reference
    return template.format(
        assignment=assignment,
        name=name,
        fake=FAKE.format(name=name),
        reference_module=reference.__module__,
        reference=reference.__name__,
    )


RUNNER = textwrap.dedent(
    """
    import contextlib, io, json, os, sys
    import torch, torchvision  # imported once; each student's process is forked from this one
    from seglab import checks

    students = json.loads(sys.stdin.read())
    for student in students:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the student's process
            os.close(read_end)
            torch.set_num_threads(1)
            namespace = {"__name__": "__main__"}
            try:
                for cell in student[:-1]:
                    exec(cell, namespace)
                with contextlib.redirect_stdout(io.StringIO()) as printed:
                    exec(student[-1], namespace)  # the hidden line
                result = {"outcome": "passed", "printed": printed.getvalue()}
            except BaseException as error:
                result = {"outcome": f"{type(error).__module__}.{type(error).__name__}", "message": str(error)}
            os.write(write_end, json.dumps(result).encode())
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            result = pipe.read()
        os.waitpid(pid, 0)
        print(result)
    print("{}")
    """
)


def _run_students(students: list[list[str]]) -> list[dict]:
    """Every student (a list of cells, the last one the hidden line) in a process of its own."""
    script = f"import sys, io\nsys.stdin = io.StringIO({json.dumps(json.dumps(students))})\n" + RUNNER
    lines, _ = run_script(script, timeout=600)
    return [json.loads(line) for line in lines]


CLASS = [(assignment, kind) for assignment in sorted(HARD_CODED) for kind in TAMPERING]


@pytest.fixture(scope="module")
def hostile_class():
    """(assignment, kind of tampering) -> what the hidden test did to that student."""
    students = []
    for assignment, kind in CLASS:
        student = HARD_CODED[assignment]
        hidden = HIDDEN_LINE.format(assignment=assignment, name=student.exercise)
        students.append([SETUP, student.source, _fill(TAMPERING[kind], assignment, student.exercise), hidden])
    return dict(zip(CLASS, _run_students(students)))


def test_every_registered_assignment_has_a_hard_coding_student():
    with_functions = sorted(name for name, assignment in ASSIGNMENTS.items() if assignment.exercises)
    assert sorted(HARD_CODED) == with_functions, "add the missing assignments to tests/_hard_coded.py"


@pytest.mark.parametrize("assignment, kind", CLASS, ids=[f"{a}-{k}" for a, k in CLASS])
def test_tampering_does_not_save_a_hard_coded_answer(assignment, kind, hostile_class):
    name = HARD_CODED[assignment].exercise
    result = hostile_class[(assignment, kind)]
    assert result["outcome"] == "seglab.checks._errors.CheckFailed", result
    assert result["message"].startswith(f"{name}: wrong answer in case "), result["message"]


# --- delegation with the traps switched off, and right answers after tampering -----------------------

DELEGATING = {  # assignment -> a student who calls the reference through the module (caught by the trap only)
    "upsampling": "import seglab.ops\ndef transposed_conv1d(x, w, stride=1, padding=0):\n    return getattr(seglab.ops, 'transposed_conv1d')(x, w, stride, padding)\n",
    "fcn": "import seglab.metrics\ndef iou(pred, target, num_classes):\n    return getattr(seglab.metrics, 'iou')(pred, target, num_classes)\n",
    "unet": "import seglab.ops\ndef unet_output_size(input_size, depth=4):\n    return getattr(seglab.ops, 'unet_output_size')(input_size, depth)\n",
    "dilated": "import seglab.ops\ndef receptive_field_mask(layers):\n    return getattr(seglab.ops, 'receptive_field_mask')(layers)\n",
    "mask_rcnn": "import seglab.detection\ndef box_iou(boxes1, boxes2):\n    return getattr(seglab.detection, 'box_iou')(boxes1, boxes2)\n",
    "networks": "import seglab.models\ndef build_context_module(channels, rates):\n    return getattr(seglab.models, 'dilated_context')(channels, rates)\n",
}

TRAPS_OFF = """\
import contextlib, seglab.checks._core
seglab.checks._core.forbidden_operations = lambda exercise: []
seglab.checks._core._trapped = lambda exercise: contextlib.nullcontext()
seglab.checks._core._reject_static_delegation = lambda exercise, student_fn: None"""

RIGHT = {  # assignment -> a right answer (the model students of the checker tests)
    "upsampling": "def transposed_conv1d(x, w, stride=1, padding=0):\n    out = torch.zeros((len(x) - 1) * stride + len(w), dtype=x.dtype)\n    for i in range(len(x)):\n        out[i * stride : i * stride + len(w)] += x[i] * w\n    return out[padding : len(out) - padding]\n",
    "fcn": "def iou(pred, target, num_classes):\n    scores = torch.zeros(num_classes)\n    for c in range(num_classes):\n        p, t = pred == c, target == c\n        union = (p | t).sum()\n        scores[c] = (p & t).sum() / union if union > 0 else float('nan')\n    return scores\n",
    "unet": "def unet_output_size(input_size, depth=4):\n    n = input_size\n    for _ in range(depth):\n        n = (n - 4) // 2\n    n -= 4\n    for _ in range(depth):\n        n = 2 * n - 4\n    return n\n",
    "dilated": "def receptive_field_mask(layers):\n    offsets, jump = {0}, 1\n    for k, s, d in layers:\n        offsets = {p + t * d * jump for p in offsets for t in range(k)}\n        jump *= s\n    mask = torch.zeros(max(offsets) + 1, dtype=torch.bool)\n    mask[sorted(offsets)] = True\n    return mask\n",
    "networks": "from torch import nn\ndef build_context_module(channels, rates):\n    return nn.Sequential(*[nn.Sequential(nn.Conv2d(channels, channels, 3, padding=r, dilation=r, bias=False), nn.BatchNorm2d(channels), nn.ReLU()) for r in rates])\n",
    "mask_rcnn": "def box_iou(boxes1, boxes2):\n    a, b = boxes1.double(), boxes2.double()\n    wh = (torch.minimum(a[:, None, 2:], b[None, :, 2:]) - torch.maximum(a[:, None, :2], b[None, :, :2])).clamp(min=0)\n    inter = wh[..., 0] * wh[..., 1]\n    area = lambda t: (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])\n    return inter / (area(a)[:, None] + area(b)[None, :] - inter)\n",
}

AFTER_ALL = "\n".join(TAMPERING[kind] for kind in ("checker attributes", "the registry", "the checker module object", "the seglab.checks package"))


@pytest.fixture(scope="module")
def other_students():
    students = {}
    for assignment in sorted(HARD_CODED):
        name = HARD_CODED[assignment].exercise
        hidden = HIDDEN_LINE.format(assignment=assignment, name=name)
        students[("delegating", assignment)] = [SETUP, DELEGATING[assignment], _fill(TRAPS_OFF, assignment, name), hidden]
        students[("right", assignment)] = [SETUP, RIGHT[assignment], _fill(AFTER_ALL, assignment, name), hidden]
        students[("unknown exercise", assignment)] = [SETUP, RIGHT[assignment], hidden.replace(f'"{name}", ', '"no_such_exercise", ')]
    return dict(zip(students, _run_students(list(students.values()))))


@pytest.mark.parametrize("assignment", sorted(HARD_CODED))
def test_switching_the_traps_off_does_not_allow_delegation(assignment, other_students):
    name = HARD_CODED[assignment].exercise
    reference = ASSIGNMENTS[assignment].graded(name).exercise.reference
    result = other_students[("delegating", assignment)]
    assert result["outcome"] == "seglab.checks._errors.CheckFailed", result
    assert result["message"].startswith(f"{name} calls {reference.__module__}.{reference.__name__}, one of seglab's reference implementations"), result


@pytest.mark.parametrize("assignment", sorted(HARD_CODED))
def test_a_right_answer_passes_after_the_tampering(assignment, other_students):
    name = HARD_CODED[assignment].exercise
    graded = ASSIGNMENTS[assignment].graded(name)
    result = other_students[("right", assignment)]
    n = len(graded.exercise.cases(torch.Generator().manual_seed(graded.hidden_seed), 20))
    assert result == {"outcome": "passed", "printed": f"✓ {name}: {n}/{n} cases passed\n"}


@pytest.mark.parametrize("assignment", sorted(HARD_CODED))
def test_an_unknown_exercise_is_named(assignment, other_students):
    result = other_students[("unknown exercise", assignment)]
    assert result["outcome"] == "builtins.ValueError", result
    names = list(ASSIGNMENTS[assignment].checkers)
    assert result["message"].startswith(f"exercise: expected one of {names} (the exercises of assignment '{assignment}'), got 'no_such_exercise'.")


# --- the students of the checker tests, graded by the hidden tests -----------------------------------

GRADE_THE_SUITE = textwrap.dedent(
    """
    import importlib, json, sys
    sys.path.insert(0, "tests")
    from seglab.grading import hidden_test
    suite = importlib.import_module("test_checks_{assignment}")

    def student(name):
        if "." in name:  # bound now, before the hidden tests reload the modules
            module, attribute = name.rsplit(".", 1)
            return getattr(importlib.import_module(module), attribute)
        return getattr(suite, name)

    results = []
    for exercise, name, *_ in suite.HIDDEN:
        try:
            hidden_test("{assignment}", exercise, student(name))
            results.append("passed")
        except AssertionError as error:
            results.append(f"{{type(error).__module__}}.{{type(error).__name__}}: {{error}}")
    from seglab.checks import ASSIGNMENTS, _core
    operations = [getattr(owner, attribute) for graded in ASSIGNMENTS["{assignment}"].exercises
                  for owner, attribute, _ in _core.forbidden_operations(graded.exercise)]
    restored = all(getattr(operation, "__module__", None) != "seglab.checks._core" for operation in operations)
    print(json.dumps({{"results": results, "restored": restored}}))
    """
)


@pytest.mark.parametrize("assignment", sorted(name for name, assignment in ASSIGNMENTS.items() if assignment.exercises))
def test_the_hidden_tests_grade_the_students_of_the_checker_tests(assignment):
    """Each ``tests/test_checks_<assignment>.py`` lists in ``HIDDEN`` students and what the hidden test
    must say of them: right ones pass (one line each), wrong ones get the checker's message, those
    who call a reference bound before the reload or PyTorch's operation are rejected; afterwards no
    forbidden operation is left a trap."""
    rows = importlib.import_module(f"test_checks_{assignment}").HIDDEN
    assert {row[2] == "passed" for row in rows} == {True, False}, "HIDDEN needs right students and wrong ones"
    printed, outcome = run_script(GRADE_THE_SUITE.format(assignment=assignment))
    expected_lines = []
    for exercise, _, expected, *_ in rows:
        if expected == "passed":
            n = number_of_cases(exercise, seed=HIDDEN_SEEDS[exercise], n_random=20)
            expected_lines.append(f"✓ {exercise}: {n}/{n} cases passed")
            if ASSIGNMENTS[assignment].graded(exercise).exercise.training is not None:  # then trained, its score
                expected_lines.append(f"✓ {exercise}: trained (")
    assert len(printed) == len(expected_lines) and all(
        line == wanted or (wanted.endswith("trained (") and line.startswith(wanted)) for line, wanted in zip(printed, expected_lines)
    ), (printed, expected_lines)
    for (exercise, student, expected, *pieces), result in zip(rows, outcome["results"], strict=True):
        if expected == "passed":
            assert result == "passed", (student, result)
        else:
            assert result.startswith(f"seglab.checks._errors.CheckFailed: {expected}"), (student, result)
            for piece in pieces:
                assert piece in result, (student, piece, result)
    assert outcome["restored"] is True
