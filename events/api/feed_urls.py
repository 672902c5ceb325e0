"""/api/v1/events/: the feed (and its watch, ``wait=``) and the Server-Sent Events stream, both async views
(``events.api.feed``); the ASGI server serves them (``config.asgi``), WSGI and ``runserver`` too, a thread each."""

from django.urls import path

from .feed import EventFeedView
from .stream import EventStreamView

urlpatterns = [
    path("", EventFeedView.as_async_view(), name="event-feed"),
    path("stream/", EventStreamView.as_async_view(), name="event-stream"),
]
