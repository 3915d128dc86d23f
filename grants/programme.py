"""What every document says about the programme that funds it (DOMAIN.md: visibility)."""

import os

PROGRAMME_NAME = os.environ.get("CASCADE_PROGRAMME", "LEVIATAD Eurocluster")

FUNDING_STATEMENT = "Funded by the European Union"
# The programme's own clock: the local dates people filter the audit trail by.
PROGRAMME_TIMEZONE = os.environ.get("CASCADE_TIMEZONE", "Europe/Brussels")
DISCLAIMER = (
    "Funded by the European Union. Views and opinions expressed are however those of the "
    "author(s) only and do not necessarily reflect those of the European Union or the "
    "European Innovation Council and SMEs Executive Agency (EISMEA). Neither the European "
    "Union nor the granting authority can be held responsible for them."
)
# Retention (DOMAIN.md): 5 years after the final payment, 3 when the voucher is <= EUR 60,000.
RETENTION_YEARS_SMALL = 3
RETENTION_YEARS = 5

# Recovery orders: the consortium's account an SME repays to, printed on the order (unset:
# the order says the account is sent separately); and how long the SME has to repay.
RECOVERY_ACCOUNT_HOLDER = os.environ.get("CASCADE_RECOVERY_ACCOUNT_HOLDER", PROGRAMME_NAME)
RECOVERY_IBAN = os.environ.get("CASCADE_RECOVERY_IBAN", "")
RECOVERY_BIC = os.environ.get("CASCADE_RECOVERY_BIC", "")
RECOVERY_DAYS = 30
