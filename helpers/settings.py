"""The names and knobs of one deployment ("stack"), parsed strictly, once, before anything is created.

Every notebook's ``parameters`` cell, the pipeline and the ``ttl-archive`` command line build one frozen
:class:`Settings` with :meth:`Settings.from_env` (defaults, then ``TTL_ARCHIVE_*`` variables, then keyword
overrides such as command-line flags). A :class:`Settings` is valid or it does not exist: construction
checks every field against its rule (AWS's naming rules, ranges, types) and raises :class:`SettingsError`
naming the variable, the value and the rule. The resource modules trust the Settings they are given.

Environment values are parsed strictly: booleans are only ``true/false/1/0/yes/no`` (any case), numbers
are whole where they must be (``5``, not ``5.0`` or ``five``), an empty value means "not set".

Adding a setting is one line in :class:`Settings`::

    parallelization_factor: int = setting("PARALLELIZATION_FACTOR", 1, Whole(1, 10))

Variables that are not fields (what ``05_verify`` writes, the local runtime's knobs...) are listed in
:data:`PARAMETERS`; :func:`parameter` reads one strictly, and :meth:`Settings.from_env` checks every one
that is set, so a bad one stops a notebook in its ``parameters`` cell.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping

from . import validation

LOG = logging.getLogger(__name__)

MANAGED_BY_KEY = "managed-by"
MANAGED_BY_VALUE = "dynamodb-ttl-archive"
STACK_TAG_KEY = "ttl-archive-stack"

ENV_PREFIX = "TTL_ARCHIVE_"
DEFAULT_STACK = "ttl-archive-demo"
TARGETS = ("local", "aws")


class SettingsError(ValueError):
    """An invalid setting: ``variable`` (e.g. ``TTL_ARCHIVE_BUFFER_SIZE_MIB``), the ``value`` given, the ``rule``."""

    def __init__(self, variable: str, value: object, rule: str) -> None:
        super().__init__(f"invalid {variable}={value!r}: {rule}")
        self.variable, self.value, self.rule = variable, value, rule


class Broken(Exception):
    """Raised by a :class:`Rule` with the rule in words; turned into a :class:`SettingsError` naming the variable."""


# --------------------------------------------------------------------------- rules


class Rule:
    """How one setting is parsed from text (``parse``) and checked as a value (``check``)."""

    text = ""

    def parse(self, raw: str) -> Any:
        return self.check(raw)

    def check(self, value: Any) -> Any:
        return value

    def broken(self) -> Broken:
        return Broken(self.text)


class Flag(Rule):
    """A boolean: true/false/1/0/yes/no in any case; a Python ``bool`` when given directly."""

    TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")
    text = "must be one of true, false, 1, 0, yes, no (any case)"

    def parse(self, raw: str) -> bool:
        word = raw.strip().lower()
        if word in self.TRUE or word in self.FALSE:
            return word in self.TRUE
        raise self.broken()

    def check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.broken()
        return value


class Whole(Rule):
    """A whole number from ``low`` to ``high`` (inclusive)."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self.text = f"must be a whole number from {low} to {high}"

    def parse(self, raw: str) -> int:
        if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", raw):
            raise self.broken()
        return self.check(int(raw))

    def check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
            raise self.broken()
        return value


