"""KMS (TrentService): every operation, named after the API, grouped by what it works on."""

from __future__ import annotations

from strongroom.services.kms.aliases import Aliases
from strongroom.services.kms.cryptographic import Cryptography
from strongroom.services.kms.grants import Grants
from strongroom.services.kms.imports import Imports
from strongroom.services.kms.keys import KeyLifecycle
from strongroom.services.kms.multiregion import MultiRegion
from strongroom.services.kms.rotation import Rotation


class KMS(KeyLifecycle, Aliases, Cryptography, Rotation, Grants, Imports, MultiRegion):
    pass
