"""The child side of one Lambda invocation: confine this process, then run the handler.

Run by `runtime.invoke` as `python -I -B bootstrap.py` in a fresh interpreter (never a fork of the
server), with a clean environment. It must import nothing but the standard library: it starts
before the sandbox exists and the package it lives in is not readable from inside.

Two processes, two nested Landlock domains:

- the supervisor (this process) reads the invocation from stdin, drops every capability, sets
  no_new_privs and enters domain D1: read-only Python installation and system libraries,
  read-write private tmp, nothing else of the file system; no signals or abstract unix sockets
  outside D1. It forks the worker, waits for it until the deadline, then kills every process of
  the worker's domain with kill(-1) -- the Landlock signal scope confines that to the domain, and
  as a child subreaper it also reaps those that left the process group (setsid).
- the worker enters domain D2 inside D1 (so it cannot signal or ptrace the supervisor), sets the
  memory limit and runs the handler the way AWS's Python runtime (awslambdaric) does.

File descriptors: 0 the invocation (JSON, supervisor only), 1 and 2 the function's log output,
and the two given as arguments: the worker's result and the supervisor's status (a JSON line each).
"""

from __future__ import annotations

import ctypes
import decimal
import importlib
import io
import json
import logging
import os
import resource
import select
import signal
import sys
import threading
import time
import traceback
from typing import Any

RESULT_FD = -1  # set by main() from the command line
STATUS_FD = -1

_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on x86_64 and aarch64
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
_SCOPE_SIGNAL = 1 << 1
THREAD_STACK_BYTES = 2 * 1024 * 1024
MIN_LANDLOCK_ABI = 6  # signal scoping: without it kill(-1) could reach the whole machine

_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_TRUNCATE, _IOCTL_DEV = 1 << 14, 1 << 15
# Rights that Landlock allows on a file (not a directory) rule.
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV
_READ_ONLY = _EXECUTE | _READ_FILE | _READ_DIR

_PR_SET_PDEATHSIG = 1
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class SandboxError(Exception):
    pass


def _check(result: int, what: str) -> int:
    if result < 0:
        raise SandboxError(f"{what}: {os.strerror(ctypes.get_errno())}")
    return result


def _prctl(option: int, arg: int = 0, arg3: int = 0) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(arg3), 0, 0), f"prctl {option}")


def landlock_abi() -> int:
    result = _libc.syscall(
        _SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), _LANDLOCK_CREATE_RULESET_VERSION
    )
    return int(result) if result > 0 else 0


def _all_fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= 1 << 13  # REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


def _restrict(handled_fs: int, rules: list[tuple[str, int]]) -> None:
    attr = _RulesetAttr(handled_fs, 0, _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL)
    ruleset = _check(
        _libc.syscall(
            _SYS_LANDLOCK_CREATE_RULESET,
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
            ctypes.c_uint32(0),
        ),
        "landlock_create_ruleset",
    )
    try:
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a path this machine does not have
            try:
                if not os.path.isdir(path):
                    rights &= _FILE_RIGHTS
                rule = _PathBeneathAttr(rights & handled_fs, fd)
                _check(
                    _libc.syscall(
                        _SYS_LANDLOCK_ADD_RULE,
                        ctypes.c_int(ruleset),
                        _LANDLOCK_RULE_PATH_BENEATH,
                        ctypes.byref(rule),
                        ctypes.c_uint32(0),
                    ),
                    f"landlock_add_rule {path}",
                )
            finally:
                os.close(fd)
        _check(
            _libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)),
            "landlock_restrict_self",
        )
    finally:
        os.close(ruleset)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _drop_capabilities() -> None:
    """The server may run as root: a function keeps uid 0 but no capability, now or after exec."""
    capability = 0
    while _libc.prctl(_PR_CAPBSET_DROP, ctypes.c_ulong(capability), 0, 0, 0) == 0:
        capability += 1
    if capability == 0 and ctypes.get_errno() != 22:  # EINVAL: past the last capability
        raise SandboxError(f"cannot drop capabilities: {os.strerror(ctypes.get_errno())}")
    _libc.prctl(_PR_CAP_AMBIENT, ctypes.c_ulong(_PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0)
    number = _SYS_CAPSET.get(os.uname().machine)
    if number is None:
        raise SandboxError(f"unsupported machine {os.uname().machine}")
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.syscall(number, ctypes.byref(header), ctypes.byref(data)), "capset")


