"""The team's workplace: queues sorted by urgency, the case page, department inboxes.

Every change goes through cases.services, so the admin, the API and the tasks keep
one set of rules and one audit trail. Social posts are hostile text: everything
shown is escaped (format_html, never mark_safe on data).
"""

# Admin autodiscovery imports this package; importing the modules registers their
# pages (mentions re-registers the Mention page that sources.admin registered).
from cases.admin.case import CaseAdmin
from cases.admin.case_inlines import (
    CaseEventInline,
    CommitmentInline,
    EscalationInline,
    MentionInline,
    NewCommitmentInline,
    NewEscalationInline,
    NewNoteInline,
    NewReplyInline,
    NoteInline,
    ReplyInline,
)
from cases.admin.common import (
    BADGE_COLOURS,
    DUE_SOON,
    PRIORITY_RANK,
    badge,
    due_badge,
    report_outcome,
)
from cases.admin.mentions import MentionAdmin
from cases.admin.queue import QueueFilter
from cases.admin.replies import ApprovedFactAdmin, ReplyTemplateAdmin
from cases.admin.team import (
    AgentAdmin,
    DepartmentMembershipAdmin,
    HolidayAdmin,
    ServiceTargetAdmin,
    TeamAdmin,
    TopicAdmin,
)
from cases.admin.work import (
    CaseEventAdmin,
    CommitmentAdmin,
    EscalationAdmin,
    NoteAdmin,
    OverdueCommitmentFilter,
    ReplyAdmin,
)

__all__ = [
    "BADGE_COLOURS",
    "DUE_SOON",
    "PRIORITY_RANK",
    "AgentAdmin",
    "ApprovedFactAdmin",
    "CaseAdmin",
    "CaseEventAdmin",
    "CaseEventInline",
    "CommitmentAdmin",
    "CommitmentInline",
    "DepartmentMembershipAdmin",
    "EscalationAdmin",
    "EscalationInline",
    "HolidayAdmin",
    "MentionAdmin",
    "MentionInline",
    "NewCommitmentInline",
    "NewEscalationInline",
    "NewNoteInline",
    "NewReplyInline",
    "NoteAdmin",
    "NoteInline",
    "OverdueCommitmentFilter",
    "QueueFilter",
    "ReplyAdmin",
    "ReplyInline",
    "ReplyTemplateAdmin",
    "ServiceTargetAdmin",
    "TeamAdmin",
    "TopicAdmin",
    "badge",
    "due_badge",
    "report_outcome",
]
