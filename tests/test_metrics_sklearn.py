"""lens2logit.training.metrics against an independent implementation (scikit-learn), on random
predictions with classes that occur only in the truth, only in the predictions, or nowhere."""

import numpy as np
import pytest
import torch

sklearn_metrics = pytest.importorskip("sklearn.metrics")

from lens2logit.training.metrics import (  # noqa: E402
    classification_scores,
    confusion_matrix,
    iou_per_image,
    segmentation_counts,
    segmentation_scores,
)


@pytest.mark.parametrize("seed", range(5))
def test_macro_scores_equal_scikit_learn_over_present_classes(seed):
    rng = np.random.default_rng(seed)
    n_classes, n = 6, 200
    targets = rng.integers(0, 4, n)  # classes 4 and 5 never true
    predictions = np.where(rng.random(n) < 0.6, targets, rng.integers(0, 5, n))  # 5 never predicted: absent
    predictions[:3] = 4  # a class that is only predicted (precision 0, recall 0/0)
    scores = classification_scores(confusion_matrix(torch.from_numpy(targets), torch.from_numpy(predictions), n_classes))
    present = sorted(set(targets) | set(predictions))
    assert 5 not in present and 4 in present
    p, r, f, _ = sklearn_metrics.precision_recall_fscore_support(targets, predictions, labels=present, average="macro", zero_division=0)
    assert scores["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(targets, predictions), abs=1e-12)
    assert (scores["precision"], scores["recall"], scores["f1"]) == pytest.approx((p, r, f), abs=1e-6)


def test_iou_per_image_and_over_the_data_set_equal_scikit_learn_jaccard():
    rng = np.random.default_rng(0)
    masks = (rng.random((8, 12, 12)) < 0.3).astype(np.float32)
    logits = rng.normal(size=(8, 1, 12, 12)).astype(np.float32) + 2.0 * (masks[:, None] - 0.5)
    masks[3] = 0
    logits[3] = -1.0  # an image with no foreground in truth or prediction: IoU 1 by convention
    inter, union = segmentation_counts(torch.from_numpy(logits), torch.from_numpy(masks))
    predicted = (logits[:, 0] > 0).astype(int)  # sigmoid > 0.5
    truth = masks.astype(int)
    per_image = [sklearn_metrics.jaccard_score(t.ravel(), p.ravel(), zero_division=1.0) for t, p in zip(truth, predicted)]
    assert iou_per_image(inter, union).tolist() == pytest.approx(per_image, abs=1e-6)
    scores = segmentation_scores(inter, union)
    assert scores["iou_image"] == pytest.approx(np.mean(per_image), abs=1e-6)
    assert scores["iou_dataset"] == pytest.approx(sklearn_metrics.jaccard_score(truth.ravel(), predicted.ravel()), abs=1e-6)
