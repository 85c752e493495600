"""The figures the notebooks show. Each function takes frames and returns a Figure; a
``*_table`` function returns the numbers behind a figure instead, for runs without figures
(the daily notebooks' ``figures=False``).

Figures are made outside pyplot, so a notebook shows each one exactly once, where it is
returned (notebooks enable that display with ``%matplotlib inline``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fti.config import TIMEZONE


def _subplots(*grid: int, figsize: tuple[float, float], layout: str | None = "constrained",
              **kwargs: object):
    """A figure outside pyplot's registry, so a notebook shows it once, where returned.

    ``layout=None`` skips the layout engine (its extra drawing passes cost about a quarter
    of a three-panel figure's rendering): for figures drawn every day, whose panels are
    spaced by hand; the notebook's inline backend still trims the outer margins.
    """
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(*grid, **kwargs)


def rows_written(table: pd.DataFrame) -> Figure:
    """Rows written per feature group and run day (``table``: day x group counts)."""
    fig, ax = _subplots(figsize=(10, 3.5))
    table.plot(ax=ax, marker="." if len(table) < 40 else None, linewidth=1)
    ax.set(title="Rows written per feature group and run day", xlabel="run day", ylabel="rows")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize="small")
    return fig


def day_weather(weather: pd.DataFrame, day: object) -> Figure:
    """Temperature, precipitation and visibility per airport over one day (local hours)."""
    fig, axes = _subplots(1, 3, figsize=(12, 3.2), sharex=True)
    local = weather.assign(hour=weather["time_hour"].dt.tz_convert(TIMEZONE).dt.hour)
    for origin, rows in local.groupby("origin"):
        for ax, col in zip(axes, ["temp", "precip_3h", "visib"], strict=True):
            ax.plot(rows["hour"], rows[col], marker=".", label=origin)
    titles = ["temperature (F)", "precipitation, last 3 h (in)", "visibility (miles)"]
    for ax, title in zip(axes, titles, strict=True):
        ax.set(title=title, xlabel="local hour")
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Weather forecast for {day}")
    return fig


def day_weather_table(weather: pd.DataFrame) -> pd.DataFrame:
    """The numbers behind :func:`day_weather`: each airport's lowest and highest reading."""
    return weather.groupby("origin")[["temp", "precip_3h", "visib"]].agg(["min", "max"])


def delay_stats_table(stats: pd.DataFrame, entity: str, top: int = 6) -> pd.DataFrame:
    """The last morning's statistics of the ``top`` busiest entities (by flights in 7 days)."""
    last = stats[stats["available_at"] == stats["available_at"].max()]
    columns = [entity, "flights_1d", "delayed_share_1d", "flights_7d", "delayed_share_7d"]
    return last.nlargest(top, "flights_7d")[columns].round(3)


def delay_stats(stats: pd.DataFrame, entity: str, top: int = 6) -> Figure:
    """The 7-day delayed share of the busiest entities, as the store knows it each morning."""
    fig, ax = _subplots(figsize=(10, 3.5))
    local = stats.assign(day=stats["available_at"].dt.tz_convert(TIMEZONE).dt.date)
    busiest = local.groupby(entity)["flights_7d"].sum().nlargest(top).index
    wide = local[local[entity].isin(busiest)].pivot_table(
        index="day", columns=entity, values="delayed_share_7d")
    wide.plot(ax=ax, linewidth=1)
    ax.set(title=f"Share of flights delayed > 15 min over the last 7 days ({top} busiest)",
           xlabel="known from the start of", ylabel="delayed share")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize="small")
    return fig


