"""Chart descriptions handed to the page with ``json_script``.

The server decides what a chart shows; ``static/dashboard/charts.js`` only turns the
description into an ECharts option. The same description renders the chart's table, so the
picture and its fallback never differ.
"""

from dataclasses import dataclass, field


@dataclass
class Chart:
    key: str
    kind: str  # bar, hbar, bar-line, pie, funnel
    title: str
    category_label: str
    categories: list[str]
    series: list[tuple[str, list]]  # (name, one value per category)
    unit: str = ""
    empty_text: str = "Nothing to show for this period."
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def data_id(self) -> str:
        return f"chart-{self.key}-data"

    @property
    def empty(self) -> bool:
        return not self.categories or not any(value for _, values in self.series for value in values)

    @property
    def rows(self) -> list[tuple[str, list]]:
        return [(category, [values[i] for _, values in self.series]) for i, category in enumerate(self.categories)]

    @property
    def payload(self) -> dict:
        return {
            "kind": self.kind,
            "title": self.title,
            "categories": self.categories,
            "series": [{"name": name, "values": values} for name, values in self.series],
            "unit": self.unit,
            **self.extra,
        }


def from_counts(key, kind, title, *, counts: dict, labels: dict, category_label: str, series_name: str, **kwargs):
    """A one-series chart over ``counts`` in ``labels`` order (every label shown, zeros too)."""
    categories = [str(labels.get(value, value)) for value in counts]
    return Chart(
        key=key,
        kind=kind,
        title=title,
        category_label=category_label,
        categories=categories,
        series=[(series_name, list(counts.values()))],
        **kwargs,
    )
