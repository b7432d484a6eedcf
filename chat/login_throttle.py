"""django-axes storage for log-in throttling (AXES_HANDLER), with one change of rule.

axes' database handler, on a successful log-in, deletes every failure of that username
*and every failure from that address* — so someone with an account of their own could
guess at another account from the same address, logging in to their own now and then
to wipe the count. A success proves only that account's password: it clears that
account's failures and nothing else; the address's count runs out with the cool-off.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt


class AccountResetHandler(AxesDatabaseHandler):
    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count
