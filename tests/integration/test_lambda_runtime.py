"""The Lambda runtime: one invocation in a confined child process, driven with real zips."""

from __future__ import annotations

import io
import json
import os
import sys
import textwrap
import threading
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from strongroom.services.awslambda.runtime import (
    Credentials,
    Endpoint,
    FunctionSpec,
    InvalidDeploymentPackage,
    Invocation,
    SandboxUnavailable,
    check_sandbox,
    invoke,
    landlock_abi,
)

pytestmark = pytest.mark.skipif(landlock_abi() < 6, reason="needs Landlock ABI 6 (Linux 6.12)")

ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
CREDENTIALS = Credentials("ASIAEXAMPLEKEY", "example-secret", "example-token")
NOWHERE = Endpoint("http://127.0.0.1:9")


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return buffer.getvalue()


def run(
    source: str,
    event: object = None,
    *,
    handler: str = "lambda_function.handler",
    files: dict[str, str] | None = None,
    timeout: int = 3,
    memory: int = 128,
    environment: dict[str, str] | None = None,
    endpoint: Endpoint = NOWHERE,
    credentials: Credentials = CREDENTIALS,
) -> Invocation:
    name = f"fn-{uuid.uuid4().hex[:8]}"
    spec = FunctionSpec(
        name=name,
        code=package({"lambda_function.py": source, **(files or {})}),
        handler=handler,
        runtime="python3.11",
        timeout_seconds=timeout,
        memory_mb=memory,
        environment=environment or {},
        arn=ARN.format(name),
        version="$LATEST",
    )
    body = b"" if event is None else json.dumps(event).encode()
    return invoke(spec, body, credentials, endpoint, "us-east-1", str(uuid.uuid4()))


def result(invocation: Invocation) -> object:
    assert invocation.function_error is None, invocation.payload
    return json.loads(invocation.payload)


def error(invocation: Invocation) -> dict[str, object]:
    assert invocation.function_error == "Unhandled"
    return json.loads(invocation.payload)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_handler_gets_the_event_and_a_context_and_its_result_comes_back():
    invocation = run(
        """
        def handler(event, context):
            return {
                "event": event,
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
            }
        """,
        {"SecretId": "s", "Step": "createSecret"},
        timeout=2,
        memory=256,
    )
    value = result(invocation)
    assert value["event"] == {"SecretId": "s", "Step": "createSecret"}
    assert value["function_version"] == "$LATEST"
    assert value["invoked_function_arn"] == ARN.format(value["function_name"])
    assert value["memory_limit_in_mb"] == "256"  # a string, as on Lambda
    assert value["aws_request_id"] == invocation.request_id
    assert value["log_group_name"] == f"/aws/lambda/{value['function_name']}"
    assert value["log_stream_name"] == invocation.log_stream_name
    assert "/[$LATEST]" in invocation.log_stream_name
    assert 0 < value["remaining"] <= 2000


def test_the_environment_is_lambdas_and_nothing_of_the_servers(monkeypatch):
    monkeypatch.setenv("STRONGROOM_TEST_SERVER_ONLY", "leak")
    invocation = run(
        """
        import os
        def handler(event, context):
            return dict(os.environ)
        """,
        environment={"DB_HOST": "db.example"},
        endpoint=Endpoint("https://localhost:4566"),
    )
    env = result(invocation)
    assert "STRONGROOM_TEST_SERVER_ONLY" not in env
    assert "GLIBC_TUNABLES" not in env
    assert env["DB_HOST"] == "db.example"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] == CREDENTIALS.access_key_id
    assert env["AWS_SECRET_ACCESS_KEY"] == CREDENTIALS.secret_access_key
    assert env["AWS_SESSION_TOKEN"] == CREDENTIALS.session_token
    assert env["AWS_ENDPOINT_URL"] == "https://localhost:4566"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"].startswith("/aws/lambda/fn-")
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == invocation.log_stream_name
    assert env["_HANDLER"] == "lambda_function.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert not Path(env["LAMBDA_TASK_ROOT"]).exists()  # removed after the invocation


def test_output_and_logging_go_to_the_log_between_start_end_and_report():
    invocation = run(
        """
        import logging, sys
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        def handler(event, context):
            print("to stdout")
            print("to stderr", file=sys.stderr)
            logger.info("two\\nlines")
            logging.getLogger("quiet").debug("not shown")
            return None
        """
    )
    assert invocation.payload == b"null"
    request = invocation.request_id
    lines = invocation.log_lines
    assert lines[0] == f"START RequestId: {request} Version: $LATEST"
    assert "to stdout" in lines and "to stderr" in lines
    [info] = [line for line in lines if line.startswith("[INFO]")]
    _level, stamp, request_id, message = info.split("\t")
    assert (request_id, message) == (request, "two\nlines")
    assert stamp.endswith("Z")
    assert lines[-2] == f"END RequestId: {request}"
    report = lines[-1].split("\t")
    assert report[0] == f"REPORT RequestId: {request}"
    assert report[1].startswith("Duration: ") and report[2].startswith("Billed Duration: ")
    assert report[3] == "Memory Size: 128 MB"
    assert report[4].startswith("Max Memory Used: ") and report[5].startswith("Init Duration: ")
    assert not any("not shown" in line for line in lines)


