"""The officials' pages (handläggning): calls, review, decision, payments, reports, claims.

Every page needs `permissions.can_handle_cases`: a visitor who is not signed in is sent to
sign in, and anyone else signed in gets 403 on every office URL, whatever object it names —
so that no one outside learns which ids exist. An official who names an object that does
not exist gets 404. Objects are fetched through the `permissions.get_…` helpers; every state
change is a function in `services`.
"""

from __future__ import annotations

from .bulk import (  # noqa: F401
    bulk_review,
    remind,
)
from .calls import (  # noqa: F401
    call_close,
    call_new,
    calls,
)
from .claims import (  # noqa: F401
    claim_account,
    claim_repayment,
    claims,
    redistribute,
    redistribute_confirm,
)
from .facts import (  # noqa: F401
    facts,
    facts_import,
)
from .grants import (  # noqa: F401
    compute,
    grant,
    start,
)
from .recipients import (  # noqa: F401
    answer_requisition,
    invite_recipient_user,
)
from .reports import (  # noqa: F401
    report,
    reports,
    review_report,
)
from .requisitions import (  # noqa: F401
    claim,
    claim_repaid,
    record_payment,
    requisition,
    requisitions,
)
from .review import (  # noqa: F401
    application,
    call_review,
    confirm_location,
    pot_review,
    review_application,
)
from .runs import (  # noqa: F401
    decide,
    run,
    run_units,
)
