"""Staff groups and what each may do in every app; applied by migrations and
`manage.py setup_roles`. Project-wide, so it lives in the core, below the apps."""

from django.contrib.auth.management import create_permissions

ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # Agents do the daily work: triage, cases, replies, notes, escalations, promises.
    "agent": {
        "sources": (
            "view_source",
            "view_author",
            "change_author",
            "view_mention",
            "change_mention",
            "view_engagementrule",
            "view_reachsample",
        ),
        "cases": (
            "view_case",
            "add_case",
            "change_case",
            "assign_case",
            "reply_case",
            "escalate_case",
            "resolve_case",
            "view_reply",
            "add_reply",
            "view_note",
            "add_note",
            "view_escalation",
            "add_escalation",
            "view_commitment",
            "add_commitment",
            "change_commitment",
            "view_caseevent",
            "view_topic",
            "view_team",
            "view_agent",
            "view_replytemplate",
            "view_approvedfact",
        ),
        "reporting": ("view_survey",),
    },
    # Spokespeople check doubtful cases (review queue), handle PR escalations, own the rules.
    "spokesperson": {
        "sources": (
            "view_source",
            "view_author",
            "view_mention",
            "change_mention",
            "view_engagementrule",
            "add_engagementrule",
            "change_engagementrule",
            # The review queue and re-running triage after a rule change.
            "view_reviewmention",
            "change_reviewmention",
            "view_triagerun",
            "add_triagerun",
        ),
        "cases": (
            "view_case",
            "view_reply",
            "view_note",
            "add_note",
            "view_escalation",
            "change_escalation",
            "view_caseevent",
            "view_topic",
            # They word the answers: the templates and the facts the company stands by.
            "view_replytemplate",
            "add_replytemplate",
            "change_replytemplate",
            "delete_replytemplate",
            "view_approvedfact",
            "add_approvedfact",
            "change_approvedfact",
            "delete_approvedfact",
        ),
        "reporting": ("view_survey",),
    },
    # Customer service receives escalations and the daily summary.
    "customer_service": {
        # The customer's contact e-mail is where the survey's personal link goes:
        # kept by customer service and managers, not by the agents who are rated.
        "sources": (
            "view_author",
            "change_author",
            "change_author_contact",
            "view_mention",
        ),
        "cases": (
            "view_case",
            "view_reply",
            "view_note",
            "add_note",
            "view_escalation",
            "change_escalation",
            "view_caseevent",
            "view_topic",
        ),
        # They send a personal survey link where a customer has no e-mail (audited).
        "reporting": ("view_survey", "view_dailysummary", "copy_survey_link"),
    },
    # Managers see everything and manage sources, rules, staffing, targets and API access.
    "manager": {
        "sources": ("*",),
        "cases": ("*",),
        "reporting": ("*",),
        "api": ("*",),
        # What was told to staff, and what could not be delivered.
        "notices": ("view_notice",),
    },
}


def apply_roles(apps, schema_editor=None) -> None:
    """Create or update the staff groups. Works with the real or the historical apps."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # An early migration sees an older project: apps added later (the API app) get
    # their permissions from the migration that adds them.
    app_labels = {label for per_app in ROLE_PERMISSIONS.values() for label in per_app}
    present = {label for label in app_labels if _has_app(apps, label)}
    for app_label in sorted(present):
        # Permissions are normally created after migrate; the groups need them now.
        app_config = apps.get_app_config(app_label)
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = models_module
    for role, per_app in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for app_label, codenames in per_app.items():
            if app_label not in present:
                continue
            qs = Permission.objects.filter(content_type__app_label=app_label)
            if codenames != ("*",):
                qs = qs.filter(codename__in=codenames)
                missing = set(codenames) - set(qs.values_list("codename", flat=True))
                # An early migration sees an older schema: permissions of models
                # added later are granted by the migration that adds them.
                known = {
                    m._meta.model_name
                    for m in apps.get_app_config(app_label).get_models()
                }
                missing = {c for c in missing if c.split("_", 1)[-1] in known}
                if missing:
                    raise RuntimeError(f"Unknown permissions for {role}: {missing}")
            permissions.extend(qs)
        group.permissions.set(permissions)


def grant_permission(apps, app_label: str, codename: str) -> None:
    """Create one new permission now and give it to the roles that list it.

    For the migration that adds a permission: only this one is granted, rather than
    every role re-applied, which would need every other app's migrations that add
    permissions to have run first.
    """
    app_config = apps.get_app_config(app_label)
    models_module = getattr(app_config, "models_module", None)
    app_config.models_module = models_module or True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(
        content_type__app_label=app_label, codename=codename
    )
    for role, per_app in ROLE_PERMISSIONS.items():
        listed = per_app.get(app_label, ())
        if listed == ("*",) or codename in listed:
            group, _ = Group.objects.get_or_create(name=role)
            group.permissions.add(permission)


def revoke_permissions(apps, app_label: str, codenames) -> None:
    """Undo `grant_permission`: the permissions go, and with them every grant."""
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(
        content_type__app_label=app_label, codename__in=list(codenames)
    ).delete()


def _has_app(apps, label: str) -> bool:
    try:
        apps.get_app_config(label)
    except LookupError:
        return False
    return True
