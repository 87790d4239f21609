"""CloudTrail: the one trail every account has (multi-Region, with log file validation and
delivery to a CloudWatch Logs group), its public keys, and the 90-day event history."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from strongroom.audit.record import event_time_text
from strongroom.audit.trail import TRAIL_NAME, AuditTrail, bucket_name, trail_arn
from strongroom.clock import Clock
from strongroom.services.cloudtrail import errors as e
from strongroom.services.context import RequestContext
from strongroom.storage.audit import AuditRepository, RecordQuery

EVENT_HISTORY_SECONDS = 90 * 86400
MAX_LOOKUP_RESULTS = 50
# LookupEvents attribute -> the indexed column of audit_records it is found by.
_LOOKUP_COLUMNS = {
    "EventId": "event_id",
    "EventName": "event_name",
    "ReadOnly": "read_only",
    "Username": "username",
    "ResourceType": "resource_type",
    "ResourceName": "resource_name",
    "EventSource": "event_source",
    "AccessKeyId": "access_key_id",
}


class CloudTrail:
    def __init__(
        self,
        trail: AuditTrail,
        records: AuditRepository,
        clock: Clock,
        home_region: str,
        log_group: str,
    ) -> None:
        self._trail = trail
        self._records = records
        self._clock = clock
        self._home_region = home_region
        self._log_group = log_group

    # Trails

    def describe_trails(
        self,
        ctx: RequestContext,
        trailNameList: list[str] | None = None,
        includeShadowTrails: bool = True,
    ) -> dict[str, Any]:
        trail = self._description(ctx)
        # The trail lives in the home Region; elsewhere it is a "shadow" of a multi-Region trail.
        shown = includeShadowTrails or ctx.region == self._home_region
        if trailNameList:
            shown = shown and any(self._names_trail(ctx, name) for name in trailNameList)
        return {"trailList": [trail] if shown else []}

    def list_trails(self, ctx: RequestContext, NextToken: str | None = None) -> dict[str, Any]:
        arn = trail_arn(self._home_region, ctx.account_id)
        return {"Trails": [{"TrailARN": arn, "Name": TRAIL_NAME, "HomeRegion": self._home_region}]}

    def get_trail(self, ctx: RequestContext, Name: str) -> dict[str, Any]:
        self._require_trail(ctx, Name)
        return {"Trail": self._description(ctx)}

    def get_trail_status(self, ctx: RequestContext, Name: str) -> dict[str, Any]:
        self._require_trail(ctx, Name)
        status: dict[str, Any] = {"IsLogging": True}
        delivered = self._trail.latest_delivery(ctx.account_id)
        if delivered.log_file is not None:
            status["LatestDeliveryTime"] = delivered.log_file
            status["LatestDeliveryAttemptTime"] = event_time_text(delivered.log_file)
            status["LatestDeliveryAttemptSucceeded"] = event_time_text(delivered.log_file)
        if delivered.digest is not None:
            status["LatestDigestDeliveryTime"] = delivered.digest
        if delivered.first_record is not None:
            status["StartLoggingTime"] = delivered.first_record
            status["TimeLoggingStarted"] = event_time_text(delivered.first_record)
        if delivered.error:
            status["LatestDeliveryError"] = delivered.error
        return status

    def _description(self, ctx: RequestContext) -> dict[str, Any]:
        account, home = ctx.account_id, self._home_region
        return {
            "Name": TRAIL_NAME,
            "S3BucketName": bucket_name(account),
            "IncludeGlobalServiceEvents": True,
            "IsMultiRegionTrail": True,
            "HomeRegion": home,
            "TrailARN": trail_arn(home, account),
            "LogFileValidationEnabled": True,
            "CloudWatchLogsLogGroupArn": f"arn:aws:logs:{home}:{account}:log-group:"
            f"{self._log_group}:*",
            "HasCustomEventSelectors": False,
            "HasInsightSelectors": False,
            "IsOrganizationTrail": False,
        }

    def _names_trail(self, ctx: RequestContext, name: str) -> bool:
        if name.startswith("arn:"):
            parts = name.split(":")
            if len(parts) < 6 or parts[2] != "cloudtrail" or not parts[5].startswith("trail/"):
                raise e.CloudTrailARNInvalidException(
                    f"ARN {name} is not valid. Provide a valid trail ARN."
                )
            return name == trail_arn(self._home_region, ctx.account_id)
        return name == TRAIL_NAME

    def _require_trail(self, ctx: RequestContext, name: str) -> None:
        if not self._names_trail(ctx, name):
            arn = name if name.startswith("arn:") else trail_arn(ctx.region, ctx.account_id)
            if not name.startswith("arn:"):
                arn = f"{arn.rsplit('/', 1)[0]}/{name}"
            raise e.TrailNotFoundException(f"Unknown trail: {arn} for the user: {ctx.account_id}")

    # Public keys

    def list_public_keys(
        self,
        ctx: RequestContext,
        StartTime: datetime | None = None,
        EndTime: datetime | None = None,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        now = self._clock.time()
        start = StartTime.timestamp() if StartTime else now
        end = EndTime.timestamp() if EndTime else now
        if start > end:
            raise e.InvalidTimeRangeException("Start time must be before end time.")
        keys = [
            {
                "Value": key.public_key,  # DER, PKCS #1
                "ValidityStartTime": key.valid_from,
                "ValidityEndTime": key.valid_to or now,
                "Fingerprint": key.fingerprint,
            }
            for key in self._trail.public_keys(start, end)
        ]
        return {"PublicKeyList": keys}

    # Event history

    def lookup_events(
        self,
        ctx: RequestContext,
        LookupAttributes: list[dict[str, str]] | None = None,
        StartTime: datetime | None = None,
        EndTime: datetime | None = None,
        EventCategory: str | None = None,
        MaxResults: int | None = None,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        now = self._clock.time()
        start = max(StartTime.timestamp() if StartTime else 0.0, now - EVENT_HISTORY_SECONDS)
        end = EndTime.timestamp() if EndTime else now
        if StartTime and EndTime and StartTime > EndTime:
            raise e.InvalidTimeRangeException("Start time must be before end time.")
        if EventCategory is not None and EventCategory != "insight":
            raise e.InvalidEventCategoryException(f"Event category {EventCategory} is not valid.")
        if EventCategory == "insight":
            return {"Events": []}  # Strongroom produces no Insights events
        column, value = _lookup_filter(LookupAttributes or [])
        after_id = _after_id(NextToken)
        if after_id is not None and not self._records.has_record(ctx.account_id, after_id):
            raise e.InvalidNextTokenException("Invalid NextToken.")
        records = self._records.records(
            RecordQuery(
                account_id=ctx.account_id,
                regions=(ctx.region,),
                start=start,
                end=end,
                column=column,
                value=value,
                after_id=after_id,
                newest_first=True,
                limit=(MaxResults or MAX_LOOKUP_RESULTS) + 1,
            )
        )
        page = records[: MaxResults or MAX_LOOKUP_RESULTS]
        result: dict[str, Any] = {"Events": [_event(r.text, r.event_time) for r in page]}
        if len(records) > len(page):
            result["NextToken"] = base64.urlsafe_b64encode(str(page[-1].id).encode()).decode()
        return result


def _lookup_filter(attributes: list[dict[str, str]]) -> tuple[str | None, object]:
    if not attributes:
        return None, None
    if len(attributes) > 1:
        raise e.InvalidLookupAttributesException(
            "You can only specify one lookup attribute per request."
        )
    key, value = attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
    if key == "ReadOnly":
        if value not in ("true", "false"):
            raise e.InvalidLookupAttributesException(
                "The value of the ReadOnly lookup attribute must be true or false."
            )
        return _LOOKUP_COLUMNS[key], value == "true"
    return _LOOKUP_COLUMNS[key], value


def _after_id(token: str | None) -> int | None:
    if token is None:
        return None
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, binascii.Error, UnicodeError):
        raise e.InvalidNextTokenException("Invalid NextToken.") from None


def _event(text: str, event_time: float) -> dict[str, Any]:
    record = json.loads(text)
    event: dict[str, Any] = {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "true" if record["readOnly"] else "false",
        "EventTime": event_time,
        "EventSource": record["eventSource"],
        "Resources": [
            {"ResourceType": r["type"], "ResourceName": r["ARN"]}
            for r in record.get("resources", [])
        ],
        "CloudTrailEvent": text,
    }
    identity = record["userIdentity"]
    if "accessKeyId" in identity:
        event["AccessKeyId"] = identity["accessKeyId"]
    if "userName" in identity:
        event["Username"] = identity["userName"]
    return event
