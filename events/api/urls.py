"""/api/v1/events/ (the feed, the watch, the stream) and /api/v1/webhooks/ (endpoints and deliveries)."""

from django.urls import include, path

urlpatterns = [
    path("events/", include("events.api.feed_urls")),
    path("webhooks/", include("events.api.webhook_urls")),
]
