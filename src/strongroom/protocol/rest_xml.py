"""The rest-xml wire protocol (S3): routing and the members in the URI, query string and
headers are the REST protocols' (`rest.py`); results are XML documents, or a raw body when the
output has a blob payload (GetObject)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape

from strongroom.auth.sigv4 import AuthFailure, FailureKind, HttpRequest
from strongroom.protocol import rest, shapes
from strongroom.protocol.errors import AwsError, NamedError, ValidationException
from strongroom.protocol.registry import error_status
from strongroom.protocol.wire import WireResponse

_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_CONTENT_TYPE = "application/xml"

# (code, status, message; None keeps the failure's own wording)
_AUTH_ERRORS: dict[FailureKind, tuple[str, int, str | None]] = {
    FailureKind.MISSING_TOKEN: ("AccessDenied", 403, "Access Denied"),
    FailureKind.INCOMPLETE: ("AuthorizationHeaderMalformed", 400, None),
    FailureKind.UNKNOWN_KEY: (
        "InvalidAccessKeyId",
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    FailureKind.BAD_SIGNATURE: ("SignatureDoesNotMatch", 403, None),
    FailureKind.EXPIRED_TOKEN: ("ExpiredToken", 400, "The provided token has expired."),
    FailureKind.PAYLOAD_HASH_MISSING: ("InvalidRequest", 400, None),
    FailureKind.PAYLOAD_HASH_INVALID: ("InvalidArgument", 400, None),
    FailureKind.PAYLOAD_HASH_MISMATCH: ("XAmzContentSHA256Mismatch", 400, None),
}
# The dispatcher's own errors, in S3's words.
_ERROR_CODES = {
    "InternalFailure": "InternalError",
    "ServiceUnavailableException": "ServiceUnavailable",
}
# Documents the model cannot describe: S3 names each result's root element itself, and
# GetBucketLocation's document is its one member ("cannot be modeled properly", botocore).
_ROOT_ELEMENTS = {"ListObjects": "ListBucketResult"}
_VALUE_DOCUMENTS = frozenset({"GetBucketLocation"})


# Requests

operation_name = rest.operation_name


def decode(operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    # No operation served here takes an XML body, so body members are never read.
    data = rest.located_members(operation, request)
    try:
        return shapes.decode_input(shape, data)
    except (shapes.SerializationError, shapes.ValidationError) as error:
        raise ValidationException(str(error)) from None


# Results


def encode_result(
    model: ServiceModel, operation: OperationModel, result: dict[str, Any] | None, request_id: str
) -> WireResponse:
    shape = operation.output_shape
    result = result or {}
    headers = [("x-amz-request-id", request_id)]
    body = b""
    if shape is not None:
        headers += rest.header_members(shape, result)
        payload = shape.serialization.get("payload")
        if payload is not None:
            # A blob payload (GetObject's Body) is the response body itself; its type is in
            # the ContentType member.
            body = bytes(result.get(payload) or b"")
        elif any(rest.in_body(m) for m in shape.members.values()):
            headers.append(("content-type", _CONTENT_TYPE))
            body = _document(model, operation, shape, result)
    return WireResponse(200, headers, body, operation=operation.name)


def _document(
    model: ServiceModel, operation: OperationModel, shape: StructureShape, result: Mapping[str, Any]
) -> bytes:
    namespace = model.metadata.get("xmlNamespace") or (
        f"http://{model.endpoint_prefix}.amazonaws.com/doc/{model.api_version}/"
    )
    if operation.name in _VALUE_DOCUMENTS:
        (name, member), *_ = shape.members.items()
        root = ET.Element(name, xmlns=namespace)
        if result.get(name) is not None:
            root.text = rest.text(member, result[name])
    else:
        root = ET.Element(_ROOT_ELEMENTS.get(operation.name, f"{operation.name}Result"))
        root.set("xmlns", namespace)
        _add_members(root, shape, result)
    return _xml(root)


def _xml(root: ET.Element) -> bytes:
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return _XML_DECLARATION + text


def _add_members(parent: ET.Element, shape: StructureShape, value: Mapping[str, Any]) -> None:
    for name, member in shape.members.items():
        if value.get(name) is not None and rest.in_body(member):
            _add(parent, member.serialization.get("name", name), member, value[name])


def _add(parent: ET.Element, tag: str, shape: Shape, value: Any) -> None:
    if isinstance(shape, ListShape):
        item_tag = shape.member.serialization.get("name")
        if shape.serialization.get("flattened"):
            for item in value:  # <Contents>..</Contents><Contents>..</Contents>
                _add(parent, item_tag or tag, shape.member, item)
        else:
            element = ET.SubElement(parent, tag)
            for item in value:
                _add(element, item_tag or "member", shape.member, item)
    elif isinstance(shape, StructureShape):
        _add_members(ET.SubElement(parent, tag), shape, value)
    elif shape.type_name == "map":
        raise TypeError("maps in XML bodies are not supported")  # no result served has one
    else:
        ET.SubElement(parent, tag).text = rest.text(shape, value)


# Errors


def encode_error(model: ServiceModel | None, error: AwsError, request_id: str) -> WireResponse:
    code = _ERROR_CODES.get(error.code, error.code)
    root = ET.Element("Error")
    ET.SubElement(root, "Code").text = code
    ET.SubElement(root, "Message").text = error.message
    ET.SubElement(root, "RequestId").text = request_id
    return WireResponse(
        error_status(model, error),
        [("x-amz-request-id", request_id), ("content-type", _CONTENT_TYPE)],
        _xml(root),
        error_code=code,
    )


def auth_error(failure: AuthFailure) -> AwsError:
    """An authentication failure in S3's vocabulary."""
    code, status, message = _AUTH_ERRORS[failure.kind]
    return NamedError(code, message or failure.message, status=status)
