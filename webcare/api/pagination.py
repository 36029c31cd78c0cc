"""Keyset ("cursor") pagination that a CRM can use to sync incrementally.

Rows are ordered by a tuple that ends in the primary key (default
`(sync_position, id)`), and a page starts strictly after the last row of the previous
page. Unlike offsets, nothing is skipped or repeated when rows change while a client
pages: a row that is changed moves to the end (its new version is seen again, once), a
new row appears at the end. The last page still carries `next_cursor`; the CRM stores
it and polls with it later to get only what changed since.

When paging in sync order, only settled changes are served (`webcare.sync.settled`):
a change whose transaction is still running, however long, comes on a later poll,
behind the cursor of none. Other orders are for browsing, not for syncing.
"""

import base64
import binascii
import json
from datetime import UTC

from django.db import models
from django.db.models import Q
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from webcare.middleware import UNSTORABLE
from webcare.sync import settled

SYNC_ORDERING = ("sync_position", "id")
# Longer than any cursor we hand out (ids, times, a name of 300 escaped characters).
MAX_CURSOR_LENGTH = 4000
MAX_CURSOR_TEXT = 500
# Before the sync position, cursors ran in the order of one of these.
OLD_SYNC_ORDERINGS = (
    ["updated_at", "id"],
    ["created_at", "id"],
    ["requested_at", "id"],
)


class SyncCursorPagination(BasePagination):
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    page_size = 50
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size_value = self._page_size(request)
        ordering = self._ordering(queryset)
        self.ordering = ordering
        if ordering[0] == (SYNC_ORDERING[0], False):
            queryset = settled(queryset)
        self.cursor = request.query_params.get(self.cursor_query_param)
        if self.cursor is not None:
            values = self._decode(self.cursor, queryset.model, ordering)
            queryset = queryset.filter(self._after(ordering, values))
        names = [name if not desc else f"-{name}" for name, desc in ordering]
        rows = list(queryset.order_by(*names)[: self.page_size_value + 1])
        self.has_more = len(rows) > self.page_size_value
        rows = rows[: self.page_size_value]
        if rows:
            last = rows[-1]
            self.next_cursor = self._encode(
                ordering, [getattr(last, name) for name, _ in ordering]
            )
        else:
            self.next_cursor = self.cursor
        return rows

    def get_paginated_response(self, data):
        next_url = None
        if self.has_more:
            next_url = replace_query_param(
                self.request.build_absolute_uri(),
                self.cursor_query_param,
                self.next_cursor,
            )
        return Response(
            {
                "next": next_url,
                "next_cursor": self.next_cursor,
                "has_more": self.has_more,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "next_cursor", "has_more", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "The next page, while there is one.",
                },
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Where the next page starts. Kept after the last "
                    "page: poll with it later to get only what changed since.",
                },
                "has_more": {"type": "boolean"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The `next_cursor` of the previous page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size}).",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                },
            },
        ]

    # -- helpers -------------------------------------------------------------------

    def _page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Must be a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return size

    @staticmethod
    def _ordering(queryset) -> list[tuple[str, bool]]:
        ordering = []
        for item in queryset.query.order_by or SYNC_ORDERING:
            if not isinstance(item, str):
                raise TypeError(
                    "Keyset pagination needs plain field names to order by."
                )
            desc = item.startswith("-")
            name = item.lstrip("-")
            ordering.append(("id" if name == "pk" else name, desc))
        if not any(name == "id" for name, _ in ordering):
            # The primary key makes the order total, so a cursor is one exact point.
            ordering.append(("id", ordering[0][1]))
        return ordering

    @staticmethod
    def _encode(ordering, values) -> str:
        def plain(value):
            return value.isoformat() if hasattr(value, "isoformat") else value

        payload = {"o": [f"-{n}" if d else n for n, d in ordering]}
        payload["v"] = [plain(value) for value in values]
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode(cursor: str, model, ordering) -> list:
        # A cursor is the client's input like any other: forged, it is a 400.
        invalid = ValidationError({"cursor": ["Invalid cursor."]})
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise invalid
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            payload = json.loads(raw)
            names, values = payload["o"], payload["v"]
        except (binascii.Error, ValueError, KeyError, TypeError, RecursionError):
            raise invalid
        expected = [f"-{n}" if d else n for n, d in ordering]
        if names in OLD_SYNC_ORDERINGS and expected == list(SYNC_ORDERING):
            raise ValidationError(
                {
                    "cursor": [
                        "This cursor is from before the sync position: sync once "
                        "more from the start (without a cursor) and keep the new one."
                    ]
                }
            )
        if names != expected:
            raise ValidationError(
                {"cursor": ["This cursor belongs to another ordering."]}
            )
        if not isinstance(values, list) or len(values) != len(ordering):
            raise invalid
        parsed = []
        for (name, _), value in zip(ordering, values, strict=True):
            field = model._meta.get_field(name)
            if isinstance(field, models.DateTimeField):
                try:
                    moment = parse_datetime(value) if isinstance(value, str) else None
                    # In UTC: PostgreSQL refuses offsets beyond 15:59, and a time at
                    # the edge of the calendar may have no UTC (year 0 or 10000).
                    if moment is not None and moment.tzinfo is not None:
                        moment = moment.astimezone(UTC)
                except (ValueError, OverflowError):  # e.g. month 13, +99:00
                    raise invalid
                if moment is None or moment.tzinfo is None:
                    raise invalid
                parsed.append(moment)
            elif isinstance(field, models.IntegerField | models.AutoField):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise invalid
                if not -(2**63) <= value < 2**63:
                    raise invalid
                parsed.append(value)
            else:
                if not isinstance(value, str) or UNSTORABLE.search(value):
                    raise invalid
                if len(value) > MAX_CURSOR_TEXT:
                    raise invalid
                parsed.append(value)
        return parsed

    @staticmethod
    def _after(ordering, values) -> Q:
        # (a, b) > (x, y)  ==  a > x OR (a = x AND b > y), with each field's direction.
        condition = Q()
        for index, (name, desc) in enumerate(ordering):
            step = Q(**{f"{name}__{'lt' if desc else 'gt'}": values[index]})
            for earlier in range(index):
                step &= Q(**{ordering[earlier][0]: values[earlier]})
            condition |= step
        first, desc = ordering[0]
        # The redundant bound on the first field lets the database use a range scan.
        return Q(**{f"{first}__{'lte' if desc else 'gte'}": values[0]}) & condition
