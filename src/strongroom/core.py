"""The running node: storage, barrier and seal, clock, services and the dispatcher, wired once."""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from strongroom import __version__, accounts
from strongroom.audit import log_group as audit_log_group
from strongroom.audit.log_group import AuditEvents
from strongroom.audit.log_metrics import AuditMetricFilters
from strongroom.audit.trail import AuditTrail
from strongroom.audit.writer import AuditWriter
from strongroom.auth.authenticator import Authenticator
from strongroom.auth.authorizer import Authorizer
from strongroom.auth.principal import Principal
from strongroom.auth.targets import (
    cloudtrail_target,
    cloudwatch_target,
    events_target,
    iam_target,
    logs_target,
    s3_target,
)
from strongroom.barrier import seals
from strongroom.barrier.aead import IntegrityError
from strongroom.barrier.barrier import Barrier
from strongroom.clock import Clock, wall_clock
from strongroom.config import Settings, aws_regions
from strongroom.jobs.leader import LeaderLock
from strongroom.jobs.scheduler import Scheduler
from strongroom.protocol.dispatcher import Dispatcher
from strongroom.protocol.registry import Registry, ServiceEndpoint, load_model
from strongroom.services.awslambda import runtime as lambda_runtime
from strongroom.services.awslambda.service import Lambda
from strongroom.services.cloudtrail.service import CloudTrail
from strongroom.services.cloudwatch.alarm_evaluator import AlarmEvaluator
from strongroom.services.cloudwatch.own_metrics import CallCounter, SecretCounts, UsagePublisher
from strongroom.services.cloudwatch.retention import DatapointRetention
from strongroom.services.cloudwatch.service import CloudWatch
from strongroom.services.events.firing import RuleFiring
from strongroom.services.events.service import Events
from strongroom.services.iam.service import IAM
from strongroom.services.kms import model as kms_model
from strongroom.services.kms.service import KMS
from strongroom.services.logs import errors as logs_errors
from strongroom.services.logs.metric_filters import DefaultValues
from strongroom.services.logs.service import Logs
from strongroom.services.s3 import errors as s3_errors
from strongroom.services.s3.service import S3
from strongroom.services.secretsmanager import model as sm_model
from strongroom.services.secretsmanager.service import SecretsManager
from strongroom.services.sns.delivery import Deliveries, SmtpSettings
from strongroom.services.sns.service import SNS
from strongroom.services.sns.signing import Signer
from strongroom.services.sts.service import STS
from strongroom.storage import changes, system
from strongroom.storage.audit import AuditRepository
from strongroom.storage.awslambda import LambdaRepository
from strongroom.storage.backlog import Backlog, BacklogRepository
from strongroom.storage.changes import ChangeFeed
from strongroom.storage.cloudwatch import CloudWatchRepository
from strongroom.storage.cloudwatch_alarms import AlarmRepository
from strongroom.storage.engine import StorageUnavailable
from strongroom.storage.events import EventsRepository
from strongroom.storage.iam import IamRepository
from strongroom.storage.identity import IdentityRepository
from strongroom.storage.kms import KmsRepository
from strongroom.storage.kms_grants import GrantRepository
from strongroom.storage.logs import LogsRepository
from strongroom.storage.secretsmanager import SecretsRepository
from strongroom.storage.sns import SnsRepository
from strongroom.storage.system import SystemStateRepository

_OFFSET = struct.Struct(">d")
log = logging.getLogger("strongroom.seal")


@dataclass(frozen=True)
class SealStatus:
    sealed: bool
    kind: str
    progress: int
    threshold: int


