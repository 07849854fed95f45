"""Admin screens for customer users, which live in sources rather than in one model, and for the sources.

Views are thin: they read through customers.selectors, write through customers.services and
permissions.services, and render in the admin's look (admin.site.each_context).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.checks import run_checks
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from backends.errors import SourceUnavailable, UnknownSource
from backends.registry import sources
from core.errors import HelpdeskError, ValidationFailed
from core.validity import Validity
from customers import two_factor
from customers.directory_rules import directory_relations, preview_directory_rules
from customers.forms import CustomerUserForm
from customers.import_runs import get_import_run, import_report, queue_import, recent_imports
from customers.imports import CustomerImporter, CustomerUserImporter, check_file
from customers.password_reset import request_password_reset
from customers.people_search import find_customer_users
from customers.selectors import (
    SourceInfo,
    additional_customer_ids,
    additional_members,
    customer_user_service_names,
    default_service_names,
    get_customer,
    get_customer_user,
    get_customer_users,
    get_sources_status,
    list_services,
    list_sources,
    probe_source,
    search_customers,
    valid_customers,
)
from customers.services import (
    begin_panel_view,
    create_customer_user,
    invalidate_customer_user,
    set_customer_user_password,
    update_customer_user,
)
from customers.sync import sync_health, sync_runs
from customers.tasks import import_file_job, sync_source_job
from helpdesk.admin.history import history_link
from helpdesk.portal.views import VIEW_AS_KEY
from permissions.matrix import get_permission_matrix
from permissions.services import (
    add_customer_users_to_customer,
    remove_customer_users_from_customer,
    set_additional_customers,
    set_customer_user_services,
    set_default_services,
)
from privacy.services import anonymise_person, export_person
from tickets.selectors import list_customer_user_tickets

LIST_LIMITS = ("50", "250", "1000")


def render_admin(request: HttpRequest, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(
        request, template, {**admin.site.each_context(request), "title": title, **context}
    )


def save_and_report(request: HttpRequest, write, success: str) -> bool:
    """Run a service write; report its error or its success as an admin message. True when it wrote."""
    try:
        write()
    except HelpdeskError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success)
    return True


def _record_or_404(login: str):
    record = get_customer_user(login)  # an unreachable source raises SourceUnavailable (a 503, not a 404)
    if record is None:
        raise Http404(_("There is no customer user %(login)r.") % {"login": login})
    return record


# ------------------------------------------------------------------------------------------ list
def customer_user_list(request: HttpRequest) -> HttpResponse:
    """Search all sources or one; `partial=1` answers with the results only (search as you type)."""
    query = request.GET.get("q", "").strip()
    source = request.GET.get("source") or None
    include_invalid = request.GET.get("valid") == "all"
    limit = int(request.GET["limit"]) if request.GET.get("limit") in LIST_LIMITS else None
    page, error = None, None
    try:
        page = find_customer_users(query, source=source, valid_only=not include_invalid, limit=limit)
    except UnknownSource as exc:
        error = exc.message
    shown = len(page.rows) if page is not None else 0
    more = next((n for n in LIST_LIMITS if int(n) > shown), None)  # the next page size that shows more
    context = {
        "limits": LIST_LIMITS,
        "limit": str(limit or ""),
        "more_limit": more if page is not None and page.truncated_sources else None,
        "page": page,
        "error": error,
        "query": query,
        "source": source or "",
        "include_invalid": include_invalid,
        "sources": list_sources(),
    }
    if request.GET.get("partial"):
        return TemplateResponse(request, "admin/customers/customer_user_results.html", context)
    return render_admin(request, "admin/customers/customer_user_list.html", _("Customer users"), **context)


def customer_choices(request: HttpRequest) -> JsonResponse:
    """The customer-ID picker's answer as you type (`q`): the first valid customers by ID or name."""
    found = search_customers(request.GET.get("q", ""), valid_only=True)[:CHOICES]
    return JsonResponse(
        {"results": [{"id": c.customer_id, "text": f"{c.customer_id} — {c.name}"} for c in found]}
    )


CHOICES = 20


def customer_user_choices(request: HttpRequest) -> JsonResponse:
    """The customer-user picker's answer as you type (`q`): people found the way agents type them."""
    found = (
        find_customer_users(request.GET.get("q", ""), infix=True, limit=CHOICES).rows
        if request.GET.get("q")
        else []
    )
    return JsonResponse({"results": [{"id": r.login, "text": f"{r.login} — {r.display}"} for r in found]})


