from django.contrib.auth import authenticate
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutAllView as KnoxLogoutAllView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.serializers import InputSerializer

from ..auth import TokenAuthentication, last_used
from ..models import TokenInfo
from ..services import token_info_ensure, token_revoke
from ..signin import SIGN_IN_THROTTLES
from .serializers import TokenSerializer, UserSerializer


class LoginSerializer(InputSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})
    client_name = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text='Names this token in the token list, e.g. "voice agent" or "Jane\'s laptop".',
    )

    def validate(self, attrs):
        user = authenticate(self.context["request"], username=attrs["username"], password=attrs["password"])
        # One message whatever was wrong, so the answer does not reveal which usernames exist.
        if user is None or not user.is_active:
            raise serializers.ValidationError("Unable to sign in with the given credentials.", code="authorization")
        attrs["user"] = user
        return attrs


class LoginView(KnoxLoginView):
    """Exchange a username and password for an API token (hashed at rest, expiring).

    Attempts are throttled per client address and per username, and a username with repeated
    failures is locked out for a while from any address (``accounts.signin``): 429 with
    Retry-After, before any password is checked."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = SIGN_IN_THROTTLES

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: inline_serializer(
                "TokenResponse",
                {"token": serializers.CharField(), "expiry": serializers.DateTimeField(), "user": UserSerializer()},
            ),
            400: OpenApiResponse(description="Wrong credentials or missing fields."),
            429: OpenApiResponse(description="Too many sign-in attempts from this address or at this username."),
        },
    )
    def post(self, request, format=None):
        serializer = LoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        request.user = serializer.validated_data["user"]
        self.client_name = serializer.validated_data.get("client_name", "")
        return super().post(request, format=format)

    def throttled(self, request, wait):
        raise exceptions.Throttled(wait, detail="Too many sign-in attempts.")

    def create_token(self):
        instance, token = super().create_token()
        token_info_ensure(token=instance, client_name=self.client_name)
        return instance, token


class MeView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


@extend_schema(request=None, responses={204: None}, description="Revoke the token this request was made with.")
class LogoutView(KnoxLogoutView):
    authentication_classes = (TokenAuthentication,)


@extend_schema(request=None, responses={204: None}, description="Revoke every token of the signed-in user.")
class LogoutAllView(KnoxLogoutAllView):
    authentication_classes = (TokenAuthentication,)


def _own_live_tokens(request):
    now = timezone.now()
    return (
        TokenInfo.objects.select_related("token")
        .filter(token__user=request.user)
        .filter(Q(token__expiry__gt=now) | Q(token__expiry__isnull=True))
        .order_by("-token__created", "pk")
    )


class _TokenContextMixin:
    def get_serializer_context(self):
        context = super().get_serializer_context()
        page = getattr(self, "_page_rows", None)
        digests = [info.token_id for info in page] if page is not None else []
        context["last_used"] = last_used(digests)
        context["current_digest"] = getattr(self.request.auth, "digest", None)
        return context


@extend_schema(tags=["auth"])
class TokenListView(_TokenContextMixin, generics.ListAPIView):
    """The signed-in user's API tokens that have not expired. The raw token is never shown
    again after sign-in; ``current`` marks the token this request was made with."""

    permission_classes = (IsAuthenticated,)
    serializer_class = TokenSerializer
    filter_backends = ()

    def get_queryset(self):
        return _own_live_tokens(self.request)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._page_rows = page if page is not None else list(queryset)
        return page


@extend_schema(tags=["auth"])
class TokenDetailView(_TokenContextMixin, generics.RetrieveDestroyAPIView):
    """One of the signed-in user's API tokens; DELETE revokes it (signing that client out)."""

    permission_classes = (IsAuthenticated,)
    serializer_class = TokenSerializer
    filter_backends = ()
    lookup_field = "pk"

    def get_queryset(self):
        return _own_live_tokens(self.request)

    def get_object(self):
        obj = super().get_object()
        self._page_rows = [obj]
        return obj

    @extend_schema(responses={204: None})
    def delete(self, request, *args, **kwargs):
        token_revoke(user=request.user, token_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
