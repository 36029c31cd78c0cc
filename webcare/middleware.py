"""Input no column can hold or compare, refused at the door with a 400.

PostgreSQL refuses a NUL character in text, and psycopg cannot even encode a lone
UTF-16 surrogate; SQLite takes both, so a test suite on SQLite alone never sees the
500 that production answers. A NUL can come in through any query string (`%00`)
and form body; a surrogate only through a JSON escape (`"\\ud800"`: invalid UTF-8 in
a URL is decoded to U+FFFD), which `webcare.api.input` refuses. Neither is ever
part of a real name, filter or search, so the whole request is refused, naming the
parameter, before any view or database sees it. (A path is left to its view: a
NUL there matches no URL pattern or id, and a survey link gets its friendly 404.)
"""

import re

from django.http import HttpResponseBadRequest, JsonResponse

UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
MESSAGE = "Contains a NUL character or a lone surrogate, which cannot be stored."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def printable_name(name: str) -> str:
    """A parameter's name fit for a message: what cannot be shown becomes '?'."""
    return UNSTORABLE.sub("?", str(name))[:100] or "?"


def unstorable_path(data) -> str | None:
    """Where the first NUL or lone surrogate in parsed JSON is (`items.0.text`;
    "" for the document itself), or None. Iterative: a document nested deeper
    than Python's recursion limit is walked like any other."""
    stack = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                return path
        elif isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{printable_name(key)}" if path else printable_name(key)
                if UNSTORABLE.search(str(key)):
                    return where
                stack.append((where, item))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((f"{path}.{index}" if path else str(index), item))
    return None


class UnstorableInputMiddleware:
    """A query string or form body with a NUL or a lone surrogate is a 400."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = self._unstorable_parameter(request)
        if name is None:
            return self.get_response(request)
        if request.path_info.startswith("/api/"):
            return JsonResponse({name: [MESSAGE]}, status=400)
        return HttpResponseBadRequest(
            f"Bad request: {name}: {MESSAGE}\n", content_type="text/plain"
        )

    @staticmethod
    def _unstorable_parameter(request) -> str | None:
        parameters = [request.GET]
        if request.method == "POST" and request.content_type in FORM_TYPES:
            parameters.append(request.POST)
        for query in parameters:
            for name, values in query.lists():
                if UNSTORABLE.search(name) or any(
                    UNSTORABLE.search(value) for value in values
                ):
                    return printable_name(name)
        return None