def customer_customer_users(request: HttpRequest, customer_id: str) -> HttpResponse:
    """A customer's customer users beside their primary one (R23), from the customer's side: tick off to
    remove, add by login (suggested as you type) — the same services as the customer user's own screen."""
    customer = get_customer(customer_id)
    if customer is None:
        raise Http404(_("There is no customer %(id)r.") % {"id": customer_id})
    members = additional_members(customer.customer_id)
    if request.method == "POST":
        kept = set(request.POST.getlist("member"))
        added = [
            login.strip()
            for login in request.POST.get("add", "").replace(";", ",").split(",")
            if login.strip()
        ]

        def write():
            remove_customer_users_from_customer(
                logins=[m for m in members if m not in kept], customer_id=customer.customer_id,
                acting_user=request.user)  # fmt: skip
            if added:
                add_customer_users_to_customer(logins=added, customer_id=customer.customer_id,
                                               acting_user=request.user)  # fmt: skip

        saved = _("The customer users of %(customer)s were saved.") % {"customer": customer.customer_id}
        if save_and_report(request, write, saved):
            return redirect("admin:customer_customer_users", customer_id=customer.customer_id)
    records, _unavailable = get_customer_users(members)
    rows = [
        (login, records[login.casefold()].display if login.casefold() in records else "") for login in members
    ]
    return render_admin(
        request,
        "admin/customers/customer_members.html",
        _("Customer users of %(customer)s") % {"customer": customer.customer_id},
        customer=customer,
        rows=rows,
        choices_url=reverse("admin:customer_user_choices"),
    )


def _with_customer_picker(form: CustomerUserForm) -> CustomerUserForm:
    """The customer-ID fields suggest existing customers as you type (admin.js asks customer_choices)."""
    for name in ("UserCustomerID", "UserCustomerIDs"):
        field = form.fields.get(name)
        if field is not None and not field.disabled:
            choices = reverse("admin:customer_choices")
            field.widget.attrs.update({"data-choices": choices, "autocomplete": "off"})
    return form


# ------------------------------------------------------------------------------------ import
def customer_user_import(request: HttpRequest) -> HttpResponse:
    """Check a CSV or JSONL file of customers or customer users before importing it: a dry run by the import
    commands' own engine and rules — what would be written, and every refused row with its field, value and
    reason. Nothing is written; the import itself runs as `import_customer_users` / `import_customers`."""
    kind = request.POST.get("kind") or "customer_users"
    own = [info for info in list_sources(read_only=False) if sources[info.alias].reads_own_table]
    check = None
    if request.method == "POST" and request.POST.get("action") == "import" and request.FILES.get("file"):
        if kind == "customers" and not request.user.has_perm("customers.add_customer"):
            raise PermissionDenied
        alias = request.POST.get("source") or (own[0].alias if own else "")
        try:
            run = queue_import(
                upload=request.FILES["file"], kind=kind, source=alias, acting_user=request.user
            )
        except ValidationFailed as exc:
            messages.error(request, exc.message)
        else:
            transaction.on_commit(lambda: import_file_job(run.pk))
            messages.success(request, _("%(name)s is queued for import.") % {"name": run.name})
            return redirect("admin:import_runs")
    elif request.method == "POST" and request.FILES.get("file") is not None:
        upload = request.FILES["file"]
        if kind == "customers":
            check = check_file(upload, CustomerImporter)
        elif own:
            alias = (
                request.POST.get("source") if request.POST.get("source") in sources.aliases else own[0].alias
            )
            check = check_file(upload, CustomerUserImporter, config=sources.configs[alias])
    elif request.method == "POST":
        messages.error(request, _("Choose a file to check."))
    return render_admin(request, "admin/customers/customer_user_import.html", _("Check a file to import"),
                        kind=kind, own_sources=own, check=check)  # fmt: skip


def import_runs(request: HttpRequest) -> HttpResponse:
    """Imports queued from this screen, with how far each got; the page refreshes itself while one runs."""
    runs = list(recent_imports())
    active = any(run.status in ("queued", "running") for run in runs)
    return render_admin(request, "admin/customers/import_runs.html", _("Imports"), runs=runs, active=active)


