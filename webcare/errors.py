"""The refusals of every app's services, so the API and the admin answer them alike.

A service raises one of these (or its app's subclass) with a message for people:
the admin shows the message, the API answers 400, 403 or 409 with it.
"""


class ServiceError(Exception):
    """A rule refused the action; the message says why (400)."""


class StateConflict(ServiceError):
    """Not possible in the record's current state (409)."""


class ServicePermissionDenied(ServiceError):
    """The actor may not do this (403)."""
