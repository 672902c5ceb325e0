"""Turning what callers say into the values we store."""

import re

from .choices import EquipmentType

# Digits alone, or after "MC" and at most one "-" or "#" (spaces around it allowed). A sign or
# a separator without "MC" ("-5", "MC--5") is not a docket number, whatever digits follow.
MC_PATTERN = re.compile(r"(?:MC[ \t]*[-#]?[ \t]*)?([0-9]{1,8})", re.IGNORECASE)
MC_MESSAGE = 'An MC number is 1 to 8 digits, optionally after "MC" (e.g. MC 123456).'


class InvalidMCNumber(ValueError):
    def __init__(self):
        super().__init__(MC_MESSAGE)


def normalize_mc_number(value) -> str:
    """``"MC 123456"``, ``"MC-123456"``, ``"mc123456"``, ``"123456"`` → ``"123456"``.

    Raises ``InvalidMCNumber`` unless it is 1–8 digits (optionally after "MC")."""
    text = value.strip() if isinstance(value, str) else ""
    match = MC_PATTERN.fullmatch(text)
    if not match or int(match.group(1)) == 0:
        raise InvalidMCNumber()
    return str(int(match.group(1)))


# Django recomputes an enum's ``values`` list on every access.
_EQUIPMENT = tuple(EquipmentType.values)
_EQUIPMENT_SET = frozenset(_EQUIPMENT)

# Spellings callers and load boards use for the same trailer.
_EQUIPMENT_ALIASES = {
    "van": EquipmentType.DRY_VAN,
    "dryvan": EquipmentType.DRY_VAN,
    "refrigerated": EquipmentType.REEFER,
    "refer": EquipmentType.REEFER,
    "flat": EquipmentType.FLATBED,
    "flatbedtrailer": EquipmentType.FLATBED,
    "stepdeck": EquipmentType.STEP_DECK,
    "dropdeck": EquipmentType.STEP_DECK,
    "poweronly": EquipmentType.POWER_ONLY,
}


def normalize_equipment(value: str) -> str | None:
    """``"Dry Van"``, ``"dry-van"``, ``"DRY_VAN"`` → ``"dry_van"``; ``None`` when unknown."""
    if not isinstance(value, str):
        return None
    slug = re.sub(r"[\s\-_/]+", "_", value.strip().lower()).strip("_")
    if slug in _EQUIPMENT_SET:
        return slug
    squashed = slug.replace("_", "")
    for choice in _EQUIPMENT:
        if choice.replace("_", "") == squashed:
            return choice
    alias = _EQUIPMENT_ALIASES.get(squashed)
    return alias.value if alias else None