def import_run_report(request: HttpRequest, run_id: int) -> HttpResponse:
    """The refused rows of an import (line, field, value, reason), as the command writes them."""
    run = get_import_run(run_id)
    report = import_report(run) if run is not None else None
    if report is None:
        raise Http404(_("This import refused no rows."))
    return FileResponse(report.open("rb"), as_attachment=True, filename=f"{run.name}.errors.csv")


# ------------------------------------------------------------------------------------ add / edit
def customer_user_add(request: HttpRequest) -> HttpResponse:
    writable = list_sources(read_only=False)
    if not writable:
        messages.error(request, _("No source is writable: customer users cannot be added here."))
        return redirect("admin:customer_user_list")
    alias = request.POST.get("source") or request.GET.get("source") or writable[0].alias
    if alias not in {info.alias for info in writable}:
        raise Http404(_("Source %(alias)s is not a writable source.") % {"alias": alias})
    config = sources.configs[alias]
    # "Add a customer user" on a customer's page brings its customer ID along.
    preset = {k: v for k, v in request.GET.items() if k in ("UserCustomerID", "UserEmail")}
    form = _with_customer_picker(CustomerUserForm(config, request.POST or None, initial=preset))
    if request.method == "POST" and form.is_valid():
        try:
            record, generated = create_customer_user(
                attributes=form.cleaned_data, acting_user=request.user, source=alias
            )
        except ValidationFailed as exc:
            form.add_service_errors(exc.field_errors or {"__all__": [exc.message]})
        except HelpdeskError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("Customer user %(login)s was added to %(source)s.")
                % {"login": record.login, "source": alias},
            )
            if generated:
                messages.warning(
                    request,
                    _("A password was generated: %(password)s — it is shown only now.")
                    % {"password": generated},
                )
            return redirect("admin:customer_user_change", login=record.login)
    return render_admin(
        request,
        "admin/customers/customer_user_form.html",
        _("Add customer user"),
        form=form,
        source=alias,
        writable=writable,
        adding=True,
    )


def customer_user_change(request: HttpRequest, login: str) -> HttpResponse:
    record = _record_or_404(login)
    # A read-only source's users, or a staff user who may read but not change (agents): shown, not edited.
    read_only = sources[record.source].read_only or not request.user.has_perm("customers.change_customeruser")
    form = _with_customer_picker(
        CustomerUserForm(
            sources.configs[record.source], request.POST or None, record=record, read_only=read_only
        )
    )
    if request.method == "POST" and not read_only and form.is_valid():
        try:
            record = update_customer_user(
                login=record.login, changes=form.changes(), acting_user=request.user
            )
        except ValidationFailed as exc:
            form.add_service_errors(exc.field_errors or {"__all__": [exc.message]})
        except HelpdeskError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Customer user %(login)s was saved.") % {"login": record.login})
            return redirect("admin:customer_user_change", login=record.login)
    matrix = get_permission_matrix(record.login)
    tickets = list_customer_user_tickets(record.login)
    try:
        from_directory = directory_relations(record)
    except SourceUnavailable as exc:
        from_directory = {"unavailable": exc.message}
    return render_admin(
        request,
        "admin/customers/customer_user_form.html",
        record.login,
        form=form,
        record=record,
        read_only=read_only,
        source_read_only=sources[record.source].read_only,
        matrix=matrix,
        adding=False,
        tickets=tickets,
        second_factor=two_factor.is_enabled(record.login),
        sets_passwords=sources[record.source].sets_passwords,
        history_url=history_link("customer_user", record.login),
        from_directory=from_directory,
    )


@require_POST
def customer_user_invalidate(request: HttpRequest, login: str) -> HttpResponse:
    try:
        record = invalidate_customer_user(
            login=login,
            acting_user=request.user,
            validity=int(request.POST.get("validity") or Validity.INVALID),
        )
    except HelpdeskError as exc:
        messages.error(request, exc.message)
        return redirect("admin:customer_user_change", login=login)
    messages.success(
        request,
        _("Customer user %(login)s is now %(validity)s.")
        % {"login": record.login, "validity": Validity(record.valid_id).label},
    )
    return redirect("admin:customer_user_change", login=record.login)


