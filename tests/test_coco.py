"""seglab.coco, and seglab.detection's AP against COCO's own evaluation (pycocotools' COCOeval).

``evaluate_detections(..., method="101point")`` must give COCOeval's numbers exactly, on hand-made
cases and on the course's Mask R-CNN checkpoint; the all-point AP of the lectures differs from it
by design (the area under the curve, not 101 readings of it), by little on a real detector.
"""

import contextlib
import io
import math

import numpy as np
import pytest
import torch

import seglab.coco
from seglab import coco, detection

from _assertions import assert_doctests_pass, assert_every_public_name_has_an_example

mask_utils = pytest.importorskip("pycocotools.mask")
from pycocotools.coco import COCO  # noqa: E402 (after the skip)
from pycocotools.cocoeval import COCOeval  # noqa: E402


def test_docstring_examples_run():
    assert_doctests_pass(seglab.coco)


def test_every_public_name_has_an_example():
    assert_every_public_name_has_an_example(seglab.coco, exempt={"IOU_THRESHOLDS"})


def test_iou_thresholds_are_cocoevals():
    with contextlib.redirect_stdout(io.StringIO()):
        params = COCOeval(iouType="segm").params
    assert coco.IOU_THRESHOLDS == tuple(params.iouThrs.tolist())
    assert detection.COCO_RECALL_LEVELS == tuple(params.recThrs.tolist())
    assert detection.COCO_RECALL_LEVELS[70] == 0.7000000000000001 > 7 / 10  # the level a recall of 7/10 misses


# --- the formats ------------------------------------------------------------------------------------


def _box_mask(box, size=(40, 48)) -> torch.Tensor:
    """The pixels of an integer xyxy box (x2, y2 exclusive) as a [H, W] uint8 mask."""
    mask = torch.zeros(size, dtype=torch.uint8)
    x1, y1, x2, y2 = (int(v) for v in box)
    mask[y1:y2, x1:x2] = 1
    return mask


