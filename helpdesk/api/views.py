"""The REST API: thin views over the same selectors and services as the admin screens.

Every request runs in one transaction that an error rolls back (helpdesk.api.errors), so a failed request
changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from django.conf import settings
from django.core.checks import run_checks
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backends.base import CustomerUserRecord
from backends.errors import CustomerUserNotFound, summarize
from core.errors import DeletionRefused, HelpdeskError, NotFound, ValidationFailed
from core.generations import renewed_at_the_end
from core.history import audit_log
from customers.directory_rules import preview_directory_rules
from customers.selectors import (
    additional_customer_ids,
    customer_user_service_names,
    default_service_names,
    get_customer,
    get_customer_user,
    get_group_by_name,
    get_service_by_name,
    get_sources_status,
    group_names,
    list_groups,
    list_services,
    list_sources,
    search_customer_users,
    search_customers,
)
from customers.services import (
    create_customer,
    create_customer_user,
    generate_random_password,
    set_customer_user_password,
    update_customer,
    update_customer_user,
)
from customers.sync import sync_runs, synced_source
from customers.tasks import sync_source_job
from helpdesk import access
from helpdesk.access import needs
from helpdesk.api import schema  # noqa: F401 (drf-spectacular extensions register on import)
from helpdesk.api import serializers as api
from permissions.company_tickets import list_company_ticket_customer_ids
from permissions.matrix import get_permission_matrix
from permissions.selectors import OTHER, SAME, get_permission_settings, stored_group_permissions
from permissions.services import (
    NAMED_MESSAGES,
    create_group,
    create_service,
    set_additional_customers,
    set_customer_groups,
    set_customer_user_groups,
    set_customer_user_services,
    set_default_services,
    set_permission_setting,
    update_group,
    update_service,
)
from privacy.services import anonymise_person, export_person
from provisioning.clients import create_scim_client, get_scim_client, list_scim_clients, update_scim_client

NAMES = {"type": "array", "items": {"type": "string"}}
GROUP_PERMISSIONS = {
    "type": "object",
    "additionalProperties": NAMES,
    "description": 'group name → permission types, e.g. {"support": ["ro", "create"]}',
}
ERRORS = {
    400: api.ErrorSerializer,
    404: api.ErrorSerializer,
    409: api.ErrorSerializer,
    503: api.ErrorSerializer,
}
DELETE_REFUSED = extend_schema(responses={405: api.ErrorSerializer}, description="Never deleted: invalidate.")
VALID_PARAM = OpenApiParameter(
    "valid", OpenApiTypes.INT, enum=[0, 1], description="1 (default): valid only; 0: all"
)


IF_MATCH = OpenApiParameter(
    "If-Match", str, location=OpenApiParameter.HEADER, required=False,
    description="the ETag of the GET this change is based on: a different current ETag answers 409",
)  # fmt: skip


def etag_of(data: Any) -> str:
    return '"' + hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:20] + '"'


def check_if_match(request: Request, current: Any) -> None:
    """An edit based on an older read is refused (409) instead of overwriting what changed meanwhile."""
    expected = request.headers.get("If-Match")
    if expected and expected != "*" and expected != etag_of(current):
        raise EditConflict(detail=_("It changed since you read it; read it again and retry."))


class EditConflict(HelpdeskError):
    code = "edit_conflict"
    status = 409


class AtomicMixin:
    """One transaction per request around the view's handler; input with NUL characters (which no database
    stores) is refused.

    Authentication, permissions and rates run before the transaction begins (DRF's `dispatch`, with the
    handler alone made atomic): failed logins and request counts commit at once, whatever the view does,
    and their rows are never locked for a whole request. Any error in the handler rolls it back.
    """

    def dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        request = self.request = self.initialize_request(request, *args, **kwargs)
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            method = request.method.lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            with transaction.atomic(), renewed_at_the_end():  # concurrent writers do not queue on them
                response = (handler or self.http_method_not_allowed)(request, *args, **kwargs)
        except Exception as exc:  # DRF's own catch-all: every error becomes an API error
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def check_permissions(self, request):
        super().check_throttles(request)  # rates first: anonymous clients are limited before being refused
        super().check_permissions(request)

    def check_throttles(self, request):
        """Done in `check_permissions`, before it."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in ("PUT", "PATCH") and request.stream is None:  # a write is never defaulted
            raise ValidationFailed.on("body", _("The request has no body; a %(method)s sends one.") % {
                "method": request.method
            })  # fmt: skip
        places = [*((f"path {k}", v) for k, v in kwargs.items()), *request.query_params.lists()]
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            places.append(("body", request.data))
        bad = [name for name, value in places if _has_nul(value)]
        if bad:
            raise ValidationFailed(
                {name: [_("Must not contain NUL characters.")] for name in bad},
                detail=_("NUL characters in %(places)s.") % {"places": ", ".join(bad)},
            )


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class Schema(SpectacularAPIView):
    """The OpenAPI schema of this API."""


