"""Connectors: one module per kind of source, behind one base class."""

from .base import (
    Connector,
    ConnectorError,
    MentionItem,
    Page,
    TransientError,
)
from .discourse import DiscourseConnector
from .facebook import FacebookConnector
from .feed import FeedConnector
from .http import RetryPolicy, build_client
from .mastodon import MastodonConnector
from .reddit import RedditConnector
from .x_search import XSearchConnector
from .youtube import YouTubeConnector

CONNECTORS: dict[str, type[Connector]] = {
    connector.kind: connector
    for connector in (
        FeedConnector,
        XSearchConnector,
        MastodonConnector,
        RedditConnector,
        YouTubeConnector,
        FacebookConnector,
        DiscourseConnector,
    )
}


def connector_for(kind: str) -> type[Connector]:
    try:
        return CONNECTORS[kind]
    except KeyError:
        raise ConnectorError(f"no connector for source kind {kind!r}") from None


__all__ = [
    "CONNECTORS",
    "Connector",
    "ConnectorError",
    "MentionItem",
    "Page",
    "RetryPolicy",
    "TransientError",
    "build_client",
    "connector_for",
]