def _scene(generator, num_classes=3, size=(40, 48)):
    """One image's target and a detector's prediction of it: each object found with some jitter (or
    missed), some false detections, distinct random scores, float mask probabilities."""
    height, width = size
    boxes, labels = [], []
    for _ in range(int(torch.randint(0, 5, (1,), generator=generator))):
        x1, y1 = int(torch.randint(0, width - 8, (1,), generator=generator)), int(torch.randint(0, height - 8, (1,), generator=generator))
        w, h = int(torch.randint(4, 14, (1,), generator=generator)), int(torch.randint(4, 14, (1,), generator=generator))
        boxes.append([x1, y1, min(x1 + w, width), min(y1 + h, height)])
        labels.append(int(torch.randint(1, num_classes, (1,), generator=generator)))
    target = {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "masks": torch.stack([_box_mask(b, size) for b in boxes]) if boxes else torch.zeros(0, *size, dtype=torch.uint8),
    }
    found, found_labels = [], []
    for box, label in zip(boxes, labels):
        for _ in range(int(torch.randint(0, 3, (1,), generator=generator))):  # 0, 1 or 2 detections of it
            jitter = torch.randint(-2, 3, (4,), generator=generator).tolist()
            x1, y1 = max(box[0] + jitter[0], 0), max(box[1] + jitter[1], 0)
            found.append([x1, y1, max(min(box[2] + jitter[2], width), x1 + 1), max(min(box[3] + jitter[3], height), y1 + 1)])
            found_labels.append(label if torch.rand(1, generator=generator) < 0.85 else int(torch.randint(1, num_classes, (1,), generator=generator)))
    for _ in range(int(torch.randint(0, 3, (1,), generator=generator))):  # detections of nothing
        x1, y1 = int(torch.randint(0, width - 6, (1,), generator=generator)), int(torch.randint(0, height - 6, (1,), generator=generator))
        found.append([x1, y1, x1 + 5, y1 + 5])
        found_labels.append(int(torch.randint(1, num_classes, (1,), generator=generator)))
    scores = torch.rand(len(found), generator=generator) * 0.9 + 0.05
    masks = torch.stack([_box_mask(b, size).float() * 0.9 for b in found])[:, None] if found else torch.zeros(0, 1, *size)
    prediction = {
        "boxes": torch.tensor(found, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(found_labels, dtype=torch.int64),
        "scores": scores,
        "masks": masks,
    }
    return prediction, target


def test_results_hold_the_predictions_in_cocos_format():
    prediction, _ = _scene(torch.Generator().manual_seed(0))
    assert len(prediction["labels"]) == 7
    entries = coco.results([prediction, prediction], image_ids=[7, 3])
    assert [e["image_id"] for e in entries] == [7] * len(prediction["labels"]) + [3] * len(prediction["labels"])
    for entry, box, label, score, mask in zip(entries, prediction["boxes"], prediction["labels"], prediction["scores"], prediction["masks"]):
        x1, y1, x2, y2 = box.tolist()
        assert entry["bbox"] == [x1, y1, x2 - x1, y2 - y1] and entry["category_id"] == int(label)
        assert entry["score"] == pytest.approx(float(score))
        assert isinstance(entry["segmentation"]["counts"], str) and entry["segmentation"]["size"] == [40, 48]
        rle = {"size": entry["segmentation"]["size"], "counts": entry["segmentation"]["counts"].encode()}
        assert np.array_equal(mask_utils.decode(rle), (mask[0] >= 0.5).numpy().astype(np.uint8))
    boxes_only = coco.results([{key: prediction[key] for key in ("boxes", "labels", "scores")}], iou_type="box")
    assert all("segmentation" not in e for e in boxes_only) and len(boxes_only) == len(prediction["labels"])


def test_ground_truth_is_a_coco_annotation_file():
    targets = [_scene(torch.Generator().manual_seed(seed))[1] for seed in (0, 4)]  # 4 objects, and none
    dataset = coco.ground_truth(targets, num_classes=3, classes=["circle", "square"])
    assert dataset["categories"] == [{"id": 1, "name": "circle"}, {"id": 2, "name": "square"}]
    assert dataset["images"] == [{"id": 0, "height": 40, "width": 48}, {"id": 1, "height": 40, "width": 48}]
    annotations = dataset["annotations"]
    assert [a["id"] for a in annotations] == list(range(1, len(annotations) + 1))  # from 1: COCOeval reads id 0 as unmatched
    masks = torch.cat([t["masks"] for t in targets])
    for annotation, mask in zip(annotations, masks):
        rle = {"size": annotation["segmentation"]["size"], "counts": annotation["segmentation"]["counts"].encode()}
        assert np.array_equal(mask_utils.decode(rle), mask.numpy()) and annotation["area"] == int(mask.sum()) and annotation["iscrowd"] == 0
    truth = COCO()
    with contextlib.redirect_stdout(io.StringIO()):
        truth.dataset = dataset
        truth.createIndex()
    assert len(truth.getAnnIds()) == len(masks)


def test_bad_input_is_explained():
    _, target = _scene(torch.Generator().manual_seed(0))
    assert target["labels"].max() == 2
    with pytest.raises(ValueError, match=r"iou_type: expected 'mask' or 'box', got str 'segm'"):
        coco.results([], iou_type="segm")
    with pytest.raises(ValueError, match=r"classes: expected 2 names"):
        coco.ground_truth([target], num_classes=3, classes=["circle"])
    with pytest.raises(ValueError, match=r"targets\[0\]\['labels'\]: expected classes 1 .. 1"):
        coco.ground_truth([target], num_classes=2)
    with pytest.raises(ValueError, match=r"image_ids: expected 2 distinct ids"):
        coco.ground_truth([target, target], num_classes=3, image_ids=[1, 1])
    with pytest.raises(ValueError, match=r"predictions: expected one per target \(1\), got 0"):
        coco.evaluate([], [target], num_classes=3)
    with pytest.raises(TypeError, match=r"predictions\[0\]: expected a dict with 'masks'"):
        coco.results([{"boxes": torch.zeros(0, 4)}])


# --- COCOeval against seglab.detection ---------------------------------------------------------------


def _seglab(predictions, targets, num_classes, iou_type, method="101point"):
    return detection.evaluate_detections(predictions, targets, num_classes, coco.IOU_THRESHOLDS, iou_type=iou_type, method=method)


@pytest.mark.parametrize("iou_type", ["box", "mask"])
@pytest.mark.parametrize("seed", range(6))
def test_101_point_ap_is_cocoevals_on_random_scenes(seed, iou_type):
    """Several images, three classes, missed objects, duplicates, wrong classes, detections of nothing."""
    generator = torch.Generator().manual_seed(seed)
    scenes = [_scene(generator, num_classes=4) for _ in range(8)]
    predictions, targets = [p for p, _ in scenes], [t for _, t in scenes]
    theirs = coco.evaluate(predictions, targets, 4, iou_type=iou_type)
    ours = _seglab(predictions, targets, 4, iou_type)
    assert theirs.shape == ours.shape == (10, 3)
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-12, equal_nan=True), (ours - theirs).abs().nan_to_num().max()
    assert not torch.isnan(theirs).all() and (theirs.nan_to_num() > 0).any()