def test_an_unhandled_exception_comes_back_in_lambdas_shape():
    invocation = run(
        """
        class RotationError(Exception):
            pass
        def handler(event, context):
            raise RotationError("cannot set password")
        """
    )
    body = error(invocation)
    assert body["errorType"] == "RotationError"
    assert body["errorMessage"] == "cannot set password"
    assert body["requestId"] == invocation.request_id
    assert len(body["stackTrace"]) == 1  # the handler's frame; none of the runtime's
    assert 'lambda_function.py", line 5, in handler' in body["stackTrace"][0]
    [logged] = [line for line in invocation.log_lines if line.startswith("[ERROR]")]
    assert logged.startswith("[ERROR] RotationError: cannot set password\n")
    assert "Traceback (most recent call last):" in logged


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        (
            "x = 1\n",
            "missing_module.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'missing_module': No module named 'missing_module'",
        ),
        (
            "x = 1\n",
            "lambda_function.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'lambda_function'",
        ),
        (
            "def handler(:\n",
            "lambda_function.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'lambda_function': invalid syntax",
        ),
        (
            "x = 1\n",
            "nodots",
            "Runtime.MalformedHandlerName",
            "Bad handler 'nodots': not enough values to unpack (expected 2, got 1)",
        ),
        (
            "raise ValueError('bad config')\n",
            "lambda_function.handler",
            "ValueError",
            "bad config",
        ),
    ],
)
def test_init_errors(source, handler, error_type, message):
    invocation = run(source, handler=handler)
    body = error(invocation)
    assert body["errorType"] == error_type
    assert body["errorMessage"].startswith(message)
    assert body["requestId"] == ""  # init errors belong to no request
    assert any(line.startswith(f"[ERROR] {error_type}: ") for line in invocation.log_lines)
    assert invocation.log_lines[-1].endswith(f"\tStatus: error\tError Type: {error_type}")


def test_a_handler_in_a_package_path():
    invocation = run(
        "",
        handler="rotation/steps.handler",
        files={"rotation/__init__.py": "", "rotation/steps.py": "handler = lambda e, c: 'ok'\n"},
    )
    assert result(invocation) == "ok"


def test_a_result_json_cannot_carry_is_a_marshal_error():
    body = error(run("def handler(event, context):\n    return {1, 2}\n"))
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )


def test_the_function_is_killed_at_its_time_limit_with_every_process_it_started():
    started = time.monotonic()
    invocation = run(
        """
        import os, subprocess, sys, time
        def handler(event, context):
            child = os.fork()
            if child == 0:
                time.sleep(60)
                os._exit(0)
            # a grandchild that leaves the process group and its parent
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    print("escaped", os.getpid(), flush=True)
                    time.sleep(60)
                os._exit(0)
            print("child", child, flush=True)
            while True:
                pass
        """,
        timeout=1,
    )
    assert time.monotonic() - started < 5
    body = error(invocation)
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].startswith(
        f"RequestId: {invocation.request_id} Error: Task timed out after 1."
    )
    pids = [
        int(line.split()[1])
        for line in invocation.log_lines
        if line.startswith(("child ", "escaped "))
    ]
    assert len(pids) == 2
    assert all(gone(pid) for pid in pids)
    assert any(" Task timed out after 1." in line for line in invocation.log_lines)
    assert invocation.log_lines[-1].endswith("\tStatus: timeout")


def test_background_processes_do_not_outlive_a_successful_invocation():
    invocation = run(
        """
        import os, time
        def handler(event, context):
            pid = os.fork()
            if pid == 0:
                os.setsid()
                time.sleep(60)
                os._exit(0)
            return pid
        """
    )
    assert gone(result(invocation))


def test_memory_beyond_the_limit_kills_the_function():
    invocation = run(
        """
        def handler(event, context):
            hoard = bytearray(512 * 1024 * 1024)
            return len(hoard)
        """,
        memory=128,
    )
    body = error(invocation)
    assert body == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {invocation.request_id} Error: Runtime exited with error: "
        "signal: killed",
    }
    assert invocation.log_lines[-1].endswith("Status: error\tError Type: Runtime.OutOfMemory")


def test_a_crashing_runtime_is_an_exit_error():
    body = error(run("import os\ndef handler(event, context):\n    os._exit(3)\n"))
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Runtime exited with error: exit status 3")


