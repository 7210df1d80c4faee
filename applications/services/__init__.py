"""The grant workflow, one function per state change.

call → application → review → decision → requisition → payment → usage
report → repayment and redistribution. Each function checks the state it
starts from, changes it in one transaction, and leaves an audit entry with
who and when, which is also the history shown on the application.

One module a stage, every public function re-exported here (`services.decide(...)`):
`calls`, `applying` (drafts, submission, review), `screening` (each unit's stored
verdict in its pot), `money` (decision, requisitions, payments, balances), `reports`
(usage reports), `claims` (repayment claims and redistribution), `bulk` (many rows at
once, each through the single row's door), `notices` (the e-mail
they send); `base` holds what they share.
"""

from __future__ import annotations

from .applying import (  # noqa: F401
    UnitChoice,
    eligibility_preview,
    review_application,
    save_draft,
    start_application,
    submission_problems,
    submit_application,
    withdraw_application,
)
from .base import (  # noqa: F401
    UNIT_BASED,
    WorkflowError,
    confirmed_unit,
    pot_amount,
    pot_measure,
)
from .bulk import (  # noqa: F401
    REPORT_REMINDER,
    REQUISITION_REMINDER,
    BulkOutcome,
    bulk_review_applications,
    remind_recipients,
    reminder_for,
)
from .calls import (  # noqa: F401
    close_call,
    indicative_rate,
    open_call,
)
from .claims import (  # noqa: F401
    RedistributionPreview,
    RedistributionShare,
    claim_repayment,
    claimable,
    mark_claim_repaid,
    open_round,
    overdue_claims,
    preview_redistribution,
    record_repayment,
    redistribute,
    redistribution_candidates,
    repaid_total,
    set_claim_account,
    waiting_claims,
    with_balances,
    with_repaid,
)
from .facts import (  # noqa: F401
    DECLARATION,
    Facts,
    Verification,
    grant_facts,
    previous_facts,
    previous_grant,
    stated_facts,
    verify_facts,
)
from .money import (  # noqa: F401
    Balance,
    OnBehalf,
    accept_requisition,
    balance_of,
    decide,
    decision_date_problems,
    decline_requisition,
    paid_total,
    pot_balances,
    record_payment,
)
from .notices import (  # noqa: F401
    deliver_notice,
    record_notice,
    requeue_notices,
    requeue_stale_notices,
)
from .reports import (  # noqa: F401
    add_attachment,
    remove_attachment,
    report_for,
    review_report,
    save_report,
    submit_report,
    unspent,
    used_total,
)
from .screening import (  # noqa: F401
    UnitScreening,
    refresh_screening,
    rescreen_grant_units,
    screen_applications,
    screening_key,
)
