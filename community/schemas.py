"""JSON Schemas of a detailed use case's parts. Writes check them in ``services``."""

from jsonschema import Draft202012Validator

_TEXT = {"type": "string", "minLength": 1, "maxLength": 5000}
_TEXT_LIST = {"type": "array", "items": _TEXT, "maxItems": 50}

CHALLENGE = {
    "type": "object",
    "required": ["summary"],
    "additionalProperties": False,
    "properties": {"summary": _TEXT, "pain_points": _TEXT_LIST, "constraints": _TEXT_LIST},
}
SOLUTION = {
    "type": "object",
    "required": ["summary"],
    "additionalProperties": False,
    "properties": {"summary": _TEXT, "components": _TEXT_LIST, "vendors": _TEXT_LIST},
}
IMPLEMENTATION_PHASES = {
    "type": "array",
    "minItems": 1,
    "maxItems": 30,
    "items": {
        "type": "object",
        "required": ["name", "duration_weeks"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "duration_weeks": {"type": "integer", "minimum": 1, "maximum": 520},
            "description": _TEXT,
        },
    },
}
RESULTS = {
    "type": "object",
    "required": ["metrics"],
    "additionalProperties": False,
    "properties": {
        "roi_percent": {"type": "number", "minimum": -100, "maximum": 100000},
        "payback_months": {"type": "number", "minimum": 0, "maximum": 600},
        "annual_savings_sar": {"type": "number", "minimum": 0},
        "metrics": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["name", "before", "after"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "before": {"type": ["number", "string"]},
                    "after": {"type": ["number", "string"]},
                    "unit": {"type": "string", "maxLength": 50},
                },
            },
        },
    },
}

DETAIL_SCHEMAS = {
    "challenge": CHALLENGE,
    "solution": SOLUTION,
    "implementation_phases": IMPLEMENTATION_PHASES,
    "results": RESULTS,
}
_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in DETAIL_SCHEMAS.items()}


def detail_errors(parts: dict) -> dict[str, list[str]]:
    """Messages per part that breaks its schema (``{}`` when all are valid)."""
    errors = {}
    for name, validator in _VALIDATORS.items():
        if name not in parts:
            continue
        messages = []
        for error in sorted(validator.iter_errors(parts[name]), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(step) for step in error.absolute_path)
            messages.append(f"{where}: {error.message}" if where else error.message)
        if messages:
            errors[name] = messages
    return errors