class Docs(SpectacularSwaggerView):
    """Swagger UI over the schema, served by the app (no CDN)."""


class ApiView(AtomicMixin, APIView):
    pass


def _valid_only(request: Request) -> bool:
    value = request.query_params.get("valid", "1")
    if value not in ("0", "1"):
        problem = _("Must be 0 or 1, not %(value)r.") % {"value": value}
        raise ValidationFailed.on("valid", problem)
    return value == "1"


def _record_json(record: CustomerUserRecord) -> dict[str, Any]:
    return {"source": record.source, **record.attributes, "UserFullname": record.full_name}


def _record(login: str) -> CustomerUserRecord:
    record = get_customer_user(login)
    if record is None:
        raise CustomerUserNotFound(login=login)
    return record


def _body(request: Request, kind: type, what: str) -> Any:
    """The request's body if it is a `kind`; `what` says in words what it must be."""
    if not isinstance(request.data, kind) or (
        kind is list and not all(isinstance(v, str) for v in request.data)
    ):
        raise ValidationFailed(
            {"body": [_("Must be %(what)s.") % {"what": what}]},
            detail=_("The body must be %(what)s.") % {"what": what},
        )
    return request.data


def _customer(customer_id: str):
    customer = get_customer(customer_id)
    if customer is None:
        raise NotFound(detail=_("There is no customer %(id)r.") % {"id": customer_id})
    return customer


def _check_source(source: str) -> None:
    if source not in {info.alias for info in list_sources()}:
        problem = _("There is no source %(alias)r.") % {"alias": source}
        raise ValidationFailed.on("source", problem)


def _group_permissions(request: Request) -> dict[str, list[str]]:
    body = _body(request, dict, _('an object of group → list of permission types, e.g. {"support": ["ro"]}'))
    bad = [
        name
        for name, types in body.items()
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types)
    ]
    if bad:
        raise ValidationFailed(
            {name: [_("Must be a list of permission types.")] for name in bad},
            detail=_("Each group needs a list of permission types."),
        )
    return body


# ------------------------------------------------------------------------------------- customers
class CustomerWrites:
    """Customers are written by the customers services; their field errors get the API's names."""

    def _write(self, call):
        try:
            return call()
        except ValidationFailed as exc:
            exc.field_errors = {api.MODEL_TO_API.get(k, k): v for k, v in exc.field_errors.items()}
            raise


@extend_schema(
    parameters=[OpenApiParameter("search", str), VALID_PARAM],
    responses={200: api.CustomerSerializer(many=True), 400: api.ErrorSerializer},
)
class CustomerList(AtomicMixin, CustomerWrites, generics.ListCreateAPIView):
    serializer_class = api.CustomerSerializer

    def get_queryset(self):
        return search_customers(
            self.request.query_params.get("search", ""), valid_only=_valid_only(self.request)
        )

    @extend_schema(responses={201: api.CustomerSerializer, 400: api.ErrorSerializer})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = self._write(
            lambda: create_customer(acting_user=self.request.user, **serializer.validated_data)
        )


