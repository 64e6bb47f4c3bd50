"""scikit-learn's IsolationForest; the only module that imports numpy or scikit-learn.

They are the optional extra ``homeguard[ml]``: without them :func:`available` is False and
:func:`fit` raises :class:`~homeguard.errors.FeatureUnavailable` saying how to install it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from homeguard.errors import FeatureUnavailable

__all__ = ["ForestModel", "available", "fit"]

INSTALL_HINT = "anomaly detection needs the ml extra: pip install 'homeguard[ml]'"


def available() -> bool:
    try:
        import numpy  # noqa: F401
        import sklearn.ensemble  # noqa: F401
    except ImportError:
        return False
    return True


class ForestModel:
    """A fitted forest: :meth:`scores` gives each row's anomaly score, higher is
    stranger (scikit-learn's ``score_samples``, negated)."""

    def __init__(self, forest: Any) -> None:
        self._forest = forest

    def scores(self, rows: Sequence[Sequence[float]]) -> list[float]:
        import numpy as np

        if not rows:
            return []
        values = self._forest.score_samples(np.asarray(rows, dtype=float))
        return [-float(v) for v in values]


def fit(rows: Sequence[Sequence[float]], *, seed: int = 0, trees: int = 200) -> ForestModel:
    """An IsolationForest fitted on ``rows`` (the same seed and rows, the same forest)."""
    try:
        import numpy as np
        from sklearn.ensemble import IsolationForest
    except ImportError as exc:
        raise FeatureUnavailable(INSTALL_HINT) from exc
    if len(rows) < 10:
        raise ValueError(f"too little history to learn from ({len(rows)} windows)")
    forest = IsolationForest(n_estimators=trees, random_state=seed, n_jobs=1)
    forest.fit(np.asarray(rows, dtype=float))
    return ForestModel(forest)
