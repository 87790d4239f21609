"""IAM: every operation, named after the API, grouped by what it works on."""

from __future__ import annotations

from strongroom.services.iam.credentials import Credentials
from strongroom.services.iam.identities import Identities
from strongroom.services.iam.policies import Policies


class IAM(Identities, Policies, Credentials):
    pass