@require_POST
def customer_user_second_factor_reset(request: HttpRequest, login: str) -> HttpResponse:
    """Turn a customer user's second factor off (a lost phone); they set it up again at their next login
    where it is required."""
    record = _record_or_404(login)
    if two_factor.reset(record.login, acting_user=request.user):
        messages.success(request, _("The second factor of %(login)s was reset.") % {"login": record.login})
    else:
        messages.info(request, _("%(login)s has no second factor.") % {"login": record.login})
    return redirect("admin:customer_user_change", login=record.login)


@require_POST
def customer_user_password(request: HttpRequest, login: str) -> HttpResponse:
    """Set a new password (`new_password1`, `new_password2`, the policy applies), or send the person a reset
    mail (`send_reset`): their own link, as "Forgot your password?" sends it."""
    record = _record_or_404(login)
    if request.POST.get("send_reset"):
        request_password_reset(record.login, link=lambda uid, token: request.build_absolute_uri(
            reverse("portal:password_reset_confirm", args=[uid, token])))  # fmt: skip
        messages.success(
            request, _("A reset mail goes to %(email)s.") % {"email": record.email or record.login}
        )
        return redirect("admin:customer_user_change", login=record.login)
    first, second = request.POST.get("new_password1", ""), request.POST.get("new_password2", "")
    if not first or first != second:
        messages.error(request, _("Type the new password twice, the same both times."))
    else:
        try:
            set_customer_user_password(login=record.login, password=first, acting_user=request.user)
        except HelpdeskError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The password of %(login)s was set.") % {"login": record.login})
    return redirect("admin:customer_user_change", login=record.login)


@require_POST
def customer_user_view_as(request: HttpRequest, login: str) -> HttpResponse:
    """Open the customer panel as this customer user, read-only, with a banner (a history entry)."""
    record = begin_panel_view(login=login, acting_user=request.user)
    request.session[VIEW_AS_KEY] = record.login
    return redirect("portal:tickets")


