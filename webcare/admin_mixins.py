from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList


class ReadOnlyAdminMixin:
    """Records that are evidence (audit rows, what was seen): shown, never added,
    changed or deleted in the admin. For model admins and inlines of every app."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SaveChangedFieldsMixin:
    """A change form writes only the fields its user changed.

    The default `save_model` writes the whole row as the form's request loaded it, so
    a save overwrites what a service wrote meanwhile (a poll's cursor and lease, a
    customer's survey opt-out). Saving the changed fields leaves those alone.
    """

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        concrete = obj._meta.concrete_fields
        changed = [f.name for f in concrete if f.name in form.changed_data]
        if not changed:
            return  # many-to-many changes are saved by save_related
        stamps = [f.name for f in concrete if getattr(f, "auto_now", False)]
        obj.save(
            update_fields=changed + [name for name in stamps if name not in changed]
        )


class HostileQueryChangeList(ChangeList):
    """Query values no lookup can take are Django's "invalid lookup" (`?e=1`), not a
    500: a date hierarchy year of 9999 (the year after it does not exist) or 10**20,
    a year 1 that is year 0 in UTC, a number or date beyond what SQLite converts.
    Django turns only some of these (a month 13) into that answer itself."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error

    def get_results(self, request):
        # The queries run here: a value out of a column's range fails only now.
        try:
            super().get_results(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error


class HostileQueryAdminMixin:
    """Every model admin's changelist as a HostileQueryChangeList (webcare.admin_site
    mixes this into every admin registered, the project's and third parties')."""

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        return HostileQueryChangeList if changelist is ChangeList else changelist
