"""The S3 subset that reads the audit trail's bucket: CloudTrail's log and digest files, as
`aws cloudtrail validate-logs` and `aws s3api` read them.

The only buckets are the audit trail's, one per account (`strongroom-cloudtrail-<account>`),
read-only, and each account sees only its own.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote_plus

from strongroom.audit.trail import AuditTrail, S3Object, bucket_name
from strongroom.services.context import RequestContext
from strongroom.services.s3.errors import AccessDenied, InvalidArgument, NoSuchBucket, NoSuchKey

MAX_KEYS = 1000
_AUDIT_BUCKET = re.compile(re.escape(bucket_name("")) + r"\d{12}")
_BUCKET_RESOURCE = "AWS::S3::Bucket"
_OBJECT_RESOURCE = "AWS::S3::Object"
_SCAN_BATCH = 1000  # keys read at a time while folding keys into common prefixes


class S3:
    def __init__(self, trail: AuditTrail, home_region: str) -> None:
        self._trail = trail
        self._home_region = home_region

    def get_bucket_location(
        self, ctx: RequestContext, Bucket: str, ExpectedBucketOwner: str | None = None
    ) -> dict[str, Any]:
        self._own_bucket(ctx, Bucket, ExpectedBucketOwner)
        # AWS answers an empty LocationConstraint for us-east-1.
        region = None if self._home_region == "us-east-1" else self._home_region
        return {"LocationConstraint": region}

    def list_objects(
        self,
        ctx: RequestContext,
        Bucket: str,
        Delimiter: str | None = None,
        EncodingType: str | None = None,
        Marker: str | None = None,
        MaxKeys: int | None = None,
        Prefix: str | None = None,
        ExpectedBucketOwner: str | None = None,
    ) -> dict[str, Any]:
        self._own_bucket(ctx, Bucket, ExpectedBucketOwner)
        if MaxKeys is not None and MaxKeys < 0:
            raise InvalidArgument("Argument maxKeys must be an integer between 0 and 2147483647")
        limit = MAX_KEYS if MaxKeys is None else min(MaxKeys, MAX_KEYS)
        entries, truncated = self._entries(
            ctx.account_id, Prefix or "", Marker or "", Delimiter or "", limit
        )
        # Keys go out URL-encoded when asked (boto3 always asks, and decodes them again).
        encode = (lambda text: quote_plus(text, safe="/")) if EncodingType == "url" else str
        contents = [
            {"Key": encode(key), "LastModified": created, "StorageClass": "STANDARD"}
            for key, created in entries
            if created is not None
        ]
        prefixes = [{"Prefix": encode(key)} for key, created in entries if created is None]
        result: dict[str, Any] = {
            "Name": Bucket,
            "Prefix": encode(Prefix or ""),
            "Marker": encode(Marker or ""),
            "MaxKeys": MAX_KEYS if MaxKeys is None else MaxKeys,
            "IsTruncated": truncated,
            "Contents": contents or None,
            "CommonPrefixes": prefixes or None,
            "EncodingType": EncodingType,
        }
        if Delimiter:
            result["Delimiter"] = encode(Delimiter)
            # Without a delimiter clients continue from the last key; with one, S3 names the
            # place, which may be a common prefix.
            if truncated and entries:
                result["NextMarker"] = encode(entries[-1][0])
        return result

    def get_object(
        self,
        ctx: RequestContext,
        Bucket: str,
        Key: str,
        ChecksumMode: str | None = None,  # boto3 sends ENABLED; no checksums are stored
        ExpectedBucketOwner: str | None = None,
    ) -> dict[str, Any]:
        found = self._object(ctx, Bucket, Key, ExpectedBucketOwner)
        # The content length is the body's: the HTTP layer sets it.
        return {"Body": found.body, **_object_headers(found)}

    def head_object(
        self,
        ctx: RequestContext,
        Bucket: str,
        Key: str,
        ChecksumMode: str | None = None,
        ExpectedBucketOwner: str | None = None,
    ) -> dict[str, Any]:
        found = self._object(ctx, Bucket, Key, ExpectedBucketOwner)
        return {"ContentLength": len(found.body), **_object_headers(found)}

    # Internals

    def _own_bucket(self, ctx: RequestContext, bucket: str, expected_owner: str | None) -> None:
        if bucket != bucket_name(ctx.account_id):
            # Another account's trail bucket exists, but is not the caller's to read.
            if _AUDIT_BUCKET.fullmatch(bucket):
                raise AccessDenied("Access Denied")
            raise NoSuchBucket("The specified bucket does not exist")
        if expected_owner is not None and expected_owner != ctx.account_id:
            raise AccessDenied("Access Denied")
        ctx.note_resource(_BUCKET_RESOURCE, f"arn:aws:s3:::{bucket}")

    def _object(
        self, ctx: RequestContext, bucket: str, key: str, expected_owner: str | None
    ) -> S3Object:
        self._own_bucket(ctx, bucket, expected_owner)
        found = self._trail.object(ctx.account_id, key)
        if found is None:
            raise NoSuchKey("The specified key does not exist.")
        ctx.note_resource(_OBJECT_RESOURCE, f"arn:aws:s3:::{bucket}/{key}")
        return found

    def _entries(
        self, account_id: str, prefix: str, marker: str, delimiter: str, limit: int
    ) -> tuple[list[tuple[str, float | None]], bool]:
        """Up to `limit` entries after `marker` in key order: (key, created) for objects,
        (common prefix, None) for the keys a delimiter folds together; and whether more
        follow."""
        entries: list[tuple[str, float | None]] = []
        # A marker that is itself a common prefix was listed already, with all it folds.
        folded = marker if delimiter and _common_prefix(marker, prefix, delimiter) == marker else ""
        cursor, batch_size = marker, _SCAN_BATCH if delimiter else limit + 1
        while True:
            batch = self._trail.object_keys(account_id, prefix, cursor, batch_size)
            for key, created in batch:
                cursor = key
                common = _common_prefix(key, prefix, delimiter) if delimiter else None
                if common is not None and folded and common == folded:
                    continue
                if len(entries) == limit:
                    return entries, True
                if common is not None:
                    folded = common
                    entries.append((common, None))
                else:
                    entries.append((key, created))
            if len(batch) < batch_size:
                return entries, False


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix a delimiter folds `key` into, or None if it stands alone."""
    if not key.startswith(prefix):
        return None
    cut = key.find(delimiter, len(prefix))
    return key[: cut + len(delimiter)] if cut >= 0 else None


def _object_headers(found: S3Object) -> dict[str, Any]:
    return {
        # CloudTrail's files are gzip-compressed JSON.
        "ContentType": "application/json",
        "ContentEncoding": "gzip",
        "LastModified": found.last_modified,
        "ETag": f'"{hashlib.md5(found.body, usedforsecurity=False).hexdigest()}"',
        "Metadata": found.metadata or None,
    }
