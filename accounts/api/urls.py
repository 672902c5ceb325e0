from django.urls import path

from .views import LoginView, LogoutAllView, LogoutView, MeView, TokenDetailView, TokenListView

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("logoutall/", LogoutAllView.as_view(), name="logoutall"),
    path("me/", MeView.as_view(), name="me"),
    path("tokens/", TokenListView.as_view(), name="token-list"),
    path("tokens/<uuid:pk>/", TokenDetailView.as_view(), name="token-detail"),
]
