"""The checker framework: run a student's function on named cases and explain the first wrong answer.

An :class:`Exercise` describes one graded function: its reference implementation, PyTorch's
version of the same operation (if any), the operations a solution may not simply call, the
cases, and the known mistakes. :func:`run_check` runs it:

1. every case in order (the lecture's worked example, edge cases, then random cases drawn from
   a local ``torch.Generator``, never the global seed), computing the expected answer with the
   reference and cross-checking it against PyTorch;
2. the student's function on *clones* of the inputs, with warnings captured (nbgrader scores a
   test cell that writes to stderr 0) and the forbidden operations trapped;
3. on the first wrong answer, a :class:`CheckFailed` naming the case, the inputs, expected vs
   got and, when the answer matches a known mistake, a hint; on success one line on stdout.

Answers are compared as tensors. Optional hooks on :class:`Exercise` cover other answers
without special cases here: ``adapt`` turns a raw return value (a Python number, a returned
``nn.Module``, ...) into the tensor that is compared, or explains why it cannot; ``equal_nan``
counts NaN in the same places as equal (with ``nan_hint`` for a number where NaN belongs);
``audit`` judges *how* the answer was computed (e.g. how often a callback was called);
``dtype_from=None`` accepts any floating dtype. The whole check runs on a forked global RNG, so
neither the checker nor the student's function (``nn.Conv2d(...)`` draws random weights)
changes the random numbers of the notebook.

Two rules hold for every exercise, whatever its table says:

* **no function of seglab's reference modules** (:data:`REFERENCE_MODULES`: ``seglab.ops``,
  ``seglab.metrics``, ``seglab.losses``, ``seglab.detection``), nor of the field's reference
  tools (:data:`REFERENCE_PACKAGES`: ``torchmetrics``, ``pycocotools``, installed with the
  course's tools) may run inside the student's call, however it is reached (an alias, a helper,
  a copy made before the check): a profile hook watches every Python call into those files
  while the student's function runs;
* **a case may take at most** :data:`CASE_SECONDS`, and the whole check :data:`CHECK_SECONDS`:
  a function that runs longer (an endless loop) is stopped and the case is named, long before
  the grader's cell timeout would end the cell with no explanation.

Every way a student's function can end is reported with the case it was running: a wrong or
unreadable answer (complex numbers, a tensor on another device, an object that is no tensor)
as :class:`CheckFailed`, the student's own exception (``KeyboardInterrupt`` included) re-raised
with a note naming the case.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import dataclasses
import importlib
import importlib.util
import inspect
import math
import numbers
import os
import signal
import sys
import threading
import time
import types
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import torch

from seglab.checks._errors import CheckFailed

__all__ = [
    "CheckFailed",
    "Case",
    "Mistake",
    "Exercise",
    "Training",
    "run_check",
    "forbidden_operations",
    "not_allowed",
    "REFERENCE_MODULES",
    "REFERENCE_PACKAGES",
    "CASE_SECONDS",
    "CHECK_SECONDS",
    "close",
    "short",
    "whole_number",
    "RTOL",
    "ATOL",
]

RTOL, ATOL = 1e-4, 1e-5  # float32 sums of a few products agree with float64 to ~1e-6

REFERENCE_MODULES = ("seglab.ops", "seglab.metrics", "seglab.losses", "seglab.detection")
"""The modules of seglab's reference implementations: no exercise may call any of their functions."""

REFERENCE_PACKAGES = ("torchmetrics", "pycocotools")
"""The field's reference tools for metrics and AP: no exercise may call any function of theirs."""

CASE_SECONDS = 5.0  # a right answer takes milliseconds per case; a slow, honest loop well under a second
CHECK_SECONDS = 30.0  # all cases together: half the grader's 60 s cell timeout


