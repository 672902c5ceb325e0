from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutAllView as KnoxLogoutAllView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from .serializers import UserSerializer


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})

    def validate(self, attrs):
        user = authenticate(self.context["request"], username=attrs["username"], password=attrs["password"])
        # One message whatever was wrong, so the answer does not reveal which usernames exist.
        if user is None or not user.is_active:
            raise serializers.ValidationError("Unable to sign in with the given credentials.", code="authorization")
        attrs["user"] = user
        return attrs


class LoginView(KnoxLoginView):
    """Exchange a username and password for an API token (hashed at rest, expiring)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "login"

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: inline_serializer(
                "TokenResponse",
                {"token": serializers.CharField(), "expiry": serializers.DateTimeField(), "user": UserSerializer()},
            ),
            400: OpenApiResponse(description="Wrong credentials or missing fields."),
        },
    )
    def post(self, request, format=None):
        serializer = LoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        request.user = serializer.validated_data["user"]
        return super().post(request, format=format)


class MeView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


@extend_schema(request=None, responses={204: None}, description="Revoke the token this request was made with.")
class LogoutView(KnoxLogoutView):
    pass


@extend_schema(request=None, responses={204: None}, description="Revoke every token of the signed-in user.")
class LogoutAllView(KnoxLogoutAllView):
    pass
