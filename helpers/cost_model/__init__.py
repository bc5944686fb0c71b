"""The archive cost model: what keeping data in DynamoDB costs against archiving it to S3 and Glacier.

Pure functions over :class:`CostInputs` and a :class:`~helpers.pricing.PriceBook`: no AWS calls, no
global state. One concern per module: ``rules`` (AWS's billing rules as small formulas), ``inputs``
(inputs and scenarios), ``model`` (one scenario's monthly bill), ``compare`` (several scenarios, break-even,
sweeps) and ``answer`` (the answer in words: break-even object sizes, buffers, the 128 KB default); inputs
measured on an archive come from :func:`helpers.archive_stats.archive_inputs`. Formulas and the month convention (730-hour billing
months, storage prorated by the hour) are in docs/cost-model.md.

Results name every unverified figure they used. With the default ``on_missing="raise"`` a scenario that
needs a figure missing for its region raises :class:`~helpers.pricing.MissingPriceError` naming it;
:func:`compare` turns that into a visible "NOT COMPUTED" row with the reason.
"""

from ..pricing import MissingPriceError, PriceBook
from .answer import Answer, answer, break_even_object_kb, buffer_for_object_kb, object_size_curve, object_window_costs
from .compare import (Comparison, break_even, buffer_sweep, compare, firehose_record_comparison,
                      lambda_filter_comparison)
from .inputs import (ARCHIVE_STANDARD, ARCHITECTURES, BASELINE, RETRIEVAL_TIERS, CostInputs, Scenario,
                     default_scenarios, env_number, lifecycle_scenario, pricing_region)
from .model import COMPONENTS, ScenarioResult, compute_scenario, volumes
from .rules import *  # noqa: F401,F403  (the rules and constants, each tested by hand)
from . import rules as _rules_module

_RULE_FUNCTIONS = ("billed_object_kb", "billed_storage_days", "check_class", "check_transition_days", "days_to_months",
                   "dynamodb_billed_gb", "dynamodb_storage_cost", "firehose_billed_kb", "firehose_ingestion_cost",
                   "firehose_objects", "lifecycle_action_days", "object_kb_for_flow", "transition_units",
                   "transitions_allowed")
__all__ = [
    "ARCHIVE_STANDARD", "ARCHITECTURES", "Answer", "BASELINE", "COMPONENTS", "Comparison",
    "CostInputs", "MissingPriceError", "PriceBook", "RETRIEVAL_TIERS", "Scenario", "ScenarioResult", "answer",
    "break_even", "break_even_object_kb", "buffer_for_object_kb", "buffer_sweep", "compare", "compute_scenario",
    "default_scenarios", "env_number", "firehose_record_comparison", "lambda_filter_comparison", "lifecycle_scenario",
    "object_size_curve", "object_window_costs", "pricing_region", "volumes",
    *[name for name in vars(_rules_module) if name.isupper() or name in _RULE_FUNCTIONS],
]
