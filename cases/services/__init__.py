"""Every write on a case, in one place for the admin, the API and the tasks.

Each service is atomic, locks the case row, checks the state machine
(`cases.models.CASE_TRANSITIONS`) and the actor's permission, writes a CaseEvent and
enqueues mail and webhooks only after commit.

Actor convention: `actor` is the staff user doing it (permissions are checked);
`actor_label` names an API client ("api:<name>") or a task ("system:<task>"), whose
access the API layer or the scheduler has already decided.

The code is split by concern: common (errors, constants, permission and status
helpers), lifecycle (open, add a mention, wait, resolve, reopen, close, merge),
updates, assignment (and agents' availability), replies (and notes), escalations,
commitments (and their reminders), deadlines and customers. Callers import from
`cases.services`, which re-exports the public names below.
"""

from cases.services.assignment import (
    agent_set_availability,
    case_assign,
    case_assign_automatically,
)
from cases.services.commitments import (
    ReminderReport,
    commitment_cancel,
    commitment_keep,
    commitment_make,
    commitment_reminders_send,
)
from cases.services.common import (
    BATCH_SIZE,
    COMMITMENT_REMINDER_LEAD,
    UPDATABLE_FIELDS,
    WARNING_LEAD,
    CaseError,
    CasePermissionDenied,
    InvalidTransition,
)
from cases.services.customers import MAX_LINKED_CASES, author_link_customer
from cases.services.deadlines import DeadlineReport, case_deadlines_check
from cases.services.escalations import (
    case_escalate,
    escalation_acknowledge,
    escalation_resolve,
)
from cases.services.lifecycle import (
    case_add_mention,
    case_close,
    case_merge,
    case_open,
    case_reopen,
    case_resolve,
    case_wait_for_customer,
)
from cases.services.publishing import reply_mark_published, reply_send_again
from cases.services.replies import (
    ConversationChanged,
    case_add_note,
    case_reply,
    case_start_answering,
    case_stop_answering,
)
from cases.services.updates import case_update

__all__ = [
    "reply_mark_published",
    "reply_send_again",
    "ConversationChanged",
    "case_start_answering",
    "case_stop_answering",
    "BATCH_SIZE",
    "COMMITMENT_REMINDER_LEAD",
    "MAX_LINKED_CASES",
    "UPDATABLE_FIELDS",
    "WARNING_LEAD",
    "CaseError",
    "CasePermissionDenied",
    "DeadlineReport",
    "InvalidTransition",
    "ReminderReport",
    "agent_set_availability",
    "author_link_customer",
    "case_add_mention",
    "case_add_note",
    "case_assign",
    "case_assign_automatically",
    "case_close",
    "case_deadlines_check",
    "case_escalate",
    "case_merge",
    "case_open",
    "case_reopen",
    "case_reply",
    "case_resolve",
    "case_update",
    "case_wait_for_customer",
    "commitment_cancel",
    "commitment_keep",
    "commitment_make",
    "commitment_reminders_send",
    "escalation_acknowledge",
    "escalation_resolve",
]