# ------------------------------------------------------------------------------- privacy
def customer_user_export(request: HttpRequest, login: str) -> HttpResponse:
    """Everything the product holds about this person, as a JSON download (GDPR Art. 15, 20)."""
    document = export_person(login, acting_user=request.user)
    response = JsonResponse(document, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{document["UserLogin"]}.json"'
    return response


def customer_user_anonymise(request: HttpRequest, login: str) -> HttpResponse:
    """Asks first; then erases the person's data (GDPR Art. 17) and opens them under their new login."""
    record = _record_or_404(login)
    if request.method != "POST" or request.POST.get("confirm") != record.login:
        return render_admin(request, "admin/customers/customer_user_anonymise.html",
                            _("Anonymise %(login)s") % {"login": record.login}, record=record)  # fmt: skip
    done = anonymise_person(record.login, acting_user=request.user)
    if done.refused is not None:
        messages.warning(request, done.refused.message)
    else:
        messages.success(request, _("The customer user was anonymised; their login is now %(login)s.")
                         % {"login": done.login})  # fmt: skip
    return redirect("admin:customer_user_change", login=done.login)


# ------------------------------------------------------------------------------ relations
def customer_user_customers(request: HttpRequest, login: str) -> HttpResponse:
    """The additional customers of one customer user (R4), as a filterable checkbox list."""
    record = _record_or_404(login)
    if request.method == "POST" and save_and_report(
        request,
        lambda: set_additional_customers(
            login=record.login, customer_ids=request.POST.getlist("customer"), acting_user=request.user
        ),
        _("The customers of %(login)s were saved.") % {"login": record.login},
    ):
        return redirect("admin:customer_user_customers", login=record.login)
    chosen = set(additional_customer_ids(record.login))
    customers = valid_customers(limit=1000)
    rows = [
        (c.customer_id, c.name, c.customer_id in chosen, c.customer_id == record.customer_id)
        for c in customers
    ]
    return render_admin(
        request,
        "admin/customers/choice_list.html",
        _("Customers of %(login)s") % {"login": login},
        record=record,
        rows=rows,
        field="customer",
        note=_("The primary customer comes from the source and is always included."),
    )


def _service_rows(chosen: set[str]) -> list[tuple[str, str, bool, bool]]:
    return [(s.name, s.comments, s.name in chosen, False) for s in list_services(valid_only=True)]


def customer_user_services(request: HttpRequest, login: str) -> HttpResponse:
    record = _record_or_404(login)
    if request.method == "POST" and save_and_report(
        request,
        lambda: set_customer_user_services(
            login=record.login, services=request.POST.getlist("service"), acting_user=request.user
        ),
        _("The services of %(login)s were saved.") % {"login": record.login},
    ):
        return redirect("admin:customer_user_services", login=record.login)
    chosen = set(customer_user_service_names(record.login))
    return render_admin(
        request,
        "admin/customers/choice_list.html",
        _("Services of %(login)s") % {"login": login},
        record=record,
        rows=_service_rows(chosen),
        field="service",
        note=_("Default services apply to everyone in addition to these."),
    )


def default_services(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and save_and_report(
        request,
        lambda: set_default_services(services=request.POST.getlist("service"), acting_user=request.user),
        _("The default services were saved."),
    ):
        return redirect("admin:default_services")
    chosen = set(default_service_names())
    return render_admin(
        request,
        "admin/customers/choice_list.html",
        _("Default services"),
        rows=_service_rows(chosen),
        field="service",
        note=_("Every customer user may use these services."),
    )


# ---------------------------------------------------------------------------------- sources
def source_status(request: HttpRequest) -> HttpResponse:
    """Each source's state, its effective configuration (secrets masked) and group support; `test` (POST)
    asks one source now, past the breaker, and says what usually causes a failure."""
    if request.method == "POST" and request.POST.get("test") in sources.aliases:
        tested = probe_source(request.POST["test"])
        if tested.ok:
            messages.success(
                request, _("%(alias)s answers (%(ms)s ms).") % {"alias": tested.alias, "ms": tested.ms}
            )
        else:
            messages.error(request, f"{tested.alias}: {tested.detail} {tested.hint}".strip())
        return redirect("admin:source_status")
    status = get_sources_status()
    infos = {info.alias: info for info in list_sources()}
    problems = [m for m in run_checks(tags=["backends"]) if m.is_serious() or m.level >= 30]
    rows = [
        (
            infos.get(s.alias) or SourceInfo(s.alias, "", "", True),
            s,
            sources.configs[s.alias].group_support if s.alias in sources.configs else None,
            sources[s.alias].effective_config() if s.alias in sources.aliases else {},
        )
        for s in status.sources
    ]
    return render_admin(
        request,
        "admin/customers/source_status.html",
        _("Sources"),
        rows=rows,
        status=status,
        problems=problems,
        synced=set(sync_health()),
        ruled={alias for alias in sources.aliases if sources[alias].derives_grants},
        user_list_url=reverse("admin:customer_user_list"),
    )


def source_rules_preview(request: HttpRequest, alias: str) -> HttpResponse:
    """What a directory's CompanyRules and GroupRules give one login now, and why; nothing is written."""
    if alias not in sources.aliases:
        raise Http404(_("There is no source %(alias)r.") % {"alias": alias})
    login = request.GET.get("login", "").strip()
    preview, problem = None, ""
    if login:
        try:
            preview = preview_directory_rules(alias, login)
        except HelpdeskError as exc:
            problem = exc.message
    return render_admin(
        request,
        "admin/customers/source_preview.html",
        _("Rules of %(alias)s: preview") % {"alias": alias},
        alias=alias,
        login=login,
        preview=preview,
        problem=problem,
    )


RUN_OPTIONS = ("full", "dry_run", "confirm")


def source_sync_runs(request: HttpRequest, alias: str) -> HttpResponse:
    """A synced directory's runs (counts, refused entries, a dry run's diff); POST queues a run as a job
    (full, dry run, confirmed past the guard), as `manage.py sync_source` would run it."""
    if alias not in sources.aliases:
        raise Http404(_("There is no source %(alias)r.") % {"alias": alias})
    try:
        runs = list(sync_runs(alias)[:50])
    except HelpdeskError as exc:
        raise Http404(exc.message) from exc
    if request.method == "POST":
        options = {name: request.POST.get(name) == "on" for name in RUN_OPTIONS}
        transaction.on_commit(lambda: sync_source_job(alias, **options))
        queued = _("A sync of %(alias)s is queued; its run appears here when a worker starts it.")
        messages.success(request, queued % {"alias": alias})
        return redirect("admin:source_sync_runs", alias=alias)
    return render_admin(
        request,
        "admin/customers/sync_runs.html",
        _("Sync runs of %(alias)s") % {"alias": alias},
        alias=alias,
        runs=runs,
        health=sync_health().get(alias, {}),
    )
