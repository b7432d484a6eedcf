"""django-axes storage for log-in throttling (AXES_HANDLER), with two changes of rule.

1. Two limits. axes compares one failure count with one limit, but an address is often a
   whole classroom behind one router, where a few typos each must not lock thirty pupils
   out: an account is locked after LOGIN_FAILURE_LIMIT failures, an address after
   LOGIN_ADDRESS_FAILURE_LIMIT. ``get_failures`` reports the address's count scaled to the
   account limit, so axes' single comparison applies both.
2. A success clears only its own account. axes' database handler, on a successful log-in,
   deletes every failure of that username *and every failure from that address* — so
   someone with an account of their own could guess at another account from the same
   address, logging in to their own now and then to wipe the count. A success proves only
   that account's password; the address's count runs out with the cool-off.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


class AccountResetHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None) -> int:
        # One queryset per AXES_LOCKOUT_PARAMETERS entry: ["username", "ip_address"].
        by_account, by_address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        # floor(a * L / A) >= L exactly when a >= A: the address limit, in account units.
        return max(by_account, by_address * settings.LOGIN_FAILURE_LIMIT // settings.LOGIN_ADDRESS_FAILURE_LIMIT)

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count
