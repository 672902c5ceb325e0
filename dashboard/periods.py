"""The period selector: today, the last 7 / 30 / 90 days (today included), or custom dates."""

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from core.api.dates import DayFormField

PRESETS = {"today": ("Today", 1), "7": ("7 days", 7), "30": ("30 days", 30), "90": ("90 days", 90)}
DEFAULT = "7"
CUSTOM = "custom"
LONGEST_CUSTOM_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    key: str  # a PRESETS key or "custom"
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def query(self) -> str:
        """This period as the page's query string."""
        if self.key == CUSTOM:
            return urlencode({"period": CUSTOM, "from": self.start.isoformat(), "to": self.end.isoformat()})
        return urlencode({"period": self.key})

    @property
    def api_query(self) -> str:
        """The same days as the API's ``from``/``to`` parameters."""
        return urlencode({"from": self.start.isoformat(), "to": self.end.isoformat()})

    @property
    def label(self) -> str:
        if self.key in PRESETS and self.key != "today":
            return f"Last {PRESETS[self.key][0]}"
        if self.start == self.end:
            return self.start.strftime("%-d %b %Y")
        return f"{self.start.strftime('%-d %b')} – {self.end.strftime('%-d %b %Y')}"


def preset(key: str, *, today: date | None = None) -> Period:
    today = today or timezone.localdate()
    days = PRESETS[key][1]
    return Period(key=key, start=today - timedelta(days=days - 1), end=today)


class PeriodForm(forms.Form):
    period = forms.ChoiceField(choices=[*[(k, v[0]) for k, v in PRESETS.items()], (CUSTOM, "Custom")], required=False)
    # Days within the range the API's periods take (core.api.dates): beyond it the day arithmetic overflows.
    start = DayFormField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = DayFormField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def add_prefix(self, field_name):
        # ``from``/``to`` in the query string, as the API names them (Python keywords, so renamed here).
        return {"start": "from", "end": "to"}.get(field_name, field_name)

    def clean(self):
        cleaned = super().clean()
        key = cleaned.get("period") or (CUSTOM if cleaned.get("start") or cleaned.get("end") else DEFAULT)
        cleaned["period"] = key
        if key != CUSTOM:
            return cleaned
        start, end = cleaned.get("start"), cleaned.get("end")
        if not self.errors.get("start") and start is None:
            self.add_error("start", "Choose the first day.")
        if not self.errors.get("end") and end is None:
            self.add_error("end", "Choose the last day.")
        if start and end:
            if end < start:
                self.add_error("end", "Must not be before the first day.")
            elif (end - start).days + 1 > LONGEST_CUSTOM_DAYS:
                self.add_error("end", f"Choose at most {LONGEST_CUSTOM_DAYS} days.")
        return cleaned

    def chosen(self) -> Period | None:
        """The chosen period, or None when the form has errors."""
        if not self.is_valid():
            return None
        key = self.cleaned_data["period"]
        if key == CUSTOM:
            return Period(key=CUSTOM, start=self.cleaned_data["start"], end=self.cleaned_data["end"])
        return preset(key)


def from_request(request) -> tuple[PeriodForm, Period | None]:
    form = PeriodForm(request.GET)
    return form, form.chosen()
