class ReadOnlyAdminMixin:
    """Records that are evidence (audit rows, what was seen): shown, never added,
    changed or deleted in the admin. For model admins and inlines of every app."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