def evaluation(y_true: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    """ROC curve, precision-recall curve and calibration curve of each model."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    fig, (roc, pr, cal) = _subplots(1, 3, figsize=(13, 4))
    for label, proba in scores.items():
        fpr, tpr, _ = roc_curve(y_true, proba)
        roc.plot(fpr, tpr, label=label)
        precision, recall, _ = precision_recall_curve(y_true, proba)
        pr.plot(recall, precision, label=label)
        frac, mean = calibration_curve(y_true, proba, n_bins=10, strategy="quantile")
        cal.plot(mean, frac, marker="o", label=label)
    roc.plot([0, 1], [0, 1], ":", color="grey")
    pr.axhline(float(np.mean(y_true)), linestyle=":", color="grey", label="base rate")
    cal.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    roc.set(title="ROC curve", xlabel="false positive rate", ylabel="true positive rate")
    pr.set(title="Precision-recall curve", xlabel="recall", ylabel="precision")
    cal.set(title="Calibration", xlabel="mean predicted probability", ylabel="observed share")
    for ax in (roc, pr, cal):
        ax.legend(fontsize="small")
    return fig


def importance(table: pd.DataFrame, top: int = 15) -> Figure:
    """Permutation importance: how much the holdout ROC AUC drops when a feature is shuffled."""
    rows = table.head(top).iloc[::-1]
    fig, ax = _subplots(figsize=(8, 0.3 * len(rows) + 1))
    ax.barh(rows["feature"], rows["importance"], xerr=rows["std"], color="tab:blue")
    ax.set(title="Permutation importance on the holdout", xlabel="drop in ROC AUC")
    return fig


def risk(predictions: pd.DataFrame, threshold: float) -> Figure:
    """Distribution of predicted risk, and mean risk by scheduled hour and by carrier."""
    fig, (hist, hour, carrier) = _subplots(1, 3, figsize=(14, 3.8), layout=None)
    fig.subplots_adjust(wspace=0.3)  # drawn every day: spaced by hand, see _subplots
    hist.hist(predictions["probability"], bins=30, color="tab:blue")
    hist.axvline(threshold, color="tab:red", linestyle="--", label=f"flag threshold {threshold}")
    hist.set(title="Predicted delay probability", xlabel="probability", ylabel="flights")
    hist.legend(fontsize="small")
    by_hour = predictions.groupby("sched_hour")["probability"].mean()
    hour.bar(by_hour.index, by_hour.to_numpy(), color="tab:orange")
    hour.set(title="Mean risk by scheduled hour", xlabel="local hour", ylabel="mean probability")
    by_carrier = predictions.groupby("carrier")["probability"].mean().sort_values()
    carrier.barh(by_carrier.index, by_carrier.to_numpy(), color="tab:green")
    carrier.set(title="Mean risk by carrier", xlabel="mean probability")
    return fig


def risk_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """The numbers behind :func:`risk`, per airport: flights, flagged, mean probability."""
    return predictions.groupby("origin").agg(
        flights=("flight_id", "size"), flagged=("flag", "sum"),
        mean_probability=("probability", "mean")).round(3)


def drift_scores(columns: pd.DataFrame) -> Figure:
    """Each column's drift score divided by its own threshold: above 1 (red) is drift.

    Assumes distance methods (Wasserstein, Jensen-Shannon), which Evidently uses with more
    than 1000 reference rows: a larger score means more drift.
    """
    rows = columns.assign(ratio=columns["score"] / columns["threshold"]).sort_values("ratio")
    fig, ax = _subplots(figsize=(8, 0.28 * len(rows) + 1))
    colors = np.where(rows["drifted"], "tab:red", "tab:blue")
    ax.barh(rows["column"], rows["ratio"], color=colors)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set(title="Drift per column (red: drift detected)",
           xlabel="distance from the reference / the column's threshold")
    return fig


#: Verdicts that rest on too little data, or on another model than the champion: drawn hollow.
_NO_VERDICT = ("not enough data", "earlier model")


def history_axis(ax, days: pd.Series) -> None:
    """Dates on a history axis: day and month, and at least a week wide, so that one or two
    runs do not stretch the axis over years (matplotlib's default around a single date)."""
    import matplotlib.dates as mdates

    first, last = days.min(), days.max()
    pad = max(pd.Timedelta(days=1), (pd.Timedelta(days=7) - (last - first)) / 2)
    ax.set_xlim(first - pad, last + pad)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))


