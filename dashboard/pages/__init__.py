"""One module per dashboard area; importing it registers the area."""

from . import community, dispatch, registry, sales  # noqa: F401
