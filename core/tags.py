"""Tag names, one rule for every app that tags things (forum posts and use cases, registry services).

A tag is typed by people and matched by machines, so it is stored in one canonical form: Unicode
NFKC, surrounding space stripped, lowercase. The characters allowed cover both uses: ``c++`` and
``c#`` in the forum, ``env:prod`` in the registry.
"""

import unicodedata
from collections.abc import Iterable

from django.core.validators import RegexValidator

MAX_LENGTH = 50

validate_tag_name = RegexValidator(
    r"\A[a-z0-9][a-z0-9_.:+#-]*\Z",
    "Tags use lowercase letters, digits and . _ : + # - (no spaces or commas).",
    "invalid_tag",
)


def normalise_tag_name(name) -> str:
    """The stored form of one typed tag name ('' for a blank one)."""
    return unicodedata.normalize("NFKC", str(name)).strip().lower()


def normalise_tag_names(names: Iterable) -> list[str]:
    """Distinct stored forms of ``names``, blanks dropped, sorted."""
    return sorted({normal for normal in map(normalise_tag_name, names) if normal})
