"""The learned scorer: gradient-boosted trees over `features.FEATURES`, trained at start-up.

Fitting and scoring run on one thread (OpenMP threads only contend on small batches and a busy
machine). The training set is committed (`training_data.json.gz`, feature vectors labelled by the
traffic simulator, `bench/moderation_sim.py`; rebuilt by `python -m bench.moderation_bench
train`), not the fitted model: fitting takes a few seconds and stays valid whatever
scikit-learn version is installed. The flag threshold is stored with the data: the highest
out-of-fold score (folds grouped by IP) of a benign row of the training runs plus a margin, at
most 0.99 and at least 0.95 (very few false positives comes first).

`explain` names the evidence: the features whose replacement by the benign median lowers the
score most, with the IP's own value.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from bots.moderation.features import FEATURES

__all__ = ["DATA_FILE", "Scorer", "TrainingSet", "fit", "load_training_set"]

DATA_FILE: Final = Path(__file__).with_name("training_data.json.gz")
_SEED: Final = 7


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """Labelled feature rows and the threshold chosen for them."""

    rows: list[list[float]]
    labels: list[int]
    groups: list[str]
    threshold: float
    meta: dict[str, Any]


def load_training_set(path: Path = DATA_FILE) -> TrainingSet:
    """The committed training set (or another file of the same shape)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    if data.get("features") != list(FEATURES):
        raise ValueError(f"{path} was made for other features; rebuild it")
    return TrainingSet(
        rows=data["rows"],
        labels=data["labels"],
        groups=data["groups"],
        threshold=float(data["threshold"]),
        meta=data.get("meta", {}),
    )


def new_model() -> HistGradientBoostingClassifier:
    """The untrained classifier (fixed seed: the same data fits the same model)."""
    return HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.1,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        random_state=_SEED,
    )


class Scorer:
    """A fitted model with its threshold: scores feature vectors, explains flags."""

    def __init__(
        self, model: HistGradientBoostingClassifier, threshold: float, benign: Sequence[float]
    ) -> None:
        self.model = model
        self.threshold = threshold
        self._benign = np.asarray(benign, dtype=float)

    def scores(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """The probability that each row is abusive."""
        if not rows:
            return []
        with threadpool_limits(1):  # one small batch: threads only contend
            found = self.model.predict_proba(np.asarray(rows, dtype=float))[:, 1]
        return [float(v) for v in found]

    def explain(self, row: Sequence[float], top: int = 3) -> list[tuple[str, float, float]]:
        """The `top` features behind a score: (name, the IP's value, score drop without it)."""
        base = self.scores([row])[0]
        trials = []
        for index in range(len(FEATURES)):
            trial = list(row)
            trial[index] = float(self._benign[index])
            trials.append(trial)
        drops = [base - s for s in self.scores(trials)]
        order = sorted(range(len(FEATURES)), key=lambda i: -drops[i])[:top]
        return [(FEATURES[i], float(row[i]), round(drops[i], 3)) for i in order if drops[i] > 0]


def fit(training: TrainingSet) -> Scorer:
    """Fit the model on `training` (a few seconds)."""
    x = np.asarray(training.rows, dtype=float)
    y = np.asarray(training.labels, dtype=int)
    model = new_model()
    with threadpool_limits(1):  # OpenMP threads contend on a busy machine: 20x slower
        model.fit(x, y)
    benign = np.median(x[y == 0], axis=0) if (y == 0).any() else np.zeros(len(FEATURES))
    return Scorer(model, training.threshold, list(benign))
