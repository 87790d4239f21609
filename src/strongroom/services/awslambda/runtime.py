"""Run one Lambda invocation in a sandboxed child process, as AWS's Python runtime would.

The child is a fresh interpreter (`sys.executable -I -B bootstrap.py`), never a fork of the
server, so it inherits no key material; it gets a clean environment, a private task directory
with the deployment package and a private tmp directory. `bootstrap.py` confines it with Landlock
(read-only Python and system libraries, nothing of the server's data directory, the repository or
other processes' /proc), drops every capability, and enforces the deadline and the memory limit.
The network stays open: functions call Strongroom back through AWS_ENDPOINT_URL, and database
rotators call their databases.

Without Landlock signal scoping (ABI 6, Linux 6.12) functions are not run at all: an unconfined
function running as the server's user could read the sealed root key's files and signal the
server. `SandboxUnavailable` says why.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import math
import os
import selectors
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
MIN_LANDLOCK_ABI = 6
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
MAX_LOG_BYTES = 8 * 1024 * 1024
# Time the supervisor gets past the deadline to kill and reap before the server kills its group.
KILL_GRACE_SECONDS = 2.0
_PR_SET_DUMPABLE = 4

# System paths a function may read (and execute): libraries, certificates, name resolution.
SYSTEM_READ_PATHS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/pki/tls/certs",
    "/etc/pki/ca-trust",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/mime.types",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
)
SYSTEM_WRITE_PATHS = ("/dev/null",)


class SandboxUnavailable(RuntimeError):
    """This machine cannot confine a function, so none is run."""


class InvalidDeploymentPackage(ValueError):
    """The zip cannot be unpacked safely (as Lambda's "Could not unzip uploaded file")."""


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    code: bytes  # the deployment package (a zip)
    handler: str  # "module.function"; the module may be a path: "pkg/module.function"
    runtime: str  # "python3.x": the server's own interpreter runs it, whatever x is
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]
    arn: str
    version: str


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str


@dataclass(frozen=True)
class Endpoint:
    url: str
    ca_bundle: str | None = None  # the server's CA certificate (PEM), None for plain HTTP


@dataclass(frozen=True)
class Invocation:
    payload: bytes  # what the handler returned (JSON), or Lambda's error object
    function_error: str | None  # None, or "Unhandled" (X-Amz-Function-Error)
    log_lines: list[str]  # events for /aws/lambda/NAME; one event may span several lines
    duration_ms: float
    request_id: str
    log_stream_name: str = ""
    log_group_name: str = ""
    max_memory_used_mb: int = 0
    init_duration_ms: float = 0.0
    error_type: str | None = field(default=None)


@cache
def landlock_abi() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = int(libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))
    return result if result > 0 else 0


def check_sandbox(data_dir: str | os.PathLike[str] | None = None) -> None:
    """Raise SandboxUnavailable unless functions can run confined here, and (given the server's
    data directory) unless that directory lies outside everything a function may read."""
    abi = landlock_abi()
    if abi < MIN_LANDLOCK_ABI:
        found = f"ABI {abi}" if abi else "no Landlock"
        raise SandboxUnavailable(
            f"Lambda functions need Linux Landlock ABI {MIN_LANDLOCK_ABI} (Linux 6.12 or later,"
            f" with landlock in the lsm= list) to run confined; this kernel has {found}"
        )
    if data_dir is not None:
        data = Path(data_dir).resolve()
        for readable in (*_python_read_paths(), *SYSTEM_READ_PATHS):
            if data.is_relative_to(Path(readable).resolve()):
                raise SandboxUnavailable(
                    f"the data directory {data} lies inside {readable}, which functions may read"
                )


def validate_package(code: bytes) -> None:
    """Raise InvalidDeploymentPackage for a zip `invoke` would refuse to unpack."""
    _members(_open_zip(code))


