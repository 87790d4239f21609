"""Audit record ids: request ids are random UUIDs; event ids are time-ordered UUIDs, so that the
unique index on them grows at its end."""

import uuid

from strongroom.audit.record import new_event_id, new_id


def test_request_ids_are_random_uuids() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)


def test_event_ids_are_version_7_uuids_carrying_their_millisecond() -> None:
    moment = 1_796_085_135.8287
    event_id = uuid.UUID(new_event_id(moment))
    assert event_id.version == 7
    assert event_id.variant == uuid.RFC_4122
    assert int(event_id.hex[:12], 16) == 1_796_085_135_828


def test_event_ids_sort_by_time_and_never_repeat() -> None:
    moments = [1_700_000_000 + step / 1000 for step in range(2000)]
    ids = [new_event_id(moment) for moment in moments]
    assert ids == sorted(ids)
    assert len({new_event_id(1_700_000_000.0) for _ in range(10_000)}) == 10_000
