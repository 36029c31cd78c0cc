"""What the API takes in and gives out, so that no input can make it answer 500.

A JSON body is refused with a 400 when it is nested too deeply for Python, or when
a key or string anywhere holds a NUL or a lone surrogate (`"\\ud800"`): PostgreSQL
cannot store or compare either, and DRF quotes bad values in its messages, which
then could not be encoded. The 400 names the field (`items.0.raw.text`). Query
strings and form bodies are checked by `webcare.middleware`.

The JSON renderer never fails: what UTF-8 cannot encode is written as a JSON escape.
"""

from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from webcare.middleware import MESSAGE, unstorable_path


class StorableJSONParser(JSONParser):
    """JSON that the database can hold, or a 400 that says where it cannot."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON nested too deeply.")
        where = unstorable_path(data)
        if where is not None:
            raise exceptions.ValidationError({where or "body": [MESSAGE]})
        return data


class SafeJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            # A lone surrogate: valid as the escape \ud800, not as UTF-8.
            ascii_only = JSONRenderer()
            ascii_only.ensure_ascii = True
            return ascii_only.render(data, accepted_media_type, renderer_context)