class CustomerDetail(AtomicMixin, CustomerWrites, generics.RetrieveUpdateAPIView):
    serializer_class = api.CustomerSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        return _customer(self.kwargs["customer_id"])

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = etag_of(response.data)
        return response

    def perform_update(self, serializer):
        check_if_match(self.request, api.CustomerSerializer(serializer.instance).data)
        serializer.instance = self._write(
            lambda: update_customer(
                customer_id=serializer.instance.customer_id,
                changes=serializer.validated_data,
                acting_user=self.request.user,
            )
        )

    @extend_schema(parameters=[IF_MATCH], responses={200: api.CustomerSerializer, **ERRORS})
    def patch(self, request, *args, **kwargs):
        return super().patch(request, *args, **kwargs)

    @DELETE_REFUSED
    def delete(self, request, *args, **kwargs):
        raise DeletionRefused(kind=_("Customers"))


# ------------------------------------------------------------------------------ groups, services
class NamedList(AtomicMixin, generics.ListCreateAPIView):
    """Groups or services, read through their selector (`list_named`); writes go through their service
    (`create_named`)."""

    def get_queryset(self):
        return type(self).list_named(valid_only=_valid_only(self.request))

    def perform_create(self, serializer):
        serializer.instance = type(self).create_named(
            acting_user=self.request.user, **serializer.validated_data
        )


class NamedDetail(AtomicMixin, generics.RetrieveUpdateAPIView):
    """One group or service, found by name case-blind; writes go through its service (`update_named`)."""

    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        found = type(self).get_named(self.kwargs["name"])
        if found is None:
            kind = self.serializer_class.Meta.model._meta.model_name
            raise NotFound(detail=NAMED_MESSAGES[kind]["missing"] % {"name": self.kwargs["name"]})
        return found

    def perform_update(self, serializer):
        serializer.instance = type(self).update_named(
            name=serializer.instance.name, changes=serializer.validated_data, acting_user=self.request.user
        )


@extend_schema(parameters=[VALID_PARAM])
class GroupList(NamedList):
    serializer_class = api.GroupSerializer
    list_named = staticmethod(list_groups)
    create_named = staticmethod(create_group)


class GroupDetail(NamedDetail):
    serializer_class = api.GroupSerializer
    get_named = staticmethod(get_group_by_name)
    update_named = staticmethod(update_group)


@extend_schema(parameters=[VALID_PARAM])
class ServiceList(NamedList):
    serializer_class = api.ServiceSerializer
    list_named = staticmethod(list_services)
    create_named = staticmethod(create_service)


class ServiceDetail(NamedDetail):
    serializer_class = api.ServiceSerializer
    get_named = staticmethod(get_service_by_name)
    update_named = staticmethod(update_service)


