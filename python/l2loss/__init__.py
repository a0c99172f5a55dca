"""l2loss: exact, reproducible, memory-speed squared-error metrics.

Drop-in for scikit-learn's regression metrics: the same signatures and errors, with
sums that are exact and bitwise identical whatever the thread count or ISA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._config import config, get_num_threads, set_num_threads, show_config
from ._files import FileFormatError, evaluate_files
from ._grouped import GroupedAccumulator, GroupedReport, grouped_report
from ._losses import l2_penalty, mse_grad, mse_loss, mse_value_and_grad, per_sample_mse, ridge_loss_and_grad
from ._metrics import (
    explained_variance_score,
    max_error,
    mean_absolute_error,
    mean_squared_error,
    mean_squared_log_error,
    r2_score,
    root_mean_squared_error,
    root_mean_squared_log_error,
)
from ._report import RegressionReport, regression_report
from ._stream import RegressionAccumulator

if TYPE_CHECKING:
    from ._metrics import UndefinedMetricWarning
    from ._validation import InvalidParameterError

from ._version import __version__ as __version__

__all__ = [
    "FileFormatError",
    "GroupedAccumulator",
    "GroupedReport",
    "InvalidParameterError",
    "RegressionAccumulator",
    "RegressionReport",
    "UndefinedMetricWarning",
    "config",
    "evaluate_files",
    "explained_variance_score",
    "get_num_threads",
    "grouped_report",
    "l2_penalty",
    "max_error",
    "mean_absolute_error",
    "mean_squared_error",
    "mean_squared_log_error",
    "mse_grad",
    "mse_loss",
    "mse_value_and_grad",
    "per_sample_mse",
    "r2_score",
    "regression_report",
    "ridge_loss_and_grad",
    "root_mean_squared_error",
    "root_mean_squared_log_error",
    "set_num_threads",
    "show_config",
]


def __getattr__(name: str) -> Any:
    # The warning and error classes are resolved on access: once scikit-learn is loaded
    # they are subclasses of sklearn's classes as well (see _validation.sklearn_compatible).
    if name == "UndefinedMetricWarning":
        from ._metrics import UndefinedMetricWarning
        from ._validation import sklearn_compatible

        return sklearn_compatible(UndefinedMetricWarning)
    if name == "InvalidParameterError":
        from ._validation import InvalidParameterError, sklearn_compatible

        return sklearn_compatible(InvalidParameterError)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
