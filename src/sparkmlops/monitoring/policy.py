"""The use case's monitoring policy: what drift and the current model's live metrics do.

A finding is a crossed threshold with its action: ``warn`` (a report entry and a console
line), ``consider_candidate`` (promote the candidate even if the 2-of-3 rule would keep
the current model; the gate and an unmeasurable candidate still win) or ``fail`` (the run
writes its report and registry decision, promotes nothing, and exits 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from sparkmlops.config import DriftPolicy, LiveMetricsPolicy
from sparkmlops.errors import PolicyError
from sparkmlops.gates import metric_threshold_failures

WARN, CONSIDER, FAIL = "warn", "consider_candidate", "fail"
NAMES_LISTED = 5


@dataclass(frozen=True)
class Finding:
    source: str  # "drift" | "live_metrics"
    action: str
    message: str


def drift_finding(drift: Mapping, policy: DriftPolicy, month: str) -> Finding | None:
    """More flagged features than ``max_flagged_features`` (a drift section that was not measured: none)."""
    if drift.get("status") != "ok" or drift["flagged_features"] <= policy.max_flagged_features:
        return None
    names = sorted({item["feature"] for item in drift["flagged"]})
    listed = ", ".join(names[:NAMES_LISTED]) + (f" and {len(names) - NAMES_LISTED} more" if len(names) > NAMES_LISTED else "")
    return Finding("drift", policy.action, f"{len(names)} drifted feature(s) on {month} ({listed}), more than the "
                                           f"{policy.max_flagged_features} allowed")


def live_metrics_finding(current_evaluation: Mapping | None, policy: LiveMetricsPolicy, month: str) -> Finding | None:
    """The current model's metrics on a month it never saw, against the policy's thresholds."""
    if current_evaluation is None or not policy.thresholds:
        return None
    failures = metric_threshold_failures(current_evaluation["overall"], policy.thresholds,
                                         current_evaluation.get("undefined", {}))
    if not failures:
        return None
    return Finding("live_metrics", policy.action, f"current model's {'; '.join(failures)} on {month}")


@dataclass(frozen=True)
class PolicyResult:
    findings: tuple[Finding, ...]
    stage: str  # train | predict
    forced: bool = False  # train --force: a fail is reported, not enforced

    def _messages(self, action: str) -> list[str]:
        return [finding.message for finding in self.findings if finding.action == action]

    @property
    def consider(self) -> list[str]:
        return self._messages(CONSIDER) if self.stage == "train" else []

    @property
    def fail(self) -> list[str]:
        return [] if self.forced else self._messages(FAIL)

    @property
    def warnings(self) -> list[str]:
        """Console lines: warn findings, and whatever has no effect at this stage."""
        lines = self._messages(WARN)
        if self.stage == "predict":
            lines += [f"{m} (consider_candidate has no effect on predict: no candidate is trained)"
                      for m in self._messages(CONSIDER)]
        if self.forced:
            lines += [f"{m} (action fail overridden by --force)" for m in self._messages(FAIL)]
        return lines

    def as_report(self) -> dict:
        report = {"stage": self.stage, "findings": [asdict(finding) for finding in self.findings],
                  "warnings": self.warnings, "consider_candidate": self.consider, "fail": self.fail,
                  "failed": bool(self.fail)}
        if self.stage == "predict" and self._messages(CONSIDER):
            report["note"] = "consider_candidate acts on train runs only; on predict it is reported as a warning"
        return report


def policy_error(usecase: str, month: str, stage: str, fail: list[str], written: str) -> PolicyError:
    return PolicyError(
        f"The monitoring policy of {usecase} failed the {stage} run of {month}: {'; '.join(fail)}.",
        f"monitoring.policy in the use case YAML sets action: fail for this check; {written}",
        "Read the report's drift, live_performance and policy sections; fix the data or retrain, or change the "
        "policy's thresholds or action (warn, consider_candidate). A rerun of the same month with the same data, "
        "config and code fails the same way.",
    )
