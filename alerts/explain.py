"""Explain a national or platform deviation by the parts that make it up, with shares.

Why: a duty officer seeing "national traffic 2.4x baseline" must answer "why" within a minute. The
deviation of a total from its baseline is the sum of its parts' deviations, so each province's (or
section's, platform's, resource's) share of the total deviation is exact arithmetic, not a model:

    +38 M above baseline: Liaoning 31%, Jilin 22%, Fujian 12%, other 35%

Only parts that move in the same direction as the total are ranked (a province falling while the
nation surges does not explain the surge); shares are of the sum of those parts' deviations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Contributor:
    name: str
    deviation: float  # actual - expected
    share: float  # of the same-direction deviations, in [0, 1]


@dataclass(frozen=True, slots=True)
class Explanation:
    total_deviation: float
    dimension: str
    contributors: tuple[Contributor, ...]
    other_share: float  # what the listed contributors leave

    def text(self, unit: str = "") -> str:
        direction = "above" if self.total_deviation >= 0 else "below"
        head = f"{format_count(self.total_deviation, signed=True)}{unit} {direction} baseline"
        parts = [f"{c.name} {round(100 * c.share)}%" for c in self.contributors]
        if self.other_share >= 0.005 and parts:
            parts.append(f"other {round(100 * self.other_share)}%")
        return head + (": " + ", ".join(parts) if parts else "")


def format_count(x: float, signed: bool = False) -> str:
    """12,345,678 -> '12.3 M'; 38_000_000 -> '38 M'; keeps small numbers whole."""
    sign = ("+" if x >= 0 else "-") if signed else ("-" if x < 0 else "")
    a = abs(x)
    for div, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if a >= div:
            v = a / div
            return f"{sign}{v:.0f}{suffix}" if v >= 10 else f"{sign}{v:.1f}{suffix}"
    return f"{sign}{a:.0f}"


def explain(
    total_deviation: float,
    parts: Mapping[str, tuple[float, float]],
    dimension: str = "province",
    top: int = 5,
    min_share: float = 0.02,
) -> Explanation:
    """Rank `parts` (name -> (actual, expected)) by their contribution to `total_deviation`.

    Pure function; names are whatever the caller wants shown (e.g. province names in the UI language).
    """
    sign = 1.0 if total_deviation >= 0 else -1.0
    devs = [(name, actual - expected) for name, (actual, expected) in parts.items()]
    same = [(n, d) for n, d in devs if d * sign > 0]
    pool = sum(abs(d) for _, d in same)
    if pool <= 0:
        return Explanation(total_deviation, dimension, (), 0.0)
    ranked = sorted(same, key=lambda nd: (-abs(nd[1]), nd[0]))
    chosen = tuple(Contributor(n, d, abs(d) / pool) for n, d in ranked[:top] if abs(d) / pool >= min_share)
    return Explanation(total_deviation, dimension, chosen, max(0.0, 1.0 - sum(c.share for c in chosen)))


def explain_all(
    total_deviation: float,
    by_dimension: Mapping[str, Mapping[str, tuple[float, float]]],
    top: int = 3,
    unit: str = "",
) -> str:
    """One line over several dimensions, e.g. provinces then platforms then sections."""
    texts: list[str] = []
    head = ""
    for dim, parts in by_dimension.items():
        e = explain(total_deviation, parts, dim, top)
        t = e.text(unit)
        if not head:
            head = t.split(":")[0]
        if e.contributors:
            texts.append(", ".join(f"{c.name} {round(100 * c.share)}%" for c in e.contributors))
    if not head:
        direction = "above" if total_deviation >= 0 else "below"
        head = f"{format_count(total_deviation, signed=True)}{unit} {direction} baseline"
    return head + (": " + "; ".join(texts) if texts else "")


def top_names(explanation: Explanation, n: int = 3) -> Sequence[str]:
    return [c.name for c in explanation.contributors[:n]]
