"""Delivery of the audit trail as CloudTrail delivers it: log files and signed digest files.

Records are cut into log files (one per account and Region) every minute; every hour each
account and Region gets a digest file that lists the SHA-256 of each new log file, names the
digest before it with its hash and signature, and is signed SHA256withRSA, exactly as
CloudTrail's digests are (so `aws cloudtrail validate-logs` checks them). Files are served from
storage as the S3 objects CloudTrail would have written to the trail's bucket.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import logging
import secrets
import string
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from strongroom.audit.record import event_time_text, outcome_unknown, service_event
from strongroom.audit.writer import AuditUnavailable, AuditWriter
from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock
from strongroom.services.context import ServiceEvent
from strongroom.storage.audit import (
    AuditRepository,
    Digest,
    LogFile,
    SigningKey,
    StoredRecord,
)

log = logging.getLogger("strongroom.audit")

TRAIL_NAME = "management-events"
DELIVERY_SECONDS = 60.0
MAX_RECORDS_PER_FILE = 5000
DIGEST_SECONDS = 3600.0
# A call still has no record this long after it reserved one: its server stopped mid-call.
STALE_RESERVATION_SECONDS = 900.0
SIGNATURE_ALGORITHM = "SHA256withRSA"
HASH_ALGORITHM = "SHA-256"
_KEY_NAME_ALPHABET = string.ascii_letters + string.digits


def bucket_name(account_id: str) -> str:
    return f"strongroom-cloudtrail-{account_id}"


def trail_arn(region: str, account_id: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account_id}:trail/{TRAIL_NAME}"


def log_file_text(records: list[StoredRecord]) -> bytes:
    """A log file's exact bytes (before gzip), as hashed in its digest."""
    return b'{"Records":[' + b",".join(r.text.encode() for r in records) + b"]}"


def log_file_bytes(repository: AuditRepository, log_file: LogFile) -> bytes:
    """A log file rebuilt from the records it holds now."""
    return log_file_text(
        repository.record_range(
            log_file.account_id, log_file.region, log_file.after_id, log_file.through_id
        )
    )


def digest_string_to_sign(body: dict[str, object], body_bytes: bytes) -> bytes:
    previous = body["previousDigestSignature"] or "null"
    return (
        f"{body['digestEndTime']}\n{body['digestS3Bucket']}/{body['digestS3Object']}\n"
        f"{hashlib.sha256(body_bytes).hexdigest()}\n{previous}"
    ).encode()


