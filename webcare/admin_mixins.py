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
