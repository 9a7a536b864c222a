"""The twelve rules (and three time-series detectors), their defaults, and the rules file.

A rule is data: what it watches, its threshold, window, severity and scope. The defaults are
those of the agent-monitoring proof of concept (seed 004); a TOML file or the API changes them::

    cost_threshold_usd = 0.5        # the five classic knobs, top-level
    latency_threshold_ms = 5000
    error_rate_threshold = 0.1
    token_threshold = 8000
    spike_multiplier = 3.0
    quiet_period = "5m"             # an event rule's anomaly resolves after this long without a hit

    [rules.high_latency]
    threshold = 2000                # ms
    window = "5m"
    severity = "high"
    service = "checkout"            # scope: only this service / model / environment
    [rules.high_request_rate]
    enabled = false
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ...exceptions import ConfigError
from ...schema.vocabulary import AnomalyType, DetectionMethod, Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

RuleKind = Literal["event", "window"]
Kinds = tuple[str, ...]
LLM: Kinds = ("llm",)
BOTH: Kinds = ("llm", "prediction")

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object, what: str) -> float:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"30d"`` or a number of seconds, as seconds (> 0)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value.strip().lower())
        if match and float(match.group(1)) > 0:
            return float(match.group(1)) * _SECONDS[match.group(2)]
    raise ConfigError(f"{what}={value!r} is not a duration: use 30s, 5m, 1h, 7d or a number of seconds")


@dataclass(frozen=True)
class Rule:
    """One detection rule; frozen, so a change builds a new rule (``dataclasses.replace``)."""

    name: str
    kind: RuleKind
    anomaly_type: AnomalyType
    severity: Severity
    method: DetectionMethod
    threshold: float | None
    """The limit; for spike rules the multiple of the baseline; for rates per minute or hour."""
    window_s: float
    """Window rules: how far back they look; event rules: unused."""
    applies_to: Kinds
    action: str
    description: str
    unit: str = ""
    enabled: bool = True
    service: str | None = None
    model: str | None = None
    environment: str | None = None

    def in_scope(self, kind: str, service: str, model: str, environment: str) -> bool:
        """Whether a row or rollup of this target is one the rule watches."""
        return (
            self.enabled
            and kind in self.applies_to
            and (self.service is None or self.service == service)
            and (self.model is None or self.model == model)
            and (self.environment is None or self.environment == environment)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "enabled": self.enabled,
            "anomaly_type": self.anomaly_type.value,
            "severity": self.severity.value,
            "detection_method": self.method.value,
            "threshold": self.threshold,
            "unit": self.unit,
            "window_seconds": self.window_s,
            "applies_to": list(self.applies_to),
            "service": self.service,
            "model": self.model,
            "environment": self.environment,
            "description": self.description,
            "recommended_action": self.action,
        }


_T, _A = AnomalyType, DetectionMethod
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("high_cost", "event", _T.COST_ANOMALY, Severity.HIGH, _A.THRESHOLD, 0.5, 60, LLM,
         "Review the prompt size and model choice for this call, and set a per-request budget",
         "One call cost more than the threshold", "USD"),
    Rule("cost_spike", "window", _T.COST_ANOMALY, Severity.HIGH, _A.MAD, 3.0, 60, LLM,
         "Check for longer prompts, a more expensive model or a retry loop; compare with the baseline",
         "Cost per call is a multiple of its trailing-hour baseline", "x baseline"),
    Rule("high_latency", "event", _T.LATENCY_SPIKE, Severity.MEDIUM, _A.THRESHOLD, 5000, 60, BOTH,
         "Check the provider's status and the request size; consider a timeout, streaming or a faster model",
         "One call took longer than the threshold", "ms"),
    Rule("latency_spike", "window", _T.LATENCY_SPIKE, Severity.MEDIUM, _A.MAD, 3.0, 60, BOTH,
         "Check the provider or model server's health and load; compare with the baseline",
         "Mean latency is a multiple of its trailing-hour baseline", "x baseline"),
    Rule("high_token_usage", "event", _T.TOKEN_USAGE_SPIKE, Severity.MEDIUM, _A.THRESHOLD, 8000, 60, LLM,
         "Trim the context (history, retrieved documents) and cap max_tokens",
         "One call used more tokens than the threshold", "tokens"),
    Rule("token_spike", "window", _T.TOKEN_USAGE_SPIKE, Severity.MEDIUM, _A.MAD, 3.0, 60, LLM,
         "Look for growing conversation history or retrieval returning too much; cap max_tokens",
         "Tokens per call are a multiple of their trailing-hour baseline", "x baseline"),
    Rule("request_failure", "event", _T.ERROR_RATE_INCREASE, Severity.HIGH, _A.THRESHOLD, None, 60, LLM,
         "Check the error type, the API key and quota, and the provider's status; add retries with backoff",
         "A call failed"),
    Rule("prompt_injection", "event", _T.SECURITY_THREAT, Severity.CRITICAL, _A.THRESHOLD, None, 60, LLM,
         "Block or sanitise the input, review the user's recent requests, and harden the system prompt",
         "A prompt matched prompt-injection patterns"),
    Rule("pii_detected", "event", _T.SECURITY_THREAT, Severity.HIGH, _A.THRESHOLD, None, 60, LLM,
         "Implement PII scrubbing and review data handling policies",
         "Personally identifiable information (PII) in a prompt or answer"),
    Rule("high_error_rate", "window", _T.ERROR_RATE_INCREASE, Severity.CRITICAL, _A.THRESHOLD, 0.1, 300,
         BOTH, "Check recent deployments, the provider's status and the error messages; roll back if needed",
         "The share of failed calls in the window is above the threshold", "ratio"),
    Rule("model_errors", "window", _T.ERROR_RATE_INCREASE, Severity.HIGH, _A.THRESHOLD, 5, 300, BOTH,
         "Look at this model's recent errors; check its version, inputs and the serving infrastructure",
         "Many failed calls for one model in the window", "errors"),
    Rule("high_request_rate", "window", _T.COST_ANOMALY, Severity.MEDIUM, _A.THRESHOLD, 50, 60, BOTH,
         "Check for loops or abuse; add rate limiting and caching",
         "More requests per minute than the threshold", "requests/min"),
    Rule("high_cost_rate", "window", _T.COST_ANOMALY, Severity.HIGH, _A.THRESHOLD, 10.0, 3600, LLM,
         "Find the callers and models behind the spend; set budgets and alerts per team",
         "More spend per hour than the threshold", "USD/hour"),
    Rule("throughput_degradation", "window", _T.THROUGHPUT_DEGRADATION, Severity.MEDIUM, _A.MAD, 3.0, 60,
         BOTH, "Check whether clients still reach the service, and upstream failures or deploys",
         "Requests per minute fell to a fraction (1/threshold) of the trailing-hour baseline", "x below"),
)  # fmt: skip
"""The defaults: the twelve rules of seed 004, plus token_spike and throughput_degradation."""

KNOBS: Mapping[str, tuple[str, ...]] = {
    "cost_threshold_usd": ("high_cost",),
    "latency_threshold_ms": ("high_latency",),
    "error_rate_threshold": ("high_error_rate",),
    "token_threshold": ("high_token_usage",),
    "spike_multiplier": ("cost_spike", "latency_spike", "token_spike"),
}
"""The five classic knobs and the rules whose threshold each sets."""


@dataclass(frozen=True)
class RuleSet:
    """Every rule by name, and how long an event rule's anomaly stays open without a new hit."""

    rules: Mapping[str, Rule] = field(default_factory=lambda: {rule.name: rule for rule in DEFAULT_RULES})
    quiet_period_s: float = 300.0

    def __iter__(self) -> Any:
        return iter(self.rules.values())

    def knobs(self) -> dict[str, float | None]:
        return {knob: self.rules[names[0]].threshold for knob, names in KNOBS.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            **self.knobs(),
            "quiet_period_seconds": self.quiet_period_s,
            "rules": [rule.to_json() for rule in self.rules.values()],
        }

    def updated(self, settings: Mapping[str, Any], where: str = "rules") -> RuleSet:
        """A copy with ``settings`` (the rules file's shape) applied; ConfigError names what's wrong."""
        rules = dict(self.rules)
        quiet = self.quiet_period_s
        for key, value in settings.items():
            if key in KNOBS:
                threshold = _number(value, f"{where}: {key}")
                for name in KNOBS[key]:
                    rules[name] = replace(rules[name], threshold=threshold)
            elif key in ("quiet_period", "quiet_period_seconds"):
                quiet = parse_duration(value, f"{where}: {key}")
            elif key == "rules":
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{where}: 'rules' must be a table of rule names")
                for name, changes in value.items():
                    rules[name] = _changed(rules, name, changes, where)
            else:
                raise ConfigError(
                    f"{where}: unknown setting {key!r}; expected one of "
                    f"{', '.join([*KNOBS, 'quiet_period', 'rules'])}"
                )
        return RuleSet(rules, quiet)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{what}={value!r} must be a number >= 0")
    return float(value)