@dataclasses.dataclass(frozen=True)
class Case:
    """One call of the exercise's function: ``fn(*args, **kwargs)``, with a name a student can read.

    ``extra`` is data the checker uses to judge the answer but does not pass to the function,
    e.g. the probe inputs on which a returned module is run (see ``Exercise.adapt``).
    """

    name: str
    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    extra: Any = None


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A known wrong way to solve the exercise.

    ``make(*args, **kwargs)`` computes the wrong answer for a case (a raw return value, passed
    through ``Exercise.adapt`` like the student's); when the student's output equals it, the
    check fails with ``hint``. ``make`` may raise for cases where the mistake does not apply (it
    is then skipped). A mistake that is not one fixed answer (say, a bias left at its random
    initial value) is recognised by ``matches(got, expected, case) -> bool`` instead.
    """

    hint: str
    make: Callable[..., Any] | None = None
    matches: Callable[[torch.Tensor, torch.Tensor, Case], bool] | None = None


@dataclasses.dataclass(frozen=True)
class Exercise:
    """Everything a checker needs to know about one graded function.

    Attributes:
        name: the function's name, as the notebook defines it (and the name of its checker).
        signature: how it is called, for messages (``"transposed_conv1d(x, w, stride=1, padding=0)"``).
        summary: what the function returns, in one line: the rest of the checker's docstring
            (``"Check ``signature``: summary"``).
        reference: the seglab reference implementation (the expected answers).
        cases: ``cases(generator, n_random) -> list[Case]``: the fixed cases, then ``n_random``
            random ones drawn from ``generator``.
        torch_op: PyTorch's version of the operation with the same call signature, or ``None``.
            Every expected answer is cross-checked against it.
        forbidden: ``(owner, attribute, label)`` triples: the operations a solution may not call
            (the reference itself and PyTorch's own version of the same operation). ``owner`` is
            a module or class, or the dotted name of a module imported when a check first needs
            it (``"torchvision.ops.boxes"``; ``"torch.ops.torchvision"`` names torchvision's C++
            operations), so that importing a checker imports nothing heavy;
            :func:`forbidden_operations` resolves them. Functions of seglab's reference modules
            need no entry: they are forbidden in every exercise (:data:`REFERENCE_MODULES`).
        forbidden_if: ``label -> condition(*args, **kwargs) -> bool`` for the forbidden operations
            that are forbidden only in some calls (``F.conv2d`` with ``dilation > 1``): a call
            for which the condition is false runs the operation as usual.
        mistakes: known mistakes, tried in order on a wrong answer.
        shape_hint: ``shape_hint(*args, **kwargs) -> str``: how the output shape follows from the
            inputs, shown when the shape is wrong.
        dtype_from: the name of the argument whose dtype the output must have; ``None``: any
            floating dtype is right when the expected answer is floating (float32 or float64),
            and the dtype is not judged otherwise.
        adapt: ``adapt(value, case) -> Tensor``: turns a raw return value (the reference's, a
            mistake's, PyTorch's or the student's) into the tensor that is compared, e.g. a
            Python int into a 0-dim tensor, or a returned module into its output on
            ``case.extra``. For a value it cannot use it raises ``CheckFailed`` whose message is
            the body of the failure (indented lines such as ``"  expected ..., got ...\n  hint: ..."``);
            the checker adds the case and the inputs.
        compared: ``compared(case) -> str``: what the compared tensor is, when it is not the
            return value itself (shown in failure messages).
        equal_nan: NaN in the same places of the expected and the student's answer counts as equal.
        nan_hint: shown when the student's answer has a number where NaN is expected.
        audit: ``audit(case, args, kwargs) -> str | None``: after the student's call, with the
            (copied) arguments it received, a message if the answer was computed in a forbidden
            way (e.g. one call of a callback per pixel), else ``None``.
        delegation_hint: what a solution may use, in the message that rejects a forbidden call.
        watch_answer: ``adapt`` runs code of the student's (the forward pass of a returned
            module): it runs like the student's function, with the forbidden operations trapped,
            seglab's references refused and the case's time limit; an exception it raises (not
            ``CheckFailed``) is reported as the student's, with the case.
        training: the exercise's network is also trained with a fixed recipe and scored on
            held-out images, when the check is run with ``train=True`` (:class:`Training`).
        refused_modules: more seglab modules whose every function is refused while the student's
            code runs, as those of :data:`REFERENCE_MODULES` are (``("seglab.models",)``: a student's
            network may not be, subclass or run one of seglab's networks).
        refuse_references: refuse :data:`REFERENCE_MODULES` and :data:`REFERENCE_PACKAGES` while the
            student's code runs (false for the capstone's network of the student's own design, which
            may use anything of seglab's but its ``refused_modules``).
    """

    name: str
    signature: str
    summary: str
    reference: Callable[..., torch.Tensor]
    cases: Callable[[torch.Generator, int], list]
    torch_op: Callable[..., torch.Tensor] | None = None
    forbidden: Sequence[tuple[Any, str, str]] = ()
    forbidden_if: dict = dataclasses.field(default_factory=dict)
    mistakes: Sequence[Mistake] = ()
    shape_hint: Callable[..., str] | None = None
    dtype_from: str | None = "x"
    adapt: Callable[[Any, Case], torch.Tensor] | None = None
    compared: Callable[[Case], str] | None = None
    equal_nan: bool = False
    nan_hint: str | None = None
    audit: Callable[[Case, tuple, dict], str | None] | None = None
    delegation_hint: str | None = None
    watch_answer: bool = False
    training: "Training | None" = None
    refused_modules: tuple[str, ...] = ()
    refuse_references: bool = True


@dataclasses.dataclass(frozen=True)
class Training:
    """A network the student builds, trained with a fixed recipe and scored on images it never saw.

    It runs on one CPU thread (the same result on every machine; no slow-down when a grader runs
    notebooks side by side), in four steps:

    1. ``prepare(seed)`` makes the recipe's data (training data, held-out images drawn with
       ``seed``, anything made with seglab's references), before any code of the student's runs;
    2. ``train(student_fn, prepared, seed) -> nn.Module`` builds the student's network with
       ``student_fn`` and trains it, at most ``seconds``, with the forbidden operations trapped
       (seglab's functions are not watched call by call here, which would double the time: the
       cases have run the same forward pass fully watched, and step 3 runs it watched again);
    3. ``predict(model, prepared)`` runs the trained network on the held-out data, watched like the
       student's function;
    4. ``score(predictions, prepared) -> float`` measures them (seglab's metrics run here).

    The check passes when the score is at least ``threshold``.

    Attributes:
        recipe: the recipe in a few words, for messages (``"200 Adam steps of 8 images, lr 3e-3"``).
        metric: what ``score`` measures (``"mean IoU on 64 held-out images"``).
        threshold: the lowest passing score.
        prepare, train, predict, score: as above.
        hint: what to look at when the score is too low.
        seconds: the time limit of ``train`` (the grader's cell limit is 60 s).
    """

    recipe: str
    metric: str
    threshold: float
    prepare: Callable[[int], Any]
    train: Callable[[Any, Any, int], Any]
    predict: Callable[[Any, Any], Any]
    score: Callable[[Any, Any], float]
    hint: str
    seconds: float = 40.0


class _Delegated(BaseException):
    """Raised inside the student's call when it reaches a forbidden operation.

    A ``BaseException`` so that a student's ``except Exception`` cannot swallow it (and should a
    bare ``except:`` swallow it, the call is still rejected: every trap also writes down what it caught).
    """

    def __init__(self, label: str):
        super().__init__(label)
        self.label = label


class _TimedOut(BaseException):
    """Raised inside the student's call when a case runs past its time limit."""


def run_check(exercise: Exercise, student_fn, *, seed: int = 0, n_random: int = 8, train: bool = False) -> None:
    """Check ``student_fn`` against ``exercise``; print one line on success.

    With ``train=True``, an exercise that has a :class:`Training` then trains the student's
    network with its recipe and scores it on held-out images drawn with ``seed``; a second line
    gives the score.

    Raises:
        CheckFailed: the first wrong answer (or a forbidden shortcut, or a case that ran past
            :data:`CASE_SECONDS`), with the case and a hint; or a trained score below the
            threshold.
        Exception: the student's own exception (and ``KeyboardInterrupt``), re-raised with a note
            naming the case.
    """
    _require_function(exercise, student_fn)
    _reject_static_delegation(exercise, student_fn)
    generator = torch.Generator().manual_seed(seed)
    caught: list[warnings.WarningMessage] = []
    deadline = time.monotonic() + CHECK_SECONDS
    with torch.random.fork_rng(devices=[]):  # the notebook's global RNG is left as it was
        cases = exercise.cases(generator, n_random)
        for number, case in enumerate(cases):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = _ours(exercise, case, exercise.reference(*case.args, **case.kwargs), "reference")
                _cross_check(exercise, case, expected)
            with warnings.catch_warnings(record=True) as recorded:
                warnings.simplefilter("always")
                got = _call_student(exercise, student_fn, case, deadline, number, len(cases))
            caught.extend(recorded)
            with warnings.catch_warnings(record=True) as recorded:
                warnings.simplefilter("always" if exercise.watch_answer else "ignore")
                problem = _judge(exercise, case, expected, got)
            caught.extend(recorded)
            if problem:
                raise CheckFailed(problem)
    print(f"✓ {exercise.name}: {len(cases)}/{len(cases)} cases passed")
    if train and exercise.training is not None:
        with warnings.catch_warnings(record=True) as recorded:
            warnings.simplefilter("always")
            _check_training(exercise, student_fn, seed)
        caught.extend(recorded)
    for message in sorted({f"{w.category.__name__}: {w.message}" for w in caught}):
        print(f"  note: your function warned (hidden from the grader): {message}")


def _check_training(exercise: Exercise, student_fn, seed: int) -> None:
    """Train the student's network with the exercise's recipe and score it; print the score or raise."""
    training, name = exercise.training, exercise.name
    with torch.random.fork_rng(devices=[]), _one_thread():
        prepared = training.prepare(seed)
        model = _watched_step(exercise, lambda: training.train(student_fn, prepared, seed), training.seconds,
                              "while it was trained", profile=False)
        predictions = _watched_step(exercise, lambda: training.predict(model, prepared), CASE_SECONDS,
                                    "on the held-out images after training", profile=True)
        score = float(training.score(predictions, prepared))
    if not score >= training.threshold:  # NaN fails too
        raise CheckFailed(
            f"{name}: trained with the course's recipe ({training.recipe}), your network reaches a "
            f"{training.metric} of {score:.3f}; at least {training.threshold:g} is needed.\n  hint: {training.hint}"
        )
    print(f"✓ {name}: trained ({training.recipe}): {training.metric} {score:.3f}, at least {training.threshold:g} needed")


def _watched_step(exercise: Exercise, call: Callable[[], Any], seconds: float, when: str, profile: bool):
    """One step of a :class:`Training` that runs the student's code: its value, or a ``CheckFailed``."""
    training, name = exercise.training, exercise.name
    try:
        value, caught, timed_out = _run_watched(exercise, call, seconds, profile=profile)
    except KeyboardInterrupt as interrupt:
        _annotate(interrupt, f"seglab.checks: {name} was interrupted {when} ({training.recipe})")
        raise
    except CheckFailed:
        raise
    except Exception as error:
        raise CheckFailed(
            f"{name}: your network raised {type(error).__name__} {when} ({training.recipe}): "
            f"{short(str(error), 300)}\n  hint: the cases above build it and run it once; training also "
            f"runs it backwards and in train() mode. Run your own training cell to see where it fails."
        ) from None
    if caught:
        raise CheckFailed(_delegation_message(exercise, caught[0]))
    if timed_out:
        raise CheckFailed(
            f"{name}: your network ran longer than {seconds:g} s {when} ({training.recipe}) and was stopped.\n"
            f"  hint: the course's network trains in a few seconds with this recipe: look for a loop in "
            f"forward() or much wider layers than the exercise asks for."
        )
    return value


# --- the student's call ------------------------------------------------------------------------


def _require_function(exercise: Exercise, student_fn) -> None:
    if student_fn is None:
        raise CheckFailed(
            f"{exercise.name}: expected a function, got None. Hint: pass the function itself, "
            f"checks.{exercise.name}({exercise.name}), not the result of calling it."
        )
    if not callable(student_fn):
        raise CheckFailed(
            f"{exercise.name}: expected a function, got {type(student_fn).__name__} {short(student_fn)}. "
            f"Hint: did a later cell assign a value to the name {exercise.name}? Re-run the cell "
            f"that defines the function."
        )


def forbidden_operations(exercise: Exercise) -> list[tuple[Any, str, str]]:
    """``exercise.forbidden`` with every owner given by name imported: ``(owner, attribute, label)``.

    The functions of :data:`REFERENCE_MODULES`, forbidden in every exercise, are not listed: they
    are watched by their files (:func:`_reference_files`), not replaced by traps.
    """
    return [(_owner(owner), attribute, label) for owner, attribute, label in exercise.forbidden]


def _owner(owner):
    """A forbidden operation's owner: the object itself, or the module of that dotted name."""
    if not isinstance(owner, str):
        return owner
    package, _, rest = owner.partition(".")
    if package == "torch" and rest.startswith("ops."):  # torch.ops.<library>: the library's C++ operations,
        importlib.import_module(rest.removeprefix("ops."))  # registered when the library is imported
        return getattr(torch.ops, rest.removeprefix("ops."))
    return importlib.import_module(owner)


def not_allowed(exercise: Exercise) -> str:
    """The rule the exercise's text states, word for word: what its solution may not call.

    Every exercise notebook has this line in the exercise's description (a test compares them),
    so that the text and the checker forbid the same operations. ``torch.nn.functional`` is
    written ``F``; aliases of one operation (``torchvision.ops.nms`` and
    ``torchvision.ops.boxes.nms``) and private names appear once.

    Example:
        >>> not_allowed(Exercise("f", "f(x)", "", abs, lambda g, n: []))
        '**Not allowed:** any function of `seglab`, `torchmetrics` or `pycocotools`.'
    """
    names: dict[int, list[str]] = {}  # one operation -> the names it has
    for owner, attribute, label in forbidden_operations(exercise):
        name, _, condition = label.partition(" ")
        if any(part.startswith("_") for part in name.split(".")):
            continue
        text = f"`{name.replace('torch.nn.functional.', 'F.')}`" + (f" {condition}" if condition else "")
        names.setdefault(id(getattr(owner, attribute, None)), []).append(text)
    shown = [min(texts, key=len) for texts in names.values()]  # F.conv2d rather than torch.conv2d
    if not shown:
        return "**Not allowed:** any function of `seglab`, `torchmetrics` or `pycocotools`."
    return f"**Not allowed:** {', '.join(shown)}, and any function of `seglab`, `torchmetrics` or `pycocotools`."


def _reference_files(extra: Sequence[str] = (), references: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    """``(file -> module name, folder -> package name)``: the files of :data:`REFERENCE_MODULES` (and of
    the modules ``extra``) and the folders of the installed :data:`REFERENCE_PACKAGES`, found without
    importing them; with ``references`` false, only the files of ``extra``."""
    files, folders = {}, {}
    for name in (*(REFERENCE_MODULES if references else ()), *extra):
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) or importlib.util.find_spec(name).origin
        files[str(origin)] = name
    for name in REFERENCE_PACKAGES if references else ():
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        for folder in (spec.submodule_search_locations or []) if spec is not None else []:
            folders[str(folder).rstrip("/\\") + os.sep] = name
    return files, folders


def _reference_label(code: types.CodeType, where: tuple[dict[str, str], dict[str, str]]) -> str | None:
    """``"seglab.ops.conv1d_matrix"`` (or ``"torchmetrics.functional...."``) when ``code`` is a
    function of a reference module or package, else ``None``."""
    files, folders = where
    name = getattr(code, "co_qualname", code.co_name)
    module = files.get(code.co_filename)
    if module is not None:
        return f"{module}.{name}"
    for folder, package in folders.items():
        if code.co_filename.startswith(folder):
            inside = code.co_filename[len(folder):].rsplit(".", 1)[0].replace(os.sep, ".")
            inside = inside.removesuffix("__init__").strip(".")
            return ".".join(part for part in (package, inside, name) if part)
    return None


def _forbidden_objects(exercise: Exercise) -> dict[int, str]:
    objects = {}
    for owner, attribute, label in forbidden_operations(exercise):
        if hasattr(owner, attribute) and label not in exercise.forbidden_if:
            objects[id(getattr(owner, attribute))] = label
    return objects


def _delegation_message(exercise: Exercise, label: str) -> str:
    hint = exercise.delegation_hint or (
        "build the output step by step as in the lecture (Python loops are fine); helpers such "
        "as torch.zeros and indexing are welcome."
    )
    package = label.split(".")[0]
    if label.startswith("seglab."):
        what = f"{label}, one of seglab's reference implementations (no exercise may call them)"
    elif package in REFERENCE_PACKAGES:
        what = f"{label}, a function of {package}, one of the field's reference tools (no exercise may call them)"
    else:
        what = f"{label}, which already computes the answer"
    return f"{exercise.name} calls {what}: this exercise asks you to write the operation yourself. Hint: {hint}"


def _reject_static_delegation(exercise: Exercise, student_fn) -> None:
    """Reject a function that is, or refers by name to, a forbidden operation or a reference function.

    Looks at the names, closure cells and default values of ``student_fn`` and of the helper
    functions it refers to that are defined next to it (same globals, e.g. the notebook's).
    Functions bound before the check starts escape the runtime traps, so they are found here;
    a function of seglab's reference modules is recognised by its file, so that a copy made
    before ``importlib.reload(seglab.ops)`` is recognised too.
    """
    forbidden, files = _forbidden_objects(exercise), _reference_files(exercise.refused_modules)

    def label_of(value) -> str | None:
        label = forbidden.get(id(value))
        code = getattr(value, "__code__", None)
        if label is None and isinstance(value, types.FunctionType) and isinstance(code, types.CodeType):
            label = _reference_label(code, files)
        return label

    label = label_of(student_fn) or label_of(getattr(student_fn, "func", None))
    if label:
        raise CheckFailed(_delegation_message(exercise, label))
    namespace = getattr(student_fn, "__globals__", None)
    pending, seen = [student_fn], set()
    while pending:
        function = pending.pop()
        code = getattr(function, "__code__", None)
        if not isinstance(code, types.CodeType) or id(function) in seen:
            continue
        seen.add(id(function))
        globals_ = getattr(function, "__globals__", {})
        referenced = [globals_.get(name, getattr(builtins, name, None)) for name in _all_names(code)]
        referenced += [cell.cell_contents for cell in (getattr(function, "__closure__", None) or ()) if _has_contents(cell)]
        referenced += list(getattr(function, "__defaults__", None) or ())
        referenced += list((getattr(function, "__kwdefaults__", None) or {}).values())
        for value in referenced:
            label = label_of(value)
            if label:
                raise CheckFailed(_delegation_message(exercise, label))
            if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
                pending.append(value)  # a helper of the student's: look inside it too


def _all_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _all_names(constant)
    return names


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


@contextlib.contextmanager
def _trapped(exercise: Exercise, caught: list[str]):
    """Replace the forbidden operations by traps for the duration of the student's call.

    A trap appends its label to ``caught`` and raises :class:`_Delegated`; an operation that is
    forbidden only under a condition (``exercise.forbidden_if``) runs as usual otherwise.
    """
    saved = []
    for owner, attribute, label in forbidden_operations(exercise):
        if not hasattr(owner, attribute):
            continue
        original = getattr(owner, attribute)
        saved.append((owner, attribute, original))

        def trap(*args, _label=label, _original=original, _when=exercise.forbidden_if.get(label), **kwargs):
            if _when is not None and not _when(*args, **kwargs):
                return _original(*args, **kwargs)
            caught.append(_label)
            raise _Delegated(_label)

        setattr(owner, attribute, trap)
    try:
        yield
    finally:
        for owner, attribute, original in reversed(saved):
            setattr(owner, attribute, original)


def _genuine_setprofile():
    """``sys.setprofile``, or ``None`` when a cell replaced it (a builtin's ``__self__`` and
    ``__name__`` cannot be forged)."""
    setprofile = getattr(sys, "setprofile", None)
    builtin = type(len)
    if type(setprofile) is builtin and setprofile.__self__ is sys and setprofile.__name__ == "setprofile":
        return setprofile
    return None


@contextlib.contextmanager
def _reference_calls_refused(caught: list[str], extra: Sequence[str] = (), references: bool = True):
    """While the student's function runs, any Python call into a reference module's file raises.

    A profile hook (``sys.setprofile``), so that every way of reaching those functions is seen:
    ``seglab.ops.f``, an alias bound before, a copy, a function of a reloaded module. The hook
    that was set before (a profiler's) is put back afterwards.
    """
    setprofile = _genuine_setprofile()
    if setprofile is None:
        raise CheckFailed(
            "seglab.checks: sys.setprofile was replaced by a cell of this notebook, so the checker "
            "cannot watch what your function calls. Hint: restart the kernel and run the cells again "
            "without the cell that replaces it."
        )
    files = _reference_files(extra, references)
    previous = sys.getprofile()

    def hook(frame, event, arg):
        if event == "call":
            label = _reference_label(frame.f_code, files)
            if label is not None:
                caught.append(label)
                raise _Delegated(label)

    setprofile(hook)
    try:
        yield
    finally:
        setprofile(previous)


@contextlib.contextmanager
def _time_limit(seconds: float, timed_out: list[bool]):
    """Interrupt the student's call after ``seconds`` (``SIGALRM``; where there is no such signal,
    or off the main thread, there is no limit). A timer that was running before is restarted
    with the time it had left."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    running = [True]

    def stop(signum, frame):
        if running[0]:  # an alarm that comes as the call ends is ignored
            timed_out.append(True)
            raise _TimedOut()

    previous_handler = signal.signal(signal.SIGALRM, stop)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    started = time.monotonic()
    try:
        yield
    finally:
        running[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:
            left = previous_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), previous_interval)


def _case_note(exercise: Exercise, case: Case, what: str) -> str:
    return f"seglab.checks: {exercise.name} {what} in case '{case.name}' (inputs: {_format_inputs(case)})"


@contextlib.contextmanager
def _one_thread():
    """Train on one CPU thread, then restore the thread count: the same result on any machine, and no
    slow-down when a grader runs several notebooks side by side (threads of several processes that
    compete for the same cores wait for each other at every operation)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _run_watched(exercise: Exercise, call: Callable[[], Any], seconds: float, profile: bool = True):
    """``call()`` (code of the student's) with the forbidden operations trapped, seglab's references
    refused (unless ``profile`` is false: the call-by-call watch costs time) and a time limit of
    ``seconds``: ``(value, caught, timed_out)``. The call's own exceptions (``KeyboardInterrupt``
    included) propagate."""
    caught: list[str] = []
    timed_out: list[bool] = []
    value = None
    watch = _reference_calls_refused(caught, exercise.refused_modules, exercise.refuse_references) if profile else contextlib.nullcontext()
    try:
        # the timer innermost: it is off before the traps are taken away, so that no late alarm
        # can interrupt their removal
        with _trapped(exercise, caught), watch, _time_limit(seconds, timed_out):
            value = call()
    except (_Delegated, _TimedOut):
        pass  # reported by the caller, also when the student's code swallowed it
    return value, caught, timed_out


def _call_student(exercise: Exercise, student_fn, case: Case, deadline: float | None = None,
                  number: int = 0, total: int = 1):
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    seconds = CASE_SECONDS if deadline is None else min(CASE_SECONDS, deadline - time.monotonic())
    try:
        got, caught, timed_out = _run_watched(exercise, lambda: student_fn(*args, **kwargs), seconds)
    except KeyboardInterrupt as interrupt:
        _annotate(interrupt, _case_note(exercise, case, f"was interrupted (case {number + 1} of {total})"))
        raise
    except Exception as error:
        note = _case_note(exercise, case, f"raised {type(error).__name__}")
        if isinstance(error, NotImplementedError):
            note += f"\nHint: {exercise.name} is not implemented yet: replace `raise NotImplementedError()` with your code."
        if sys.version_info >= (3, 11):
            error.add_note(note)
            raise
        raise CheckFailed(f"{note}\n{type(error).__name__}: {error}") from error
    if caught:
        raise CheckFailed(_delegation_message(exercise, caught[0])) from None
    if timed_out:
        if seconds < CASE_SECONDS:
            what = f"all cases together ran longer than {CHECK_SECONDS:g} s, and case {number + 1} of {total} was stopped"
        else:
            what = f"ran longer than {CASE_SECONDS:g} s and was stopped"
        raise CheckFailed(
            f"{exercise.name}: case '{case.name}' {what}\n  inputs:   {_format_inputs(case)}\n"
            f"  hint: a right answer takes milliseconds here. Look for a loop that never ends (a `while` "
            f"whose condition never changes, e.g. an index or a list that the loop does not advance or "
            f"shrink), or for a loop over far more values than the input has."
        ) from None
    modified = _modified_inputs(exercise, case, args, kwargs)
    if modified:
        name, old = modified
        if isinstance(old, torch.nn.Module):
            hint = (
                f"build the new module from copies: e.g. new.weight.copy_({name}.weight.reshape(...)) "
                f"inside `with torch.no_grad():` leaves {name} as it was; do not assign to "
                f"{name}.weight or {name}.weight.data."
            )
        elif isinstance(old, torch.Tensor):
            hint = (
                f"the caller still needs its input; write into a new tensor (torch.zeros(...)) and avoid "
                f"in-place updates of the arguments such as `{name} += ...` or `{name}[...] = ...`."
            )
        elif isinstance(old, (list, tuple)) and any(isinstance(item, torch.Tensor) for item in old):
            hint = (
                f"the caller still needs its input; work on copies of the tensors in {name} (e.g. "
                f"b = b.clone(), or new tensors), and avoid in-place updates such as `b[:, 0] -= ...`."
            )
        else:
            hint = f"the caller still needs its input; work on a copy (e.g. list({name})) instead of changing it."
        raise CheckFailed(f"{exercise.name} modified its input {name} in place, in case '{case.name}'. Hint: {hint}")
    if exercise.audit is not None:
        problem = exercise.audit(case, args, kwargs)
        if problem:
            raise CheckFailed(f"{exercise.name}, case '{case.name}': {problem}")
    return got


def _annotate(error: BaseException, note: str) -> None:
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:  # Python 3.10: the note goes into the message
        error.args = (*(error.args or ("",))[:1], note) if error.args else (note,)


def _modified_inputs(exercise: Exercise, case: Case, args: tuple, kwargs: dict) -> tuple[str, Any] | None:
    """``(name, original value)`` of the first argument the student's call changed, or ``None``."""
    parameters = list(inspect.signature(exercise.reference).parameters)
    names = [parameters[i] if i < len(parameters) else f"argument {i + 1}" for i in range(len(args))]
    names += list(kwargs)
    before = list(case.args) + list(case.kwargs.values())
    after = list(args) + list(kwargs.values())
    for name, old, new in zip(names, before, after):
        if not _unchanged(old, new):
            return name, old
    return None


def _same_tensor(old: torch.Tensor, new) -> bool:
    return (
        isinstance(new, torch.Tensor)
        and new.shape == old.shape
        and new.dtype == old.dtype
        and (torch.equal(new, old) or bool(torch.isclose(new, old, rtol=0, atol=0, equal_nan=True).all()))
    )


def _unchanged(old, new) -> bool:
    """Tensors keep shape, dtype and values; modules their state; lists, tuples and dicts their items."""
    if isinstance(old, torch.Tensor):
        return _same_tensor(old, new)
    if isinstance(old, torch.nn.Module):
        if not isinstance(new, torch.nn.Module):
            return False
        before, after = old.state_dict(), new.state_dict()
        return before.keys() == after.keys() and all(_same_tensor(before[k], after[k]) for k in before)
    if isinstance(old, (list, tuple)):
        return type(new) is type(old) and len(new) == len(old) and all(_unchanged(a, b) for a, b in zip(old, new))
    if isinstance(old, dict):
        return type(new) is type(old) and new.keys() == old.keys() and all(_unchanged(old[k], new[k]) for k in old)
    if isinstance(old, float) and math.isnan(old):
        return isinstance(new, float) and math.isnan(new)
    try:
        return bool(new == old)
    except Exception:  # values that do not compare: not judged
        return True


# --- comparing answers --------------------------------------------------------------------------


def _ours(exercise: Exercise, case: Case, value, source: str) -> torch.Tensor:
    """A value computed by seglab (the reference's, PyTorch's) through ``exercise.adapt``."""
    if exercise.adapt is None:
        return value
    try:
        return exercise.adapt(value, case)
    except CheckFailed as problem:
        raise RuntimeError(
            f"seglab bug: the {source} answer of {exercise.name} in case '{case.name}' is not usable: "
            f"{problem}. Please report it to the course staff."
        ) from None


def close(a: torch.Tensor, b: torch.Tensor, equal_nan: bool = False) -> bool:
    """Same shape and values within the tolerance (NaN equal to NaN when ``equal_nan``)."""
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), RTOL, ATOL, equal_nan=equal_nan)


def _cross_check(exercise: Exercise, case: Case, expected: torch.Tensor) -> None:
    if exercise.torch_op is None:
        return
    theirs = _ours(exercise, case, exercise.torch_op(*case.args, **case.kwargs), "PyTorch")
    if not close(theirs, expected, exercise.equal_nan):
        raise RuntimeError(
            f"seglab bug: the reference {exercise.name} disagrees with PyTorch in case '{case.name}'. "
            f"Please report it to the course staff."
        )


def _header(exercise: Exercise, case: Case) -> str:
    return f"{exercise.name}: wrong answer in case '{case.name}'\n  inputs:   {_format_inputs(case)}\n"


def _judge(exercise: Exercise, case: Case, expected: torch.Tensor, got) -> str | None:
    """:func:`_compare`, for any object a student's function can return: ``None`` when right,
    else the message of the failure (never an exception of the checker's own)."""
    try:
        return _compare(exercise, case, expected, got)
    except RuntimeError as error:
        if str(error).startswith("seglab bug"):
            raise
        problem = f"{type(error).__name__}: {error}"
    except Exception as error:
        problem = f"{type(error).__name__}: {error}"
    return _header(exercise, case) + (
        f"  returned: {_safe_short(got)}\n"
        f"  the checker could not read this answer ({short(problem, 200)}).\n"
        f"  hint: return a torch.Tensor of plain numbers (float or int) on the CPU, as the exercise describes."
    )


def _safe_short(value) -> str:
    try:
        return short(value)
    except Exception:
        return f"a {type(value).__name__}"


def _dtype_name(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).replace("torch.", "")


def _unusable_tensor(expected: torch.Tensor, got: torch.Tensor) -> str | None:
    """Why ``got`` cannot be compared at all (another device, complex or non-numeric values), or ``None``."""
    if got.device != expected.device:
        return (
            f"  expected a tensor on the {expected.device.type} device (where the inputs are), got one on "
            f"{got.device}\n  hint: create new tensors on the device of the inputs (torch.zeros(..., "
            f"device=x.device), or x.new_zeros(...)) and do not move the result (.to('{got.device.type}'), "
            f".cuda()); the meta device holds no values at all."
        )
    if got.is_complex():
        return (
            f"  expected real numbers ({_dtype_name(expected)}), got complex numbers ({_dtype_name(got)}): "
            f"{short(got)}\n  hint: a computation through complex numbers (torch.fft, ...) ends "
            f"with .real, converted back to the dtype of the input."
        )
    if not (got.is_floating_point() or got.dtype in _NUMERIC):
        return f"  dtype: expected {expected.dtype}, got {got.dtype}"
    return None


class _Verdict(Exception):
    """A whole failure message (not the body under the case's header) from :func:`_adapt_answer`."""


def _adapt_answer(exercise: Exercise, case: Case, got):
    """``exercise.adapt(got, case)`` for the student's answer: watched like the student's function
    when the exercise says the adapting runs the student's code (``watch_answer``)."""
    if not exercise.watch_answer:
        return exercise.adapt(got, case)
    try:
        value, caught, timed_out = _run_watched(exercise, lambda: exercise.adapt(got, case), CASE_SECONDS)
    except CheckFailed:
        raise
    except KeyboardInterrupt as interrupt:
        _annotate(interrupt, _case_note(exercise, case, "was interrupted"))
        raise
    except Exception as error:
        raise CheckFailed(
            f"  your network raised {type(error).__name__} when the checker ran it: {short(str(error), 400)}\n"
            f"  hint: run your network on the case's inputs yourself and read the error: a wrong number of "
            f"channels, a size that does not match, a layer used before it was built."
        ) from None
    if caught:
        raise _Verdict(_delegation_message(exercise, caught[0]))
    if timed_out:
        raise _Verdict(
            f"{exercise.name}: case '{case.name}' ran longer than {CASE_SECONDS:g} s and was stopped\n"
            f"  inputs:   {_format_inputs(case)}\n"
            f"  hint: your network's forward pass takes milliseconds here. Look for a loop that never ends."
        )
    return value


def _compare(exercise: Exercise, case: Case, expected: torch.Tensor, got) -> str | None:
    """``None`` when ``got`` is right, else the message of the failure."""
    header = _header(exercise, case)
    returned = got
    if exercise.adapt is not None:
        try:
            got = _adapt_answer(exercise, case, got)
        except _Verdict as verdict:
            return str(verdict)
        except CheckFailed as problem:
            return header + str(problem)
    if not isinstance(got, torch.Tensor):
        return header + _type_problem(exercise, expected, got)
    unusable = _unusable_tensor(expected, got)
    if unusable and (got.device != expected.device or got.is_complex()):
        return header + unusable
    dtype_free = exercise.dtype_from is None and got.is_floating_point() and expected.is_floating_point()
    lines = [f"  expected: {short(expected, dtype=not dtype_free)}", f"  got:      {short(got, dtype=not dtype_free)}"]
    if not isinstance(returned, (torch.Tensor, numbers.Number)):
        lines.insert(0, f"  returned: {short(returned)}")
    if exercise.compared is not None:
        lines.insert(0, f"  compared: {exercise.compared(case)}")
    if got.shape != expected.shape:
        lines.insert(0, f"  shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}")
        hint = _mistake_hint(exercise, case, got, expected)
        if hint is None and exercise.shape_hint is not None:
            hint = exercise.shape_hint(*case.args, **case.kwargs)
        return header + "\n".join(lines) + (f"\n  hint: {hint}" if hint else "")
    if unusable:
        return header + unusable
    if not close(got, expected, exercise.equal_nan):
        if got.dim() > 0:
            lines.append(_where_they_differ(expected, got, exercise.equal_nan))
        hint = _mistake_hint(exercise, case, got, expected)
        if hint is None and exercise.nan_hint and bool((expected.isnan() & ~got.isnan()).any()):
            hint = exercise.nan_hint
        return header + "\n".join(lines) + (f"\n  hint: {hint}" if hint else "")
    if exercise.dtype_from is None:
        if got.is_floating_point() == expected.is_floating_point():
            return None
        return header + (
            f"  the values are right, but the dtype is not: expected a floating-point tensor "
            f"(float32 or float64), got {got.dtype}.\n"
            f"  hint: divide with / (true division), or convert with .float() or .double()."
        )
    if got.dtype != expected.dtype:
        return header + (
            f"  the values are right, but the dtype is not: expected {expected.dtype} (the dtype of "
            f"{exercise.dtype_from}), got {got.dtype}.\n"
            f"  hint: create the output with dtype={exercise.dtype_from}.dtype, e.g. "
            f"torch.zeros(..., dtype={exercise.dtype_from}.dtype), or convert at the end with "
            f".to({exercise.dtype_from}.dtype)."
        )
    return None


_NUMERIC = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _type_problem(exercise: Exercise, expected: torch.Tensor, got) -> str:
    if got is None:
        hint = "the function returned None: did you forget the `return` statement?"
    elif isinstance(got, numbers.Number) and expected.dim() == 0:
        hint = (
            "return the number as a 0-dim tensor, not as a Python number: leave out .item() and "
            "float(...) (a mean or a sum of a tensor already is a 0-dim tensor)."
        )
    elif isinstance(got, np.ndarray):
        hint = "convert the numpy array with torch.from_numpy(...), or compute with torch from the start."
    elif isinstance(got, (list, tuple)):
        dtype = f", dtype={exercise.dtype_from}.dtype" if exercise.dtype_from else ""
        hint = f"build the output as a tensor (e.g. out = torch.zeros(...{dtype})) and return it."
    else:
        hint = f"return a tensor of shape {tuple(expected.shape)}."
    return f"  expected a torch.Tensor of shape {tuple(expected.shape)}, got {type(got).__name__} {short(got)}\n  hint: {hint}"


def _mistake_hint(exercise: Exercise, case: Case, got: torch.Tensor, expected: torch.Tensor | None = None) -> str | None:
    for mistake in exercise.mistakes:
        try:
            if mistake.matches is not None:
                if expected is not None and mistake.matches(got, expected, case):
                    return mistake.hint
                continue
            wrong = mistake.make(*case.args, **case.kwargs)
            if exercise.adapt is not None:
                wrong = exercise.adapt(wrong, case)
        except Exception:
            continue
        if isinstance(wrong, torch.Tensor) and close(got, wrong, exercise.equal_nan):
            return mistake.hint
    return None


def _where_they_differ(expected: torch.Tensor, got: torch.Tensor, equal_nan: bool = False) -> str:
    wrong = ~torch.isclose(got.double(), expected.double(), RTOL, ATOL, equal_nan=equal_nan)
    positions = wrong.nonzero().tolist()
    shown = "; ".join(
        f"[{', '.join(map(str, p))}]: expected {_number(expected[tuple(p)])}, got {_number(got[tuple(p)])}"
        for p in positions[:4]
    )
    more = f" (and {len(positions) - 4} more)" if len(positions) > 4 else ""
    return f"  differ at {len(positions)} of {got.numel()} positions: {shown}{more}"


# --- formatting ----------------------------------------------------------------------------------


def _number(value) -> str:
    value = float(value)
    return f"{value:g}" if abs(value - round(value, 4)) < 1e-9 else f"{value:.4g}"


def short(value, max_items: int = 16, *, dtype: bool = True) -> str:
    """A compact, readable rendering of a tensor, array or other value for failure messages.

    ``dtype=False`` leaves out the dtype of a tensor (where the exercise leaves it free).
    """
    if isinstance(value, np.ndarray) and value.dtype != object:
        try:
            value = torch.from_numpy(value)
        except TypeError:  # a dtype torch does not have
            return f"numpy array of shape {value.shape}, {value.dtype}"
    if isinstance(value, torch.Tensor):
        kind = str(value.dtype).replace("torch.", "")
        if value.device.type == "meta":
            return f"tensor of shape {tuple(value.shape)}, {kind}, on the meta device (no values)"
        where = "" if value.device.type == "cpu" else f", on {value.device}"
        value = value.detach()
        if value.is_complex():
            flat = ", ".join(str(complex(v)) for v in value.flatten()[:4].tolist())
            return f"tensor of shape {tuple(value.shape)}, {kind}{where}, starting [{flat}, ...]"
        if value.numel() > max_items:
            flat = ", ".join(_number(v) for v in value.flatten()[:6].tolist())
            return f"tensor of shape {tuple(value.shape)}, {kind}{where}, starting [{flat}, ...]"
        suffix = f" ({kind}{where})" if dtype or where else ""
        if value.is_floating_point() or value.dtype in _NUMERIC:
            return f"{_nested(value.tolist())}{suffix}"
        return f"{value.tolist()}{suffix}"
    try:
        text = repr(value)
    except Exception:
        text = f"a {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def _nested(values) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return _number(values)


def _format_inputs(case: Case) -> str:
    parts = [short(a) for a in case.args] + [f"{k}={short(v)}" for k, v in case.kwargs.items()]
    return ", ".join(parts)


def whole_number(value, *, what: str, variable: str, list_hint: str, fraction_hint: str) -> torch.Tensor:
    """An int answer (or a whole float, as ``.item()`` of a float tensor gives) as a 0-dim int64 tensor.

    For ``Exercise.adapt`` of an exercise whose answer is one int (``functools.partial`` fills in
    the hints). Any other answer raises :class:`CheckFailed` with a hint on what to return.

    Args:
        value: the raw answer.
        what (str): the answer in words, e.g. ``"the output side"``.
        variable (str): its name in the hint for a tensor, e.g. ``"n"`` (``int(n) or n.item()``).
        list_hint (str): the hint for a list or tuple.
        fraction_hint (str): the hint for a number that is not whole.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return torch.tensor(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
        return torch.tensor(int(value))
    if value is None:
        hint = "the function returned None: did you forget the `return` statement?"
    elif isinstance(value, torch.Tensor):
        hint = f"return a Python int: int({variable}) or {variable}.item() turns a tensor into a number."
    elif isinstance(value, (tuple, list)):
        hint = list_hint
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        hint = fraction_hint
    else:
        hint = f"return one int, {what}."
    raise CheckFailed(f"  expected an int, got {type(value).__name__} {short(value)}\n  hint: {hint}")