# -------------------------------------------------------------------------------- customer users
class CustomerUserList(ApiView):
    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="the R43 grammar: * wildcard, + and OR, ! not"),
            OpenApiParameter("postmaster", str, description="exact e-mail"),
            OpenApiParameter("login", str, description="exact login (* as wildcard)"),
            OpenApiParameter("customer_id", str, description="customer ID (* as wildcard)"),
            OpenApiParameter(
                "all", bool, description="1: list every customer user (paged), when no selector is given"
            ),
            OpenApiParameter("source", str),
            VALID_PARAM,
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={200: api.CustomerUserPageSerializer, 400: api.ErrorSerializer},
        operation_id="customer_users_list",
        description=(
            "A search needs a selector (search, postmaster, login or customer_id; R40), or all=1 to list."
            " A search page never goes past the sources' CustomerUserSearchListLimit (R42):"
            " truncated_sources names the sources that stopped there."
        ),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        limit, offset = (
            _int_param(params, "limit", 100, 1, settings.API_MAX_PAGE_SIZE),
            _int_param(params, "offset", 0, 0, 10_000),
        )
        selectors = {
            name: params[name] for name in ("postmaster", "login", "customer_id") if params.get(name)
        }
        listing = params.get("all") in ("1", "true")
        if not (params.get("search") or selectors or listing):
            raise ValidationFailed(
                {"search": [_("Give search, postmaster, login or customer_id (or all=1 to list everyone).")]},
                detail=_("A search needs a selector (R40)."),
            )
        term = params.get("search") or (None if selectors else "*")
        source = params.get("source") or None
        if source is not None:
            _check_source(source)
        page = search_customer_users(  # a search stops at the sources' limits (R42); a listing is paged
            term=term,
            **selectors,
            source=source,
            valid_only=_valid_only(request),
            limit=offset + limit + 1 if listing and not (params.get("search") or selectors) else None,
        )
        rows = page.rows[offset : offset + limit]
        return Response(
            {
                "count": len(rows),
                "limit": limit,
                "offset": offset,
                "more": len(page.rows) > offset + limit,
                "truncated_sources": list(page.truncated_sources),
                "source_totals": dict(page.source_totals),
                "warnings": [{"source": w.alias, "message": w.message} for w in page.warnings],
                "results": [_record_json(r) for r in rows],
            }
        )

    @extend_schema(
        request=api.NewCustomerUserSerializer, responses={201: api.CreatedCustomerUserSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        body = dict(_body(request, dict, _("an object of Map attributes")))
        source = str(body.pop("source", "CustomerUser") or "CustomerUser")
        _check_source(source)
        record, generated = create_customer_user(attributes=body, acting_user=request.user, source=source)
        return Response(
            {**_record_json(record), "generated_password": generated}, status=status.HTTP_201_CREATED
        )


def _int_param(params, name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        problem = _("Must be a whole number from %(low)d to %(high)d, not %(value)r.") % {
            "low": low,
            "high": high,
            "value": value,
        }
        raise ValidationFailed.on(name, problem)
    return int(value)


class CustomerUserDetail(ApiView):
    @extend_schema(
        responses={200: api.CustomerUserSerializer, 404: api.ErrorSerializer, 503: api.ErrorSerializer}
    )
    def get(self, request: Request, login: str) -> Response:
        data = _record_json(_record(login))
        return Response(data, headers={"ETag": etag_of(data)})

    @extend_schema(
        parameters=[IF_MATCH],
        request=api.CustomerUserSerializer(partial=True),
        responses={200: api.CustomerUserSerializer, **ERRORS},
    )
    def patch(self, request: Request, login: str) -> Response:
        """Change the attributes named; the others stay."""
        return self._update(request, login, replace=False)

    @extend_schema(
        parameters=[IF_MATCH],
        request=api.CustomerUserSerializer,
        responses={200: api.CustomerUserSerializer, **ERRORS},
    )
    def put(self, request: Request, login: str) -> Response:
        """Replace the whole record (R58): writable Map attributes left out become empty, so a required
        one left out is a 400."""
        return self._update(request, login, replace=True)

    def _update(self, request: Request, login: str, *, replace: bool) -> Response:
        changes = _body(request, dict, _("an object of Map attributes"))
        check_if_match(request, _record_json(_record(login)))
        record = update_customer_user(login=login, changes=changes, acting_user=request.user, replace=replace)
        data = _record_json(record)
        return Response(data, headers={"ETag": etag_of(data)})

    @DELETE_REFUSED
    def delete(self, request: Request, login: str) -> Response:
        raise DeletionRefused(kind=_("Customer users"))


class CustomerUserPassword(ApiView):
    @extend_schema(request=api.PasswordSerializer, responses={204: None, **ERRORS})
    def put(self, request: Request, login: str) -> Response:
        serializer = api.PasswordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        set_customer_user_password(
            login=_record(login).login,
            password=serializer.validated_data["password"],
            acting_user=request.user,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerUserPasswordGenerate(ApiView):
    @extend_schema(request=None, responses={200: api.GeneratedPasswordSerializer, **ERRORS})
    def post(self, request: Request, login: str) -> Response:
        record = _record(login)
        password = generate_random_password()
        set_customer_user_password(login=record.login, password=password, acting_user=request.user)
        return Response({"password": password})


class CustomerUserCustomers(ApiView):
    @extend_schema(responses={200: NAMES, **ERRORS})
    def get(self, request: Request, login: str) -> Response:
        record = _record(login)
        return Response(additional_customer_ids(record.login))

    @extend_schema(request={"application/json": NAMES}, responses={200: NAMES, **ERRORS})
    def put(self, request: Request, login: str) -> Response:
        record = _record(login)
        set_additional_customers(
            login=record.login,
            customer_ids=_body(request, list, "a list of customer IDs"),
            acting_user=request.user,
        )
        return self.get(request, login)


class CustomerUserGroups(ApiView):
    @extend_schema(responses={200: GROUP_PERMISSIONS, **ERRORS})
    def get(self, request: Request, login: str) -> Response:
        return Response(stored_group_permissions(login=_record(login).login))

    @extend_schema(
        request={"application/json": GROUP_PERMISSIONS}, responses={200: GROUP_PERMISSIONS, **ERRORS}
    )
    def put(self, request: Request, login: str) -> Response:
        record = _record(login)
        set_customer_user_groups(
            login=record.login, permissions=_group_permissions(request), acting_user=request.user
        )
        return self.get(request, login)


class CustomerUserPermissions(ApiView):
    @extend_schema(responses={200: api.PermissionRowSerializer(many=True), **ERRORS})
    def get(self, request: Request, login: str) -> Response:
        return Response(get_permission_matrix(_record(login).login).as_rows())


class CustomerUserCustomerIds(ApiView):
    @extend_schema(responses={200: NAMES, **ERRORS})
    def get(self, request: Request, login: str) -> Response:
        return Response(list_company_ticket_customer_ids(_record(login).login))


class CustomerUserServices(ApiView):
    @extend_schema(responses={200: NAMES, **ERRORS})
    def get(self, request: Request, login: str) -> Response:
        record = _record(login)
        return Response(customer_user_service_names(record.login))

    @extend_schema(request={"application/json": NAMES}, responses={200: NAMES, **ERRORS})
    def put(self, request: Request, login: str) -> Response:
        record = _record(login)
        set_customer_user_services(
            login=record.login,
            services=_body(request, list, "a list of service names"),
            acting_user=request.user,
        )
        return self.get(request, login)


# ------------------------------------------------------------------------ customers ↔ groups
CONTEXT_PARAM = OpenApiParameter(
    "context",
    str,
    enum=["same", "other"],
    description="same (default): the customer's own tickets; other: other customers'",
)


class CustomerGroups(ApiView):
    def _context(self, request: Request) -> str:
        value = request.query_params.get("context", "same")
        contexts = {"same": SAME, "other": OTHER}
        if value not in contexts:
            problem = _("Must be same or other, not %(value)r.") % {"value": value}
            raise ValidationFailed.on("context", problem)
        return contexts[value]

    @extend_schema(parameters=[CONTEXT_PARAM], responses={200: GROUP_PERMISSIONS, **ERRORS})
    def get(self, request: Request, customer_id: str) -> Response:
        customer = _customer(customer_id)
        return Response(
            stored_group_permissions(customer_id=customer.customer_id, context=self._context(request))
        )

    @extend_schema(
        parameters=[CONTEXT_PARAM],
        request={"application/json": GROUP_PERMISSIONS},
        responses={200: GROUP_PERMISSIONS, **ERRORS},
    )
    def put(self, request: Request, customer_id: str) -> Response:
        set_customer_groups(
            customer_id=customer_id,
            permissions=_group_permissions(request),
            acting_user=request.user,
            context=self._context(request),
        )
        return self.get(request, customer_id)


# ---------------------------------------------------------------------------------- settings
class DefaultGroups(ApiView):
    @extend_schema(responses={200: api.DefaultGroupsSerializer})
    def get(self, request: Request) -> Response:
        options = get_permission_settings()
        return Response({key: list(options.get(key) or []) for key in api.DefaultGroupsSerializer().fields})

    @extend_schema(
        request=api.DefaultGroupsSerializer, responses={200: api.DefaultGroupsSerializer, **ERRORS}
    )
    def put(self, request: Request) -> Response:
        serializer = api.DefaultGroupsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        known = set(group_names())
        unknown = {
            k: [_("No group %(name)r.") % {"name": g} for g in v if g not in known]
            for k, v in serializer.validated_data.items()
        }
        if any(unknown.values()):
            errors = {k: v for k, v in unknown.items() if v}
            raise ValidationFailed(errors, detail=summarize(errors))
        for key, value in serializer.validated_data.items():
            set_permission_setting(key=key, value=value, acting_user=request.user)
        return self.get(request)


class DefaultServices(ApiView):
    @extend_schema(responses={200: NAMES})
    def get(self, request: Request) -> Response:
        return Response(default_service_names())

    @extend_schema(request={"application/json": NAMES}, responses={200: NAMES, **ERRORS})
    def put(self, request: Request) -> Response:
        set_default_services(
            services=_body(request, list, "a list of service names"), acting_user=request.user
        )
        return self.get(request)


# ----------------------------------------------------------------------------------- sources
class Sources(ApiView):
    @extend_schema(responses={200: api.SourcesSerializer})
    def get(self, request: Request) -> Response:
        status_ = get_sources_status()
        infos = {info.alias: info for info in list_sources()}
        errors = [m for m in run_checks(tags=["backends"]) if m.is_serious()]
        return Response(
            {
                "sources": [
                    {
                        "alias": s.alias,
                        "name": infos[s.alias].name if s.alias in infos else "",
                        "type": infos[s.alias].kind if s.alias in infos else "",
                        "read_only": infos[s.alias].read_only if s.alias in infos else True,
                        "reachable": s.reachable,
                        "probe_ms": s.probe_ms,
                        "count": s.count,
                        "valid_count": s.valid_count,
                        "count_complete": s.count_complete,
                        "detail": s.detail,
                        "config_errors": [
                            m.msg for m in errors if m.msg.startswith(f"CUSTOMER_USER_BACKENDS[{s.alias!r}]")
                        ],
                    }
                    for s in status_.sources
                ],
                "conflicts": [{"login": c.login, "sources": list(c.sources)} for c in status_.conflicts],
                "unlisted_sources": list(status_.unlisted_sources),
            }
        )


class SourceSyncRuns(AtomicMixin, generics.ListAPIView):
    """The runs of a synced directory source, newest first; POST queues a run on the job engine."""

    serializer_class = api.SyncRunSerializer
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return sync_runs(self.kwargs["alias"])

    @extend_schema(request=api.SyncRequestSerializer, responses={202: OpenApiTypes.OBJECT, **ERRORS})
    def post(self, request: Request, alias: str) -> Response:
        synced_source(alias)
        body = _body(request, dict, _("an object with full, dry_run and confirm (true or false)"))
        unknown = sorted(set(body) - {"full", "dry_run", "confirm"})
        if unknown:
            raise ValidationFailed(
                {name: [_("Unknown field.")] for name in unknown},
                detail=_("Unknown fields: %(names)s.") % {"names": ", ".join(unknown)},
            )
        for name, value in body.items():
            if not isinstance(value, bool):
                raise ValidationFailed.on(name, _("Must be true or false, not %(value)r.") % {"value": value})
        transaction.on_commit(lambda: sync_source_job(alias, **body))
        return Response({"queued": True, "source": alias, **body}, status=status.HTTP_202_ACCEPTED)


class SourceRulesPreview(ApiView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def post(self, request: Request, alias: str) -> Response:
        """The companies and customer groups the source's CompanyRules and GroupRules give one entry (body:
        {"login": …}), each with the rule and the directory group or value behind it; nothing is written."""
        body = _body(request, dict, _('an object with the login, e.g. {"login": "anna"}'))
        login = body.get("login")
        if not isinstance(login, str) or not login.strip():
            raise ValidationFailed.on("login", _("Must be a login, not %(value)r.") % {"value": login})
        return Response(preview_directory_rules(alias, login.strip()))


# ------------------------------------------------------------------------------------- SCIM clients
def _scim_client_json(client) -> dict[str, Any]:
    return {
        "name": client.name, "source": client.source, "companies": client.companies, "rate": client.rate,
        "is_active": client.is_active, "token_hint": client.token_hint, "created_at": client.created_at,
        "last_used_at": client.last_used_at,
    }  # fmt: skip


class ScimClientList(ApiView):
    @extend_schema(responses={200: api.ScimClient(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        """Every SCIM client (its token never: only its first characters)."""
        return Response([_scim_client_json(c) for c in list_scim_clients()])

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: api.ScimClientCreated, **ERRORS})
    def post(self, request: Request) -> Response:
        """A SCIM client ({"name", "source", "companies": [customer IDs], "rate"}); the answer carries its
        bearer token, this once."""
        body = _body(request, dict, _('an object such as {"name": "acme-entra", "source": "CustomerUser", '
                                      '"companies": ["ACME"]}'))  # fmt: skip
        companies = body.get("companies")
        if not isinstance(companies, list) or not all(isinstance(c, str) for c in companies):
            raise ValidationFailed.on("companies", _("Must be a list of customer IDs, not %(value)r.") % {
                "value": companies})  # fmt: skip
        for key in ("name", "source", "rate"):
            if not isinstance(body.get(key, ""), str):
                raise ValidationFailed.on(key, _("Must be text, not %(value)r.") % {"value": body.get(key)})
        client, token = create_scim_client(name=body.get("name", ""), source=body.get("source", ""),
                                           companies=companies, rate=body.get("rate", ""),
                                           acting_user=request.user)  # fmt: skip
        return Response({**_scim_client_json(client), "token": token}, status=status.HTTP_201_CREATED)


class ScimClientDetail(ApiView):
    @extend_schema(responses={200: api.ScimClient, **ERRORS})
    def get(self, request: Request, name: str) -> Response:
        return Response(_scim_client_json(get_scim_client(name)))

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: api.ScimClient, **ERRORS})
    def patch(self, request: Request, name: str) -> Response:
        """Change "companies", "rate" or "is_active" (false: its token is refused from the next request)."""
        body = _body(request, dict, _('an object such as {"is_active": false}'))
        if "is_active" in body and not isinstance(body["is_active"], bool):
            raise ValidationFailed.on("is_active", _("Must be true or false, not %(value)r.") % {
                "value": body["is_active"]})  # fmt: skip
        return Response(
            _scim_client_json(update_scim_client(name=name, changes=body, acting_user=request.user))
        )


# ----------------------------------------------------------------------------------------- history
SINCE_UNTIL = [
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="entries at or after (ISO 8601)"),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="entries before (ISO 8601)"),
]


def _moment(request: Request, name: str):
    """A `since`/`until` parameter as an aware time in UTC; a 400 naming it when it is none."""
    from django.utils.dateparse import parse_date, parse_datetime
    from django.utils.timezone import is_naive, make_aware

    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        moment = parse_datetime(text) or (parse_date(text) and parse_datetime(f"{text}T00:00:00"))
        if not moment:
            raise ValueError(text)
        moment = make_aware(moment) if is_naive(moment) else moment
        return moment.astimezone(UTC)  # the database takes offsets up to ±15:59 only
    except (ValueError, OverflowError):
        problem = _("Must be a date or an ISO 8601 time, not %(value)r.") % {"value": text}
        raise ValidationFailed.on(name, problem) from None


def _history(request: Request, **filters: str):
    return audit_log(**filters, since=_moment(request, "since"), until=_moment(request, "until"))


class HistoryList(AtomicMixin, generics.ListAPIView):
    """Paged history entries, newest first."""

    serializer_class = api.HistoryEntrySerializer
    http_method_names = ["get", "head", "options"]


@extend_schema(parameters=SINCE_UNTIL)
class CustomerUserHistory(HistoryList):
    def get_queryset(self):
        record = _record(self.kwargs["login"])
        return _history(self.request, object_type="customer_user", object_key=record.login)


@extend_schema(parameters=SINCE_UNTIL)
class CustomerHistory(HistoryList):
    def get_queryset(self):
        customer = _customer(self.kwargs["customer_id"])
        return _history(self.request, object_type="customer", object_key=customer.customer_id)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "actor", str, description="a staff user, customer:<login>, import, migration or system"
        ),
        OpenApiParameter("action", str, description="exact, or a prefix ending in . (customer_user.)"),
        OpenApiParameter(
            "object_type", str, description="customer_user, customer, group, service, setting, staff_user"
        ),
        OpenApiParameter("object", str, description="the object's login, customer ID or name"),
        *SINCE_UNTIL,
    ]
)
class AuditLog(HistoryList):
    def get_queryset(self):
        params = self.request.query_params
        return _history(
            self.request, actor=params.get("actor", ""), action=params.get("action", ""),
            object_type=params.get("object_type", ""), object_key=params.get("object", ""),
        )  # fmt: skip


