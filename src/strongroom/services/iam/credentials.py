"""Access keys, virtual MFA devices (TOTP), and the account's summary.

An access key's secret and an MFA device's seed are handed out once, by the call that makes
them, and stored only as barrier ciphertext bound to their owner; nothing here logs them or
puts them in an error message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strongroom.auth.authenticator import access_key_aad
from strongroom.barrier.aead import IntegrityError
from strongroom.protocol.errors import ValidationException
from strongroom.services.context import RequestContext
from strongroom.services.iam import errors as e
from strongroom.services.iam import totp
from strongroom.services.iam.base import IamBase
from strongroom.services.iam.model import (
    ACCESS_KEY_RESOURCE,
    ACCESS_KEYS_PER_USER,
    ACTIVE,
    ATTACHED_POLICIES_PER_ENTITY,
    DEFAULT_PATH,
    GROUP_INLINE_SIZE,
    GROUPS_PER_USER,
    GROUPS_QUOTA,
    INACTIVE,
    MANAGED_POLICY_SIZE,
    MFA_DEVICES_PER_USER,
    MFA_RESOURCE,
    POLICIES_QUOTA,
    POLICY_VERSIONS_IN_USE_QUOTA,
    ROLE_INLINE_SIZE,
    ROLES_QUOTA,
    TRUST_POLICY_SIZE,
    USER_INLINE_SIZE,
    USERS_QUOTA,
    VERSIONS_PER_POLICY,
    AccessKey,
    IamUser,
    MfaDevice,
    arn,
    new_access_key,
)
from strongroom.storage.iam import IamTransaction, NameTaken

NO_ACCESS_KEY = "The Access Key with id {} cannot be found."
TOO_MANY_KEYS = f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"
BAD_STATUS = "Status {} is not a valid status for an access key."
NO_VIRTUAL_DEVICE = "VirtualMFADevice with serial number {} doesn't exist."
NO_MFA_DEVICE = "MFA Device with serial number {} does not exist."
DEVICE_EXISTS = "MFADevice entity at the same path and name already exists."
DEVICE_IN_USE = "MFA Device is already in use."
DEVICE_ASSIGNED = "MFA Device with serial number {} is still assigned to a user."
TOO_MANY_DEVICES = f"Cannot exceed quota for MFADevicesPerUser: {MFA_DEVICES_PER_USER}"
INVALID_CODE = "Authentication code for device is not valid."
SERIAL_TOO_LONG = "The device's serial number (its path and name) exceeds {} characters."
# The model gives the name no maximum; IAM's is 226 characters, and serial numbers (the ARN,
# path included) are at most 256 (serialNumberType).
MAX_DEVICE_NAME = 226
MAX_SERIAL_NUMBER = 256
NEVER_USED = "N/A"
# Steps around the current one whose codes are accepted: devices' clocks drift, and people
# type codes in a while after reading them.
_DRIFT_STEPS = 1


def mfa_seed_aad(serial_number: str) -> bytes:
    # The serial number names the account: a row moved to another account cannot be used.
    return f"iam_mfa_devices/{serial_number}".encode()


class Credentials(IamBase):
    # Access keys

    def create_access_key(self, ctx: RequestContext, UserName: str | None = None) -> dict[str, Any]:
        with self._iam.writing() as iam:
            user = self._user(iam, ctx, self._caller_or(ctx, UserName))
            if len(iam.access_keys(user.user_id)) >= ACCESS_KEYS_PER_USER:
                raise e.LimitExceededException(TOO_MANY_KEYS)
            key_id, secret = new_access_key()
            key = AccessKey(key_id, ctx.account_id, user.name, user.user_id, ACTIVE, self._now())
            aad = access_key_aad(key_id, ctx.account_id, user.name, user.user_id)
            iam.insert_access_key(key, self._barrier.encrypt(secret.encode(), aad))
        ctx.note_resource(ACCESS_KEY_RESOURCE, key_id)
        return {"AccessKey": {**self._wire_key(key), "SecretAccessKey": secret}}

    @staticmethod
    def _wire_key(key: AccessKey) -> dict[str, Any]:
        return {
            "UserName": key.user_name,
            "AccessKeyId": key.access_key_id,
            "Status": key.status,
            "CreateDate": key.created,
        }

    def _key(
        self, iam: IamTransaction, ctx: RequestContext, user: IamUser, access_key_id: str
    ) -> AccessKey:
        for key in iam.access_keys(user.user_id):
            if key.access_key_id == access_key_id:
                return key
        raise e.NoSuchEntityException(NO_ACCESS_KEY.format(access_key_id))

    def list_access_keys(
        self,
        ctx: RequestContext,
        UserName: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            user = self._user(iam, ctx, self._caller_or(ctx, UserName))
            keys = iam.access_keys(user.user_id)
        page, more = self._page(
            keys, lambda k: f"{k.created:020.6f}{k.access_key_id}", "keys", Marker, MaxItems
        )
        return {"AccessKeyMetadata": [self._wire_key(key) for key in page], **more}

    def update_access_key(
        self,
        ctx: RequestContext,
        AccessKeyId: str,
        Status: str,
        UserName: str | None = None,
    ) -> None:
        if Status not in (ACTIVE, INACTIVE):
            raise e.InvalidInputException(BAD_STATUS.format(Status))
        with self._iam.writing() as iam:
            user = self._user(iam, ctx, self._caller_or(ctx, UserName))
            key = self._key(iam, ctx, user, AccessKeyId)
            # The authenticator's cache of keys is dropped by this transaction, on every
            # worker: an inactive key stops signing requests at once.
            iam.set_access_key_status(key.access_key_id, Status)
        ctx.note_resource(ACCESS_KEY_RESOURCE, key.access_key_id)

    def delete_access_key(
        self, ctx: RequestContext, AccessKeyId: str, UserName: str | None = None
    ) -> None:
        with self._iam.writing() as iam:
            user = self._user(iam, ctx, self._caller_or(ctx, UserName))
            key = self._key(iam, ctx, user, AccessKeyId)
            iam.delete_access_key(key.access_key_id)
        ctx.note_resource(ACCESS_KEY_RESOURCE, key.access_key_id)

    def get_access_key_last_used(self, ctx: RequestContext, AccessKeyId: str) -> dict[str, Any]:
        with self._iam.reading() as iam:
            found = iam.access_key(AccessKeyId)
            if found is None or found[0].account_id != ctx.account_id:
                raise e.NoSuchEntityException(NO_ACCESS_KEY.format(AccessKeyId))
            use = iam.access_key_use(AccessKeyId)
        last_used: dict[str, Any] = (
            {"LastUsedDate": use.used_at, "ServiceName": use.service, "Region": use.region}
            if use is not None
            else {"ServiceName": NEVER_USED, "Region": NEVER_USED}
        )
        return {"UserName": found[0].user_name, "AccessKeyLastUsed": last_used}

    # Virtual MFA devices

    def create_virtual_mfa_device(
        self,
        ctx: RequestContext,
        VirtualMFADeviceName: str,
        Path: str = DEFAULT_PATH,
        Tags: Sequence[Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        if len(VirtualMFADeviceName) > MAX_DEVICE_NAME:
            raise ValidationException(
                f"1 validation error detected: Value '{VirtualMFADeviceName}' at "
                "'virtualMFADeviceName' failed to satisfy constraint: Member must have length "
                f"less than or equal to {MAX_DEVICE_NAME}"
            )
        tags = self._tags(Tags)
        serial = arn(ctx.account_id, "mfa", Path, VirtualMFADeviceName)
        if len(serial) > MAX_SERIAL_NUMBER:
            raise e.InvalidInputException(SERIAL_TOO_LONG.format(MAX_SERIAL_NUMBER))
        seed = totp.new_seed()
        device = MfaDevice(
            serial_number=serial,
            account_id=ctx.account_id,
            path=Path,
            name=VirtualMFADeviceName,
            seed_blob=self._barrier.encrypt(seed, mfa_seed_aad(serial)),
            created=self._now(),
            user_id=None,
            enabled=None,
        )
        with self._iam.writing() as iam:
            if iam.mfa_device(serial) is not None:
                raise e.EntityAlreadyExistsException(DEVICE_EXISTS)
            try:
                iam.insert_mfa_device(device)
            except NameTaken:
                raise e.EntityAlreadyExistsException(DEVICE_EXISTS) from None
            iam.put_tags(serial, tags)
        ctx.note_resource(MFA_RESOURCE, serial)
        uri = totp.provisioning_uri(VirtualMFADeviceName, ctx.account_id, seed)
        wire: dict[str, Any] = {
            "SerialNumber": serial,
            "Base32StringSeed": totp.base32(seed).encode(),
            "QRCodePNG": totp.qr_code_png(uri),
        }
        if tags:
            wire["Tags"] = self._tag_list(tags)
        return {"VirtualMFADevice": wire}

    def _device(self, iam: IamTransaction, ctx: RequestContext, serial: str) -> MfaDevice:
        device = iam.mfa_device(serial)
        if device is None or device.account_id != ctx.account_id:
            raise e.NoSuchEntityException(NO_VIRTUAL_DEVICE.format(serial))
        return device

    def _seed(self, device: MfaDevice) -> bytes | None:
        try:
            return self._barrier.decrypt(device.seed_blob, mfa_seed_aad(device.serial_number))
        except IntegrityError:
            return None  # altered storage: the device's codes are never accepted

    def enable_mfa_device(
        self,
        ctx: RequestContext,
        UserName: str,
        SerialNumber: str,
        AuthenticationCode1: str,
        AuthenticationCode2: str,
    ) -> None:
        """Assign the device to the user, given two consecutive codes it showed."""
        now = totp.step(self._wall_time())
        with self._iam.writing() as iam:
            user = self._user(iam, ctx, UserName)
            device = self._device(iam, ctx, SerialNumber)
            if device.user_id is not None:
                raise e.EntityAlreadyExistsException(DEVICE_IN_USE)
            if len(iam.mfa_devices(ctx.account_id, user_id=user.user_id)) >= MFA_DEVICES_PER_USER:
                raise e.LimitExceededException(TOO_MANY_DEVICES)
            seed = self._seed(device)
            spent = iam.mfa_last_step(device.serial_number)
            first = next(
                (
                    step
                    for step in range(now - 2 * _DRIFT_STEPS, now + 1)
                    if seed is not None
                    and (spent is None or step > spent)
                    and totp.matches(seed, step, AuthenticationCode1)
                    and totp.matches(seed, step + 1, AuthenticationCode2)
                ),
                None,
            )
            if first is None:
                raise e.InvalidAuthenticationCodeException(INVALID_CODE)
            iam.assign_mfa_device(device.serial_number, user.user_id, self._now(), first + 1)
        ctx.note_resource(MFA_RESOURCE, device.serial_number)

    def deactivate_mfa_device(
        self, ctx: RequestContext, SerialNumber: str, UserName: str | None = None
    ) -> None:
        with self._iam.writing() as iam:
            user = self._user(iam, ctx, self._caller_or(ctx, UserName))
            device = iam.mfa_device(SerialNumber)
            if device is None or device.user_id != user.user_id:
                raise e.NoSuchEntityException(NO_MFA_DEVICE.format(SerialNumber))
            iam.assign_mfa_device(device.serial_number, None, None, None)
        ctx.note_resource(MFA_RESOURCE, device.serial_number)

    def list_mfa_devices(
        self,
        ctx: RequestContext,
        UserName: str | None = None,
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        with self._iam.reading() as iam:
            user = self._user(iam, ctx, self._caller_or(ctx, UserName))
            devices = iam.mfa_devices(ctx.account_id, user_id=user.user_id)
        page, more = self._page(devices, lambda d: d.serial_number, "mfa", Marker, MaxItems)
        wire = [
            {"UserName": user.name, "SerialNumber": d.serial_number, "EnableDate": d.enabled}
            for d in page
        ]
        return {"MFADevices": wire, **more}

    def list_virtual_mfa_devices(
        self,
        ctx: RequestContext,
        AssignmentStatus: str = "Any",
        Marker: str | None = None,
        MaxItems: int | None = None,
    ) -> dict[str, Any]:
        assigned = {"Assigned": True, "Unassigned": False}.get(AssignmentStatus)
        with self._iam.reading() as iam:
            devices = iam.mfa_devices(ctx.account_id, assigned=assigned)
            users = iam.users_by_id([d.user_id for d in devices if d.user_id])
            page, more = self._page(devices, lambda d: d.serial_number, "vmfa", Marker, MaxItems)
            tags = {d.serial_number: iam.tags(d.serial_number) for d in page}
        wire = []
        for device in page:
            entry: dict[str, Any] = {"SerialNumber": device.serial_number}
            user = users.get(device.user_id or "")
            if user is not None:
                entry["User"] = self._wire_user(user)
                entry["EnableDate"] = device.enabled
            if tags[device.serial_number]:
                entry["Tags"] = self._tag_list(tags[device.serial_number])
            wire.append(entry)
        return {"VirtualMFADevices": wire, **more}

    def delete_virtual_mfa_device(self, ctx: RequestContext, SerialNumber: str) -> None:
        with self._iam.writing() as iam:
            device = self._device(iam, ctx, SerialNumber)
            if device.user_id is not None:
                raise e.DeleteConflictException(DEVICE_ASSIGNED.format(SerialNumber))
            iam.delete_mfa_device(device.serial_number)
        ctx.note_resource(MFA_RESOURCE, device.serial_number)

    def verify_totp(self, account_id: str, serial_number: str, code: str) -> bool:
        """Whether `code` is a current code of the account's MFA device, enabled for a user;
        a code, once accepted, is never accepted again (nor any code older than it), on any
        worker. For STS (GetSessionToken, AssumeRole with SerialNumber and TokenCode)."""
        with self._iam.reading() as iam:
            device = iam.mfa_device(serial_number)
        if device is None or device.account_id != account_id or device.user_id is None:
            return False
        seed = self._seed(device)
        if seed is None:
            return False
        now = totp.step(self._wall_time())
        for step in range(now - _DRIFT_STEPS, now + _DRIFT_STEPS + 1):
            if totp.matches(seed, step, code):
                return self._iam.spend_mfa_step(serial_number, step)
        return False

    # The account

    def get_account_summary(self, ctx: RequestContext) -> dict[str, Any]:
        with self._iam.reading() as iam:
            counts = iam.counts(ctx.account_id)
        summary = {
            "Users": counts.users,
            "UsersQuota": USERS_QUOTA,
            "Groups": counts.groups,
            "GroupsQuota": GROUPS_QUOTA,
            "Roles": counts.roles,
            "RolesQuota": ROLES_QUOTA,
            "Policies": counts.policies,
            "PoliciesQuota": POLICIES_QUOTA,
            "PolicyVersionsInUse": counts.attachments,
            "PolicyVersionsInUseQuota": POLICY_VERSIONS_IN_USE_QUOTA,
            "VersionsPerPolicyQuota": VERSIONS_PER_POLICY,
            "PolicySizeQuota": MANAGED_POLICY_SIZE,
            "UserPolicySizeQuota": USER_INLINE_SIZE,
            "GroupPolicySizeQuota": GROUP_INLINE_SIZE,
            "RolePolicySizeQuota": ROLE_INLINE_SIZE,
            "AssumeRolePolicySizeQuota": TRUST_POLICY_SIZE,
            "AttachedPoliciesPerUserQuota": ATTACHED_POLICIES_PER_ENTITY,
            "AttachedPoliciesPerGroupQuota": ATTACHED_POLICIES_PER_ENTITY,
            "AttachedPoliciesPerRoleQuota": ATTACHED_POLICIES_PER_ENTITY,
            "GroupsPerUserQuota": GROUPS_PER_USER,
            "AccessKeysPerUserQuota": ACCESS_KEYS_PER_USER,
            "SigningCertificatesPerUserQuota": 2,
            "MFADevices": counts.mfa_devices,
            "MFADevicesInUse": counts.mfa_devices_in_use,
            "AccountMFAEnabled": 0,
            "AccountAccessKeysPresent": 0,
            "AccountPasswordPresent": 0,
            "AccountSigningCertificatesPresent": 0,
            "InstanceProfiles": 0,
            "InstanceProfilesQuota": 1000,
            "Providers": 0,
            "ServerCertificates": 0,
            "ServerCertificatesQuota": 20,
            "GlobalEndpointTokenVersion": 1,
        }
        return {"SummaryMap": summary}
