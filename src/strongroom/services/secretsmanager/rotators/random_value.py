"""`strongroom-rotation-random`: a new random value of the secret's shape. A JSON secret names
the fields to regenerate in its tag `strongroom:rotate-fields` (comma-separated); the other
fields are kept."""

from __future__ import annotations

from strongroom.services.secretsmanager.model import Secret
from strongroom.services.secretsmanager.rotators.base import BuiltInRotator, RotationFailure
from strongroom.services.secretsmanager.rotators.shapes import (
    ShapeError,
    regenerate,
    regenerate_fields,
)

FIELDS_TAG = "strongroom:rotate-fields"


class RandomValue(BuiltInRotator):
    def new_value(self, secret: Secret, current: str) -> str:
        named = self.access.tags(secret).get(FIELDS_TAG)
        try:
            if named is None:
                if current.lstrip().startswith("{"):
                    raise RotationFailure(
                        f"a JSON secret names the fields to rotate in its tag {FIELDS_TAG}"
                    )
                return regenerate(current)
            return regenerate_fields(current, [f.strip() for f in named.split(",") if f.strip()])
        except ShapeError as error:
            raise RotationFailure(str(error)) from None