def _open_zip(code: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(BytesIO(code))
    except (zipfile.BadZipFile, ValueError) as error:
        raise InvalidDeploymentPackage(f"Could not unzip uploaded file: {error}") from None


def _members(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    members = []
    total = 0
    for info in archive.infolist():
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or ":" in info.filename:
            raise InvalidDeploymentPackage(
                f"Could not unzip uploaded file: entry {info.filename!r} escapes the package"
            )
        total += info.file_size
        if total > MAX_UNZIPPED_BYTES:
            raise InvalidDeploymentPackage(
                f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
            )
        members.append((info, path))
    return members


def _extract(code: bytes, task_root: Path) -> None:
    archive = _open_zip(code)
    written = 0
    with archive:
        for info, path in _members(archive):
            target = task_root.joinpath(*path.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = (info.external_attr >> 16) & 0o777
            mode = (mode | 0o444) & 0o755 if mode else 0o644
            # O_EXCL|O_NOFOLLOW: a duplicate entry cannot redirect a write through a link.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                fd = os.open(target, flags, mode)
            except FileExistsError:
                raise InvalidDeploymentPackage(
                    f"Could not unzip uploaded file: duplicate entry {info.filename!r}"
                ) from None
            with os.fdopen(fd, "wb") as out, archive.open(info) as member:
                while chunk := member.read(1 << 20):
                    written += len(chunk)
                    if written > MAX_UNZIPPED_BYTES:  # the sizes in the zip may lie
                        raise InvalidDeploymentPackage(
                            f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
                        )
                    out.write(chunk)


def _python_read_paths() -> list[str]:
    """The interpreter and the packages a function may import (boto3, botocore, ...).

    Not the server's own source: an editable install's source directory stays out of reach.
    """
    own_source = Path(__file__).resolve().parents[3]  # the directory holding `strongroom`
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(site.getsitepackages())
    paths.add(str(Path(sys.executable).resolve().parent))
    for entry in sys.path:
        if not entry or not os.path.exists(entry):
            continue
        resolved = Path(entry).resolve()
        if resolved == own_source or resolved == Path.cwd().resolve():
            continue
        paths.add(str(resolved))
    return sorted(paths)


def _log_stream_name(version: str) -> str:
    return f"{datetime.now(UTC):%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"


def _environment(
    spec: FunctionSpec,
    credentials: Credentials,
    endpoint: Endpoint,
    region: str,
    task_root: Path,
    tmp: Path,
    ca_bundle: Path | None,
    log_stream: str,
) -> dict[str, str]:
    env = dict(spec.environment)
    env.update(
        {
            # Read by glibc at startup, then removed by the bootstrap: one malloc arena, as
            # each extra one reserves 64 MiB of the address space the memory limit bounds.
            "GLIBC_TUNABLES": "glibc.malloc.arena_max=1",
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": str(tmp),
            "TMPDIR": str(tmp),
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_ACCESS_KEY": credentials.access_key_id,
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "AWS_SESSION_TOKEN": credentials.session_token,
            "AWS_ENDPOINT_URL": endpoint.url,
        }
    )
    if ca_bundle is not None:
        env["AWS_CA_BUNDLE"] = str(ca_bundle)
    return env


class _Output:
    """The function's stdout/stderr as log events, bounded so a chatty function cannot fill
    the server's memory."""

    def __init__(self) -> None:
        self.pending = b""
        self.lines: list[str] = []
        self.size = 0
        self.truncated = False

    def feed(self, data: bytes) -> None:
        self.pending += data
        *complete, self.pending = self.pending.split(b"\n")
        for line in complete:
            self._add(line)
        if len(self.pending) > 256 * 1024:  # CloudWatch's largest event
            self._add(self.pending)
            self.pending = b""

    def close(self) -> None:
        if self.pending:
            self._add(self.pending)
            self.pending = b""

    def _add(self, line: bytes) -> None:
        if self.truncated:
            return
        self.size += len(line)
        if self.size > MAX_LOG_BYTES:
            self.truncated = True
            self.lines.append(f"(log output past {MAX_LOG_BYTES} bytes dropped)")
            return
        self.lines.append(line.decode("utf-8", "replace").replace("\r", "\n"))


@dataclass
class _Child:
    """What came back from the sandbox."""

    result: dict[str, Any] | None = None
    status: dict[str, Any] | None = None
    result_too_large: bool = False
    wait_status: int = 0
    maxrss_kb: int = 0
    killed_by_server: bool = False


def _read_json_line(data: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _run(
    command: list[str],
    config: bytes,
    env: dict[str, str],
    cwd: Path,
    hard_deadline: float,
    output: _Output,
) -> _Child:
    result_read, result_write = os.pipe()
    status_read, status_write = os.pipe()
    try:
        process = subprocess.Popen(
            [*command, str(result_write), str(status_write)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            pass_fds=(result_write, status_write),
            start_new_session=True,
        )
    finally:
        os.close(result_write)
        os.close(status_write)
    child = _Child()
    assert process.stdin is not None and process.stdout is not None
    with contextlib.suppress(BrokenPipeError):  # a child that died at once: its status says why
        process.stdin.write(config)
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    buffers = {result_read: bytearray(), status_read: bytearray()}
    stdout_fd = process.stdout.fileno()
    selector = selectors.DefaultSelector()
    for fd in (stdout_fd, result_read, status_read):
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    try:
        while selector.get_map():
            remaining = hard_deadline - time.monotonic()
            if remaining <= 0:
                child.killed_by_server = True
                break
            for key, _ in selector.select(remaining):
                fd = int(key.fd)
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    selector.unregister(fd)
                elif fd == stdout_fd:
                    output.feed(data)
                elif len(buffers[fd]) <= MAX_RESPONSE_BYTES + 1024:
                    buffers[fd] += data
                elif fd == result_read:
                    child.result_too_large = True
    finally:
        selector.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # before reaping: the group id stays ours
        _, child.wait_status, _ = os.wait4(process.pid, 0)
        process.returncode = 0  # reaped above; keep Popen from waiting again
        process.stdout.close()
        os.close(result_read)
        os.close(status_read)
    output.close()
    if len(buffers[result_read]) > MAX_RESPONSE_BYTES + 1024:
        child.result_too_large = True
    elif buffers[result_read]:
        child.result = _read_json_line(bytes(buffers[result_read]))
    child.status = _read_json_line(bytes(buffers[status_read]))
    if child.status is not None:
        child.maxrss_kb = int(child.status.get("maxrss_kb") or 0)
    return child


# Go's names for signals, as Lambda's "Runtime exited with error: signal: ..." prints them.
_SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGPIPE: "broken pipe",
    signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGXCPU: "CPU time limit exceeded",
}


def _exit_description(wait_status: int) -> str:
    if os.WIFSIGNALED(wait_status):
        number = os.WTERMSIG(wait_status)
        try:
            name = _SIGNAL_NAMES.get(signal.Signals(number), f"signal {number}")
        except ValueError:
            name = f"signal {number}"
        return f"signal: {name}"
    return f"exit status {os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else 1}"


def invoke(
    spec: FunctionSpec,
    event: bytes,
    credentials: Credentials,
    endpoint: Endpoint,
    region: str,
    request_id: str,
) -> Invocation:
    """Run the function once on `event`. Blocking; safe to call from several threads at once.

    Raises SandboxUnavailable when this machine cannot confine it, and
    InvalidDeploymentPackage when its zip cannot be unpacked safely.
    """
    check_sandbox()
    _make_server_undumpable()
    log_group = f"/aws/lambda/{spec.name}"
    log_stream = _log_stream_name(spec.version)
    workdir = Path(tempfile.mkdtemp(prefix="strongroom-lambda-"))
    try:
        task_root = workdir / "task"
        tmp = workdir / "tmp"
        task_root.mkdir(mode=0o755)
        tmp.mkdir(mode=0o700)
        _extract(spec.code, task_root)
        ca_bundle = None
        if endpoint.ca_bundle is not None:
            # A copy, so that no path into the server's data directory is opened to the function.
            ca_bundle = workdir / "ca-bundle.pem"
            shutil.copyfile(endpoint.ca_bundle, ca_bundle)
            ca_bundle.chmod(0o444)
        env = _environment(
            spec, credentials, endpoint, region, task_root, tmp, ca_bundle, log_stream
        )
        read_paths = [*_python_read_paths(), *SYSTEM_READ_PATHS, str(task_root)]
        if ca_bundle is not None:
            read_paths.append(str(ca_bundle))
        started_wall = time.time()
        started = time.monotonic()
        deadline = started + spec.timeout_seconds
        config = json.dumps(
            {
                "handler": spec.handler,
                "request_id": request_id,
                "function_arn": spec.arn,
                "memory_mb": spec.memory_mb,
                "event": event.decode("utf-8", "replace"),
                "deadline_monotonic": deadline,
                "deadline_epoch_ms": int((started_wall + spec.timeout_seconds) * 1000),
                "sandbox": {"read": read_paths, "write": [str(tmp), *SYSTEM_WRITE_PATHS]},
            }
        ).encode()
        output = _Output()
        child = _run(
            [sys.executable, "-I", "-B", str(BOOTSTRAP)],
            config,
            env,
            task_root,
            deadline + KILL_GRACE_SECONDS,
            output,
        )
        elapsed_ms = (time.monotonic() - started) * 1000
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _outcome(spec, request_id, child, output, elapsed_ms, log_group, log_stream)


def _outcome(
    spec: FunctionSpec,
    request_id: str,
    child: _Child,
    output: _Output,
    elapsed_ms: float,
    log_group: str,
    log_stream: str,
) -> Invocation:
    result = child.result or {}
    status = child.status or {}
    if "sandbox_error" in status or result.get("kind") == "sandbox_error":
        reason = status.get("sandbox_error") or result.get("message")
        raise SandboxUnavailable(f"the function's sandbox could not be set up: {reason}")
    # The worker times its handler; the rest (interpreter, sandbox, imports) is Init Duration.
    reported = result.get("duration_ms")
    duration_ms = elapsed_ms
    if isinstance(reported, int | float):
        duration_ms = min(max(float(reported), 0.0), elapsed_ms)
    init_ms = elapsed_ms - duration_ms
    memory_used = max(1, math.ceil(child.maxrss_kb / 1024))
    error_type: str | None = None
    lines = list(output.lines)
    payload: bytes
    report_status = ""
    kind = result.get("kind")
    if child.result_too_large:
        error_type = "Function.ResponseSizeTooLarge"
        error = {
            "errorMessage": "Response payload size exceeded maximum allowed payload size "
            f"({MAX_RESPONSE_BYTES} bytes).",
            "errorType": error_type,
        }
        payload = json.dumps(error).encode()
    elif kind == "result" and isinstance(result.get("payload"), str):
        payload = result["payload"].encode()
    elif kind == "result" and isinstance(result.get("payload_base64"), str):
        payload = base64.b64decode(result["payload_base64"])
    elif kind == "error" and isinstance(result.get("error"), dict):
        error_type = str(result["error"].get("errorType") or "Unhandled")
        payload = json.dumps(result["error"]).encode()
        if result.get("phase") == "init":
            report_status = f"\tStatus: error\tError Type: {error_type}"
    elif status.get("timed_out") or child.killed_by_server:
        error_type = "Sandbox.Timedout"
        seconds = min(elapsed_ms / 1000, float(spec.timeout_seconds) + KILL_GRACE_SECONDS)
        seconds = max(seconds, float(spec.timeout_seconds))
        message = f"Task timed out after {seconds:.2f} seconds"
        now = datetime.now(UTC)
        lines.append(
            f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z {request_id} {message}"
        )
        payload = json.dumps(
            {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}
        ).encode()
        duration_ms = seconds * 1000 - init_ms
        report_status = "\tStatus: timeout"
    else:
        if kind == "oom":
            error_type = "Runtime.OutOfMemory"
            description = "signal: killed"
            memory_used = max(memory_used, spec.memory_mb)
        else:
            error_type = "Runtime.ExitError"
            wait_status = int(status.get("wait_status", child.wait_status))
            description = _exit_description(wait_status)
        message = f"RequestId: {request_id} Error: Runtime exited with error: {description}"
        lines.append(f"{message}\n{error_type}")
        payload = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
        report_status = f"\tStatus: error\tError Type: {error_type}"
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
        f"\tBilled Duration: {math.ceil(duration_ms)} ms"
        f"\tMemory Size: {spec.memory_mb} MB\tMax Memory Used: {memory_used} MB"
        f"\tInit Duration: {init_ms:.2f} ms{report_status}"
    )
    log_lines = [
        f"START RequestId: {request_id} Version: {spec.version}",
        *lines,
        f"END RequestId: {request_id}",
        report,
    ]
    return Invocation(
        payload=payload,
        function_error=None if error_type is None else "Unhandled",
        log_lines=log_lines,
        duration_ms=duration_ms,
        request_id=request_id,
        log_stream_name=log_stream,
        log_group_name=log_group,
        max_memory_used_mb=memory_used,
        init_duration_ms=init_ms,
        error_type=error_type,
    )


_dumpable_cleared = False


def _make_server_undumpable() -> None:
    """No core dumps of the server, and no ptrace of it by same-uid processes without
    CAP_SYS_PTRACE: its memory holds the unsealed keyring."""
    global _dumpable_cleared
    if not _dumpable_cleared:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, ctypes.c_ulong(0), 0, 0, 0)
        _dumpable_cleared = True


__all__ = [
    "Credentials",
    "Endpoint",
    "FunctionSpec",
    "InvalidDeploymentPackage",
    "Invocation",
    "SandboxUnavailable",
    "check_sandbox",
    "invoke",
    "validate_package",
]
