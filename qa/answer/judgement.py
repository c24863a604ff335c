"""The verdict of the entailment checks (:mod:`qa.answer.entail`): a label, the checks run and why."""

from __future__ import annotations

from dataclasses import dataclass, field

ENTAILED, CONTRADICTED, NOT_STATED = "entailed", "contradicted", "not_stated"


@dataclass
class Judgement:
    """The verdict on one claim against one evidence span, and the checks behind it."""

    label: str  # entailed | contradicted | not_stated
    checks: dict[str, bool] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def entailed(self) -> bool:
        return self.label == ENTAILED

    def fail(self, check: str, reason: str, label: str) -> None:
        self.checks[check] = False
        self.reasons.append(reason)
        if label == CONTRADICTED or self.label == ENTAILED:
            self.label = label if self.label != CONTRADICTED else CONTRADICTED
