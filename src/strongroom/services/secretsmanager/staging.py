"""Staging labels: at most one version per label, AWSCURRENT moves carry AWSPREVIOUS along,
and version history is capped the way AWS caps it."""

from __future__ import annotations

from strongroom.services.secretsmanager.model import AWSCURRENT, AWSPREVIOUS, MAX_VERSIONS
from strongroom.storage.secretsmanager import SecretTransaction

_PROTECTED_SECONDS = 24 * 3600


def attach(locked: SecretTransaction, stage: str, version_id: str) -> None:
    """Put `stage` on the version; moving AWSCURRENT makes the old current AWSPREVIOUS."""
    if stage == AWSCURRENT:
        previous = locked.stages().get(AWSCURRENT)
        if previous is not None and previous != version_id:
            locked.set_stage(AWSPREVIOUS, previous)
    locked.set_stage(stage, version_id)


def prune(locked: SecretTransaction, now: float) -> None:
    """Keep at most MAX_VERSIONS versions, dropping the oldest without a staging label; as AWS
    does, a version less than a day old is never dropped."""
    excess = locked.version_count() - MAX_VERSIONS
    if excess > 0:
        labelled = set(locked.stages().values())
        droppable = locked.oldest_versions(
            created_by=now - _PROTECTED_SECONDS, excluding=labelled, limit=excess
        )
        locked.delete_versions(droppable)


def stages_by_version(stages: dict[str, str]) -> dict[str, list[str]]:
    by_version: dict[str, list[str]] = {}
    for stage, version_id in sorted(stages.items()):
        by_version.setdefault(version_id, []).append(stage)
    return by_version
