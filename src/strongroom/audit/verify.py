"""`strongroom audit verify`: check the whole trail in storage, as `aws cloudtrail validate-logs`
checks a bucket, and more (files no digest lists yet, records no log file holds).

It needs only storage and the public halves of the signing keys: an auditor can run it on a
copy of the database without unsealing anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from strongroom.audit.trail import digest_string_to_sign, log_file_bytes
from strongroom.storage.audit import AuditRepository, Digest, LogFile


@dataclass
class Report:
    digests: int = 0
    log_files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


def verify(repository: AuditRepository, start: float, end: float) -> Report:
    """Check every digest and log file whose period overlaps [start, end]."""
    report = Report()
    keys = {
        key.fingerprint: serialization.load_der_public_key(key.public_key)
        for key in repository.signing_keys()
    }
    for account_id, region in repository.trails():
        digests = repository.digests(account_id, region)
        previous: Digest | None = None
        expired = repository.last_expired_digest(account_id, region)
        for digest in digests:
            in_range = digest.end_time >= start and digest.start_time <= end
            problems = list(_digest_problems(repository, digest, previous, expired, keys))
            if in_range:
                report.digests += 1
                report.log_files += len(json.loads(digest.body).get("logFiles") or [])
                report.problems += problems
            previous = digest
        last_end = previous.end_time if previous else None
        stored_digests = {digest.object_key for digest in digests}
        for log_file in repository.log_files(account_id, region):
            if log_file.digest_key in stored_digests:
                continue  # checked against its digest above
            if log_file.newest_event_time < start or log_file.oldest_event_time > end:
                continue
            report.log_files += 1
            report.problems += _undigested_problems(repository, log_file, last_end)
    for account_id, region, first_id, count in repository.uncovered_records(
        repository.cut_through()
    ):
        report.problems.append(
            f"{count} record(s) of {account_id} in {region} from id {first_id} are in no log "
            "file: a log file was deleted"
        )
    return report


def _digest_problems(
    repository: AuditRepository,
    digest: Digest,
    previous: Digest | None,
    expired: str | None,
    keys: Mapping[str, object],
) -> Iterator[str]:
    name = f"digest {digest.object_key}"
    try:
        body = json.loads(digest.body)
    except ValueError:
        yield f"{name}: not valid JSON (edited)"
        return
    if body.get("digestS3Object") != digest.object_key:
        yield f"{name}: names another location ({body.get('digestS3Object')})"
    key = keys.get(body.get("digestPublicKeyFingerprint", ""))
    if not isinstance(key, rsa.RSAPublicKey):
        yield f"{name}: signed with an unknown key"
    else:
        try:
            key.verify(
                bytes.fromhex(digest.signature),
                digest_string_to_sign(body, digest.body),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            yield f"{name}: signature does not verify (edited)"
    yield from _chain_problems(name, body, previous, expired)
    for listed in body.get("logFiles") or []:
        log_file = repository.log_file(listed["s3Object"])
        if log_file is None:
            yield f"log file {listed['s3Object']}: listed in {digest.object_key} but deleted"
            continue
        actual = hashlib.sha256(log_file_bytes(repository, log_file)).hexdigest()
        if actual != listed["hashValue"]:
            yield (
                f"log file {log_file.object_key}: hash differs from its digest (a record was "
                "edited, deleted, inserted or reordered)"
            )


def _chain_problems(
    name: str, body: dict[str, object], previous: Digest | None, expired: str | None
) -> Iterator[str]:
    """`expired` is the last digest retention deleted: the first digest kept may name it."""
    named = body.get("previousDigestS3Object")
    if previous is None:
        if named is not None and named != expired:
            yield f"{name}: the digest before it ({named}) is missing"
        return
    if named != previous.object_key:
        yield (
            f"{name}: names {named} as the digest before it, but the one before it in "
            f"storage is {previous.object_key} (a digest was deleted or reordered)"
        )
        return
    if body.get("previousDigestHashValue") != hashlib.sha256(previous.body).hexdigest():
        yield f"{name}: the digest before it was edited (hash differs)"
    if body.get("previousDigestSignature") != previous.signature:
        yield f"{name}: the digest before it was edited (signature differs)"


def _undigested_problems(
    repository: AuditRepository, log_file: LogFile, last_digest_end: float | None
) -> list[str]:
    """A log file no stored digest lists: not yet digested, or its digest was deleted. Its
    records are checked against the hash taken when it was cut."""
    name = f"log file {log_file.object_key}"
    problems = []
    if log_file.digest_key is not None:
        problems.append(f"{name}: its digest {log_file.digest_key} is missing (deleted)")
    elif last_digest_end is not None and log_file.created < last_digest_end:
        problems.append(f"{name}: older than the last digest, which does not list it")
    if hashlib.sha256(log_file_bytes(repository, log_file)).hexdigest() != log_file.sha256:
        problems.append(
            f"{name}: its records changed since it was cut (edited, deleted, inserted or reordered)"
        )
    return problems
