from rest_framework.routers import DefaultRouter

from .views import (
    NotificationViewSet,
    PostViewSet,
    ReplyViewSet,
    ReportViewSet,
    SubscriptionViewSet,
    UseCaseViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.register("posts", PostViewSet, basename="community-post")
router.register("replies", ReplyViewSet, basename="community-reply")
router.register("reports", ReportViewSet, basename="community-report")
router.register("subscriptions", SubscriptionViewSet, basename="community-subscription")
router.register("notifications", NotificationViewSet, basename="community-notification")
router.register("use-cases", UseCaseViewSet, basename="community-use-case")

urlpatterns = router.urls