def confine_supervisor(sandbox: dict[str, list[str]]) -> None:
    abi = landlock_abi()
    if abi < MIN_LANDLOCK_ABI:
        raise SandboxError(f"Landlock ABI {abi} < {MIN_LANDLOCK_ABI}")
    handled = _all_fs_rights(abi)
    rules = [(path, _READ_ONLY) for path in sandbox["read"]]
    rules += [(path, handled) for path in sandbox["write"]]
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    _drop_capabilities()
    _restrict(handled, rules)
    # The signal scope is what keeps kill(-1) inside the sandbox: prove it took effect.
    try:
        os.kill(os.getppid(), 0)
    except PermissionError:
        return
    raise SandboxError("Landlock signal scoping is not in effect")


def _kill_domain() -> None:
    """Kill every process of the worker's domain, including those that left our process group.

    kill(-1) succeeds whether or not it reached anyone, so it is sent twice (a process forked
    during the first round gets the second) and the orphans, ours as subreaper, are reaped.
    """
    for _ in range(2):
        os.kill(-1, signal.SIGKILL)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break


def supervise(config: dict[str, Any]) -> None:
    status = os.fdopen(STATUS_FD, "w")
    try:
        confine_supervisor(config["sandbox"])
    except SandboxError as error:
        status.write(json.dumps({"sandbox_error": str(error)}) + "\n")
        status.close()
        os._exit(70)
    pid = os.fork()
    if pid == 0:
        status.close()  # the worker must not speak for the supervisor
        try:
            work(config)
        finally:
            os._exit(70)
    os.close(RESULT_FD)
    timed_out = False
    wait_status = 0
    pidfd = os.pidfd_open(pid)
    while True:
        remaining = config["deadline_monotonic"] - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        if select.select([pidfd], [], [], remaining)[0]:
            break
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, wait_status, usage = os.wait4(pid, 0)
    _kill_domain()
    status.write(
        json.dumps(
            {"timed_out": timed_out, "wait_status": wait_status, "maxrss_kb": usage.ru_maxrss}
        )
        + "\n"
    )
    status.close()
    os._exit(0)


# -- the worker: AWS's Python runtime, in small ------------------------------------------------

_OUT_OF_MEMORY = b'{"kind": "oom"}\n'
_ERROR_LOG_IDENT = "\u00a0"


class LambdaContext:
    def __init__(self, config: dict[str, Any]) -> None:
        self.aws_request_id: str = config["request_id"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn: str = config["function_arn"]
        self.client_context = None
        self.identity = None
        self.tenant_id = None
        self._epoch_deadline_time_in_ms: int = config["deadline_epoch_ms"]

    def get_remaining_time_in_millis(self) -> int:
        delta_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg: object) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},client_context=None,"
            f"identity=None,tenant_id=None])"
        )


class Fault(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def _write_event(text: str) -> None:
    """One log event: line breaks inside it travel as CR, so the server keeps it whole."""
    body = text[:-1] if text.endswith("\n") else text
    os.write(1, (body.replace("\n", "\r") + "\n").encode("utf-8", "backslashreplace"))


class _LambdaLogHandler(logging.Handler):
    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def emit(self, record: logging.LogRecord) -> None:
        record.aws_request_id = self.request_id
        try:
            _write_event(self.format(record))
        except Exception:
            self.handleError(record)


def _setup_output(request_id: str) -> None:
    # Unbuffered, so that what a function printed before it was killed is in its log.
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = io.TextIOWrapper(
            io.FileIO(fd, "w", closefd=False),
            encoding="utf-8",
            errors="backslashreplace",
            write_through=True,
        )
        setattr(sys, name, stream)
    logging.Formatter.converter = time.gmtime
    handler = _LambdaLogHandler(request_id)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    logging.getLogger().addHandler(handler)


def make_error(
    message: str, error_type: str, trace: list[str] | None, request_id: str = ""
) -> dict[str, Any]:
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id,
        "stackTrace": trace or [],
    }


def _fault_result(error: BaseException, request_id: str = "") -> dict[str, Any]:
    frames = traceback.extract_tb(error.__traceback__)
    user_frames = [frame for frame in frames if frame.filename != __file__]
    trace = traceback.format_list(user_frames)
    return make_error(str(error), type(error).__name__, trace, request_id)


