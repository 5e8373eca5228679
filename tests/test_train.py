"""Tests of ``seglab.train``: the training loop learns, is deterministic, stops when told, is silent
when quiet; evaluation counts over the whole set, restores the model's mode, and agrees with
``seglab.metrics``.

Data are small random tensors from local, seeded ``torch.Generator`` objects; models are tiny and
built under ``torch.random.fork_rng`` so the global random state is untouched.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import seglab.train
from seglab import metrics
from seglab.models import PatchClassifier, SmallFCN, SmallMaskRCNN
from seglab.train import History, detect, evaluate, fit, fit_detection, pick_device, predict, seed_everything

from _assertions import assert_doctests_pass, assert_every_public_name_has_an_example


pytestmark = pytest.mark.usefixtures("one_thread")


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def _red_task(seed=0, n=32, size=16):
    """A learnable task: class 1 where the red channel is brighter than 0.5, else class 0."""
    images = torch.rand(n, 3, size, size, generator=_generator(seed))
    masks = (images[:, 0] > 0.5).long()  # [N, H, W]
    return images, masks


def _pixel_model(seed=0, num_classes=2):
    """A per-pixel classifier (1x1 convolutions): it can learn the red threshold exactly."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, num_classes, 1))


def _small_fcn(seed=0, num_classes=2):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return SmallFCN(num_classes, width=8)