def monitoring_history(history: pd.DataFrame) -> Figure:
    """The monitoring runs over their run dates: share of drifted features, ROC AUC against
    the holdout ROC AUC of the version judged, Brier score, and base rate vs mean prediction.

    A hollow marker is a run without a verdict (not enough data, or the predictions of an
    earlier model); a dashed red line marks a run that recommended retraining. Columns the
    history lacks are left out.
    """
    frame = history.sort_values("run_date")
    days = pd.to_datetime(frame["run_date"])
    fig, axes = _subplots(2, 2, figsize=(11, 6), sharex=True)
    panels = [
        ("Share of drifted features", {"drift_share": "share"}, "drift_verdict"),
        ("ROC AUC on the arrived labels", {"roc_auc": "ROC AUC",
                                           "holdout_roc_auc": "holdout, same version"},
         "performance_verdict"),
        ("Brier score (lower is better)", {"brier": "Brier score"}, "performance_verdict"),
        ("Delayed share: observed vs predicted", {"base_rate": "observed",
                                                  "mean_prediction": "mean prediction"},
         "performance_verdict"),
    ]
    retrain = (days[frame["retrain_recommended"].astype(bool).to_numpy()]
               if "retrain_recommended" in frame else [])
    for ax, (title, columns, verdict) in zip(axes.ravel(), panels, strict=True):
        hollow = (frame[verdict].isin(_NO_VERDICT).to_numpy() if verdict in frame
                  else np.zeros(len(frame), bool))
        for column, label in columns.items():
            if column not in frame:
                continue
            values = frame[column].astype(float).to_numpy()
            style = ({"linestyle": "--", "color": "grey"} if column == "holdout_roc_auc"
                     else {})
            line, = ax.plot(days, values, marker="o", label=label, **style)
            ax.plot(days[hollow], values[hollow], "o", markerfacecolor="white",
                    color=line.get_color())
        for i, when in enumerate(retrain):
            ax.axvline(when, color="tab:red", alpha=0.4, linestyle="--",
                       label="retrain recommended" if i == 0 else None)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if len(columns) > 1 or len(retrain):
            ax.legend(fontsize="small")
        history_axis(ax, days)
    # fixed floors, so that a small wobble does not fill a panel
    axes[0, 0].set_ylim(0, 1)
    axes[0, 1].set_ylim(min(0.5, axes[0, 1].get_ylim()[0]), 1)
    for ax in (axes[1, 0], axes[1, 1]):
        ax.set_ylim(bottom=0)
    return fig


def monolith_cost(timings: pd.DataFrame, window_days: int) -> Figure:
    """CPU seconds of one monolith inference call against the history it reads (lesson 00);
    red: histories shorter than the statistics window, whose features come out different."""
    fig, ax = _subplots(figsize=(7, 3.5))
    short = timings.index < window_days
    seconds = timings["cpu_seconds"]
    ax.plot(timings.index, seconds, color="grey", linewidth=1)
    ax.scatter(timings.index[~short], seconds[~short], color="tab:blue", zorder=3,
               label="complete features")
    ax.scatter(timings.index[short], seconds[short], color="tab:red", zorder=3,
               label=f"history < {window_days} days: features differ")
    ax.set(title="Monolith: the cost of predicting one day", xlabel="days of history read",
           ylabel="CPU seconds per call", ylim=(0, None))
    ax.legend(fontsize="small")
    return fig


def skewed_probabilities(scores: pd.DataFrame, labels: tuple[str, str]) -> Figure:
    """The same flights' probabilities with consistent vs skewed features (lesson 00)."""
    fig, (scatter, hist) = _subplots(1, 2, figsize=(11, 4))
    scatter.scatter(scores["consistent"], scores["skewed"], s=4, alpha=0.3)
    scatter.plot([0, 1], [0, 1], "--", color="black", linewidth=1, label="no skew")
    scatter.set(title="Predicted delay probability per flight", xlabel=labels[0],
                ylabel=labels[1], xlim=(0, 1), ylim=(0, 1))
    scatter.legend(fontsize="small")
    hist.hist(scores["skewed"] - scores["consistent"], bins=60, color="tab:orange")
    hist.set(title="How far each probability moved", xlabel=f"{labels[1]} - {labels[0]}",
             ylabel="flights")
    return fig
