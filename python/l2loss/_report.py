"""regression_report: every metric of the squared-error family from one fused pass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import _core
from ._metrics import (
    SUMS_ALL,
    _warn_r2_undefined,
    aggregate,
    assemble_fraction,
    round_max_error,
    run_pass,
)
from ._validation import (
    MULTIOUTPUT_OPTIONS,
    check_bool,
    check_reg_targets,
    fast_intake,
    sklearn_signature,
    validate_params,
)

if TYPE_CHECKING:
    from ._metrics import ArrayLike, OutputWeights, Threads

__all__ = ["RegressionReport", "regression_report"]

_ACC_SQ, _ACC_ABS, _ACC_DIFF = _core.ACC_SQ, _core.ACC_ABS, _core.ACC_DIFF


@dataclass(frozen=True)
class RegressionReport:
    """MSE, RMSE, MAE, R^2, explained variance, max error and bias of one evaluation.

    Each field equals what the matching l2loss (and, up to rounding, sklearn) function
    returns for the same arguments: a float, or an ndarray of shape (n_outputs,) when
    ``multioutput="raw_values"``. ``max_error`` is per output for "raw_values" and the
    largest over all outputs otherwise. ``mean_error`` is the weighted mean of
    ``y_pred - y_true`` (the bias).

    Parameters
    ----------
    mse, rmse, mae, r2, explained_variance, max_error, mean_error : float or ndarray
        The metrics (see :func:`regression_report`).
    n_samples : int
        Number of rows.
    weight_sum : float
        Sum of the sample weights (``n_samples`` without weights).

    Examples
    --------
    >>> import l2loss
    >>> rep = l2loss.regression_report([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    >>> rep.to_dict()["mse"], rep.n_samples
    (0.375, 4)
    """

    mse: Any
    rmse: Any
    mae: Any
    r2: Any
    explained_variance: Any
    max_error: Any
    mean_error: Any
    n_samples: int
    weight_sum: float

    _METRICS = ("mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error")

    def to_dict(self) -> dict[str, Any]:
        """The report's fields as a plain dict, ready for ``json.dumps``.

        Returns
        -------
        dict
            Field name -> value; per-output arrays (``multioutput="raw_values"``) become
            lists of floats.

        Examples
        --------
        >>> import l2loss
        >>> d = l2loss.regression_report([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]).to_dict()
        >>> d["mse"], d["max_error"]
        (0.375, 1.0)
        """
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}

    def to_frame(self) -> Any:
        """The report as a pandas DataFrame: one row per metric, one column per output.

        Returns
        -------
        pandas.DataFrame
            Index: the metric names; columns: ``"value"`` for one output, else
            ``"output_0"``, ``"output_1"``, ... (needs pandas).

        Examples
        --------
        >>> import l2loss
        >>> frame = l2loss.regression_report([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]).to_frame()
        >>> float(frame.loc["mse", "value"])
        0.375
        """
        import pandas as pd  # optional dependency

        rows = {}
        for name in self._METRICS:
            value = getattr(self, name)
            rows[name] = np.atleast_1d(np.asarray(value, dtype=np.float64))
        width = max(len(v) for v in rows.values())
        columns = ["value"] if width == 1 else [f"output_{j}" for j in range(width)]
        data = {name: (np.resize(v, width) if len(v) != width else v) for name, v in rows.items()}
        return pd.DataFrame.from_dict(data, orient="index", columns=columns)

    def _format(self, value: Any) -> str:
        if isinstance(value, np.ndarray):
            return "[" + ", ".join(f"{v:.6g}" for v in value.tolist()) + "]"
        return f"{value:.6g}"

    def __repr__(self) -> str:
        lines = [f"RegressionReport(n_samples={self.n_samples}, weight_sum={self.weight_sum:.6g})"]
        for name in self._METRICS:
            lines.append(f"  {name:<19}{self._format(getattr(self, name))}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{name}</th><td>{self._format(getattr(self, name))}</td></tr>"
            for name in self._METRICS
        )
        caption = f"RegressionReport: n_samples={self.n_samples}, weight_sum={self.weight_sum:.6g}"
        return f"<table><caption>{caption}</caption>{rows}</table>"


@fast_intake(_core.report_intake, finish=RegressionReport)
@sklearn_signature
def regression_report(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
    multioutput: Literal["raw_values", "uniform_average"] | OutputWeights = "uniform_average",
    num_threads: Threads = None, exact: bool = False,
) -> RegressionReport:
    """Every squared-error-family metric from one fused, exact pass over the inputs.

    scikit-learn reads the data once per metric (more for R^2); this reads it once.
    Validation and errors are those of :func:`l2loss.mean_squared_error`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Ground truth (correct) target values.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Estimated target values.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (one per row, applied to every output).
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,), \
            default="uniform_average"
        How per-output values are combined (for every field).
    num_threads : int, default=None
        Threads for this call; None means :func:`l2loss.get_num_threads`.
    exact : bool, default=False
        The mse and rmse fields are those of ``mean_squared_error(..., exact=True)``
        (a second pass sums the exact squares). The other fields have no exact mode:
        MAE, max error and the bias sum terms that are already the rounded differences,
        and R^2 / explained variance are ratios rounded once more.

    Returns
    -------
    report : RegressionReport
        The metrics; R^2 is NaN (with an UndefinedMetricWarning) below two samples.

    Examples
    --------
    >>> import l2loss
    >>> rep = l2loss.regression_report([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    >>> rep.mse, rep.mae, rep.max_error
    (0.375, 0.5, 1.0)
    """
    validate_params(
        "regression_report", y_true, y_pred, sample_weight, multioutput, options=MULTIOUTPUT_OPTIONS
    )
    check_bool("exact", exact)
    t = check_reg_targets(y_true, y_pred, sample_weight, multioutput)
    r = run_pass(t, SUMS_ALL, num_threads)
    exact_state = run_pass(t, _core.SUM_SQ_EXACT, num_threads) if exact else None
    return report_from_state(r, t.multioutput, t.dtype, exact_state)


def report_from_state(
    r: Any, multioutput: Any, dtype: np.dtype, exact_state: Any = None, *, warn_r2_undefined: bool = True
) -> RegressionReport:
    """Finalise an exact state (one-shot or streamed) into a report.

    ``multioutput`` must be validated already; ``dtype`` is sklearn's working dtype,
    which raw values keep. One code path for both uses is what makes a streamed report
    bitwise equal to the one-shot one. ``exact_state`` (an exact=True pass) supplies
    mse and rmse when given. ``warn_r2_undefined=False``: a caller that wants another
    metric than R^2 gets no warning about R^2 from a single row.
    """
    mse = r.mean(_ACC_SQ) if exact_state is None else exact_state.mean(_ACC_SQ)
    with np.errstate(invalid="ignore"):  # negative weights can make an MSE negative: its root is NaN
        rmse = np.sqrt(mse) if exact_state is None else exact_state.root_mean(_ACC_SQ)
    if r.n_rows < 2:
        r2 = _warn_r2_undefined() if warn_r2_undefined else float("nan")
    else:
        num, den = r.r2_parts()
        r2 = assemble_fraction(num, den, multioutput, True, dtype)
    ev_num, ev_den = r.explained_variance_parts()
    max_abs = np.array([round_max_error(v, dtype) for v in r.max_abs().tolist()])
    is_raw = isinstance(multioutput, str) and multioutput == "raw_values"
    return RegressionReport(
        mse=aggregate(mse, multioutput, dtype),
        rmse=aggregate(rmse, multioutput, dtype),
        mae=aggregate(r.mean(_ACC_ABS), multioutput, dtype),
        r2=r2,
        explained_variance=assemble_fraction(ev_num, ev_den, multioutput, True, dtype),
        max_error=max_abs.astype(dtype) if is_raw else float(max_abs.max()),
        mean_error=aggregate(r.mean(_ACC_DIFF), multioutput, dtype),
        n_samples=int(r.n_rows),
        weight_sum=float(r.weight_sum()),
    )
