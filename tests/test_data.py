"""Tests for seglab.data: the synthetic scenes are deterministic and their targets agree exactly."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import seglab.data
from seglab import losses, metrics
from seglab.data import (
    IGNORE_INDEX,
    STUFF_CLASSES,
    THING_CLASSES,
    HARD_THING_CLASSES,
    HardThingsAndStuff,
    OxfordPets,
    ThingsAndStuff,
    detection_collate,
    instance_map,
    sample_patches,
    semantic_batch,
)

from _assertions import assert_doctests_pass

THING = len(STUFF_CLASSES)  # the first thing class index in "semantic"


def _equal_samples(a, b):
    (image_a, target_a), (image_b, target_b) = a, b
    return torch.equal(image_a, image_b) and target_a.keys() == target_b.keys() and all(
        torch.equal(target_a[key], target_b[key]) for key in target_a
    )


def _roughness(image, region):
    """Mean |difference| between horizontally adjacent pixels that both lie in ``region`` [H, W]."""
    pairs = region[:, 1:] & region[:, :-1]
    diff = (image[:, :, 1:] - image[:, :, :-1]).abs().mean(dim=0)  # [H, W - 1]
    return diff[pairs].mean().item()


def _erode(mask, steps=2):
    """``mask`` without the pixels within ``steps`` (4-neighbour) steps of its outside or the image border."""
    inner = torch.nn.functional.pad(mask, (1, 1, 1, 1))  # False outside the image
    for _ in range(steps):
        shrunk = inner.clone()
        shrunk[1:] &= inner[:-1]
        shrunk[:-1] &= inner[1:]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        inner = shrunk
    return inner[1:-1, 1:-1]


# --- determinism -----------------------------------------------------------------------------------


def test_same_index_gives_the_same_sample():
    dataset = ThingsAndStuff(length=20)
    for index in (0, 7, 19):
        assert _equal_samples(dataset[index], dataset[index])
        assert _equal_samples(dataset[index], ThingsAndStuff(length=20)[index])  # a new object, same images
    assert _equal_samples(dataset[-1], dataset[19])
    assert _equal_samples(dataset[torch.tensor(3)], dataset[3])


def test_length_does_not_change_the_images():
    assert _equal_samples(ThingsAndStuff(length=5)[4], ThingsAndStuff(length=1000)[4])


def test_other_seed_other_split_other_index_give_other_images():
    base = ThingsAndStuff(length=10)[0][0]
    assert not torch.equal(base, ThingsAndStuff(length=10, seed=1)[0][0])
    assert not torch.equal(base, ThingsAndStuff(length=10, split="val")[0][0])
    assert not torch.equal(base, ThingsAndStuff(length=10, split="test")[0][0])
    assert not torch.equal(base, ThingsAndStuff(length=10)[1][0])


def test_splits_never_share_an_image():
    images = {}
    for split in ("train", "val", "test"):
        dataset = ThingsAndStuff(length=150, size=16, split=split)
        images[split] = {dataset[i][0].numpy().tobytes() for i in range(len(dataset))}
        assert len(images[split]) == 150  # no repeats inside a split either
    assert not images["train"] & images["val"]
    assert not images["train"] & images["test"]
    assert not images["val"] & images["test"]


def test_every_split_and_index_has_its_own_32_bit_generator_seed():
    seeds = set()
    for split in ("train", "val", "test"):
        dataset = ThingsAndStuff(length=3000, split=split, seed=5)
        seeds |= {dataset._generator(i).initial_seed() for i in range(3000)}
    assert len(seeds) == 9000 and max(seeds) < 2**32  # torch's CPU generator keeps 32 bits of a seed


def test_the_global_random_state_is_neither_used_nor_changed():
    dataset = ThingsAndStuff(length=4)
    torch.manual_seed(1)
    state = torch.get_rng_state()
    first = dataset[2]
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(12345)
    assert _equal_samples(dataset[2], first)


def test_the_number_of_threads_is_restored():
    threads = torch.get_num_threads()
    torch.set_num_threads(3)  # not the one thread the test processes use, nor the one drawing uses
    try:
        ThingsAndStuff(length=1)[0]
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(threads)


# --- shapes, dtypes, conventions -------------------------------------------------------------------


@pytest.mark.parametrize("size", [16, 64, 128])
def test_sample_shapes_and_dtypes(size):
    dataset = ThingsAndStuff(length=8, size=size)
    for index in range(8):
        image, target = dataset[index]
        n = len(target["labels"])
        assert image.shape == (3, size, size) and image.dtype == torch.float32
        assert 0.0 <= image.min().item() and image.max().item() <= 1.0
        assert sorted(target) == ["boxes", "image_id", "labels", "masks", "semantic"]
        assert target["semantic"].shape == (size, size) and target["semantic"].dtype == torch.int64
        assert target["boxes"].shape == (n, 4) and target["boxes"].dtype == torch.float32
        assert target["labels"].shape == (n,) and target["labels"].dtype == torch.int64
        assert target["masks"].shape == (n, size, size) and target["masks"].dtype == torch.uint8
        assert target["image_id"].shape == () and target["image_id"].dtype == torch.int64
        assert target["image_id"].item() == index


def test_classes_and_attributes():
    dataset = ThingsAndStuff()
    assert len(dataset) == 1000 and dataset.size == 64 and dataset.split == "train"
    assert dataset.classes == ("sky", "grass", "road", "circle", "square", "triangle")
    assert dataset.num_classes == 6
    assert dataset.thing_classes == THING_CLASSES == ("circle", "square", "triangle")
    assert dataset.stuff_classes == STUFF_CLASSES == ("sky", "grass", "road")
    merged = ThingsAndStuff(merge_things=True)
    assert merged.classes == ("sky", "grass", "road", "thing") and merged.num_classes == 4


def test_repr_names_length_size_split_and_classes():
    text = repr(ThingsAndStuff(length=12, size=32, split="val", seed=3))
    assert text == (
        "ThingsAndStuff(length=12, size=32, split='val', seed=3, max_things=4, "
        "classes=('sky', 'grass', 'road', 'circle', 'square', 'triangle'))"
    )


def test_max_things_zero_gives_stuff_only():
    dataset = ThingsAndStuff(length=10, max_things=0)
    for index in range(10):
        _, target = dataset[index]
        assert len(target["labels"]) == 0 and target["boxes"].shape == (0, 4)
        assert target["masks"].shape == (0, 64, 64)
        assert target["semantic"].max().item() < THING


def test_max_things_is_respected():
    dataset = ThingsAndStuff(length=60, max_things=2)
    counts = {len(dataset[i][1]["labels"]) for i in range(60)}
    assert counts == {0, 1, 2}


# --- the targets agree with each other -------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, size, length",
    [(ThingsAndStuff, 64, 200), (ThingsAndStuff, 128, 30), (ThingsAndStuff, 16, 100), (HardThingsAndStuff, 64, 200), (HardThingsAndStuff, 16, 50)],
)
def test_targets_are_consistent(kind, size, length):
    dataset = kind(length=length, size=size, split="val", seed=7)
    for index in range(length):
        image, target = dataset[index]
        semantic, masks, boxes, labels = target["semantic"], target["masks"], target["boxes"], target["labels"]
        assert semantic.min().item() >= 0 and semantic.max().item() < dataset.num_classes
        assert set(masks.unique().tolist()) <= {0, 1}
        masks = masks.bool()
        # masks are disjoint, and together they are exactly the thing pixels of the semantic mask
        assert masks.sum(dim=0).max().item() <= 1 if len(masks) else True
        union = masks.any(dim=0) if len(masks) else torch.zeros(size, size, dtype=torch.bool)
        assert torch.equal(union, semantic >= THING)
        assert (semantic[~union] < THING).all()  # the rest is stuff
        assert ((labels >= 1) & (labels <= len(dataset.thing_classes))).all()
        for mask, box, label in zip(masks, boxes, labels):
            assert (semantic[mask] == THING + label - 1).all()  # the instance's class at its pixels
            assert mask.sum().item() >= dataset.min_area
            rows, cols = torch.nonzero(mask, as_tuple=True)
            tight = [cols.min().item(), rows.min().item(), cols.max().item() + 1, rows.max().item() + 1]
            assert box.tolist() == tight  # xyxy, x2 / y2 exclusive
            x1, y1, x2, y2 = box.tolist()
            assert 0 <= x1 < x2 <= size and 0 <= y1 < y2 <= size
        # every scene has sky on top and ground below it
        assert (semantic == 0).any() and ((semantic == 1) | (semantic == 2)).any()


def test_hard_scenes_have_nine_classes_and_other_images():
    hard, easy = HardThingsAndStuff(length=20, seed=3), ThingsAndStuff(length=20, seed=3)
    assert hard.classes == STUFF_CLASSES + HARD_THING_CLASSES and hard.num_classes == 9 and hard.max_things == 8
    assert HARD_THING_CLASSES == ("circle", "square", "triangle", "cross", "diamond", "ring")
    assert repr(hard).startswith("HardThingsAndStuff(length=20, size=64, split='train', seed=3, max_things=8")
    assert not any(torch.equal(hard[i][0], easy[i][0]) for i in range(20))
    assert _equal_samples(hard[5], HardThingsAndStuff(length=20, seed=3)[5])  # drawn again, identically
    merged = HardThingsAndStuff(length=20, seed=3, merge_things=True)
    assert merged.classes == STUFF_CLASSES + ("thing",)
    assert torch.equal(merged[4][1]["semantic"], hard[4][1]["semantic"].clamp(max=THING))


def test_hard_scenes_rings_rare_sizes_wide_light_varied():
    dataset = HardThingsAndStuff(length=300)
    images, masks = semantic_batch(dataset, range(300))
    frequency = torch.bincount(masks.flatten(), minlength=9).double() / masks.numel()
    assert (frequency > 0).all(), "every class occurs"
    assert frequency[THING + 5] == frequency[THING:].min() and frequency[THING + 5] < 0.025  # ring: the rarest
    labels = torch.cat([dataset[i][1]["labels"] for i in range(300)])
    assert 0.03 < (labels == 6).double().mean().item() < 0.09  # about 6% of the things
    boxes = torch.cat([dataset[i][1]["boxes"] for i in range(300)])
    sides = (boxes[:, 2:] - boxes[:, :2]).amax(dim=1)
    assert sides.min() <= 5 and sides.max() >= 30  # 4 to 34 pixels (ThingsAndStuff: 6 to 20)
    brightness = images.mean(dim=(1, 2, 3))
    easy, _ = semantic_batch(ThingsAndStuff(length=300), range(300))
    assert brightness.std() > 1.5 * easy.mean(dim=(1, 2, 3)).std()  # the light changes from image to image


def test_a_ring_shows_what_lies_under_its_hole():
    dataset = HardThingsAndStuff(length=300)
    holes = 0
    for index in range(300):
        _, target = dataset[index]
        for mask, box, label in zip(target["masks"].bool(), target["boxes"], target["labels"]):
            x1, y1, x2, y2 = box.int().tolist()
            if label == 6 and x2 - x1 >= 14 and y2 - y1 >= 14:
                centre = (y1 + y2) // 2, (x1 + x2) // 2
                holes += not mask[centre]
    assert holes >= 3, "big rings have a hole in the middle"


def test_pebbles_are_drawn_but_keep_the_class_of_the_stuff():
    from seglab.data import _draw_pebbles

    coords = torch.arange(64, dtype=torch.float32) + 0.5
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    flat = torch.full((3, 64, 64), 0.5)
    changed = [not torch.equal(_draw_pebbles(torch.Generator().manual_seed(s), x, y, 64, flat), flat) for s in range(20)]
    assert 10 <= sum(changed) < 20  # 0 to 5 pebbles: most images have some
    # with no things, the semantic mask is the stuff alone, pebbles or not
    dataset = HardThingsAndStuff(length=50, max_things=0)
    for index in range(50):
        assert dataset[index][1]["semantic"].max() < THING


def test_things_occlude_earlier_things():
    """Some instance is partly hidden: its visible mask is smaller than its shape (boxes shrink too)."""
    dataset = ThingsAndStuff(length=200)
    touching = 0
    for index in range(200):
        masks = dataset[index][1]["masks"].bool()
        for i in range(len(masks)):
            for j in range(i + 1, len(masks)):
                grown = masks[j].clone()
                grown[1:] |= masks[j][:-1]
                grown[:-1] |= masks[j][1:]
                grown[:, 1:] |= masks[j][:, :-1]
                grown[:, :-1] |= masks[j][:, 1:]
                touching += bool((grown & masks[i]).any())
    assert touching >= 10


def test_things_are_flat_and_stuff_is_textured():
    dataset = ThingsAndStuff(length=60)
    for index in range(60):
        image, target = dataset[index]
        for mask in target["masks"].bool():
            inner = _erode(mask)  # without the darker rim
            if inner.sum() >= 12:
                assert _roughness(image, inner) < 0.03
        for stuff in (1, 2):  # grass and road
            region = _erode(target["semantic"] == stuff, 1)
            if region.sum() >= 100:
                assert _roughness(image, region) > 0.04


def test_merge_things_maps_every_thing_to_one_class_and_keeps_the_rest():
    plain = ThingsAndStuff(length=30)
    merged = ThingsAndStuff(length=30, merge_things=True)
    for index in range(30):
        (image, target), (image_m, target_m) = plain[index], merged[index]
        assert torch.equal(image, image_m)
        assert torch.equal(target_m["semantic"], target["semantic"].clamp(max=THING))
        assert target_m["semantic"].max().item() <= THING
        for key in ("boxes", "labels", "masks", "image_id"):
            assert torch.equal(target[key], target_m[key])


def test_class_frequencies_things_a_minority_triangles_rare_but_present():
    dataset = ThingsAndStuff(length=300)
    _, masks = semantic_batch(dataset, range(300))
    frequency = torch.bincount(masks.flatten(), minlength=6).double() / masks.numel()
    assert (frequency > 0).all(), "every class occurs"
    assert frequency[:THING].min() > 0.1  # each stuff class is common
    assert 0.03 < frequency[THING:].sum() < 0.15  # things are a minority of the pixels
    assert 0.0005 < frequency[THING + 2] < 0.15 * frequency[THING:].sum()  # triangles are rare
    labels = torch.cat([dataset[i][1]["labels"] for i in range(300)])
    assert 0.04 < (labels == 3).double().mean().item() < 0.16  # about 10% of the things


def test_hidden_instances_are_dropped_and_the_rest_stay_consistent():
    """Crowded scenes (0..40 things, 20 on average) hide many things; those are not drawn at all."""
    dataset = ThingsAndStuff(length=30, max_things=40)
    counts = []
    for index in range(30):
        _, target = dataset[index]
        masks = target["masks"].bool()
        counts.append(len(masks))
        assert (masks.sum(dim=(1, 2)) >= dataset.min_area).all()
        assert masks.sum(dim=0).max().item() <= 1 if len(masks) else True
        union = masks.any(dim=0) if len(masks) else torch.zeros(64, 64, dtype=torch.bool)
        assert torch.equal(union, target["semantic"] >= THING)  # no left-over pixels of dropped things
    assert max(counts) > 20  # crowded indeed


def test_instances_below_min_area_are_dropped():
    """The same random things, drawn with min_area 1 and 8: the second keeps fewer, all of >= 8 pixels."""
    coords = torch.arange(64, dtype=torch.float32) + 0.5
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    dropped = 0
    for seed in range(10):
        loose = seglab.data._draw_things(torch.Generator().manual_seed(seed), x, y, 64, 30, min_area=1)
        strict = seglab.data._draw_things(torch.Generator().manual_seed(seed), x, y, 64, 30, min_area=8)
        assert (strict["visible"].sum(dim=(1, 2)) >= 8).all()
        assert strict["count"] <= loose["count"]
        dropped += loose["count"] - strict["count"]
    assert dropped > 0


# --- batches and collation -------------------------------------------------------------------------


def test_semantic_batch_stacks_images_and_semantic_masks():
    dataset = ThingsAndStuff(length=10)
    images, masks = semantic_batch(dataset, range(2, 6))
    assert images.shape == (4, 3, 64, 64) and images.dtype == torch.float32
    assert masks.shape == (4, 64, 64) and masks.dtype == torch.int64
    for row, index in enumerate(range(2, 6)):
        image, target = dataset[index]
        assert torch.equal(images[row], image) and torch.equal(masks[row], target["semantic"])
    images_t, masks_t = semantic_batch(dataset, torch.tensor([5, 2]))
    assert torch.equal(images_t[0], images[3]) and torch.equal(masks_t[1], masks[0])


def test_semantic_batch_accepts_a_subset_and_rejects_empty_indices():
    dataset = ThingsAndStuff(length=10, merge_things=True)
    subset = torch.utils.data.Subset(dataset, [7, 3])
    images, masks = semantic_batch(subset, range(2))
    assert torch.equal(images[0], dataset[7][0]) and masks.max().item() <= THING
    with pytest.raises(ValueError, match="at least one index"):
        semantic_batch(dataset, [])
    with pytest.raises(TypeError, match="indices"):
        semantic_batch(dataset, 5)


def test_detection_collate_gives_lists_for_a_dataloader():
    dataset = ThingsAndStuff(length=6)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, collate_fn=detection_collate)
    images, targets = next(iter(loader))
    assert isinstance(images, list) and isinstance(targets, list) and len(images) == len(targets) == 4
    assert [t["image_id"].item() for t in targets] == [0, 1, 2, 3]
    assert torch.equal(images[1], dataset[1][0])
    with pytest.raises(TypeError, match=r"batch\[0\]: expected an \(image, target\) pair"):
        detection_collate([torch.zeros(3)])


# --- patches ---------------------------------------------------------------------------------------


def test_sample_patches_shapes_dtypes_and_determinism():
    dataset = ThingsAndStuff(length=20)
    patches, labels = sample_patches(dataset, 50, 11, seed=3)
    assert patches.shape == (50, 3, 11, 11) and patches.dtype == torch.float32
    assert labels.shape == (50,) and labels.dtype == torch.int64
    assert labels.min().item() >= 0 and labels.max().item() < dataset.num_classes
    again, labels_again = sample_patches(dataset, 50, 11, seed=3)
    assert torch.equal(patches, again) and torch.equal(labels, labels_again)
    other, _ = sample_patches(dataset, 50, 11, seed=4)
    assert not torch.equal(patches, other)


@pytest.mark.parametrize("balanced", [False, True])
def test_patch_labels_are_the_semantic_class_of_the_centre(balanced):
    """Find every patch among all windows of the zero-padded images, and compare the labels."""
    dataset = ThingsAndStuff(length=3, size=16)
    p = 5
    patches, labels = sample_patches(dataset, 300, p, seed=1, balanced=balanced)
    images, semantics = semantic_batch(dataset, range(3))
    windows = torch.nn.functional.unfold(images, p, padding=p // 2)  # [3, 3 * p * p, 16 * 16], zero-padded
    windows = windows.permute(0, 2, 1).reshape(3 * 256, 3 * p * p)  # window k: image k // 256, pixel k % 256
    flat = patches.reshape(300, -1)
    centre_labels = semantics.reshape(-1)  # the same order as the windows
    for patch, label in zip(flat, labels):
        found = torch.nonzero((windows == patch).all(dim=1)).flatten()
        assert len(found) >= 1, "a patch that is no window of any image"
        assert (centre_labels[found] == label).all()


def test_patches_at_the_border_are_zero_padded():
    dataset = ThingsAndStuff(length=2, size=16)
    patches, _ = sample_patches(dataset, 400, 7, seed=0)
    zero_rows = (patches.abs().sum(dim=(1, 3)) == 0)  # [count, 7]: rows of a patch outside the image
    assert zero_rows.any()  # some centres lie within 3 px of the border
    assert not zero_rows[:, 3].any()  # the centre row is always inside the image


def test_uniform_patches_follow_pixel_frequencies_and_balanced_patches_are_balanced():
    dataset = ThingsAndStuff(length=40)
    _, uniform = sample_patches(dataset, 3000, 9, seed=0)
    counts = torch.bincount(uniform, minlength=6)
    assert counts[:THING].sum() > 0.8 * 3000  # mostly stuff, as the pixels are
    _, balanced = sample_patches(dataset, 3000, 9, seed=0, balanced=True)
    counts = torch.bincount(balanced, minlength=6)
    assert counts.tolist() == [500] * 6
    _, balanced = sample_patches(dataset, 3001, 9, seed=0, balanced=True)
    counts = torch.bincount(balanced, minlength=6)
    assert counts.max() - counts.min() == 1


def test_balanced_patches_use_only_the_classes_present():
    dataset = ThingsAndStuff(length=5, max_things=0)
    _, labels = sample_patches(dataset, 90, 5, balanced=True)
    counts = torch.bincount(labels, minlength=6)
    present = counts > 0
    assert not present[THING:].any() and counts[present].max() - counts[present].min() <= 1


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(length=-1), ValueError, "length: expected a number of images from 0 to 2**30, got -1. Hint"),
        (dict(length=2.5), TypeError, "length: expected an int"),
        (dict(size=8), ValueError, "size: expected an image side of at least 16 pixels, got 8. Hint"),
        (dict(size=64.0), TypeError, "size: expected an int"),
        (dict(split="training"), ValueError, "split: expected one of ('train', 'val', 'test'), got 'training'. Hint"),
        (dict(split=1), TypeError, "split: expected one of"),
        (dict(max_things=-1), ValueError, "max_things: expected an int >= 0 (the most things per image), got -1. Hint"),
        (dict(merge_things="yes"), TypeError, "merge_things: expected True or False"),
        (dict(seed=None), TypeError, "seed: expected an int"),
    ],
)
def test_bad_arguments(kwargs, error, words):
    with pytest.raises(error) as info:
        ThingsAndStuff(**kwargs)
    assert words in str(info.value)


def test_error_messages_carry_a_hint():
    with pytest.raises(ValueError, match="Hint: ThingsAndStuff.split='val'."):
        ThingsAndStuff(split="validation")
    with pytest.raises(ValueError, match="Hint: the lectures use size=64"):
        ThingsAndStuff(size=10)


def test_bad_index():
    dataset = ThingsAndStuff(length=3)
    with pytest.raises(IndexError, match=r"expected 0 <= index < 3 .*got 3"):
        dataset[3]
    with pytest.raises(IndexError):
        dataset[-4]
    with pytest.raises(TypeError, match="index: expected an int"):
        dataset[1.0]
    assert len(list(iter(dataset))) == 3  # iteration stops at the IndexError


def test_sample_patches_bad_arguments():
    dataset = ThingsAndStuff(length=2)
    with pytest.raises(ValueError, match="patch_size: expected an odd size.*Hint: use patch_size=11"):
        sample_patches(dataset, 10, 10)
    with pytest.raises(ValueError, match="count: expected an int >= 1, got 0"):
        sample_patches(dataset, 0, 11)
    with pytest.raises(TypeError, match="balanced"):
        sample_patches(dataset, 10, 11, balanced=1)
    with pytest.raises(ValueError, match="empty dataset"):
        sample_patches(ThingsAndStuff(length=0), 10, 11)


# --- instance maps ---------------------------------------------------------------------------------


def test_instance_map_numbers_the_instances_of_a_scene():
    dataset = ThingsAndStuff(length=20, max_things=8)
    seen = 0
    for index in range(20):
        _, target = dataset[index]
        instances = instance_map(target)
        assert instances.shape == (64, 64) and instances.dtype == torch.int64
        masks = target["masks"].bool()
        for k, mask in enumerate(masks, start=1):
            assert (instances[mask] == k).all() and (instances == k).sum() == mask.sum()  # all of it, nothing else
        assert torch.equal(instances > 0, target["semantic"] >= THING)  # the things and only the things
        assert torch.equal(instance_map(target["masks"]), instances)  # the masks alone give the same map
        seen += len(masks)
    assert seen > 30


def test_instance_map_of_overlapping_and_empty_masks():
    masks = torch.zeros(3, 2, 5, dtype=torch.bool)
    masks[0, :, :3] = True  # instance 1: columns 0-2
    masks[1, :, 2:4] = True  # instance 2: columns 2-3, on top of instance 1 in column 2
    masks[2, 1, 4] = True  # instance 3: one pixel
    assert instance_map(masks).tolist() == [[1, 1, 2, 2, 0], [1, 1, 2, 2, 3]]
    assert instance_map(masks.to(torch.uint8)).tolist() == [[1, 1, 2, 2, 0], [1, 1, 2, 2, 3]]
    empty = instance_map({"masks": torch.zeros(0, 4, 6, dtype=torch.uint8)})
    assert empty.shape == (4, 6) and empty.dtype == torch.int64 and (empty == 0).all()
    _, target = ThingsAndStuff(length=5, max_things=0)[0]
    assert (instance_map(target) == 0).all()


def test_instance_map_bad_input():
    with pytest.raises(TypeError, match="expected a target dict with 'masks'.*got a dict with the keys \\['semantic'\\]"):
        instance_map({"semantic": torch.zeros(4, 4, dtype=torch.int64)})
    with pytest.raises(TypeError, match="0/1 or bool Tensor.*Hint"):
        instance_map(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match=r"masks: expected instance masks of shape \[N, H, W\].*masks\[None\]"):
        instance_map(torch.zeros(4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="expected values 0 and 1, got values from 0 to 2"):
        instance_map(torch.tensor([[[0, 2]]]))


# --- Oxford-IIIT Pet, on a tiny fake folder in the real layout -----------------------------------------

# name: (split, (height, width) of the photo, its colour); the breed and species columns as in the real files
_PETS = {
    "Abyssinian_1": ("trainval", (16, 16), (200, 40, 60)),
    "Abyssinian_2": ("trainval", (20, 40), (30, 160, 220)),
    "beagle_1": ("trainval", (33, 25), (240, 220, 40)),
    "Abyssinian_3": ("test", (24, 30), (90, 90, 90)),
    "beagle_2": ("test", (12, 18), (10, 200, 100)),
}
_PET_LINES = {"Abyssinian": "1 1 1", "beagle": "12 2 1"}


def _trimap(name, height, width):
    """The trimap of a fake photo: values 1 (pet), 2 (background), 3 (border)."""
    if name == "Abyssinian_1":  # random values: the mapping is checked pixel by pixel
        return torch.randint(1, 4, (height, width), generator=torch.Generator().manual_seed(0)).numpy().astype(np.uint8)
    trimap = np.full((height, width), 2, dtype=np.uint8)  # background
    trimap[:, : width // 2] = 1  # the left half is the pet
    trimap[:4] = 3  # the top four rows are the uncertain border
    return trimap


def _write_pets(base):
    (base / "images").mkdir(parents=True)
    (base / "annotations" / "trimaps").mkdir(parents=True)
    lines = {"trainval": [], "test": []}
    for name, (split, (height, width), colour) in _PETS.items():
        Image.new("RGB", (width, height), colour).save(base / "images" / f"{name}.jpg", quality=95)
        Image.fromarray(_trimap(name, height, width), mode="L").save(base / "annotations" / "trimaps" / f"{name}.png")
        lines[split].append(f"{name} {_PET_LINES[name.rsplit('_', 1)[0]]}\n")
    for split, text in lines.items():
        (base / "annotations" / f"{split}.txt").write_text("".join(text))


@pytest.fixture(scope="module")
def pets_root(tmp_path_factory):
    """A folder holding ``oxford-iiit-pet/`` with five small photos, as torchvision expects it."""
    root = tmp_path_factory.mktemp("pets")
    _write_pets(root / "oxford-iiit-pet")
    return root


def test_pets_length_shapes_dtypes_and_classes(pets_root, one_thread):
    dataset = OxfordPets(pets_root, size=24)
    assert len(dataset) == 3 and dataset.names == ["Abyssinian_1", "Abyssinian_2", "beagle_1"]
    assert dataset.classes == ("background", "pet") and dataset.num_classes == 2
    assert dataset.ignore_index == IGNORE_INDEX == -100
    for index in range(3):
        image, mask = dataset[index]
        assert image.shape == (3, 24, 24) and image.dtype == torch.float32
        assert mask.shape == (24, 24) and mask.dtype == torch.int64
        assert 0 <= image.min().item() and image.max().item() <= 1
        assert set(mask.unique().tolist()) <= {IGNORE_INDEX, 0, 1}
        colour = torch.tensor(_PETS[dataset.names[index]][2], dtype=torch.float32) / 255
        assert torch.allclose(image.mean(dim=(1, 2)), colour, atol=0.03)  # this photo, not another
    assert torch.equal(dataset[-1][0], dataset[2][0])
    assert "OxfordPets(" in repr(dataset) and "split='trainval'" in repr(dataset)


def test_pets_trimap_values_map_to_pet_background_and_ignore(pets_root, one_thread):
    image, mask = OxfordPets(pets_root, size=16)[0]  # a 16 x 16 photo kept at its size: pixel for pixel
    trimap = torch.from_numpy(_trimap("Abyssinian_1", 16, 16)).long()
    assert set(trimap.unique().tolist()) == {1, 2, 3}
    assert (mask[trimap == 1] == 1).all()  # 1 -> pet
    assert (mask[trimap == 2] == 0).all()  # 2 -> background
    assert (mask[trimap == 3] == IGNORE_INDEX).all()  # 3 (border) -> ignored
    path = pets_root / "oxford-iiit-pet" / "images" / "Abyssinian_1.jpg"
    decoded = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 255
    assert torch.allclose(image, decoded, atol=1e-6)  # at its own size the photo is not resampled


def test_pets_resize_image_bilinear_mask_nearest(pets_root, one_thread):
    dataset = OxfordPets(pets_root, size=10)
    image, mask = dataset[1]  # a 20 x 40 photo: left half pet, right half background, top 4 rows border
    expected = torch.zeros(10, 10, dtype=torch.int64)
    expected[:, :5] = 1
    expected[:2] = IGNORE_INDEX  # rows 0, 1 sample photo rows 1, 3 (nearest-exact: floor((i + 0.5) * 2))
    assert torch.equal(mask, expected)
    assert torch.allclose(image, torch.tensor([30, 160, 220]).view(3, 1, 1) / 255, atol=0.03)  # a flat colour stays flat
    image, mask = OxfordPets(pets_root, size=48)[1]  # enlarged: still labels only, never blends of them
    assert image.shape == (3, 48, 48) and set(mask.unique().tolist()) == {IGNORE_INDEX, 0, 1}
    assert (mask[:, :24][mask[:, :24] >= 0] == 1).all() and (mask[:, 24:][mask[:, 24:] >= 0] == 0).all()


def test_pets_split_and_limit(pets_root, one_thread):
    test = OxfordPets(pets_root, split="test", size=8)
    assert len(test) == 2 and test.names == ["Abyssinian_3", "beagle_2"]
    assert torch.allclose(test[1][0].mean(dim=(1, 2)), torch.tensor([10, 200, 100]) / 255, atol=0.03)
    limited = OxfordPets(pets_root, size=8, limit=2)
    assert len(limited) == 2 and limited.names == ["Abyssinian_1", "Abyssinian_2"]
    assert torch.equal(limited[1][1], OxfordPets(pets_root, size=8)[1][1])
    assert len(OxfordPets(pets_root, size=8, limit=100)) == 3
    with pytest.raises(IndexError, match=r"expected 0 <= index < 2 .*got 2"):
        limited[2]


def test_pets_root_may_be_the_dataset_folder_itself(pets_root, one_thread):
    dataset = OxfordPets(pets_root / "oxford-iiit-pet", split="test", size=8)
    assert len(dataset) == 2 and dataset.root == pets_root


def test_pets_work_with_batches_losses_and_metrics(pets_root, one_thread):
    dataset = OxfordPets(pets_root, size=16)
    images, masks = semantic_batch(dataset, range(3))
    assert images.shape == (3, 3, 16, 16) and masks.shape == (3, 16, 16) and masks.dtype == torch.int64
    assert torch.equal(masks[2], dataset[2][1])
    loaded_images, loaded_masks = next(iter(torch.utils.data.DataLoader(dataset, batch_size=3)))  # default collate
    assert torch.equal(loaded_images, images) and torch.equal(loaded_masks, masks)

    logits = torch.randn(3, 2, 16, 16, generator=torch.Generator().manual_seed(0))
    counted = masks != IGNORE_INDEX
    assert (~counted).any() and counted.any()
    by_hand = -logits.log_softmax(dim=1).gather(1, masks.clamp(min=0)[:, None])[:, 0][counted].mean()
    assert torch.allclose(F.cross_entropy(logits, masks), by_hand)  # the border is ignored by default
    assert torch.allclose(losses.pixel_cross_entropy(logits, masks), by_hand)
    pred = logits.argmax(dim=1)
    miou = metrics.mean_iou(pred, masks, num_classes=2, ignore_index=IGNORE_INDEX)
    assert torch.allclose(miou, metrics.mean_iou(pred[counted], masks[counted], num_classes=2))
    with pytest.raises(ValueError, match="ignore_index=-100"):  # forgetting ignore_index is caught, not miscounted
        metrics.mean_iou(pred, masks, num_classes=2)


def test_pets_missing_folder_says_what_to_do_and_downloads_nothing(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        OxfordPets(tmp_path / "data")
    message = str(info.value)
    assert "root: expected the Oxford-IIIT Pet dataset in" in message and "got no such folder" in message
    assert "oxford-iiit-pet/images/<name>.jpg" in message and "annotations/trainval.txt" in message
    assert "Hint: nothing is downloaded" in message and "https://www.robots.ox.ac.uk/~vgg/data/pets/" in message
    assert list(tmp_path.iterdir()) == []  # nothing was created, nothing downloaded


def test_pets_incomplete_folder(tmp_path):
    _write_pets(tmp_path / "oxford-iiit-pet")
    (tmp_path / "oxford-iiit-pet" / "annotations" / "test.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"got no annotations/test.txt in it\. Hint"):
        OxfordPets(tmp_path)
    (tmp_path / "oxford-iiit-pet" / "annotations" / "test.txt").write_text("beagle_2 12 2 1\n")
    (tmp_path / "oxford-iiit-pet" / "images" / "beagle_2.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 missing file\(s\), the first .*beagle_2.jpg"):
        OxfordPets(tmp_path, split="test")
    shutil.rmtree(tmp_path / "oxford-iiit-pet" / "annotations" / "trimaps")
    with pytest.raises(FileNotFoundError, match="got no annotations/trimaps in it"):
        OxfordPets(tmp_path)


def test_pets_bad_trimap_values(tmp_path):
    _write_pets(tmp_path / "oxford-iiit-pet")
    Image.fromarray(np.full((16, 16), 255, dtype=np.uint8), mode="L").save(
        tmp_path / "oxford-iiit-pet" / "annotations" / "trimaps" / "Abyssinian_1.png"
    )
    with pytest.raises(ValueError, match=r"expected one channel of values 1 \(pet\), 2 \(background\).*\[255\]"):
        OxfordPets(tmp_path)[0]


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(split="train"), ValueError, "split: expected one of ('trainval', 'test'), got 'train'. Hint"),
        (dict(split=None), TypeError, "split: expected one of"),
        (dict(size=0), ValueError, "size: expected an int >= 1, got 0"),
        (dict(size=12.0), TypeError, "size: expected an int"),
        (dict(limit=0), ValueError, "limit: expected an int >= 1, got 0"),
    ],
)
def test_pets_bad_arguments(pets_root, kwargs, error, words):
    with pytest.raises(error) as info:
        OxfordPets(pets_root, **kwargs)
    assert words in str(info.value)
    with pytest.raises(TypeError, match="root: expected a folder name"):
        OxfordPets(3)


def test_importing_seglab_data_does_not_import_torchvision():
    code = "import sys, seglab.data; print('torchvision' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_doctests():
    assert_doctests_pass(seglab.data)
