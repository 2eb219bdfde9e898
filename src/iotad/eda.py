"""Exploratory tables and the seed paper's Figures 3-5 (records per DoS attack type, normal vs DoS,
DoS vs all records), computed from the cleaned parts of one dataset."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .figures import save_figure  # noqa: E402
from .io import atomic_path  # noqa: E402
from .registry import SUBSET_PARTS  # noqa: E402  (the tables describe those parts; the figures leave them out)


def label_counts(parts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table: part, label, family, is_attack, records."""
    rows = [
        frame.groupby(["label", "family", "is_attack"], observed=True)
        .size()
        .rename("records")
        .reset_index()
        .assign(part=part)
        for part, frame in parts.items()
    ]
    table = pd.concat(rows, ignore_index=True)
    return table[["part", "label", "family", "is_attack", "records"]]


def distribution_table(counts: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Records and percentage of the part, one column pair per part."""
    wide = counts.pivot_table(index=by, columns="part", values="records", aggfunc="sum", fill_value=0)
    wide = wide[list(dict.fromkeys(counts["part"]))]  # keep part order
    out = pd.DataFrame(index=wide.index)
    for part in wide.columns:
        out[f"{part}_records"] = wide[part].astype("int64")
        out[f"{part}_percent"] = (100 * wide[part] / wide[part].sum()).round(3)
    first = f"{wide.columns[0]}_records"
    return out.sort_values(first, ascending=False).reset_index()


def write_table(table: pd.DataFrame, csv_path: str | Path, md_path: str | Path) -> None:
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(md_path) as tmp:
        tmp.write_text(table.to_markdown(index=False) + "\n")


def has_dos_records(family_table: pd.DataFrame, dos_families: list[str]) -> bool:
    """Whether a family distribution table (``distribution_table(counts, ["family"])``) has records
    in the DoS families outside the subset parts: whether Figures 3-5 have anything to show."""
    rows = _is_dos(family_table["family"], dos_families)
    columns = [
        c for c in family_table.columns if c.endswith("_records") and c.removesuffix("_records") not in SUBSET_PARTS
    ]
    return bool(family_table.loc[rows, columns].to_numpy().sum() > 0)


def _is_dos(families: pd.Series, dos_families: list[str]) -> pd.Series:
    """Which family names are DoS families (case-insensitive)."""
    return families.astype(str).str.lower().isin({f.lower() for f in dos_families})


def _annotate(ax) -> None:
    for container in ax.containers:
        ax.bar_label(container, fmt="{:,.0f}", fontsize=7, padding=2)


def dos_figures(counts: pd.DataFrame, dataset: str, dos_families: list[str], out: dict[str, str]) -> None:
    """Figures 3-5. ``out`` maps fig3_png, fig3_svg, ... to paths. Raises ValueError when the
    dataset has no DoS records (the workflow asks for these figures only where it has)."""
    sns.set_theme(style="whitegrid", context="paper")
    counts = counts[~counts["part"].isin(SUBSET_PARTS)]
    is_dos = _is_dos(counts["family"], dos_families)
    dos = counts[is_dos]
    if not dos["records"].sum():
        raise ValueError(f"{dataset}: no records in the DoS families {sorted(dos_families)}: no Figures 3-5")

    # Figure 3: records per DoS attack type (log scale: smurf and land differ by four orders).
    # Horizontal bars, one row per type and part, so neither the type names nor the counts collide.
    order = dos.groupby("label")["records"].sum().sort_values(ascending=False).index.tolist()
    parts = dos["part"].nunique()
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.2 * len(order) * parts))
    sns.barplot(data=dos, y="label", x="records", hue="part", order=order, orient="h", ax=ax)
    ax.set_xscale("log")
    ax.set_xlim(right=dos["records"].max() * 12)  # room for the count beside the longest bar
    ax.set(ylabel="DoS attack type", xlabel="records (log scale)", title=f"{dataset}: records per DoS attack type")
    _annotate(ax)
    ax.legend(title="part", loc="lower right")
    save_figure(fig, out["fig3_png"], out["fig3_svg"])

    # Figure 4: normal vs DoS records.
    group = np.select([counts["family"] == "normal", is_dos], ["normal", "DoS"], default="")
    normal_dos = (
        counts.assign(group=group)
        .query("group != ''")
        .groupby(["part", "group"], sort=False)["records"]
        .sum()
        .reset_index()
    )
    _bar_figure(
        normal_dos, "group", ["normal", "DoS"], f"{dataset}: normal vs DoS records", (out["fig4_png"], out["fig4_svg"])
    )

    # Figure 5: DoS records against all records.
    totals = counts.groupby("part", sort=False)["records"].sum().rename("all records")
    dos_totals = dos.groupby("part", sort=False)["records"].sum().rename("DoS records")
    versus = (
        pd.concat([dos_totals, totals], axis=1)
        .fillna(0)
        .reset_index()
        .melt(id_vars="part", var_name="group", value_name="records")
    )
    _bar_figure(
        versus,
        "group",
        ["DoS records", "all records"],
        f"{dataset}: DoS vs all records",
        (out["fig5_png"], out["fig5_svg"]),
    )


def _bar_figure(data, x, order, title, paths):
    """Bars of ``records`` per ``x`` with one hue per part."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    sns.barplot(data=data, x=x, y="records", hue="part", order=order, ax=ax)
    ax.set(xlabel="", ylabel="records", title=title)
    _annotate(ax)
    save_figure(fig, *paths)