def fingerprint_of(public_key_der: bytes) -> str:
    # CloudTrail's fingerprints are 32 hex digits; this one only has to name the key.
    return hashlib.md5(public_key_der, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """When an account's trail last delivered, for GetTrailStatus."""

    first_record: float | None
    log_file: float | None
    digest: float | None
    error: str | None


@dataclass(frozen=True)
class S3Object:
    body: bytes  # gzip, as CloudTrail stores it
    metadata: dict[str, str]
    last_modified: float


class LogFileBuilder:
    """One log file in the making: records go in in id order and are hashed as they come, so
    a cut never holds more than the running hash of each file."""

    def __init__(self, account_id: str, region: str, after_id: int, now: float) -> None:
        self.account_id, self.region, self.after_id, self._now = account_id, region, after_id, now
        self.count = 0
        self.last_id = after_id
        self._hash = hashlib.sha256(b'{"Records":[')
        self._oldest = self._newest = 0.0

    def add(self, record: StoredRecord) -> None:
        self._hash.update((b"," if self.count else b"") + record.text.encode())
        self._oldest = min(self._oldest, record.event_time) if self.count else record.event_time
        self._newest = max(self._newest, record.event_time)
        self.count += 1
        self.last_id = record.id

    def finish(self, through_id: int) -> LogFile:
        self._hash.update(b"]}")
        moment = datetime.datetime.fromtimestamp(self._now, datetime.UTC)
        unique = "".join(secrets.choice(_KEY_NAME_ALPHABET) for _ in range(16))
        account, region = self.account_id, self.region
        return LogFile(
            object_key=f"AWSLogs/{account}/CloudTrail/{region}/{moment:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{moment:%Y%m%dT%H%MZ}_{unique}.json.gz",
            account_id=account,
            region=region,
            after_id=self.after_id,
            through_id=through_id,
            oldest_event_time=self._oldest,
            newest_event_time=self._newest,
            created=self._now,
            sha256=self._hash.hexdigest(),
        )


def cut_log_files(repository: AuditRepository, now: float) -> list[LogFile]:
    """Cut every record not yet in a log file into log files: per account and Region, at most
    MAX_RECORDS_PER_FILE records each. Batches of records keep being stored meanwhile."""
    after, through = repository.cut_range()
    if through <= after:
        return []
    building: dict[tuple[str, str], LogFileBuilder] = {}
    files = []
    for record in repository.records_between(after, through):
        key = (record.account_id, record.region)
        builder = building.get(key)
        if builder is None or builder.count == MAX_RECORDS_PER_FILE:
            start = after
            if builder is not None:
                files.append(builder.finish(builder.last_id))
                start = builder.last_id
            builder = building[key] = LogFileBuilder(*key, start, now)
        builder.add(record)
    files += [builder.finish(through) for builder in building.values()]
    return files if repository.add_log_files(files, after, through) else []


class AuditTrail:
    def __init__(
        self,
        repository: AuditRepository,
        writer: AuditWriter,
        barrier: Barrier,
        clock: Clock,
        retention_days: int,
    ) -> None:
        self._repository = repository
        self._writer = writer
        self._barrier = barrier
        self._clock = clock
        self._retention_seconds = retention_days * 86400
        self._last_delivery = 0.0

    # Background jobs (the leader runs them)

    def record_service_event(self, event: ServiceEvent) -> None:
        """Store the record of what a service did by itself. The deed is done: a record that
        cannot be stored is reported (and shows on /health), it cannot undo it."""
        try:
            self._writer.write(service_event(event, round(self._clock.time(), 3)))
        except AuditUnavailable:
            log.error(
                "the audit record of %s %s on %s could not be stored",
                event.event_source,
                event.event_name,
                ", ".join(arn for _, arn in event.resources),
            )

    def settle_reservations(self) -> None:
        """Record, as of unknown outcome, the calls whose server stopped mid-call."""
        now = self._clock.time()
        for reservation in self._repository.reservations_before(now - STALE_RESERVATION_SECONDS):
            self._writer.write(outcome_unknown(reservation.record, reservation.created))
            log.warning("request %s: recorded with an unknown outcome", reservation.request_id)

    def deliver(self) -> None:
        """Every minute: cut new records into log files; digest what is an hour old."""
        now = self._clock.time()
        if now - self._last_delivery < DELIVERY_SECONDS:
            return
        self._last_delivery = now
        cut_log_files(self._repository, now)
        for account_id, region in self._repository.trails():
            last = self._repository.last_digest(account_id, region)
            files = self._repository.log_files(account_id, region, undigested_only=True)
            since = last.end_time if last else min((f.created for f in files), default=now)
            if files and now - since >= DIGEST_SECONDS:
                self._digest(account_id, region)

    def expire(self) -> None:
        """Delete what is older than the retention period, whole digests at a time."""
        expired = self._repository.expire(self._clock.time() - self._retention_seconds)
        if expired:
            log.info("audit retention: %d digest period(s) deleted", expired)

    def close_period(self) -> list[Digest]:
        """Cut and digest everything now (before an export, or in a test), without waiting
        for the hour."""
        cut_log_files(self._repository, self._clock.time())
        trails = self._repository.trails()
        return [self._digest(account_id, region) for account_id, region in trails]

    # Objects in the trail's bucket

    def object_keys(
        self, account_id: str, prefix: str, marker: str, limit: int
    ) -> list[tuple[str, float]]:
        return self._repository.object_keys(account_id, prefix, marker, limit)

    def object(self, account_id: str, key: str) -> S3Object | None:
        log_file = self._repository.log_file(key)
        if log_file is not None and log_file.account_id == account_id:
            return S3Object(_gzip(log_file_bytes(self._repository, log_file)), {}, log_file.created)
        digest = self._repository.digest(key)
        if digest is not None and digest.account_id == account_id:
            metadata = {"signature": digest.signature, "signature-algorithm": SIGNATURE_ALGORITHM}
            return S3Object(_gzip(digest.body), metadata, digest.end_time)
        return None

    def latest_delivery(self, account_id: str) -> Delivery:
        first_record, log_file, digest = self._repository.delivery_times(account_id)
        # Never the store's own words: they are about the whole server, not this account.
        error = None if self._writer.health()["writable"] else "Audit storage is unavailable."
        return Delivery(first_record, log_file, digest, error)

    def public_keys(self, start: float, end: float) -> list[SigningKey]:
        return [
            key
            for key in self._repository.signing_keys()
            if key.valid_from <= end and (key.valid_to is None or key.valid_to >= start)
        ]

    # Internals

    def _digest(self, account_id: str, region: str) -> Digest:
        """The next digest of an account and Region, listing its log files not yet digested.
        Processes that digest at once (a close during the hourly digest) take turns: the one
        whose previous digest is no longer the last tries again, so the chain never forks."""
        while True:
            previous = self._repository.last_digest(account_id, region)
            files = self._repository.log_files(account_id, region, undigested_only=True)
            # Digest names carry their end time to the second: each must be later than the
            # last, and none may lie in the future, so a close within the same second waits.
            wait = (previous.end_time + 1 - self._clock.time()) if previous else 0.0
            if wait > 0:
                time.sleep(wait)
            digest = self._signed_digest(account_id, region, previous, files, self._clock.time())
            if self._repository.add_digest(digest, files, previous):
                return digest

    def _signed_digest(
        self,
        account_id: str,
        region: str,
        previous: Digest | None,
        files: list[LogFile],
        now: float,
    ) -> Digest:
        private_key, fingerprint = self._signing_key(now)
        end = float(int(now))
        oldest = min((f.oldest_event_time for f in files), default=end)
        start = previous.end_time if previous else float(int(min(oldest, end)))
        moment = datetime.datetime.fromtimestamp(end, datetime.UTC)
        bucket = bucket_name(account_id)
        key = (
            f"AWSLogs/{account_id}/CloudTrail-Digest/{region}/{moment:%Y/%m/%d}/"
            f"{account_id}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{region}_"
            f"{moment:%Y%m%dT%H%M%SZ}.json.gz"
        )
        body: dict[str, object] = {
            "awsAccountId": account_id,
            "digestStartTime": event_time_text(start),
            "digestEndTime": event_time_text(end),
            "digestS3Bucket": bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": fingerprint,
            "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
            "newestEventTime": event_time_text(max(f.newest_event_time for f in files))
            if files
            else None,
            "oldestEventTime": event_time_text(min(f.oldest_event_time for f in files))
            if files
            else None,
            "previousDigestS3Bucket": bucket if previous else None,
            "previousDigestS3Object": previous.object_key if previous else None,
            "previousDigestHashValue": hashlib.sha256(previous.body).hexdigest()
            if previous
            else None,
            "previousDigestHashAlgorithm": HASH_ALGORITHM if previous else None,
            "previousDigestSignature": previous.signature if previous else None,
            "logFiles": [
                {
                    "s3Bucket": bucket,
                    "s3Object": f.object_key,
                    # The hash taken when the file was cut: a record changed since shows.
                    "hashValue": f.sha256,
                    "hashAlgorithm": HASH_ALGORITHM,
                    "newestEventTime": event_time_text(f.newest_event_time),
                    "oldestEventTime": event_time_text(f.oldest_event_time),
                }
                for f in files
            ],
        }
        body_bytes = json.dumps(body, separators=(",", ":")).encode()
        signature = private_key.sign(
            digest_string_to_sign(body, body_bytes), padding.PKCS1v15(), hashes.SHA256()
        )
        digest = Digest(
            object_key=key,
            account_id=account_id,
            region=region,
            start_time=start,
            end_time=end,
            body=body_bytes,
            signature=signature.hex(),
        )
        return digest

    def _signing_key(self, now: float) -> tuple[rsa.RSAPrivateKey, str]:
        """The digest signing key, made on first use; its private half is behind the barrier."""
        keys = self._repository.signing_keys()
        if not keys:
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public_der = private_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.PKCS1
            )
            fingerprint = fingerprint_of(public_der)
            private_der = private_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            self._repository.add_signing_key(
                SigningKey(
                    fingerprint=fingerprint,
                    public_key=public_der,
                    private_blob=self._barrier.encrypt(private_der, _signing_key_aad(fingerprint)),
                    valid_from=now,
                )
            )
            keys = self._repository.signing_keys()
        current = keys[-1]
        aad = _signing_key_aad(current.fingerprint)
        private_der = self._barrier.decrypt(current.private_blob, aad)
        loaded = serialization.load_der_private_key(private_der, password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        return loaded, current.fingerprint


def _signing_key_aad(fingerprint: str) -> bytes:
    return f"audit_signing_keys/{fingerprint}".encode()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)