def test_cocoevals_summary_is_the_mean_of_the_table():
    """COCOeval.stats (AP@[.5:.95], AP50, AP75, as pycocotools prints them) from coco.evaluate's table."""
    generator = torch.Generator().manual_seed(11)
    scenes = [_scene(generator, num_classes=4) for _ in range(8)]
    predictions, targets = [p for p, _ in scenes], [t for _, t in scenes]
    truth = COCO()
    with contextlib.redirect_stdout(io.StringIO()):
        truth.dataset = coco.ground_truth(targets, 4)
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(coco.results(predictions)), "segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    ap = coco.evaluate(predictions, targets, 4)
    assert evaluation.stats[:3].tolist() == pytest.approx([ap.nanmean().item(), ap[0].nanmean().item(), ap[5].nanmean().item()], abs=1e-12)


def _one_class(found, missed=0, false_before=()):
    """One image, boxes 10 px apart: ``found`` objects detected exactly (scores 0.9, 0.89, ...),
    ``missed`` never detected; a detection of nothing at each rank in ``false_before``."""
    boxes = [[12 * i, 0, 12 * i + 10, 10] for i in range(found + missed)]
    detections, scores, rank = [], [], 0
    for i in range(found):
        while rank in false_before:
            detections.append([12 * i + 2, 20, 12 * i + 8, 26])
            scores.append(0.9 - 0.01 * rank)
            rank += 1
        detections.append(boxes[i])
        scores.append(0.9 - 0.01 * rank)
        rank += 1
    target = {"boxes": torch.tensor(boxes, dtype=torch.float32), "labels": torch.ones(len(boxes), dtype=torch.int64)}
    target["masks"] = torch.stack([_box_mask(b, (30, 12 * len(boxes))) for b in boxes])
    prediction = {"boxes": torch.tensor(detections, dtype=torch.float32), "labels": torch.ones(len(detections), dtype=torch.int64),
                  "scores": torch.tensor(scores)}
    return [prediction], [target]


def test_a_recall_of_seven_tenths_misses_cocos_level_0_7():
    """10 objects, 7 found first: COCO's level 0.7000000000000001 is not reached, so 70 of the 101
    levels score 1 (71 with exact levels); the all-point AP is 0.7."""
    predictions, targets = _one_class(found=7, missed=3)
    theirs = coco.evaluate(predictions, targets, 2, iou_type="box")[0, 0].item()
    assert theirs == pytest.approx(70 / 101, abs=1e-12)
    assert _seglab(predictions, targets, 2, "box")[0, 0].item() == pytest.approx(70 / 101, abs=1e-12)
    assert _seglab(predictions, targets, 2, "box", method="all")[0, 0].item() == pytest.approx(0.7)


def test_the_all_point_ap_differs_from_cocos_by_design():
    """The all-point AP is the area under the interpolated curve; COCO reads the same curve at 101
    levels, from 0 on, and averages. Three objects and two detections of nothing, ranked F T T F T:
    p_interp is 2/3 at recalls 1/3 and 2/3 and 3/5 at 1. All-point: (2/3 + 2/3 + 3/5) / 3; COCO:
    34 levels (0 to 0.33) and 33 levels (0.34 to 0.66) read 2/3, 34 levels read 3/5. Half of the
    objects found first and the rest never: all-point 1/2, COCO 51 levels of 101 (0 to 0.5)."""
    predictions, targets = _one_class(found=3, false_before=(0, 3))
    all_point = _seglab(predictions, targets, 2, "box", method="all")[0, 0].item()
    theirs = coco.evaluate(predictions, targets, 2, iou_type="box")[0, 0].item()
    assert all_point == pytest.approx((2 / 3 + 2 / 3 + 3 / 5) / 3, abs=1e-12)
    assert theirs == pytest.approx((34 * 2 / 3 + 33 * 2 / 3 + 34 * 3 / 5) / 101, abs=1e-12)
    assert _seglab(predictions, targets, 2, "box")[0, 0].item() == pytest.approx(theirs, abs=1e-12)
    assert abs(all_point - theirs) > 1e-4
    predictions, targets = _one_class(found=2, missed=2)
    assert _seglab(predictions, targets, 2, "box", method="all")[0, 0].item() == pytest.approx(0.5, abs=1e-12)
    assert coco.evaluate(predictions, targets, 2, iou_type="box")[0, 0].item() == pytest.approx(51 / 101, abs=1e-12)