# ------------------------------------------------------------------------------------------ privacy
class CustomerUserExport(ApiView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, login: str) -> Response:
        """Everything the product holds about this person (GDPR Art. 15 and 20)."""
        return Response(export_person(login, acting_user=request.user))


class CustomerUserAnonymise(ApiView):
    @extend_schema(request=None, responses={200: api.AnonymisedSerializer, **ERRORS})
    def post(self, request: Request, login: str) -> Response:
        """Anonymise this person (GDPR Art. 17); the answer names their new, opaque login. A person of a
        read-only source is refused (409) after the product's own data about them is anonymised."""
        done = anonymise_person(login, acting_user=request.user)
        if done.refused is not None:  # answered, not raised: what the product held stays anonymised
            return Response({**done.refused.as_dict(), "UserLogin": done.login}, status=done.refused.status)
        return Response({"UserLogin": done.login})


# Who may call what: (permissions to read, and in addition to change); see helpdesk/access.py.
_CUSTOMER, _USER = "customers.view_customer", "customers.view_customeruser"
_GROUP, _SERVICE = "customers.view_group", "customers.view_service"
Schema.needs = Docs.needs = access.STAFF  # any active staff user
CustomerList.needs = needs(_CUSTOMER, "customers.add_customer")
CustomerDetail.needs = needs(_CUSTOMER, "customers.change_customer")
CustomerGroups.needs = needs((_CUSTOMER, _GROUP), access.CHANGE_GROUP_PERMISSIONS)
CustomerUserList.needs = needs(_USER, "customers.add_customeruser")
CustomerUserDetail.needs = needs(_USER, "customers.change_customeruser")
CustomerUserPassword.needs = needs(_USER, access.SET_PASSWORD)
CustomerUserPasswordGenerate.needs = needs(_USER, access.SET_PASSWORD)
CustomerUserCustomers.needs = needs((_USER, _CUSTOMER), access.CHANGE_RELATIONS)
CustomerUserGroups.needs = needs((_USER, _GROUP), access.CHANGE_GROUP_PERMISSIONS)
CustomerUserPermissions.needs = needs((_USER, _GROUP))
CustomerUserCustomerIds.needs = needs(_USER)
CustomerUserServices.needs = needs((_USER, _SERVICE), access.CHANGE_RELATIONS)
GroupList.needs = needs(_GROUP, "customers.add_group")
GroupDetail.needs = needs(_GROUP, "customers.change_group")
ServiceList.needs = needs(_SERVICE, "customers.add_service")
ServiceDetail.needs = needs(_SERVICE, "customers.change_service")
DefaultGroups.needs = needs(_GROUP, access.CHANGE_DEFAULTS)
DefaultServices.needs = needs(_SERVICE, access.CHANGE_DEFAULTS)
Sources.needs = needs(access.VIEW_SOURCES)
SourceSyncRuns.needs = needs((access.VIEW_SOURCES, access.VIEW_SYNC_RUNS), access.RUN_SYNC)
SourceRulesPreview.needs = needs(access.VIEW_SOURCES)  # a POST that writes nothing
ScimClientList.needs = needs(access.VIEW_SCIM_CLIENTS, access.ADD_SCIM_CLIENT)
ScimClientDetail.needs = needs(access.VIEW_SCIM_CLIENTS, access.CHANGE_SCIM_CLIENT)
CustomerUserHistory.needs = needs((_USER, access.VIEW_HISTORY))
CustomerHistory.needs = needs((_CUSTOMER, access.VIEW_HISTORY))
AuditLog.needs = needs(access.VIEW_HISTORY)
CustomerUserExport.needs = needs((_USER, access.EXPORT_PERSON))
CustomerUserAnonymise.needs = needs(_USER, access.ANONYMISE)
