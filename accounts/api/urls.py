from django.urls import path

from .views import LoginView, LogoutAllView, LogoutView, MeView

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("logoutall/", LogoutAllView.as_view(), name="logoutall"),
    path("me/", MeView.as_view(), name="me"),
]
