"""`/scim/v2/`: SCIM 2.0 (RFC 7644) for the identity providers of customer companies (issue 38).

Thin: each view authenticates the SCIM client by its bearer token, counts it against its rate, parses the
request and calls provisioning.scim, which keeps every rule through the customer-user services. Answers
are `application/scim+json`, errors in SCIM's error schema; each request is logged without its body.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from core.errors import HelpdeskError
from core.generations import renewed_at_the_end
from helpdesk.access import SCIM_CLIENT, opens_to
from provisioning import scim
from provisioning.clients import TooManyScimRequests, client_of_token, count_request
from provisioning.models import ScimClient

logger = logging.getLogger("helpdesk.scim")
CONTENT_TYPE = "application/scim+json"
MAX_DEPTH = 32  # a body nested deeper is refused (no resource is)


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error(
    status: int, detail: str, scim_type: str = "", headers: dict[str, str] | None = None
) -> HttpResponse:
    return answer(scim.ScimError(status, detail, scim_type).as_scim(), status, headers)


def scim_endpoint(*methods: str) -> Callable:
    """A SCIM view: the client's bearer token, its rate, the methods allowed, one transaction, SCIM errors."""

    def wrap(view: Callable) -> Callable:
        @opens_to(SCIM_CLIENT)
        @csrf_exempt
        @wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header[:7].lower() == "bearer " else ""
            client = client_of_token(token)
            if client is None:
                return error(
                    401, "A SCIM client's bearer token is required.", headers={"WWW-Authenticate": "Bearer"}
                )
            try:
                count_request(client)
            except TooManyScimRequests as exc:
                return error(
                    429,
                    "Too many requests for this client.",
                    headers={"Retry-After": str(math.ceil(exc.wait))},
                )
            if request.method not in methods:
                response = error(405, f"{request.method} is not allowed here.")
            else:
                response = _handled(view, request, client, *args, **kwargs)
            logger.info(
                "scim %s %s %s -> %s", client.name, request.method, request.path, response.status_code
            )
            return response

        return endpoint

    return wrap


def _handled(
    view: Callable, request: HttpRequest, client: ScimClient, *args: Any, **kwargs: Any
) -> HttpResponse:
    try:
        with transaction.atomic(), renewed_at_the_end():
            return view(request, client, *args, **kwargs)
    except scim.ScimError as exc:
        return answer(exc.as_scim(), exc.status)
    except HelpdeskError as exc:
        return error(exc.status if exc.status < 500 else 503, exc.message)
    except Exception:  # an answer in SCIM's schema, the cause in the log (never in the answer)
        logger.exception("scim %s %s %s failed", client.name, request.method, request.path)
        return error(500, "The server failed to answer this request; it is logged.")


def body_of(request: HttpRequest) -> Any:
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        raise scim.ScimError(400, "The body is not JSON.", "invalidSyntax") from None
    if _depth(data) > MAX_DEPTH:
        raise scim.ScimError(400, "The body is nested too deeply.", "invalidSyntax")
    return data


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/scim/v2").rstrip("/")


SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@dataclass(frozen=True)
class Query:
    """What a list asks for: from the query string (GET) or a SearchRequest body (POST …/.search)."""

    filter_text: str = ""
    start: int = 1
    count: int = 100
    sort_by: str = ""
    descending: bool = False
    attributes: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    @classmethod
    def of(cls, request: HttpRequest) -> Query:
        if request.method == "POST":  # .search
            body = body_of(request)
            if not isinstance(body, dict) or SEARCH_REQUEST not in (body.get("schemas") or []):
                raise scim.ScimError(400, f"schemas must include {SEARCH_REQUEST}", "invalidSyntax")
            values = {k: v for k, v in body.items() if k != "schemas"}
        else:
            values = {k: request.GET.get(k) for k in request.GET}
        return cls(
            filter_text=str(values.get("filter") or ""), start=_whole(values, "startIndex", 1),
            count=_whole(values, "count", 100), sort_by=str(values.get("sortBy") or ""),
            descending=str(values.get("sortOrder") or "").lower() == "descending",
            attributes=_names(values.get("attributes")), excluded=_names(values.get("excludedAttributes")),
        )  # fmt: skip

    def search(self, base: str) -> dict[str, Any]:
        return {"filter_text": self.filter_text, "start": self.start, "count": self.count,
                "sort_by": self.sort_by, "descending": self.descending, "base": base}  # fmt: skip


def _whole(values: dict[str, Any], name: str, default: int) -> int:
    value = values.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise scim.ScimError(400, f"{name} must be a whole number, not {value!r}", "invalidValue") from None


def _names(value: Any) -> tuple[str, ...]:
    parts = value if isinstance(value, list) else str(value or "").split(",")
    return tuple(str(p).strip() for p in parts if str(p).strip())


def _shaped(resource: dict, query: Query) -> dict:
    """`attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): id, schemas and meta always come back."""
    if not query.attributes and not query.excluded:
        return resource
    always = {"id", "schemas", "meta"}

    def top(name: str) -> str:
        for prefix in (scim.USER + ":", scim.GROUP + ":", scim.ENTERPRISE + ":"):
            if name.lower().startswith(prefix.lower()):
                name = name[len(prefix) :]
        return name.split(".")[0].lower()

    if query.attributes:
        keep = {top(a) for a in query.attributes} | always
        shaped = {
            k: v for k, v in resource.items() if k.lower() in keep or k.lower() == scim.ENTERPRISE.lower()
        }
        if scim.ENTERPRISE in shaped:
            inner = {k: v for k, v in shaped[scim.ENTERPRISE].items() if k.lower() in keep}
            if inner:
                shaped[scim.ENTERPRISE] = inner
            else:
                shaped.pop(scim.ENTERPRISE)
        return shaped
    drop = {top(a) for a in query.excluded} - always
    return {k: v for k, v in resource.items() if k.lower() not in drop}