def _log_error(error: dict[str, Any]) -> None:
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in error.get("stackTrace", []):
        if element == "":
            lines.append("")
            continue
        for line in element.splitlines():
            stripped = line.lstrip(" ")
            lines.append(_ERROR_LOG_IDENT * (len(line) - len(stripped)) + stripped)
    _write_event("\n".join(lines))


def _get_handler(handler: str) -> Any:
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as error:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {error}") from None
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise Fault(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {module_name} as a handler module",
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise Fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from None
    except SyntaxError as error:
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        raise Fault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {error}",
            trace,
        ) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise Fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        ) from None


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


def _marshal(response: Any) -> dict[str, Any]:
    if isinstance(response, bytes):
        import base64

        return {"kind": "result", "payload_base64": base64.b64encode(response).decode()}
    try:
        return {"kind": "result", "payload": _Encoder().encode(response)}
    except Exception as error:
        raise Fault("Runtime.MarshalError", f"Unable to marshal response: {error}") from None


def _report(message: dict[str, Any], handler_started: float | None) -> None:
    if handler_started is not None:
        message["duration_ms"] = (time.monotonic() - handler_started) * 1000
    data = (json.dumps(message) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(RESULT_FD, view) :]


def work(config: dict[str, Any]) -> None:
    request_id: str = config["request_id"]
    handler_started: float | None = None
    out_of_memory = _OUT_OF_MEMORY
    try:
        os.close(0)
        os.open(os.devnull, os.O_RDONLY)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        _restrict(0, [])  # a nested domain: the supervisor is out of this one's reach
        limit = config["memory_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        # The memory limit bounds address space, so threads get 2 MiB stacks rather than
        # RLIMIT_STACK's 8 MiB: ten threads fit in a 128 MB function.
        threading.stack_size(THREAD_STACK_BYTES)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        _setup_output(request_id)
        sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
        try:
            handler = _get_handler(config["handler"])
        except Fault as fault:
            error = make_error(fault.message, fault.error_type, fault.trace)
            logging.warning(_UNHANDLED_WARNING)
            _log_error(error)
            _report({"kind": "error", "phase": "init", "error": error}, None)
            return
        except MemoryError:
            raise
        except Exception as failure:
            error = _fault_result(failure)
            logging.warning(_UNHANDLED_WARNING)
            _log_error(error)
            _report({"kind": "error", "phase": "init", "error": error}, None)
            return
        handler_started = time.monotonic()
        try:
            try:
                event = json.loads(config["event"]) if config["event"] else {}
            except ValueError as failure:
                raise Fault(
                    "Runtime.UnmarshalError", f"Unable to unmarshal input: {failure}"
                ) from None
            message = _marshal(handler(event, LambdaContext(config)))
        except Fault as fault:
            error = make_error(fault.message, fault.error_type, fault.trace, request_id)
            _log_error(error)
            message = {"kind": "error", "phase": "invoke", "error": error}
        except MemoryError:
            raise
        except Exception as failure:
            error = _fault_result(failure, request_id)
            _log_error(error)
            message = {"kind": "error", "phase": "invoke", "error": error}
        _report(message, handler_started)
    except MemoryError:
        # Lambda's sandbox would have been killed by now: say so, and die the same way.
        os.write(RESULT_FD, out_of_memory)
        os.kill(os.getpid(), signal.SIGKILL)
    except SystemExit as exit_:
        # sys.exit() in a handler: the runtime process exits, as on Lambda.
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        os._exit(code)
    except SandboxError as error:
        _report({"kind": "sandbox_error", "message": str(error)}, None)
    os._exit(0)


_UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. To determine if the runtime has been updated, check the "
    "runtime version in the INIT_START log entry. If this error correlates with a change in the "
    "runtime version, you may be able to mitigate this error by temporarily rolling back to the "
    "previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)


def main() -> None:
    global RESULT_FD, STATUS_FD
    os.environ.pop("GLIBC_TUNABLES", None)  # glibc has read it; it is not the function's
    RESULT_FD, STATUS_FD = int(sys.argv[1]), int(sys.argv[2])
    config = json.loads(sys.stdin.buffer.read())
    supervise(config)


if __name__ == "__main__":
    main()
