"""The promotion rule: one pure function, no I/O.

A candidate replaces the current model when at least ``min_improved`` of the three
configured metrics strictly improve (direction-aware; a change no larger than the
metric's ``min_delta`` is a tie) and it passes the post-train gate thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from sparkmlops.config import HIGHER_IS_BETTER, PromotionConfig

DISPLAY = {"rmse": "RMSE", "mae": "MAE", "r2": "R²"}
IMPROVED, WORSE, TIE, NOT_COMPARABLE = "improved", "worse", "tie", "not comparable"


def display(name: str) -> str:
    return DISPLAY.get(name, name.upper())


@dataclass(frozen=True)
class MetricRule:
    name: str
    higher_is_better: bool
    min_delta: float = 0.0


@dataclass(frozen=True)
class PromotionRule:
    metrics: tuple[MetricRule, ...]
    min_improved: int = 2

    @classmethod
    def from_config(cls, evaluation_metrics: Sequence[str], promotion: PromotionConfig) -> PromotionRule:
        rules = tuple(
            MetricRule(name, HIGHER_IS_BETTER[name], promotion.min_delta.get(name, 0.0)) for name in evaluation_metrics
        )
        return cls(rules, promotion.min_improved)


@dataclass(frozen=True)
class Decision:
    promote: bool
    outcome: str  # first_model | promoted | rejected | gate_failed | forced
    reason: str
    comparison: dict[str, str] = field(default_factory=dict)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def compare(current: float | None, candidate: float | None, rule: MetricRule) -> str:
    """How the candidate's value of one metric compares with the current model's."""
    if not _finite(candidate):
        return WORSE if _finite(current) else NOT_COMPARABLE
    if not _finite(current):
        return IMPROVED  # measurable beats unmeasurable
    delta = candidate - current if rule.higher_is_better else current - candidate
    if abs(delta) <= rule.min_delta:
        return TIE
    return IMPROVED if delta > 0 else WORSE


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _summary(comparison: dict[str, str]) -> str:
    parts = []
    for state, word in ((IMPROVED, "improved"), (WORSE, "worse"), (TIE, "tied"), (NOT_COMPARABLE, "not comparable")):
        names = [display(n) for n, s in comparison.items() if s == state]
        if names:
            parts.append(f"{_join(names)} {word}")
    return ", ".join(parts)


def decide(
    current: Mapping[str, float] | None,
    candidate: Mapping[str, float],
    rule: PromotionRule,
    gate_failures: Sequence[str] = (),
    force: bool = False,
) -> Decision:
    """Decide whether the candidate replaces the current model.

    Args:
        current: the current model's metrics on the test month, or None (no model yet).
        candidate: the candidate's metrics on the same month.
        rule: metrics with directions and min-deltas, and how many must improve.
        gate_failures: post-train gate violations of the candidate ([] = passed).
        force: promote whatever the metrics and gates say (recorded as ``forced``).

    Returns:
        The decision with a one-line human reason.
    """
    comparison = {m.name: compare(None if current is None else current.get(m.name), candidate.get(m.name), m) for m in rule.metrics}
    summary = _summary(comparison)
    if force:
        detail = f" ({summary})" if current is not None else ""
        gates = f"; gate failures ignored: {'; '.join(gate_failures)}" if gate_failures else ""
        return Decision(True, "forced", f"forced promotion{detail}{gates}", comparison)
    if gate_failures:
        return Decision(False, "gate_failed", f"rejected by post-train gate: {'; '.join(gate_failures)}", comparison)
    unmeasurable = [display(m.name) for m in rule.metrics if not _finite(candidate.get(m.name))]
    if unmeasurable:
        return Decision(False, "rejected", f"rejected: candidate {_join(unmeasurable)} is not a finite number", comparison)
    if current is None:
        return Decision(True, "first_model", "first model: no current model, candidate passed the post-train gate", comparison)
    improved = sum(state == IMPROVED for state in comparison.values())
    if improved >= rule.min_improved:
        return Decision(True, "promoted", f"promoted: {summary}", comparison)
    needed = f"{rule.min_improved} of {len(rule.metrics)} needed"
    return Decision(False, "rejected", f"kept current: {summary or 'no metric improved'}; {needed}", comparison)
