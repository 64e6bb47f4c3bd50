"""Anomaly detection over windows of the house's activity.

Trained on the store's own history (:mod:`homeguard.core.activity` makes the features).
The rarity features of the training windows are computed *out of sample* (the profile
learned on one half of the history scores the other half), so the forest learns what
new, ordinary days look like rather than days it has memorised. The alarm threshold is
set on the training windows themselves: at most ``flags_per_week`` of them would have
been flagged. Consecutive flagged windows make one :class:`Anomaly`.

Advisory only: an anomaly is an event (``anomaly`` on ``<base>/alarm/event``) with a score
and reasons; it never arms or triggers the panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from homeguard.adapters import isolation_forest
from homeguard.core.activity import (
    FEATURES,
    Activation,
    PanelTimeline,
    Window,
    activations,
    explain,
    surprise,
    windows,
)
from homeguard.core.habits import ActivityProfile
from homeguard.core.records import SensorRecord, SystemRecord
from homeguard.core.signals import Advisory, EventKind

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class AnomalyPolicy:
    """``model``: ``"surprise"`` (the default: measured better, docs/intelligence.md, and
    needs nothing installed) or ``"isolation_forest"`` (scikit-learn, the ml extra)."""

    model: Literal["surprise", "isolation_forest"] = "surprise"
    window: float = 600.0  # seconds per scored window
    flags_per_week: float = 1.5  # the training history may have had this many
    merge_gap: float = 1800.0  # flagged windows closer than this are one anomaly
    min_days: float = 7.0  # history needed before the detector says anything
    seed: int = 0
    utc_offset: float = 0.0


@dataclass(frozen=True, slots=True)
class Anomaly:
    start: float
    end: float
    score: float
    reasons: tuple[str, ...]
    devices: tuple[str, ...]

    def advisory(self) -> Advisory:
        """The ``anomaly`` event for this anomaly, for the controller to record."""
        data: dict[str, Any] = {
            "score": round(self.score, 3),
            "start": self.start,
            "end": self.end,
            "reasons": list(self.reasons),
            "devices": list(self.devices),
        }
        return Advisory(EventKind.ANOMALY, f"unusual activity: {self.reasons[0]}", data)


class Scorer(Protocol):
    def scores(self, rows: Sequence[Window]) -> list[float]: ...


class SurpriseScorer:
    """Scores a window by its surprise in bits (:func:`homeguard.core.activity.surprise`)."""

    def scores(self, rows: Sequence[Window]) -> list[float]:
        return [surprise(w) for w in rows]


class ForestScorer:
    """Scores a window with an IsolationForest fitted on the training windows."""

    def __init__(self, rows: Sequence[Window], seed: int) -> None:
        self._model = isolation_forest.fit([w.features for w in rows], seed=seed)

    def scores(self, rows: Sequence[Window]) -> list[float]:
        return self._model.scores([w.features for w in rows])


class AnomalyDetector:
    """A trained detector; :meth:`train` builds one, :meth:`detect` uses it."""

    def __init__(
        self,
        *,
        profile: ActivityProfile,
        model: Scorer,
        threshold: float,
        usual: Sequence[float],
        policy: AnomalyPolicy,
        trained_until: float,
    ) -> None:
        self.profile = profile
        self.threshold = threshold
        self.trained_until = trained_until
        self._model = model
        self._usual = tuple(usual)
        self._policy = policy

    @classmethod
    def train(
        cls,
        sensor_events: Sequence[SensorRecord],
        system_events: Sequence[SystemRecord],
        *,
        since: float,
        until: float,
        policy: AnomalyPolicy = AnomalyPolicy(),
    ) -> AnomalyDetector:
        """Learn from the history in [since, until). Raises ValueError with too little
        history, and :class:`~homeguard.errors.FeatureUnavailable` for the forest without
        the ml extra."""
        if until - since < policy.min_days * DAY:
            raise ValueError(
                f"anomaly detection needs {policy.min_days:.0f} days of history to learn from"
            )
        acts = activations(sensor_events)
        panel = PanelTimeline.from_events(system_events)
        middle = since + (until - since) / 2
        rows: list[Window] = []
        halves = ((since, middle), (middle, until))
        for learn_from, score_on in (halves, halves[::-1]):
            half = ActivityProfile.learn(
                acts, *learn_from, panel=panel, utc_offset=policy.utc_offset
            )
            rows += windows(acts, panel, half, *score_on, length=policy.window)
        if len(rows) < 10:
            raise ValueError(f"too little activity to learn from ({len(rows)} windows)")
        model: Scorer = SurpriseScorer()
        if policy.model == "isolation_forest":
            model = ForestScorer(rows, policy.seed)
        scores = sorted(model.scores(rows), reverse=True)
        allowed = int(policy.flags_per_week * (until - since) / (7 * DAY))
        threshold = scores[min(allowed, len(scores) - 1)]
        usual = [_percentile([w.features[i] for w in rows], 0.99) for i in range(len(FEATURES))]
        profile = ActivityProfile.learn(
            acts, since, until, panel=panel, utc_offset=policy.utc_offset
        )
        return cls(
            profile=profile,
            model=model,
            threshold=threshold,
            usual=usual,
            policy=policy,
            trained_until=until,
        )

    def scored_windows(
        self,
        sensor_events: Sequence[SensorRecord],
        system_events: Sequence[SystemRecord],
        *,
        since: float,
        until: float,
    ) -> list[tuple[Window, float]]:
        """Every active window in [since, until) with its score (events from a little
        before ``since`` let the first window know what came before it)."""
        acts: list[Activation] = activations(sensor_events)
        panel = PanelTimeline.from_events(system_events)
        found = windows(acts, panel, self.profile, since, until, length=self._policy.window)
        return list(zip(found, self._model.scores(found), strict=True))

    def detect(
        self,
        sensor_events: Sequence[SensorRecord],
        system_events: Sequence[SystemRecord],
        *,
        since: float,
        until: float,
    ) -> list[Anomaly]:
        """The anomalies in [since, until)."""
        scored = self.scored_windows(sensor_events, system_events, since=since, until=until)
        flagged = [(w, s) for w, s in scored if s > self.threshold]
        anomalies: list[Anomaly] = []
        group: list[tuple[Window, float]] = []
        for window, score in flagged:
            if group and window.start - group[-1][0].end > self._policy.merge_gap:
                anomalies.append(self._anomaly(group))
                group = []
            group.append((window, score))
        if group:
            anomalies.append(self._anomaly(group))
        return anomalies

    def _anomaly(self, group: list[tuple[Window, float]]) -> Anomaly:
        worst, score = max(group, key=lambda pair: pair[1])
        devices = sorted({a.device for w, _ in group for a in w.acts})
        reasons = explain(worst, self._usual, self.profile)
        return Anomaly(group[0][0].start, group[-1][0].end, score, tuple(reasons), tuple(devices))


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0