class Core:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self._state = SystemStateRepository(engine)
        config = self._state.get(system.SEAL_CONFIG)
        if config is None:
            raise RuntimeError("storage is not initialized")
        self.seal_config = seals.SealConfig.from_json(config.decode())
        self._unsealer = (
            seals.ShamirUnsealer(self.seal_config) if self.seal_config.kind == "shamir" else None
        )
        self.barrier = Barrier()
        self.clock = Clock(self._stored_clock_offset() if settings.dev else 0.0)
        self._changes = ChangeFeed(engine)
        self._changes.watch(changes.SEAL, self._seal_here)
        regions = aws_regions()
        audit_store = AuditRepository(engine)
        self.audit = AuditWriter(audit_store)
        self.trail = AuditTrail(
            audit_store, self.audit, self.barrier, self.clock, settings.audit_retention_days
        )
        self._audit_store = audit_store
        self._backlogs = BacklogRepository(engine)
        self._kms_store = KmsRepository(engine, self._changes)
        self._secrets_store = SecretsRepository(engine, self._changes)
        self.kms = KMS(
            self._kms_store,
            GrantRepository(engine),
            self.barrier,
            self.clock,
            regions,
            self.trail.record_service_event,
        )
        self._identities = IdentityRepository(engine, self._changes)
        self.authenticator = Authenticator(
            self._identities, self.barrier, regions, wall_clock, self.clock.time
        )
        self.iam_repository = IamRepository(engine, self._changes)
        self.iam = IAM(self.iam_repository, self.barrier, self.clock)
        alarm_store = AlarmRepository(engine)
        metric_store = CloudWatchRepository(engine)
        self.cloudwatch = CloudWatch(metric_store, alarm_store, self.clock)
        # Log groups' metric filters emit into CloudWatch: stored events as they are stored,
        # the audit group's records by a job; default values by another job.
        logs_store = LogsRepository(engine)
        self.logs = Logs(logs_store, self.barrier, self.clock, self.cloudwatch)
        self.logs.add_source(audit_log_group.SOURCE, AuditEvents(audit_store, regions))
        audit_metrics = AuditMetricFilters(audit_store, logs_store, self.cloudwatch, self.clock)
        default_values = DefaultValues(
            logs_store,
            self.logs.has_events,
            self.cloudwatch,
            self.clock,
            audit_metrics.matched_until,
        )
        self._deliver_audit_to_logs()
        # Functions call back into this server, as AWS's call AWS.
        self.functions = Lambda(
            LambdaRepository(engine),
            self.iam_repository,
            self.logs,
            self.barrier,
            self.clock,
            lambda_runtime.Endpoint(
                settings.endpoint, None if settings.dev else str(settings.ca_file)
            ),
            settings.data_dir,
        )
        self.secrets = SecretsManager(
            self._secrets_store,
            self.kms,
            self.barrier,
            self.clock,
            regions,
            self.trail.record_service_event,
            self.functions,
        )
        self.events = Events(EventsRepository(engine), self.clock)
        sns_store = SnsRepository(engine)
        self.sns = SNS(sns_store, self.barrier, self.clock, settings.endpoint)
        self._rule_firing = RuleFiring(self.events, self.functions, self.sns, self.clock, regions)
        self.sns_signer = Signer(sns_store, self.barrier, self.clock)
        self._alarm_evaluator = AlarmEvaluator(
            self.cloudwatch, alarm_store, self.sns.publish_for_service, self.clock
        )
        self._sns_deliveries = Deliveries(
            self.sns,
            self.sns_signer,
            self.functions,
            self.clock,
            settings.endpoint,
            SmtpSettings.from_url(settings.smtp_url) if settings.smtp_url else None,
        )
        # Strongroom's own CloudWatch metrics: every process counts the API calls it answers
        # and publishes them; the leader counts secrets hourly.
        self.calls = CallCounter()
        self._usage = UsagePublisher(
            self.calls, self.cloudwatch, self.barrier, settings.usage_flush_seconds
        )
        secret_counts = SecretCounts(
            self._secrets_store,
            metric_store,
            self._state,
            self.cloudwatch,
            self.clock,
        )
        self.scheduler = Scheduler(
            LeaderLock(engine, settings.data_dir),
            self.barrier,
            {
                "secretsmanager.rotate": self.secrets.rotate_due,
                "events.schedules": self._rule_firing.fire_due,
                "audit.deliver": self.trail.deliver,
                # In this order: a minute's default values wait for the audit group's matches,
                # alarms for the metrics, and SNS delivers what alarms published in the tick.
                "logs.audit_metric_filters": audit_metrics.run,
                "logs.default_values": default_values.run,
                "cloudwatch.alarms": self._alarm_evaluator.evaluate_due,
                "sns.deliver": self._sns_deliveries.deliver_due,
            },
            {
                "secretsmanager.purge": self.secrets.purge_due_deletions,
                "secretsmanager.replicas": self.secrets.sync_replicas,
                "kms.delete": self.kms.delete_due_keys,
                "kms.rotate": self.kms.rotate_due_keys,
                "kms.expire_imports": self.kms.expire_imported_material,
                "logs.retention": self.logs.expire_events,
                "cloudwatch.alarm_history": self._alarm_evaluator.expire_history,
                "cloudwatch.retention": DatapointRetention(metric_store, self.clock).expire,
                "audit.settle": self.trail.settle_reservations,
                "audit.retention": self.trail.expire,
                "cloudwatch.secret_count": secret_counts.publish_due,
            },
        )
        self.dispatcher = Dispatcher(
            Registry(
                [
                    ServiceEndpoint(load_model("kms"), self.kms, kms_model.CACHED_OPERATIONS),
                    ServiceEndpoint(
                        load_model("secretsmanager"), self.secrets, sm_model.CACHED_OPERATIONS
                    ),
                    ServiceEndpoint(load_model("iam"), self.iam, target=iam_target),
                    ServiceEndpoint(
                        load_model("sts"),
                        STS(self.iam_repository, self.iam.verify_totp, self.barrier, self.clock),
                    ),
                    ServiceEndpoint(
                        load_model("cloudtrail"),
                        CloudTrail(
                            self.trail,
                            audit_store,
                            self.clock,
                            settings.region,
                            settings.audit_log_group,
                        ),
                        target=cloudtrail_target,
                    ),
                    # CloudWatch Logs answers model violations with InvalidParameterException.
                    ServiceEndpoint(
                        load_model("logs"),
                        self.logs,
                        validation_error=logs_errors.InvalidParameterException,
                        target=logs_target,
                    ),
                    ServiceEndpoint(load_model("lambda"), self.functions),
                    ServiceEndpoint(load_model("events"), self.events, target=events_target),
                    ServiceEndpoint(load_model("sns"), self.sns),
                    ServiceEndpoint(
                        load_model("cloudwatch"), self.cloudwatch, target=cloudwatch_target
                    ),
                    # The audit trail's bucket, read-only; S3 answers bad input InvalidArgument.
                    ServiceEndpoint(
                        load_model("s3"),
                        S3(self.trail, settings.region),
                        validation_error=s3_errors.InvalidArgument,
                        target=s3_target,
                    ),
                ]
            ),
            self.authenticator,
            self.barrier,
            self.audit,
            self.clock,
            (settings.account_id, settings.region),
            regions,
            Authorizer(self.iam_repository.identity_policies, self._principal_tags),
            self.calls,
        )

    def _principal_tags(self, account_id: str, kind: str, name: str) -> dict[str, str]:
        """The tags of the user or role a request comes from (aws:PrincipalTag/*)."""
        entity = (
            self.iam_repository.role(account_id, name)
            if kind == "role"
            else self.iam_repository.user(account_id, name)
        )
        return entity.tags if entity is not None else {}

    # Seal and unseal

    def unseal_from_file(self) -> None:
        """File seal: read the root key and open the barrier (raises SealError)."""
        root_key = seals.read_root_key_file(Path(self.settings.root_key_file))
        self._open_barrier(root_key)

    def submit_unseal_share(self, share: str) -> SealStatus:
        if self._unsealer is None:
            raise seals.SealError(
                "this server uses the file seal: it takes no unseal shares; restart it to unseal"
            )
        if self.barrier.sealed:
            try:
                progress = self._unsealer.submit(share)
                if progress.root_key is not None:
                    self._open_barrier(progress.root_key)
            except seals.SealError as error:
                log.warning("unseal share refused: %s", error)
                raise
            if self.barrier.sealed:
                log.info("unseal share accepted: %d of %d", progress.submitted, progress.threshold)
            else:
                log.warning("unsealed with %d shares", progress.threshold)
        return self.seal_status()

    def _open_barrier(self, root_key: bytes) -> None:
        keyring_blob = self._state.get(system.KEYRING)
        if keyring_blob is None:
            raise seals.SealError("storage holds no keyring")
        try:
            self.barrier.unseal(root_key, keyring_blob)
        except IntegrityError:
            raise seals.SealError("the root key does not open this server's keyring") from None
        self._changes.acknowledge(changes.SEAL)

    def start(self) -> None:
        """Start this process's background threads (in each worker, after the fork)."""
        self.scheduler.start()
        self._usage.start()

    def stop(self) -> None:
        """A clean stop: background jobs end, and bookkeeping noted but not yet stored (key
        last-usage, secret last-accessed dates, API call counts) is stored."""
        self.scheduler.stop()
        self.secrets.stop_rotations()
        self._rule_firing.shutdown()
        self._sns_deliveries.shutdown()
        self._kms_store.flush()
        self._secrets_store.flush()
        self._identities.flush()
        self._usage.stop()

    def seal(self) -> None:
        """Seal this process and, through storage, every other worker and node."""
        self._seal_here()
        self._state.record_seal(self._changes)

    def _seal_here(self) -> None:
        self.barrier.seal()
        self.sns_signer.forget()
        self.authenticator.forget_secrets()
        self.kms.forget_materials()
        self.secrets.forget_values()
        if self._unsealer is not None:
            self._unsealer.reset()

    def seal_status(self) -> SealStatus:
        progress = self._unsealer.progress() if self._unsealer else None
        return SealStatus(
            sealed=self.barrier.sealed,
            kind=self.seal_config.kind,
            progress=progress.submitted if progress else 0,
            threshold=self.seal_config.threshold,
        )

    def is_administrator(self, principal: Principal) -> bool:
        return (
            principal.access_key_id
            == (self._state.get(system.BOOTSTRAP_ACCESS_KEY) or b"").decode()
        )

    def create_account(self) -> accounts.NewAccount:
        """A further account with its administrator; its audit trail shows as its log group
        at once, as the first account's does."""
        created = accounts.create_account(self.iam_repository, self.barrier, self.clock.time())
        self._deliver_audit_to_logs(created.account_id)
        return created

    def health(self) -> dict[str, Any]:
        try:
            self._changes.poll()  # a seal by another worker shows here too
            storage_ok = True
        except StorageUnavailable:
            storage_ok = False
        status = self.seal_status()
        audit = self.audit.health()
        health: dict[str, Any] = {
            "status": "sealed"
            if status.sealed
            else "storage unavailable"
            if not storage_ok
            else "audit unavailable"
            if not audit["writable"]
            else "ok",
            "storage_available": storage_ok,
            "audit": audit,
            "sealed": status.sealed,
            "seal": status.kind,
            "version": __version__,
            "storage": self._state.backend_name(),
            "listen": self.settings.endpoint,
            "dev": self.settings.dev,
        }
        if status.kind == "shamir" and status.sealed:
            health["unseal_progress"] = f"{status.progress}/{status.threshold}"
        return health

    def job_backlogs(self) -> list[Backlog]:
        """How far the leader's queues are behind (for /metrics)."""
        return self._backlogs.backlogs(self.clock.time(), self._audit_store.cut_through())

    # Dev-only controls (the HTTP layer exposes them only on `--dev` servers)

    def _deliver_audit_to_logs(self, *account_ids: str) -> None:
        """Every account's trail (or these accounts') shows as its log group in the home
        Region (a dev reset removes log groups: it comes back with the reset)."""
        for account_id in account_ids or self._state.accounts():
            self.logs.ensure_group(
                account_id,
                self.settings.region,
                self.settings.audit_log_group,
                audit_log_group.SOURCE,
            )

    def reset(self) -> None:
        self._state.wipe_service_data(self._changes)
        bootstrap_key = (self._state.get(system.BOOTSTRAP_ACCESS_KEY) or b"").decode()
        self.iam_repository.reset(bootstrap_key, self.clock.time())
        self._deliver_audit_to_logs()
        self.set_clock_offset(0.0)
        self.kms.forget_materials()
        self.secrets.forget_values()

    def advance_clock(self, seconds: float) -> float:
        self.set_clock_offset(self.clock.offset_seconds + seconds)
        return self.clock.time()

    def set_clock_offset(self, offset: float) -> None:
        self._state.put(system.CLOCK_OFFSET, _OFFSET.pack(offset))
        self.clock.offset_seconds = offset

    def _stored_clock_offset(self) -> float:
        stored = self._state.get(system.CLOCK_OFFSET)
        return float(_OFFSET.unpack(stored)[0]) if stored else 0.0