def _optional_name(value: object, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{what}={value!r} must be a string")
    return value


def _enabled(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be true or false")
    return value


def _severity(value: object, what: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        levels = ", ".join(s.value for s in Severity)
        raise ConfigError(f"{what}={value!r}: use {levels}") from None


_RULE_KEYS: Mapping[str, tuple[str, Callable[[object, str], Any]]] = {
    "enabled": ("enabled", _enabled),
    "threshold": ("threshold", _number),
    "window": ("window_s", parse_duration),
    "severity": ("severity", _severity),
    "service": ("service", _optional_name),
    "model": ("model", _optional_name),
    "environment": ("environment", _optional_name),
}
"""The keys of a ``[rules.NAME]`` table: the :class:`Rule` field each sets, and its parser."""


def _changed(rules: Mapping[str, Rule], name: str, changes: object, where: str) -> Rule:
    if name not in rules:
        raise ConfigError(f"{where}: unknown rule {name!r}; the rules are {', '.join(rules)}")
    if not isinstance(changes, Mapping):
        raise ConfigError(f"{where}: rules.{name} must be a table (enabled, threshold, window, ...)")
    unknown = set(changes) - set(_RULE_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: rules.{name} has unknown keys {sorted(unknown)}; use {', '.join(sorted(_RULE_KEYS))}"
        )
    what = f"{where}: rules.{name}"
    fields = {
        attribute: parse(changes[key], f"{what}.{key}")
        for key, (attribute, parse) in _RULE_KEYS.items()
        if key in changes
    }
    return replace(rules[name], **fields)


def read_rules_file(path: str | Path) -> dict[str, Any]:
    """The rules file at ``path``, parsed; ConfigError when it can't be read or isn't TOML.

    Detection reads its settings from it; its ``alerts`` table belongs to the alert channels
    (:func:`aither.server.alerts.parse_channels`).
    """
    file = Path(path).expanduser()
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"can't read the rules file {str(file)!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the rules file {str(file)!r} is not valid TOML: {exc}") from None


def load_rules(path: str | Path | None) -> RuleSet:
    """The defaults, changed by the TOML file at ``path`` (None: the defaults)."""
    if path is None:
        return RuleSet()
    settings = {k: v for k, v in read_rules_file(path).items() if k != "alerts"}
    return RuleSet().updated(settings, where=str(Path(path).expanduser()))
