"""/api/v1/webhooks/: endpoints/ (CRUD, rotate-secret/, enable/, disable/, deliveries/) and deliveries/{id}/replay/."""

from rest_framework.routers import DefaultRouter

from .webhooks import DeliveryViewSet, EndpointViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("endpoints", EndpointViewSet, basename="webhook-endpoint")
router.register("deliveries", DeliveryViewSet, basename="webhook-delivery")

urlpatterns = router.urls
