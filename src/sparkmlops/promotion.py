"""The promotion rule: one pure function, no I/O.

A candidate replaces the current model when at least ``min_improved`` of the configured
metrics strictly improve (direction-aware; a change no larger than the metric's
``min_delta`` is a tie) and it passes the post-train gate thresholds. The registry
records the returned :class:`Decision`; the reports show its one-line reason.

Order of the checks in :func:`decide` (the first that applies wins):

1. a NaN/inf/missing candidate metric: ``rejected`` — an unmeasurable candidate is
   never promoted, not even with ``force`` (its predictions cannot be trusted either);
2. ``force``: ``forced`` — promoted whatever the comparison and the gates say;
3. post-train gate failures: ``gate_failed``;
4. a monitoring policy that fails the run (``hold``): ``policy_failed``, not promoted;
5. no current model: ``first_model``;
6. enough improved metrics: ``promoted``;
7. a monitoring policy that asks to consider the candidate (``consider``):
   ``policy_promoted``, else ``rejected``.

:func:`hold_out_of_order` then keeps a month older than the newest decided one from
changing the current model (``out_of_order``), unless the decision was forced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from sparkmlops.config import PromotionConfig
from sparkmlops.tasks.catalog import METRICS, display
IMPROVED, WORSE, TIE, NOT_COMPARABLE = "improved", "worse", "tie", "not comparable"
FIRST_MODEL, PROMOTED, REJECTED, FORCED, GATE_FAILED = "first_model", "promoted", "rejected", "forced", "gate_failed"
POLICY_PROMOTED, POLICY_FAILED, OUT_OF_ORDER = "policy_promoted", "policy_failed", "out_of_order"

# How each comparison state reads in a reason ("RMSE tied", not "RMSE tie").
_STATE_WORDS = ((IMPROVED, "improved"), (WORSE, "worse"), (TIE, "tied"), (NOT_COMPARABLE, "not comparable"))


@dataclass(frozen=True)
class MetricRule:
    """One metric of the rule.

    Attributes:
        name: metric key in the metric mappings (``rmse``, ``mae``, ``r2``…).
        higher_is_better: direction of improvement.
        min_delta: a change whose size is at most this counts as a tie.
    """

    name: str
    higher_is_better: bool
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ValueError(f"min_delta of {self.name} must be a finite number >= 0, got {self.min_delta}")


@dataclass(frozen=True)
class PromotionRule:
    """The metrics compared and how many of them must improve.

    Attributes:
        metrics: the metric rules, in the order reasons list them.
        min_improved: improved metrics needed to promote.
    """

    metrics: tuple[MetricRule, ...]
    min_improved: int = 2

    def __post_init__(self) -> None:
        names = [m.name for m in self.metrics]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a promotion rule needs distinct metrics, got {names}")
        if not 1 <= self.min_improved <= len(names):
            raise ValueError(f"min_improved must be between 1 and {len(names)}, got {self.min_improved}")

    @classmethod
    def from_config(cls, task: str, evaluation_metrics: Sequence[str], promotion: PromotionConfig) -> PromotionRule:
        """Build the rule from the task, ``evaluation.metrics`` and the ``promotion`` section.

        Args:
            task: the use case's task (the metrics' directions are the task's).
            evaluation_metrics: the use case's metric names.
            promotion: ``min_improved`` and the per-metric ``min_delta``.

        Raises:
            ValueError: a metric the task does not have.
        """
        directions = METRICS[task]
        unknown = [name for name in evaluation_metrics if name not in directions]
        if unknown:
            raise ValueError(f"no known direction for metric(s) {unknown} of task {task}; known: {sorted(directions)}")
        rules = tuple(
            MetricRule(name, directions[name], float(promotion.min_delta.get(name, 0.0)))
            for name in evaluation_metrics
        )
        return cls(rules, promotion.min_improved)


@dataclass(frozen=True)
class Decision:
    """What to do with a candidate, and why.

    Attributes:
        promote: whether the candidate becomes the current model.
        outcome: ``first_model`` | ``promoted`` | ``rejected`` | ``gate_failed`` | ``forced`` |
            ``policy_promoted`` | ``policy_failed`` | ``out_of_order``.
        reason: one human line for logs, reports and ``registry history``.
        comparison: metric → ``improved`` | ``worse`` | ``tie`` | ``not comparable``.
    """

    promote: bool
    outcome: str
    reason: str
    comparison: dict[str, str] = field(default_factory=dict)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def compare(current: float | None, candidate: float | None, rule: MetricRule) -> str:
    """How the candidate's value of one metric compares with the current model's.

    Args:
        current: the current model's value (None or NaN: unmeasured).
        candidate: the candidate's value (None or NaN: unmeasured).
        rule: direction and tie band of the metric.

    Returns:
        ``improved``, ``worse``, ``tie`` or ``not comparable`` (neither is measurable).
    """
    if not _finite(candidate):
        return WORSE if _finite(current) else NOT_COMPARABLE
    if not _finite(current):
        return IMPROVED  # a measurable model beats an unmeasurable one
    gain = candidate - current if rule.higher_is_better else current - candidate
    if abs(gain) <= rule.min_delta:
        return TIE
    return IMPROVED if gain > 0 else WORSE


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _names(comparison: Mapping[str, str], state: str) -> list[str]:
    return [display(name) for name, value in comparison.items() if value == state]


def _summary(comparison: Mapping[str, str], states: Sequence[str] = tuple(s for s, _ in _STATE_WORDS)) -> str:
    """``"RMSE and MAE improved, R² worse"`` for the given comparison states."""
    words = dict(_STATE_WORDS)
    return ", ".join(f"{_join(names)} {words[state]}" for state in states if (names := _names(comparison, state)))


def _unmeasurable(candidate: Mapping[str, float], rule: PromotionRule, undefined: Mapping[str, str]) -> list[str]:
    problems = []
    for metric in rule.metrics:
        value = candidate.get(metric.name)
        if metric.name in undefined:
            problems.append(f"{display(metric.name)} is undefined on the test month ({undefined[metric.name]})")
        elif not _finite(value):
            problems.append(f"{display(metric.name)} is not a finite number ({'missing' if value is None else value})")
    return problems


def decide(
    current: Mapping[str, float] | None,
    candidate: Mapping[str, float],
    rule: PromotionRule,
    gate_failures: Sequence[str] = (),
    force: bool = False,
    undefined: Mapping[str, str] | None = None,
    consider: Sequence[str] = (),
    hold: Sequence[str] = (),
) -> Decision:
    """Decide whether the candidate replaces the current model.

    Args:
        current: the current model's metrics on the test month, or None (no model yet).
        candidate: the candidate's metrics on the same month.
        rule: metrics with directions and min-deltas, and how many must improve.
        gate_failures: post-train gate violations of the candidate (empty = passed),
            e.g. ``"RMSE 12.3 >= max 10"``.
        force: promote whatever the comparison and the gates say (outcome ``forced``);
            an unmeasurable candidate is still rejected.
        undefined: metric -> why it is undefined on the test month (e.g. no row predicted
            positive); such a metric never counts as an improvement.
        consider: why a monitoring policy wants a retrained model (e.g. ``"current ROC AUC
            0.62 <= min 0.7 on 2023-05"``): a candidate the rule would keep out is promoted.
        hold: why a monitoring policy fails the run: the candidate is not promoted.

    Returns:
        The decision, its outcome, the per-metric comparison and a one-line reason.
        Without a current model every metric is ``not comparable``.
    """
    if current is None:
        comparison = {m.name: NOT_COMPARABLE for m in rule.metrics}
    else:
        comparison = {m.name: compare(current.get(m.name), candidate.get(m.name), m) for m in rule.metrics}

    unmeasurable = _unmeasurable(candidate, rule, undefined or {})
    if unmeasurable:
        ignored = " (force ignored)" if force else ""
        return Decision(
            False, REJECTED,
            f"rejected{ignored}: candidate {'; '.join(unmeasurable)}; an unmeasurable candidate is never promoted",
            comparison,
        )

    if force:
        details = [_summary(comparison) if current is not None else "no current model"]
        if gate_failures:
            details.append(f"gate failures ignored: {'; '.join(gate_failures)}")
        return Decision(True, FORCED, f"forced: promoted regardless of the rule ({'; '.join(details)})", comparison)

    if gate_failures:
        return Decision(False, GATE_FAILED, f"rejected by post-train gate: {'; '.join(gate_failures)}", comparison)

    if hold:
        return Decision(False, POLICY_FAILED, f"not promoted, the monitoring policy failed the run: {'; '.join(hold)}",
                        comparison)

    if current is None:
        return Decision(True, FIRST_MODEL, "first model: no current model, candidate passed the post-train gate", comparison)

    improved = _names(comparison, IMPROVED)
    if len(improved) >= rule.min_improved:
        return Decision(True, PROMOTED, f"promoted: {_summary(comparison)}", comparison)
    others = _summary(comparison, (WORSE, TIE, NOT_COMPARABLE))
    head = f"only {_join(improved)} improved" if improved else "no metric improved"
    if others:
        head += f" ({others})"
    needed = f"{rule.min_improved} of {len(rule.metrics)} needed"
    if consider:
        return Decision(True, POLICY_PROMOTED, f"promoted by policy: {'; '.join(consider)} (the rule alone would keep "
                        f"the current model: {head}; {needed})", comparison)
    return Decision(False, REJECTED, f"kept current: {head}; {needed}", comparison)


def hold_out_of_order(decision: Decision, test_month: str, newest_decided: str | None) -> Decision:
    """A test month older than the newest decided month is recorded but never changes the current model.

    Backfilling or re-running an old month after a newer one must not replace a model
    chosen on newer data: the current model may even have been trained on that old month.
    The evaluation is kept (outcome ``out_of_order``) so the month's report exists; an
    operator who really wants the old month's model uses ``--force``.
    """
    if newest_decided is None or test_month >= newest_decided or decision.outcome == FORCED:
        return decision
    verdict = ("would have been promoted" if decision.promote
               else "would not have been promoted either")
    return Decision(
        False, OUT_OF_ORDER,
        f"recorded, not promoted: test month {test_month} is older than {newest_decided}, the newest month already "
        f"decided; an older month never changes the current model (by the rule it {verdict}: {decision.reason})",
        decision.comparison,
    )