def test_the_function_cannot_read_the_data_directory(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "root-key.sealed").write_text("the sealed root key")
    invocation = run(
        """
        import os
        def attempt(action):
            try:
                action()
            except OSError as error:
                return type(error).__name__
            return "allowed"
        def handler(event, context):
            data = event["data_dir"]
            return {
                "read": attempt(lambda: open(data + "/root-key.sealed").read()),
                "list": attempt(lambda: os.listdir(data)),
                "write": attempt(lambda: open(data + "/planted", "w").close()),
                "repo": attempt(lambda: os.listdir(event["repo"])),
                "root": attempt(lambda: os.listdir("/root")),
                "task_root_write": attempt(
                    lambda: open(os.environ["LAMBDA_TASK_ROOT"] + "/x", "w").close()
                ),
                "tmp_write": attempt(
                    lambda: open(os.environ["TMPDIR"] + "/scratch", "w").write("ok")
                ),
            }
        """,
        {"data_dir": str(data_dir), "repo": str(Path(__file__).parents[2])},
    )
    assert result(invocation) == {
        "read": "PermissionError",
        "list": "PermissionError",
        "write": "PermissionError",
        "repo": "PermissionError",
        "root": "PermissionError",
        "task_root_write": "PermissionError",
        "tmp_write": "allowed",
    }
    assert not (data_dir / "planted").exists()


def test_the_function_cannot_reach_the_servers_memory_or_signal_it():
    invocation = run(
        """
        import ctypes, os
        def attempt(action):
            try:
                action()
            except OSError as error:
                return type(error).__name__
            return "allowed"
        def handler(event, context):
            pid = event["server"]
            libc = ctypes.CDLL(None, use_errno=True)
            ptrace_attach = libc.ptrace(16, pid, None, None)
            return {
                "mem": attempt(lambda: open(f"/proc/{pid}/mem", "rb").read(1)),
                "environ": attempt(lambda: open(f"/proc/{pid}/environ", "rb").read()),
                "maps": attempt(lambda: open(f"/proc/{pid}/maps").read()),
                "signal": attempt(lambda: os.kill(pid, 0)),
                "ptrace": "denied" if ptrace_attach != 0 else "allowed",
            }
        """,
        {"server": os.getpid()},
    )
    assert result(invocation) == {
        "mem": "PermissionError",
        "environ": "PermissionError",
        "maps": "PermissionError",
        "signal": "PermissionError",
        "ptrace": "denied",
    }


def test_invocations_run_side_by_side():
    results: list[Invocation] = []
    source = "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return event\n"
    threads = [
        threading.Thread(target=lambda n=n: results.append(run(source, n))) for n in range(3)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result(invocation) for invocation in results) == [0, 1, 2]
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "a/../../evil.py"])
def test_a_package_entry_escaping_the_task_root_is_refused(name):
    with pytest.raises(InvalidDeploymentPackage):
        run("", files={name: "x = 1\n"})


@pytest.mark.parametrize("dev_server", ["sqlite"], indirect=True)
def test_unmodified_boto3_in_the_function_talks_to_strongroom(dev_server):
    sts = dev_server.client("sts")
    temporary = sts.get_session_token()["Credentials"]
    credentials = Credentials(
        temporary["AccessKeyId"], temporary["SecretAccessKey"], temporary["SessionToken"]
    )
    name = f"lambda-runtime-{uuid.uuid4()}"
    invocation = run(
        """
        import boto3
        def handler(event, context):
            secrets = boto3.client("secretsmanager")
            secrets.create_secret(Name=event["name"], SecretString="s3cret")
            value = secrets.get_secret_value(SecretId=event["name"])["SecretString"]
            caller = boto3.client("sts").get_caller_identity()
            return {"value": value, "account": caller["Account"]}
        """,
        {"name": name},
        timeout=20,
        memory=256,
        endpoint=Endpoint(dev_server.endpoint, dev_server.ca_bundle),
        credentials=credentials,
    )
    value = result(invocation)
    assert value["value"] == "s3cret"
    assert value["account"] == sts.get_caller_identity()["Account"]
    secret = dev_server.client("secretsmanager").get_secret_value(SecretId=name)
    assert secret["SecretString"] == "s3cret"


def test_over_tls_with_the_servers_ca_and_no_way_into_its_data_directory(make_server):
    server = make_server("sqlite")
    sts = server.client("sts")
    temporary = sts.get_session_token()["Credentials"]
    credentials = Credentials(
        temporary["AccessKeyId"], temporary["SecretAccessKey"], temporary["SessionToken"]
    )
    invocation = run(
        """
        import os, boto3
        def handler(event, context):
            caller = boto3.client("sts").get_caller_identity()
            denied = []
            for path in event["paths"]:
                try:
                    open(path, "rb").read()
                except PermissionError:
                    denied.append(path)
            return {"arn": caller["Arn"], "denied": denied, "ca": os.environ["AWS_CA_BUNDLE"]}
        """,
        {"paths": [str(path) for path in sorted(server.data_dir.rglob("*")) if path.is_file()]},
        timeout=20,
        memory=256,
        endpoint=Endpoint(server.endpoint, server.ca_bundle),
        credentials=credentials,
    )
    value = result(invocation)
    assert value["arn"] == sts.get_caller_identity()["Arn"]
    files = [path for path in server.data_dir.rglob("*") if path.is_file()]
    assert len(value["denied"]) == len(files) > 0
    assert not value["ca"].startswith(str(server.data_dir))


def test_a_data_directory_functions_could_read_is_refused(tmp_path):
    check_sandbox(tmp_path)
    with pytest.raises(SandboxUnavailable, match="functions may read"):
        check_sandbox(Path(sys.prefix) / "var" / "strongroom")
