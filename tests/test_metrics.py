"""Golden values for lens2logit.training.metrics, computed by hand in the comments."""

import pytest
import torch

from lens2logit.errors import InputError
from lens2logit.training.losses import dice_loss_from_logits
from lens2logit.training.metrics import (
    classification_scores,
    confusion_matrix,
    iou_per_image,
    per_class_scores,
    segmentation_counts,
    segmentation_scores,
)


def test_confusion_matrix_rows_are_true_columns_are_predicted():
    cm = confusion_matrix(torch.tensor([0, 0, 1, 2, 2]), torch.tensor([0, 1, 1, 2, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_confusion_matrix_rejects_out_of_range_labels():
    with pytest.raises(InputError, match="predictions"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 3]), 3)


def test_classification_golden_values_distinguish_precision_from_recall():
    # rows = true, cols = predicted
    cm = torch.tensor([[2, 0, 0], [2, 1, 0], [0, 1, 4]])
    scores = classification_scores(cm)
    # accuracy = 7 / 10
    assert scores["accuracy"] == pytest.approx(0.7)
    # precision: diagonal / column sums (4, 2, 4) = 0.5, 0.5, 1.0 -> mean 2/3
    assert scores["precision"] == pytest.approx(2 / 3)
    # recall: diagonal / row sums (2, 3, 5) = 1, 1/3, 0.8 -> mean 0.71111
    assert scores["recall"] == pytest.approx((1 + 1 / 3 + 0.8) / 3)
    # the original's swap would report these the other way round
    assert scores["precision"] != pytest.approx(scores["recall"])
    # F1 per class: 2/3, 0.4, 8/9 -> mean
    assert scores["f1"] == pytest.approx((2 / 3 + 0.4 + 8 / 9) / 3)


def test_macro_average_skips_classes_absent_from_truth_and_predictions():
    # class 2 never occurs: it must not dilute the averages
    cm = torch.tensor([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    scores = classification_scores(cm)
    # precision: 3/3, 2/3 ; recall: 3/4, 2/2
    assert scores["precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert scores["recall"] == pytest.approx((0.75 + 1) / 2)


def test_never_predicted_class_counts_as_zero_precision():
    # class 1 is true twice but never predicted: precision 0/0 -> 0, recall 0
    cm = torch.tensor([[2, 0], [2, 0]])
    per_class = per_class_scores(cm)
    assert per_class["precision"].tolist() == [0.5, 0.0]
    assert per_class["recall"].tolist() == [1.0, 0.0]
    assert per_class["f1"][1] == 0.0
    assert classification_scores(cm)["precision"] == pytest.approx(0.25)


def test_segmentation_iou_per_image_and_dataset():
    masks = torch.zeros(3, 2, 2)
    logits = torch.full((3, 1, 2, 2), -5.0)
    # image 0: truth 2 px, prediction 1 of them + 1 extra -> I=1, U=3
    masks[0, 0, :] = 1
    logits[0, 0, 0, 0] = 5
    logits[0, 0, 1, 1] = 5
    # image 1: truth 4 px, prediction all -> I=4, U=4
    masks[1] = 1
    logits[1] = 5
    # image 2: both empty -> IoU 1 per image, adds nothing to the data-set sums
    inter, union = segmentation_counts(logits, masks)
    assert inter.tolist() == [1, 4, 0]
    assert union.tolist() == [3, 4, 0]
    assert iou_per_image(inter, union).tolist() == pytest.approx([1 / 3, 1.0, 1.0])
    scores = segmentation_scores(inter, union)
    assert scores["iou_image"] == pytest.approx((1 / 3 + 1 + 1) / 3)
    assert scores["iou_dataset"] == pytest.approx(5 / 7)


def test_segmentation_threshold_is_strictly_above_half():
    masks = torch.ones(1, 1, 2)
    logits = torch.tensor([[[0.0, 1e-3]]])  # sigmoid(0) = 0.5 exactly -> background
    inter, union = segmentation_counts(logits, masks)
    assert (inter.item(), union.item()) == (1, 2)


def test_segmentation_shape_mismatch_is_input_error():
    with pytest.raises(InputError, match="masks"):
        segmentation_counts(torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 5))


def test_dice_loss_values():
    masks = torch.zeros(1, 4, 4)
    masks[0, :2] = 1
    perfect = torch.where(masks > 0, 20.0, -20.0).unsqueeze(1)
    assert dice_loss_from_logits(perfect, masks).item() == pytest.approx(0.0, abs=1e-6)
    # all probabilities 0.5: 1 - 2*(0.5*8) / (0.5*16 + 8) = 0.5
    assert dice_loss_from_logits(torch.zeros(1, 1, 4, 4), masks).item() == pytest.approx(0.5)
    # no foreground in the batch -> 0 (smp binary semantics)
    assert dice_loss_from_logits(torch.zeros(1, 1, 4, 4), torch.zeros(1, 4, 4)).item() == 0.0