class Number(Rule):
    """A finite number greater than ``low`` (or equal to it when ``inclusive``) and at most ``high``."""

    def __init__(self, low: float, high: float, *, inclusive: bool = False) -> None:
        self.low, self.high, self.inclusive = low, high, inclusive
        self.text = f"must be a number {'from' if inclusive else 'greater than'} {low:g} {'to' if inclusive else 'and at most'} {high:g}"

    def parse(self, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise self.broken() from None
        return self.check(value)

    def check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.broken()
        if not (self.low <= value if self.inclusive else self.low < value) or value > self.high:
            raise self.broken()
        return float(value)


class Choice(Rule):
    """One of ``options``; ``optional``: also None (an empty variable). ``fold`` normalises the text (e.g. ``str.lower``)."""

    def __init__(self, options: tuple[str, ...], *, optional: bool = False, fold: Callable[[str], str] | None = None) -> None:
        self.options, self.optional, self.fold = options, optional, fold
        self.text = f"must be one of {', '.join(options)}" + (" (or empty for none)" if optional else "")

    def parse(self, raw: str) -> str | None:
        raw = raw.strip()
        return self.check(self.fold(raw) if self.fold else raw)

    def check(self, value: Any) -> str | None:
        if value is None and self.optional:
            return None
        if value not in self.options:
            raise self.broken()
        return value


class Name(Rule):
    """A name checked by a :mod:`helpers.validation` function; ``derived``: empty means "derive from the stack"."""

    def __init__(self, validator: Callable[[str], str], *, derived: bool = False) -> None:
        self.validator, self.derived = validator, derived

    def check(self, value: Any) -> str:
        if self.derived and value == "":
            return value
        try:
            return self.validator(value)
        except validation.RuleError as err:
            raise Broken(err.rule) from None


class Text(Rule):
    """Text matching ``pattern`` (the whole value); ``optional``: also None (an empty variable)."""

    def __init__(self, pattern: str, rule: str, *, optional: bool = False) -> None:
        self.pattern, self.optional, self.text = re.compile(pattern), optional, rule

    def check(self, value: Any) -> str | None:
        if value is None and self.optional:
            return None
        if not isinstance(value, str) or not self.pattern.fullmatch(value):
            raise self.broken()
        return value


def _attribute(kind: str) -> Callable[[str], str]:
    return lambda value: validation.attribute_name(value, kind)


def setting(env: str | None, default: Any, rule: Rule, *, flag: str | None = None) -> Any:
    """A :class:`Settings` field read from ``TTL_ARCHIVE_<env>`` (None: not from the environment), checked by ``rule``.

    ``flag`` names the command-line option that also sets it (for error messages)."""
    return field(default=default, metadata={"env": ENV_PREFIX + env if env else None, "rule": rule, "flag": flag})


# --------------------------------------------------------------------------- the settings


@dataclass(frozen=True)
class Settings:
    """One stack's names and knobs; valid by construction (see the module docstring)."""

    stack: str = setting("STACK", DEFAULT_STACK, Name(validation.stack_name), flag="--stack")
    target: str = setting("TARGET", "local", Choice(TARGETS, fold=str.lower), flag="--target")
    # DynamoDB
    table_name: str = setting("TABLE", "", Name(validation.table_name, derived=True), flag="--existing-table")
    partition_key: str = setting("PARTITION_KEY", "id", Name(_attribute("partition key name")))
    sort_key: str = setting("SORT_KEY", "timestamp", Name(_attribute("sort key name")))
    ttl_attribute: str = setting("TTL_ATTRIBUTE", "expires_at", Name(_attribute("TTL attribute name")))
    existing_table: bool = setting("EXISTING_TABLE", False, Flag(), flag="--existing-table")  # the table belongs to the application
    # S3 and Firehose
    bucket_name: str = setting("BUCKET", "", Name(validation.bucket_name, derived=True))  # default <stack>-<account>-<region> (with_account)
    archive_prefix: str = setting("ARCHIVE_PREFIX", "archive/", Name(lambda v: validation.prefix(v, "archive prefix")))
    error_prefix: str = setting("ERROR_PREFIX", "errors/", Name(lambda v: validation.prefix(v, "error prefix")))
    buffer_size_mib: int = setting("BUFFER_SIZE_MIB", 5, Whole(1, 128))
    buffer_interval_seconds: int = setting("BUFFER_INTERVAL_SECONDS", 60, Whole(0, 900))
    glacier_class: str | None = setting("GLACIER_CLASS", None, Choice(validation.GLACIER_CLASSES, optional=True, fold=str.upper))
    glacier_after_days: int = setting("GLACIER_AFTER_DAYS", 90, Whole(0, 36500))
    delivery_stream_name: str = setting(None, "", Name(validation.delivery_stream_name, derived=True))
    firehose_role_name: str = setting(None, "", Name(validation.role_name, derived=True))
    # Optional SSE-KMS with a customer managed key in the bucket's region (None: SSE-S3). Carried through the bucket's
    # default encryption, the Firehose role's KMS statement and the Firehose destination (docs/scale.md, helpers.iam).
    kms_key_arn: str | None = setting("KMS_KEY", None, Text(validation.KMS_KEY_ARN_PATTERN, validation.KMS_KEY_ARN_RULE, optional=True))
    # Lambda
    function_name: str = setting(None, "", Name(validation.function_name, derived=True))
    lambda_role_name: str = setting(None, "", Name(validation.role_name, derived=True))
    failure_queue_name: str = setting(None, "", Name(validation.queue_name, derived=True))
    # The trigger's concurrent batches per stream shard (Lambda's ParallelizationFactor).
    parallelization_factor: int = setting("PARALLELIZATION_FACTOR", 1, Whole(1, 10))
    # Alarm notifications: an SNS topic as the alarms' action (helpers.alarm_topic); an address turns it on
    alarm_topic: bool = setting("ALARM_TOPIC", False, Flag())
    alarm_email: str | None = setting("ALARM_EMAIL", None, Text(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}", "must be an email address (name@example.com), or empty for none", optional=True))
    alarm_topic_name: str = setting(None, "", Name(validation.topic_name, derived=True))
    extra_tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in fields(self):
            rule = f.metadata.get("rule")
            if rule is not None:
                value = getattr(self, f.name)
                try:
                    object.__setattr__(self, f.name, rule.check(value))
                except Broken as err:
                    raise SettingsError(_label(f), value, str(err)) from None
        derived = {
            "table_name": f"{self.stack}-items",
            "delivery_stream_name": f"{self.stack}-archive",
            "firehose_role_name": f"{self.stack}-firehose",
            "function_name": f"{self.stack}-archiver",
            "lambda_role_name": f"{self.stack}-archiver",
            "failure_queue_name": f"{self.stack}-archiver-failures",
            "alarm_topic_name": f"{self.stack}-alarms",
        }
        for key, value in derived.items():
            if not getattr(self, key):
                object.__setattr__(self, key, value)
        if self.alarm_email and not self.alarm_topic:
            object.__setattr__(self, "alarm_topic", True)  # an address to notify needs the topic
        self._check_together()

    def _check_together(self) -> None:
        """Rules that involve two settings."""
        if self.partition_key == self.sort_key:
            raise SettingsError("TTL_ARCHIVE_SORT_KEY", self.sort_key, "the partition key and the sort key must differ")
        if self.archive_prefix.startswith(self.error_prefix) or self.error_prefix.startswith(self.archive_prefix):
            raise SettingsError("TTL_ARCHIVE_ERROR_PREFIX", self.error_prefix, f"the archive and error prefixes must not contain one another (archive prefix {self.archive_prefix!r})")
        if not self.existing_table and self.ttl_attribute == self.partition_key:
            raise SettingsError(
                "TTL_ARCHIVE_TTL_ATTRIBUTE", self.ttl_attribute,
                "the TTL attribute must be a Number; the partition key of a new table is a String, so no item would ever expire",
            )
        if not isinstance(self.extra_tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and 1 <= len(k) <= 128 and len(v) <= 256 and not k.startswith("aws:") for k, v in self.extra_tags.items()
        ):
            raise SettingsError("extra_tags", self.extra_tags, "tags are string keys of 1-128 characters (not starting with 'aws:') and string values of at most 256")

    # ----------------------------------------------------------------------- building

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, sources: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Defaults, then ``TTL_ARCHIVE_*`` variables (``environ``, default ``os.environ``), then ``overrides``.

        Every variable of :data:`PARAMETERS` that is set is checked too. Raises :class:`SettingsError`
        naming the variable (or, for an override, ``sources[field]`` such as ``--stack``, else the field).
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            variable = f.metadata.get("env")
            raw = env.get(variable, "") if variable else ""
            if variable and raw != "" and f.name not in overrides:
                try:
                    values[f.name] = f.metadata["rule"].parse(raw)
                except Broken as err:
                    raise SettingsError(variable, raw, str(err)) from None
        for name in PARAMETERS:
            parameter(name, env)
        _warn_unknown(env)
        values.update(overrides)
        try:
            return cls(**values)  # type: ignore[arg-type]
        except SettingsError as err:
            field_name = _field_of(err.variable)
            if field_name in overrides:
                where = (sources or {}).get(field_name) or f"{field_name} (given as an argument)"
                raise SettingsError(where, err.value, err.rule) from None
            raise

    def with_account(self, account_id: str, region: str) -> "Settings":
        """Fill the names that need the account: the bucket name must be globally unique."""
        if self.bucket_name:
            return self
        return replace(self, bucket_name=f"{self.stack}-{account_id}-{region}".lower())

    def tags(self) -> dict[str, str]:
        """The tags every created resource carries; teardown deletes only what carries them."""
        return {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_TAG_KEY: self.stack, **self.extra_tags}

    def warnings(self) -> list[str]:
        """Valid choices with a trade-off the operator should know about (printed by deploy and notebook 01)."""
        notes = []
        if not self.existing_table and self.ttl_attribute == self.sort_key:
            notes.append(
                f"TTL is on the sort key {self.sort_key!r}: every item carries it, so every item expires at that time, "
                f"and an item's expiry cannot be removed or moved without deleting the item and writing it again under "
                f"a new key (key attributes cannot be updated). Use a separate attribute (the default expires_at) "
                f"when some items must be kept or their lifetime extended."
            )
        return notes

    def describe(self) -> dict[str, Any]:
        """Every name and knob, for display (deploy prints it before creating anything)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _label(f: Any) -> str:
    return f.metadata.get("env") or f.name


def _field_of(variable: str) -> str:
    for f in fields(Settings):
        if variable in (f.metadata.get("env"), f.name):
            return f.name
    return ""


# --------------------------------------------------------------------------- other variables

# TTL_ARCHIVE_* variables read outside Settings (notebook parameters, the local runtime), one line each:
# name without the prefix -> (default, rule). Settings.from_env checks every one that is set.
PARAMETERS: dict[str, tuple[Any, Rule]] = {
    "LOCAL_PORT": (4599, Whole(1, 65535)),
    "LOCAL_TTL_INTERVAL": (1.0, Number(0.05, 3600, inclusive=True)),
    "LOCAL_POLL_SECONDS": (0.25, Number(0.01, 3600, inclusive=True)),
    "LOCAL_RETRY_SECONDS": (0.2, Number(0, 3600, inclusive=True)),
    "LOCAL_FIREHOSE_FLUSH_SECONDS": (1.0, Number(0.05, 3600, inclusive=True)),
    "LOCAL_WORKER_IDLE_SECONDS": (30.0, Number(1, 86400, inclusive=True)),
    "LOCAL_STREAM_RETENTION_SECONDS": (86400.0, Number(1, 7 * 86400, inclusive=True)),
    "LOCAL_STATE_SAVE_SECONDS": (60.0, Number(0.2, 86400, inclusive=True)),
    "LOCAL_LOG_LEVEL": ("INFO", Choice(("DEBUG", "INFO", "WARNING", "ERROR"), fold=str.upper)),
    "VERIFY_ITEMS": (100, Whole(1, 1_000_000)),
    "VERIFY_FUTURE_ITEMS": (5, Whole(0, 100_000)),
    "VERIFY_TIMEOUT": (120.0, Number(0, 7 * 86400)),
    "VERIFY_NEW_RUN": (False, Flag()),
    "FORCE_TEARDOWN": (False, Flag()),
    "ANALYZE_HOURS": (None, Number(0, 24 * 366 * 10)),
    "DELETE_EXPORT": (False, Flag()),
    "ANALYZE": ("sample", Choice(("sample", "pipeline"), fold=str.lower)),
    "SAMPLE_DAYS": (30, Whole(1, 366)),
    "SAMPLE_ITEMS_PER_DAY": (2000, Whole(1, 10_000_000)),
    "SAMPLE_BUFFER_INTERVAL_SECONDS": (300, Whole(0, 900)),
    "SAMPLE_TARGET": ("folder", Choice(("folder", "s3"), fold=str.lower)),
    "DELETE_ATHENA_TABLE": (False, Flag()),
    "COST_FROM_BUCKET": (False, Flag()),  # notebook 07 on the aws target: measure the stack's bucket
}
# Read elsewhere with their own parsing (free text, or owned by another module): known, not checked here.
KNOWN_UNCHECKED = {"PARQUET_PATH", "TEST_PORT", "LOCAL_FUNCTION_ARN", "SAMPLE_FOLDER", "ATHENA_DATABASE", "LOCAL_STATE", "LOCAL_STATE_SAVE_SECONDS"}
KNOWN_PREFIXES = ("COST_",)


def parameter(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """The value of ``TTL_ARCHIVE_<name>`` (a :data:`PARAMETERS` entry), strictly parsed, or its default."""
    default, rule = PARAMETERS[name]
    raw = (os.environ if environ is None else environ).get(ENV_PREFIX + name, "")
    if raw.strip() == "":
        return default
    try:
        return rule.parse(raw)
    except Broken as err:
        raise SettingsError(ENV_PREFIX + name, raw, str(err)) from None


_WARNED: set[str] = set()


def _warn_unknown(env: Mapping[str, str]) -> None:
    """Log once per variable a ``TTL_ARCHIVE_*`` variable that nothing reads (a typo such as ``..._BUFER_SIZE_MIB``)."""
    known = {f.metadata["env"] for f in fields(Settings) if f.metadata.get("env")} | {ENV_PREFIX + n for n in PARAMETERS | dict.fromkeys(KNOWN_UNCHECKED)}
    for variable in env:
        if variable.startswith(ENV_PREFIX) and variable not in known and not variable[len(ENV_PREFIX):].startswith(KNOWN_PREFIXES) and variable not in _WARNED:
            _WARNED.add(variable)
            LOG.warning("%s is set but no setting has that name (a typo?); it is ignored", variable)