def _listed(page: scim.Page, query: Query) -> HttpResponse:
    return answer({
        "schemas": [scim.LIST], "totalResults": page.total, "startIndex": page.start,
        "itemsPerPage": len(page.resources), "Resources": [_shaped(r, query) for r in page.resources],
    })  # fmt: skip


def _one(resource: dict, request: HttpRequest, status: int = 200) -> HttpResponse:
    headers = {"ETag": resource["meta"]["version"], "Location": resource["meta"]["location"]}
    return answer(
        _shaped(resource, Query.of(request) if request.method == "GET" else Query()), status, headers
    )


# ------------------------------------------------------------------------------------------- users
@scim_endpoint("GET", "POST")
def users(request: HttpRequest, client: ScimClient) -> HttpResponse:
    if request.method == "POST":
        user = scim.create_user(client, body_of(request))
        return _one(scim.user_resource(client, user, base_url(request)), request, 201)
    query = Query.of(request)
    return _listed(scim.list_users(client, **query.search(base_url(request))), query)


@scim_endpoint("GET", "PUT", "PATCH", "DELETE")
def user(request: HttpRequest, client: ScimClient, user_id: str) -> HttpResponse:
    found = scim.find_user(client, user_id)
    if_match = request.headers.get("If-Match", "")
    if request.method == "DELETE":
        scim.deactivate_user(client, found)
        return HttpResponse(status=204)
    if request.method == "PUT":
        found = scim.replace_user(client, found, body_of(request), if_match=if_match)
    elif request.method == "PATCH":
        found = scim.patch_user(client, found, body_of(request), base=base_url(request), if_match=if_match)
    return _one(scim.user_resource(client, found, base_url(request)), request)


# ------------------------------------------------------------------------------------------ groups
@scim_endpoint("GET", "POST")
def groups(request: HttpRequest, client: ScimClient) -> HttpResponse:
    if request.method == "POST":
        group = scim.create_group(client, body_of(request))
        return _one(scim.group_resource(client, group, base_url(request)), request, 201)
    query = Query.of(request)
    members = "members" not in query.excluded
    return _listed(scim.list_groups(client, members=members, **query.search(base_url(request))), query)


@scim_endpoint("GET", "PUT", "PATCH", "DELETE")
def group(request: HttpRequest, client: ScimClient, group_id: str) -> HttpResponse:
    found = scim.find_group(client, group_id)
    if_match = request.headers.get("If-Match", "")
    if request.method == "DELETE":
        scim.delete_group(client, found)
        return HttpResponse(status=204)
    if request.method == "PUT":
        found = scim.replace_group(client, found, body_of(request), if_match=if_match)
    elif request.method == "PATCH":
        found = scim.patch_group(client, found, body_of(request), base=base_url(request), if_match=if_match)
    return _one(scim.group_resource(client, found, base_url(request)), request)


@scim_endpoint("POST")
def search(request: HttpRequest, client: ScimClient, kind: str = "") -> HttpResponse:
    """POST …/.search (RFC 7644 §3.4.3): a query in the body; at the root, users then groups."""
    query = Query.of(request)
    base = base_url(request)
    if kind == "Users":
        return _listed(scim.list_users(client, **query.search(base)), query)
    if kind == "Groups":
        return _listed(scim.list_groups(client, **query.search(base)), query)
    users = scim.list_users(client, **query.search(base))
    rest = max(query.count - len(users.resources), 0)
    start = max(query.start - users.total, 1)
    groups = scim.list_groups(client, **{**query.search(base), "start": start, "count": rest})
    both = scim.Page(
        users.total + groups.total, users.resources + (groups.resources if rest else []), users.start
    )
    return _listed(both, query)


@scim_endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown(request: HttpRequest, client: ScimClient, rest: str = "") -> HttpResponse:
    """Any other path under /scim/v2/: SCIM's 404, not a web page."""
    raise scim.ScimError(404, f"There is no SCIM endpoint {request.path}.")


# --------------------------------------------------------------------------------------- discovery
@scim_endpoint("GET")
def service_provider_config(request: HttpRequest, client: ScimClient) -> HttpResponse:
    return answer(scim.service_provider_config(base_url(request)))


@scim_endpoint("GET")
def resource_types(request: HttpRequest, client: ScimClient, name: str = "") -> HttpResponse:
    types = scim.resource_types(base_url(request))
    if name:
        found = next((t for t in types if t["id"] == name), None)
        return answer(found) if found else error(404, f"Resource type {name} not found")
    return answer({"schemas": [scim.LIST], "totalResults": len(types), "startIndex": 1,
                   "itemsPerPage": len(types), "Resources": types})  # fmt: skip


@scim_endpoint("GET")
def schemas(request: HttpRequest, client: ScimClient, name: str = "") -> HttpResponse:
    found_all = scim.schemas(base_url(request), client)
    if name:
        found = next((s for s in found_all if s["id"] == name), None)
        return answer(found) if found else error(404, f"Schema {name} not found")
    return answer({"schemas": [scim.LIST], "totalResults": len(found_all), "startIndex": 1,
                   "itemsPerPage": len(found_all), "Resources": found_all})  # fmt: skip
