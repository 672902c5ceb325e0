"""JSON rendering with orjson: the same JSON DRF's renderer writes (dates, decimals and UUIDs
through DRF's own encoder), several times faster on large pages."""

import orjson
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_encoder = JSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


class JSONRenderer(DRFJSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}):
            # Someone asked for indented JSON (a person reading it): DRF's renderer does that.
            return super().render(data, accepted_media_type, renderer_context)
        # Datetimes pass through to DRF's encoder, which writes them as the rest of the API does.
        return orjson.dumps(data, default=_encoder.default, option=_OPTIONS)
