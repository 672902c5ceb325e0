"""One module per dashboard area; importing it registers the area."""

from . import registry, sales  # noqa: F401