def test_classes_without_objects_or_without_detections():
    """No objects of a class: NaN in both (COCO's -1). Objects but no detection: 0 in both."""
    predictions, targets = _one_class(found=2)
    targets[0]["labels"][1] = 2  # the second object is a class 2 that nobody detects
    predictions[0]["labels"][:] = torch.tensor([1, 3])  # and a class 3 detection of it, where there is no class 3
    theirs = coco.evaluate(predictions, targets, 4, iou_type="box")
    ours = _seglab(predictions, targets, 4, "box")
    assert torch.equal(theirs.isnan(), ours.isnan()) and theirs[:, 2].isnan().all()
    assert (theirs[:, 1] == 0).all() and (ours[:, 1] == 0).all()
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-12, equal_nan=True)


def test_iou_exactly_at_the_threshold_counts_in_both():
    target = {"boxes": torch.tensor([[0.0, 0, 6, 4]]), "labels": torch.tensor([1]), "masks": _box_mask([0, 0, 6, 4], (4, 8))[None]}
    prediction = {"boxes": torch.tensor([[2.0, 0, 8, 4]]), "labels": torch.tensor([1]), "scores": torch.tensor([0.9])}  # IoU 16 / 32
    assert coco.evaluate([prediction], [target], 2, iou_type="box")[0, 0].item() == pytest.approx(1.0, abs=1e-12)
    assert _seglab([prediction], [target], 2, "box")[0, 0].item() == pytest.approx(1.0, abs=1e-12)
    assert coco.evaluate([prediction], [target], 2, iou_type="box")[1, 0].item() == 0.0  # IoU 0.55: not found


def test_no_detections_at_all():
    _, targets = _one_class(found=0, missed=2)
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64), "scores": torch.zeros(0), "masks": torch.zeros(0, 1, 30, 24)}
    assert (coco.evaluate([empty], targets, 2) == 0).all() and (_seglab([empty], targets, 2, "mask") == 0).all()


@pytest.fixture(scope="module")
def checkpoint_predictions():
    from seglab.data import ThingsAndStuff, detection_collate
    from seglab.models import load_checkpoint
    from seglab.train import detect

    test = ThingsAndStuff(length=60, size=128, split="test")
    images, targets = detection_collate(test[i] for i in range(len(test)))
    with torch.random.fork_rng(devices=[]):
        torch.set_num_threads(1)
        predictions = detect(load_checkpoint("maskrcnn_things"), images)
    return predictions, targets


@pytest.mark.parametrize("iou_type", ["mask", "box"])
def test_cocoeval_on_the_course_mask_rcnn(checkpoint_predictions, iou_type):
    """The checkpoint's predictions on 60 held-out images: seglab's 101-point AP is COCOeval's, class
    by class and threshold by threshold, and the all-point AP of the lectures is within 0.01 of it
    for AP@[.5:.95], AP50 and AP75."""
    predictions, targets = checkpoint_predictions
    assert max(len(p["labels"]) for p in predictions) <= 100  # COCOeval's 100 detections per image and class
    theirs = coco.evaluate(predictions, targets, 4, iou_type=iou_type)
    ours = _seglab(predictions, targets, 4, iou_type)
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-12), (ours - theirs).abs().max()
    all_point = _seglab(predictions, targets, 4, iou_type, method="all")
    for summary in (lambda ap: ap.mean(), lambda ap: ap[0].mean(), lambda ap: ap[5].mean()):
        assert abs(summary(all_point) - summary(theirs)) < 0.01
    assert theirs[0].mean() > 0.9 and not math.isnan(theirs.mean().item())