class OneHotOracle(nn.Module):
    """A perfect predictor: its input image *is* the one-hot encoding of the mask."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))  # a parameter, so the model has a device
        self.calls = []  # (training, grad_enabled) seen by forward

    def forward(self, x):
        self.calls.append((self.training, torch.is_grad_enabled()))
        return x * self.scale


def _one_hot_images(masks, num_classes):
    return F.one_hot(masks, num_classes).permute(0, 3, 1, 2).float()  # [N, C, H, W]


# --- pick_device, seed_everything ------------------------------------------------------------------


def test_pick_device_is_cuda_only_when_available():
    assert pick_device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")


def test_seed_everything_makes_torch_numpy_and_random_repeat():
    import random

    import numpy as np

    with torch.random.fork_rng():
        state = (random.getstate(), np.random.get_state())
        try:
            seed_everything(3)
            first = (torch.rand(3), np.random.rand(3), random.random())
            seed_everything(3)
            second = (torch.rand(3), np.random.rand(3), random.random())
        finally:
            random.setstate(state[0])
            np.random.set_state(state[1])
    assert torch.equal(first[0], second[0])
    assert (first[1] == second[1]).all() and first[2] == second[2]
    with pytest.raises(ValueError, match="seed: expected an int >= 0, got -1"):
        seed_everything(-1)
    with pytest.raises(TypeError, match="seed: expected an int >= 0"):
        seed_everything(1.5)


def test_seed_everything_asks_a_gpu_for_full_float32_and_deterministic_convolutions():
    backends = torch.backends
    saved = (backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32, backends.cudnn.deterministic, backends.cudnn.benchmark)
    try:
        backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32 = True, True  # PyTorch's defaults for cuDNN
        backends.cudnn.deterministic, backends.cudnn.benchmark = False, True
        with torch.random.fork_rng():
            seed_everything(0)
        assert (backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32) == (False, False)
        assert (backends.cudnn.deterministic, backends.cudnn.benchmark) == (True, False)
    finally:
        backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32, backends.cudnn.deterministic, backends.cudnn.benchmark = saved


# --- fit: learning ---------------------------------------------------------------------------------


def test_fit_learns_the_red_threshold():
    images, masks = _red_task()
    model = _pixel_model()
    before = evaluate(model, images, masks, num_classes=2)["pixel_accuracy"]
    history = fit(model, (images, masks), steps=30, lr=3e-2, batch_size=8, progress=False, device="cpu")
    assert history.steps == list(range(1, 31))
    assert len(history.loss) == 30 and all(isinstance(v, float) for v in history.loss)
    first, last = sum(history.loss[:5]) / 5, sum(history.loss[-5:]) / 5
    assert last < 0.5 * first
    after = evaluate(model, images, masks, num_classes=2)["pixel_accuracy"]
    assert before < 0.7 < 0.95 < after


def test_fit_trains_small_fcn_and_patch_classifier_end_to_end():
    gen = _generator(1)
    # SmallFCN: the red threshold on blocky images (4 x 4 blocks, so the /4 encoder can see them)
    blocks = torch.rand(32, 3, 4, 4, generator=gen)
    images = F.interpolate(blocks, scale_factor=4, mode="nearest")  # [32, 3, 16, 16]
    masks = (images[:, 0] > 0.5).long()
    model = _small_fcn()
    history = fit(model, (images, masks), steps=30, lr=1e-2, batch_size=8, progress=False, device="cpu")
    assert sum(history.loss[-5:]) < 0.6 * sum(history.loss[:5])
    assert evaluate(model, images, masks, num_classes=2)["pixel_accuracy"] > 0.75  # half the pixels are red
    # PatchClassifier: patches [N, 3, 5, 5] -> labels [N]: red centre pixel or not
    patches = torch.rand(64, 3, 5, 5, generator=gen)
    labels = (patches[:, 0, 2, 2] > 0.5).long()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = PatchClassifier(2, patch_size=5, width=8, hidden=16)
    history = fit(model, (patches, labels), steps=40, lr=1e-2, batch_size=32, val=(patches, labels), progress=False)
    assert sum(history.loss[-5:]) < 0.3 * sum(history.loss[:5])
    assert history.val[-1]["pixel_accuracy"] > 0.9  # the accuracy of the centre-pixel labels


def test_fit_is_deterministic_given_the_seed():
    images, masks = _red_task(n=20)

    def weights_after(seed):
        model = _small_fcn(seed=0)  # the same initial weights every time
        fit(model, (images, masks), steps=12, batch_size=6, seed=seed, progress=False, device="cpu")
        return model.state_dict()  # includes batch-norm running statistics

    first, second, other = weights_after(0), weights_after(0), weights_after(1)
    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not all(torch.equal(first[name], other[name]) for name in first)  # the seed matters


def test_fit_leaves_the_global_random_state_alone():
    images, masks = _red_task(n=8)
    before = torch.get_rng_state()
    fit(_pixel_model(), (images, masks), steps=3, progress=False)
    assert torch.equal(torch.get_rng_state(), before)


def test_fit_accepts_a_data_loader_and_counts_epochs():
    images, masks = _red_task(n=10)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, masks), batch_size=4)
    history = fit(_pixel_model(), loader, epochs=2, progress=False)
    assert history.steps == list(range(1, 7))  # 3 batches (4 + 4 + 2) per epoch
    history = fit(_pixel_model(), (images, masks), epochs=3, batch_size=4, progress=False)
    assert history.steps[-1] == 9
    history = fit(_pixel_model(), (images, masks), epochs=3, steps=4, batch_size=4, progress=False)
    assert history.steps[-1] == 4  # whichever limit comes first


def test_fit_accepts_uint8_masks():
    images, masks = _red_task(n=8)
    history = fit(_pixel_model(), (images, masks.to(torch.uint8)), steps=2, progress=False)
    assert len(history.loss) == 2


def test_fit_passes_float_targets_to_a_loss_of_your_own():
    images, masks = _red_task(n=8)
    targets = masks[:, None].float()  # [N, 1, H, W] for a binary loss on one logit channel
    seen = []

    def binary_loss(scores, targets):
        seen.append(targets.dtype)
        return F.binary_cross_entropy_with_logits(scores, targets)

    history = fit(_pixel_model(num_classes=1), (images, targets), steps=3, loss_fn=binary_loss, progress=False)
    assert len(history.loss) == 3 and seen == [torch.float32] * 3


def test_fit_moves_data_to_the_device_and_leaves_the_model_in_eval_mode():
    images, masks = _red_task(n=8)
    model = _pixel_model()
    fit(model, (images, masks), steps=2, device="cpu", progress=False)
    assert not model.training
    assert next(model.parameters()).device == torch.device("cpu")


# --- fit: validation, history ----------------------------------------------------------------------


def test_fit_validates_every_val_every_steps_and_at_the_end():
    images, masks = _red_task(n=12)
    history = fit(_pixel_model(), (images, masks), steps=10, batch_size=4, val=(images, masks), val_every=4, progress=False)
    assert [v["step"] for v in history.val] == [4, 8, 10]
    last = history.val[-1]
    assert isinstance(last["pixel_accuracy"], float) and isinstance(last["mean_iou"], float)
    assert last["iou"].shape == (2,)
    expected = evaluate(_trained_copy(images, masks), images, masks, num_classes=2)
    assert last["mean_iou"] == pytest.approx(expected["mean_iou"])
    history = fit(_pixel_model(), (images, masks), steps=8, val=(images, masks), val_every=4, progress=False)
    assert [v["step"] for v in history.val] == [4, 8]  # the end is not evaluated twice
    history = fit(_pixel_model(), (images, masks), steps=3, val=(images, masks), progress=False)
    assert [v["step"] for v in history.val] == [3]  # by default only at the end


def _trained_copy(images, masks):
    model = _pixel_model()
    fit(model, (images, masks), steps=10, batch_size=4, progress=False)
    return model


def test_history_repr_is_short_and_has_no_time():
    history = History(steps=[1, 2], loss=[0.9, 0.5], val=[{"step": 2, "pixel_accuracy": 0.75, "mean_iou": 0.5}], seconds=1.23)
    text = repr(history)
    assert text == "History(2 steps, last loss 0.5000, val at step 2: pixel_accuracy 0.7500, mean_iou 0.5000)"
    assert repr(History()) == "History(no steps)"


# --- fit: stopping, output -------------------------------------------------------------------------


def test_fit_stops_after_max_seconds():
    images, masks = _red_task(n=8)
    history = fit(_pixel_model(), (images, masks), steps=10**7, max_seconds=0.3, batch_size=4, progress=False)
    assert 1 <= len(history.loss) < 10**7
    assert history.seconds >= 0.3
    assert history.seconds < 30  # stopped soon after the limit (generous: no timing assertion)


def test_fit_prints_nothing_when_quiet(capfd, monkeypatch):
    images, masks = _red_task(n=8)
    fit(_pixel_model(), (images, masks), steps=3, val=(images, masks), val_every=1, progress=False)
    monkeypatch.setenv("CI", "true")
    fit(_pixel_model(), (images, masks), steps=3, progress=None)  # CI: no bar
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_fit_progress_bar_goes_to_stderr_not_stdout(capfd, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    images, masks = _red_task(n=8)
    fit(_pixel_model(), (images, masks), steps=3, progress=True)
    out, err = capfd.readouterr()
    assert out == ""
    assert "fit" in err and "/3" in err  # a bar of 3 steps


# --- fit: errors -----------------------------------------------------------------------------------


def test_fit_needs_a_stopping_rule():
    images, masks = _red_task(n=4)
    with pytest.raises(ValueError, match=r"at least one of steps, epochs or max_seconds.*Hint: fit\(model"):
        fit(_pixel_model(), (images, masks))


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"steps": 0}, ValueError, "steps: expected an int >= 1, got 0"),
        ({"epochs": 1.5}, TypeError, "epochs: expected an int >= 1"),
        ({"max_seconds": -1}, ValueError, "max_seconds: expected a number > 0"),
        ({"steps": 1, "batch_size": 0}, ValueError, "batch_size"),
        ({"steps": 1, "val": torch.zeros(3)}, TypeError, r"val: expected a pair \(images, masks\)"),
    ],
)
def test_fit_rejects_bad_options(kwargs, error, pattern):
    images, masks = _red_task(n=4)
    with pytest.raises(error, match=pattern):
        fit(_pixel_model(), (images, masks), progress=False, **kwargs)


def test_fit_rejects_bad_data():
    images, masks = _red_task(n=4)
    with pytest.raises(TypeError, match=r"data: expected a pair of tensors.*semantic_batch"):
        fit(_pixel_model(), images, steps=1)
    with pytest.raises(TypeError, match=r"data\[1\] \(masks\): expected an integer Tensor.*masks.long\(\)"):
        fit(_pixel_model(), (images, masks.float()), steps=1)
    with pytest.raises(ValueError, match=r"expected one target per image \(4\)"):
        fit(_pixel_model(), (images, masks[:3]), steps=1)
    with pytest.raises(TypeError, match=r"loader to yield \(images, targets\) pairs"):
        fit(_pixel_model(), [images, images, images], steps=1)
    with pytest.raises(TypeError, match=r"data\[1\] \(masks\): expected an integer Tensor.*got str 'masks'"):
        fit(_pixel_model(), (images, "masks"), steps=1)
    with pytest.raises(TypeError, match=r"loader to yield \(images, targets\) pairs, got str 'images'"):
        fit(_pixel_model(), ("images", "masks"), steps=1)
    with pytest.raises(ValueError, match="at least one batch"):
        fit(_pixel_model(), torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images[:0], masks[:0])), steps=1)
    with pytest.raises(TypeError, match="model: expected an nn.Module"):
        fit(lambda x: x, (images, masks), steps=1)


# --- evaluate, predict -----------------------------------------------------------------------------


def test_evaluate_a_perfect_predictor_scores_one():
    masks = torch.randint(0, 3, (5, 8, 8), generator=_generator(2))
    masks[0, 0, 0] = 3  # class 3 present in one pixel only; class 4 absent
    images = _one_hot_images(masks, 5)
    scores = evaluate(OneHotOracle(), images, masks, num_classes=5, batch_size=2)
    assert scores["pixel_accuracy"] == 1.0 and scores["mean_iou"] == 1.0
    assert isinstance(scores["pixel_accuracy"], float) and isinstance(scores["mean_iou"], float)
    iou = scores["iou"]
    assert iou.shape == (5,) and iou.dtype == torch.float64
    assert iou[:4].tolist() == [1.0, 1.0, 1.0, 1.0] and math.isnan(iou[4])  # absent: NaN, not 0


def test_evaluate_accumulates_one_confusion_matrix_over_the_set():
    masks = torch.zeros(2, 4, 4, dtype=torch.int64)
    masks[0, 0, 0] = 1  # image 0: one pixel of class 1, predicted as class 0
    masks[1] = 1  # image 1: all class 1, predicted right
    pred = masks.clone()
    pred[0, 0, 0] = 0
    images = _one_hot_images(pred, 2)
    for batch_size in (1, 2):  # the batch size must not matter
        scores = evaluate(OneHotOracle(), images, masks, num_classes=2, batch_size=batch_size)
        assert scores["mean_iou"] == pytest.approx(metrics.mean_iou(pred, masks, 2).item())
        assert scores["iou"].tolist() == pytest.approx([15 / 16, 16 / 17])
        assert scores["pixel_accuracy"] == pytest.approx(31 / 32)


def test_evaluate_boundary_iou_is_metrics_boundary_iou_of_the_predictions():
    masks = torch.randint(0, 3, (5, 12, 12), generator=_generator(7))
    pred = torch.where(torch.rand(5, 12, 12, generator=_generator(8)) < 0.2, (masks + 1) % 3, masks)  # 20% wrong
    images = _one_hot_images(pred, 3)
    expected = metrics.boundary_iou(pred, masks, 3, width=1).item()
    assert 0 < expected < 1
    for batch_size in (1, 2, 5):  # accumulated over batches: the batch size must not matter
        scores = evaluate(OneHotOracle(), images, masks, num_classes=3, batch_size=batch_size, boundary_width=1)
        assert scores["boundary_iou"] == pytest.approx(expected, abs=1e-12)
        assert scores["mean_iou"] == pytest.approx(metrics.mean_iou(pred, masks, 3).item())
    assert "boundary_iou" not in evaluate(OneHotOracle(), images, masks, num_classes=3)  # only when asked
    with pytest.raises(ValueError, match="boundary_width"):
        evaluate(OneHotOracle(), images, masks, num_classes=3, boundary_width=0)


def test_evaluate_and_predict_restore_the_mode_and_run_without_gradients():
    masks = torch.randint(0, 2, (3, 4, 4), generator=_generator(3))
    images = _one_hot_images(masks, 2)
    for mode in (True, False):
        model = OneHotOracle().train(mode)
        evaluate(model, images, masks, num_classes=2)
        predict(model, images)
        assert model.training is mode
        assert model.calls and all(call == (False, False) for call in model.calls)  # eval mode, no_grad


def test_evaluate_restores_the_mode_after_an_error():
    masks = torch.randint(0, 2, (3, 4, 4), generator=_generator(3))
    model = OneHotOracle().train()
    with pytest.raises(ValueError, match=r"expected the model to return scores \[B, 3, \.\.\.\]"):
        evaluate(model, _one_hot_images(masks, 2), masks, num_classes=3)
    assert model.training


def test_evaluate_ignores_pixels_and_rejects_mismatches():
    masks = torch.tensor([[[0, 1], [255, 1]]])
    images = _one_hot_images(torch.tensor([[[0, 1], [0, 0]]]), 2)
    scores = evaluate(OneHotOracle(), images, masks, num_classes=2, ignore_index=255)
    assert scores["pixel_accuracy"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="do not match masks of shape"):
        evaluate(OneHotOracle(), images, masks[:, :1], num_classes=2)
    with pytest.raises(TypeError, match="masks: expected an integer Tensor"):
        evaluate(OneHotOracle(), images, masks.float(), num_classes=2)


def test_predict_is_the_argmax_in_batches():
    images = torch.randn(5, 3, 8, 8, generator=_generator(4))
    labels = predict(OneHotOracle(), images, batch_size=2)
    assert labels.dtype == torch.int64 and labels.shape == (5, 8, 8)
    assert torch.equal(labels, images.argmax(dim=1))
    patches = torch.rand(6, 3, 5, 5, generator=_generator(5))
    assert predict(PatchClassifier(3, patch_size=5, width=2, hidden=4), patches).shape == (6,)


# --- documentation ---------------------------------------------------------------------------------


# --- detection models ------------------------------------------------------------------------------


def _tiny_mask_rcnn(seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return SmallMaskRCNN(3, width=4, fpn_channels=8, representation_size=16, image_size=64)


def _shapes(n=4, size=64):
    """``n`` images with one bright square each (class 1 or 2) and their targets."""
    images, targets = [], []
    for i in range(n):
        image = torch.zeros(3, size, size)
        top, left, side = 4 + 6 * i, 8 + 5 * i, 16 + 2 * i
        image[:, top : top + side, left : left + side] = 1.0
        mask = torch.zeros(1, size, size, dtype=torch.uint8)
        mask[0, top : top + side, left : left + side] = 1
        box = torch.tensor([[left, top, left + side, top + side]], dtype=torch.float32)
        images.append(image)
        targets.append({"boxes": box, "labels": torch.tensor([1 + i % 2]), "masks": mask, "image_id": i})
    return images, targets


class _Spy(nn.Module):
    """A detection model that records the labels of the targets of every batch it trains on."""

    def __init__(self, model):
        super().__init__()
        self.model, self.seen = model, []

    def forward(self, images, targets=None):
        if targets is not None:
            self.seen.append([int(t["labels"][0]) for t in targets])
        return self.model(images, targets)


def test_fit_detection_is_deterministic_and_records_every_loss():
    images, targets = _shapes()
    runs = []
    for _ in range(2):
        model = _tiny_mask_rcnn(seed=1)
        history = fit_detection(model, images, targets, steps=3, batch_size=2, seed=5, progress=False, device="cpu")
        runs.append((history, model))
    (first, a), (second, b) = runs
    assert first.steps == [1, 2, 3] and first.loss == second.loss
    assert sorted(first.parts) == ["loss_box_reg", "loss_classifier", "loss_mask", "loss_objectness", "loss_rpn_box_reg"]
    for step in range(3):
        assert first.loss[step] == pytest.approx(sum(part[step] for part in first.parts.values()), rel=1e-5)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name
    assert not a.training and first.seconds > 0


def test_fit_detection_draws_images_by_their_weights():
    images, targets = _shapes()  # labels 1, 2, 1, 2
    spy = _Spy(_tiny_mask_rcnn())
    fit_detection(spy, images, targets, steps=3, batch_size=4, weights=[0, 1, 0, 3], progress=False, device="cpu")
    assert spy.seen and all(label == 2 for batch in spy.seen for label in batch)  # images 1 and 3 only


def test_fit_detection_schedules():
    images, targets = _shapes(2)
    for schedule, expected in (("constant", [0.01] * 10), ("onecycle", None)):
        model = _tiny_mask_rcnn()
        seen = []
        original = torch.optim.AdamW.step

        def step(self, *args, **kwargs):
            seen.append(self.param_groups[0]["lr"])
            return original(self, *args, **kwargs)

        torch.optim.AdamW.step = step
        try:
            fit_detection(model, images, targets, steps=10, batch_size=1, lr=0.01, schedule=schedule, progress=False, device="cpu")
        finally:
            torch.optim.AdamW.step = original
        if expected is not None:
            assert seen == expected
        else:  # up from lr / 25 to the peak lr in the first tenth, then annealed to almost 0
            assert seen[0] == pytest.approx(0.01 / 25) and seen[1] == pytest.approx(0.01)
            assert all(a > b for a, b in zip(seen[1:], seen[2:])) and seen[-1] < 0.01 / 10


def test_fit_detection_rejects_bad_data_and_options():
    images, targets = _shapes(2)
    model = _tiny_mask_rcnn()
    with pytest.raises(TypeError, match=r"images: expected a list of Tensor\[3, H, W\].*detection_collate"):
        fit_detection(model, torch.stack(images), targets, steps=1)
    with pytest.raises(ValueError, match="targets: expected a list of one dict per image"):
        fit_detection(model, images, targets[:1], steps=1)
    with pytest.raises(TypeError, match=r"targets\[1\]: expected a dict with boxes, labels, masks"):
        fit_detection(model, images, [targets[0], {"boxes": targets[1]["boxes"]}], steps=1)
    with pytest.raises(ValueError, match="schedule: expected 'onecycle' or 'constant'"):
        fit_detection(model, images, targets, steps=1, schedule="cosine")
    with pytest.raises(ValueError, match="steps: expected at least 3 for schedule='onecycle'.*schedule='constant'"):
        fit_detection(model, images, targets, steps=2)
    with pytest.raises(ValueError, match="weights: expected 2 numbers >= 0"):
        fit_detection(model, images, targets, steps=3, weights=[0, 0])


def test_detect_in_batches_equals_one_at_a_time_and_restores_the_mode():
    images, _ = _shapes(3)
    model = _tiny_mask_rcnn().train()
    together = detect(model, images, batch_size=2)
    assert model.training  # restored
    alone = [detect(model, [image])[0] for image in images]
    with pytest.raises(TypeError, match=r"images: expected a list of Tensor\[3, H, W\].*model\(\[image\]\)"):
        detect(model, torch.stack(images))
    assert len(together) == 3
    for x, y in zip(together, alone):
        assert sorted(x) == ["boxes", "labels", "masks", "scores"]
        for key in x:
            torch.testing.assert_close(x[key], y[key])


def test_docstring_examples_run():
    assert_doctests_pass(seglab.train)  # the examples call seed_everything: the global state is put back


def test_every_public_function_has_an_example():
    assert_every_public_name_has_an_example(seglab.train, exempt=("History",))
