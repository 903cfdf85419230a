"""An example ministry client for an IICC Exchange gateway (iicc.v1).

A ministry system talks to its own gateway's ministry face over gRPC with
mutual TLS: it submits records for the other jurisdiction, follows the
status of what it sent, and reads what arrived. This file shows each step in
a form an integrator can copy; docs/contract.md is the reference.

Stubs are generated from proto/ by the build (``iicc_python_stubs``)::

    export PYTHONPATH=build/clients/python/gen:clients/python
    export IICC_TARGET=127.0.0.1:50051 IICC_CA=certs/dev/kz/ca.crt \\
        IICC_CERT=certs/dev/kz/ministry-client.crt \\
        IICC_KEY=certs/dev/kz/ministry-client.key
    /usr/bin/python3 -m iicc_client submit clients/examples/cargo.json
    /usr/bin/python3 -m iicc_client status RECORD_ID --wait 30
    /usr/bin/python3 -m iicc_client subscribe --cursor-file uz.cursor --follow
    /usr/bin/python3 -m iicc_client list --page-size 10

Every answer is printed as one line of JSON (protobuf's JSON mapping, proto
field names). Exit codes, as iicc-cli's: 0 done, 1 refused by the gateway,
2 bad usage or input, 3 gateway unavailable. Errors go to stderr, naming
the gRPC status code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import time
from typing import Callable, Generator, Optional, Sequence, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from iicc.v1 import ministry_gateway_pb2 as gateway_pb2
from iicc.v1 import ministry_gateway_pb2_grpc as gateway_grpc
from iicc.v1 import records_pb2

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3

# Nothing was stored, or the same request_id makes a resend harmless
# (docs/contract.md, "Retry rule"). This client never cancels its own unary
# calls, so a CANCELLED one came from the gateway's side.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                       grpc.StatusCode.DEADLINE_EXCEEDED})
DEADLINE_SECONDS = 30.0
RECORD_TYPES = {
    "enterprise": records_pb2.RECORD_TYPE_ENTERPRISE,
    "cargo": records_pb2.RECORD_TYPE_CARGO,
    "investment": records_pb2.RECORD_TYPE_INVESTMENT,
}

T = TypeVar("T")
Records = Generator[gateway_pb2.InboundRecord, None, None]


class UsageError(Exception):
    """Bad flags or an unreadable input file (exit 2)."""


def connect(target: str, ca_file: str, cert_file: str, key_file: str) -> grpc.Channel:
    """A channel to a ministry face with mutual TLS.

    The gateway checks our certificate (its SPIFFE ID is our identity); we
    check the gateway's against our own ministry's CA and the host name in
    `target` (the dev certificates name localhost and 127.0.0.1).
    """
    try:
        with open(ca_file, "rb") as ca, open(cert_file, "rb") as cert, open(key_file, "rb") as key:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=ca.read(), private_key=key.read(), certificate_chain=cert.read())
    except OSError as error:
        raise UsageError(f"cannot read {error.filename}: {error.strerror}") from error
    return grpc.secure_channel(target, credentials)


def content_request_id(record: records_pb2.Record) -> str:
    """A request_id derived from the record's content, as iicc-cli derives it.

    Submitting the same record again (a retry after a lost answer, or a rerun
    of a batch job) then gets the first answer instead of a second record.
    """
    digest = hashlib.sha256(record.SerializeToString(deterministic=True)).hexdigest()
    return "sha256-" + digest[:32]


def call_with_retry(call: Callable[[], T], attempts: int = 5, first_delay: float = 0.2) -> T:
    """Runs `call`, again after a retryable failure, at most `attempts` times.

    Exponential backoff with jitter, so that many clients do not come back to
    a restarted gateway in step. Raises the last grpc.RpcError.
    """
    delay = first_delay
    attempt = 1
    while True:
        try:
            return call()
        except grpc.RpcError as error:
            if error.code() not in RETRYABLE or attempt >= attempts:
                raise
            print(f"iicc_client: {error.code().name}: retrying in {delay:.1f}s", file=sys.stderr)
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 5.0)
        attempt += 1


def submit(stub: gateway_grpc.MinistryGatewayStub, request: gateway_pb2.SubmitRequest,
           attempts: int = 5) -> gateway_pb2.SubmitResponse:
    """Submits one record; retries with the *same* request_id.

    The gateway answers a repeated (identity, request_id, record) with the
    first answer, so a retry never creates a second record. The same
    request_id with a different record is ALREADY_EXISTS.
    """
    return call_with_retry(lambda: stub.Submit(request, timeout=DEADLINE_SECONDS), attempts)


def wait_for_outcome(stub: gateway_grpc.MinistryGatewayStub, record_id: str,
                     timeout: float) -> gateway_pb2.RecordStatus:
    """Polls GetRecordStatus until DELIVERED or REJECTED, or `timeout` passes."""
    request = gateway_pb2.GetRecordStatusRequest(record_id=record_id)
    deadline = time.monotonic() + timeout
    while True:
        status = call_with_retry(lambda: stub.GetRecordStatus(request, timeout=DEADLINE_SECONDS))
        if status.state != gateway_pb2.DELIVERY_STATE_QUEUED or time.monotonic() >= deadline:
            return status
        time.sleep(0.2)


def follow(stub: gateway_grpc.MinistryGatewayStub, after_sequence: int,
           record_types: Sequence[int] = ()) -> Records:
    """Yields inbound records after `after_sequence`, forever.

    The cursor is the client's: after a disconnect (UNAVAILABLE, e.g. a
    gateway restart) it subscribes again after the last record it yielded,
    with a capped backoff. Any other error is raised. Closing the generator
    cancels the stream.
    """
    cursor = after_sequence
    delay = 0.2
    while True:
        request = gateway_pb2.SubscribeRequest(after_sequence=cursor, record_types=record_types)
        call = stub.Subscribe(request)
        try:
            for record in call:
                delay = 0.2
                cursor = record.sequence
                yield record
        except grpc.RpcError as error:
            if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                raise
            print(f"iicc_client: {error.code().name}: resubscribing after {cursor}"
                  f" in {delay:.1f}s", file=sys.stderr)
        finally:
            call.cancel()
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 5.0)


def read_cursor(path: str) -> int:
    """The sequence saved in `path`, or 0 (from the start) if there is none."""
    try:
        with open(path, encoding="ascii") as cursor_file:
            text = cursor_file.read().strip()
    except FileNotFoundError:
        return 0
    if not text.isdigit():
        raise UsageError(f"{path} does not hold a sequence number")
    return int(text)


def write_cursor(path: str, sequence: int) -> None:
    """Saves `sequence` so that a crash leaves the old cursor or the new one.

    Write a temporary file, flush it to disk, then rename it over the old one
    (rename is atomic within a directory).
    """
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="ascii") as cursor_file:
        cursor_file.write(f"{sequence}\n")
        cursor_file.flush()
        os.fsync(cursor_file.fileno())
    os.replace(temporary, path)


def to_json(message: Message) -> str:
    """One compact line of protobuf JSON with proto field names (`record_id`)."""
    return json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True),
                      separators=(",", ":"), ensure_ascii=False)


def read_submit_request(path: str) -> gateway_pb2.SubmitRequest:
    """A SubmitRequest from a JSON file holding one, or a bare Record.

    An object with a "record" or "request_id" key is a SubmitRequest; any
    other is a Record. Errors name the place (line and column, or the field)
    and never quote the file's content: it holds personal data.
    """
    try:
        with open(path, encoding="utf-8") as json_file:
            text = json_file.read()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from error
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}: not JSON: {error.msg} at line {error.lineno} "
                         f"column {error.colno}") from error
    is_request = isinstance(value, dict) and bool({"record", "request_id", "requestId"} & set(value))
    try:
        if is_request:
            return json_format.ParseDict(value, gateway_pb2.SubmitRequest())
        return gateway_pb2.SubmitRequest(record=json_format.ParseDict(value, records_pb2.Record()))
    except json_format.ParseError as error:
        raise UsageError(f"{path}: not a record: {_describe_parse_error(str(error))}") from error


def _describe_parse_error(message: str) -> str:
    """What json_format's error says, without the value it quotes.

    Its messages quote the offending value ('Failed to parse gross_kg field:
    could not convert string to float: "Aidos"'), and stderr often ends up in
    a log: keep the field's place and the kind of fault only.
    """
    unknown = re.search(r'has no field named "([^"]*)" at "([^"]*)"', message)
    if unknown:
        return f"{unknown.group(2)}: unknown field {unknown.group(1)}"
    where = re.search(r' at "([^"]*)"', message)
    nested = re.findall(r'Failed to parse (\w+) field', message)
    field = ".".join(([where.group(1)] if where else []) + nested)
    return f"{field or 'a field'}: a value of the wrong type or out of range"


def print_rpc_error(error: grpc.RpcError) -> int:
    """Prints the gRPC code and message (never a field's value); the exit code."""
    print(f"iicc_client: {error.code().name}: {error.details()}", file=sys.stderr)
    # A refused unary call also carries the iicc.v1.Error as data: the
    # violations' field paths without parsing the message.
    trailers = error.trailing_metadata() if isinstance(error, grpc.Call) else None
    for key, value in trailers or ():
        if key == "iicc-error-bin":
            for violation in gateway_pb2.Error.FromString(value).violations:
                print(f"iicc_client:   {violation.field}: {violation.description}",
                      file=sys.stderr)
    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return EXIT_UNAVAILABLE
    return EXIT_REFUSED


def run_submit(stub: gateway_grpc.MinistryGatewayStub, args: argparse.Namespace) -> int:
    """`submit FILE`: prints the SubmitResponse."""
    request = args.request
    if args.request_id:
        request.request_id = args.request_id
    if not request.request_id:
        request.request_id = content_request_id(request.record)
    print(to_json(submit(stub, request, args.attempts)))
    return EXIT_OK


def run_status(stub: gateway_grpc.MinistryGatewayStub, args: argparse.Namespace) -> int:
    """`status RECORD_ID`: prints the RecordStatus (the last one polled with --wait)."""
    print(to_json(wait_for_outcome(stub, args.record_id, args.wait)))
    return EXIT_OK


def run_subscribe(stub: gateway_grpc.MinistryGatewayStub, args: argparse.Namespace) -> int:
    """`subscribe`: prints InboundRecords after the cursor; pages, or --follow streams."""
    # A cursor file that exists wins; before its first record, --after says
    # where to start.
    use_file = args.cursor_file and os.path.exists(args.cursor_file)
    cursor = read_cursor(args.cursor_file) if use_file else args.after
    types = [RECORD_TYPES[name] for name in args.type or ()]
    if args.follow:
        records = follow(stub, cursor, types)
    else:
        records = _pages(stub, cursor, types)
    printed = 0
    try:
        for record in records:
            print(to_json(record), flush=True)
            # Processed (printed), so the cursor may move past it.
            if args.cursor_file:
                write_cursor(args.cursor_file, record.sequence)
            printed += 1
            if args.max and printed >= args.max:
                break
    finally:
        records.close()
    return EXIT_OK


def _pages(stub: gateway_grpc.MinistryGatewayStub, after_sequence: int,
           record_types: Sequence[int]) -> Records:
    """What is in the inbox after `after_sequence` now, page by page."""
    request = gateway_pb2.ListInboundRecordsRequest(
        after_sequence=after_sequence, record_types=record_types, page_size=1000)
    while True:
        page = call_with_retry(lambda: stub.ListInboundRecords(request, timeout=DEADLINE_SECONDS))
        yield from page.records
        if not page.next_page_token:
            return
        request.page_token = page.next_page_token


def run_list(stub: gateway_grpc.MinistryGatewayStub, args: argparse.Namespace) -> int:
    """`list`: prints one ListInboundRecordsResponse."""
    request = gateway_pb2.ListInboundRecordsRequest(
        page_size=args.page_size, page_token=args.page_token, after_sequence=args.after,
        record_types=[RECORD_TYPES[name] for name in args.type or ()])
    page = call_with_retry(lambda: stub.ListInboundRecords(request, timeout=DEADLINE_SECONDS))
    print(to_json(page))
    return EXIT_OK


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """The command line; exits 2 (argparse's usage error) on bad flags."""
    parser = argparse.ArgumentParser(prog="iicc_client", description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--target", default=env("IICC_TARGET"),
                        help="HOST:PORT of your gateway's ministry face ($IICC_TARGET)")
    parser.add_argument("--ca", default=env("IICC_CA"),
                        help="your ministry's CA certificate ($IICC_CA)")
    parser.add_argument("--cert", default=env("IICC_CERT"),
                        help="your system's client certificate ($IICC_CERT)")
    parser.add_argument("--key", default=env("IICC_KEY"), help="its private key ($IICC_KEY)")
    commands = parser.add_subparsers(dest="command", required=True)

    submit_cmd = commands.add_parser("submit", help="submit one record from a JSON file")
    submit_cmd.add_argument("file", help="a Record or a SubmitRequest, in protobuf JSON")
    submit_cmd.add_argument("--request-id", help="default: derived from the record's content")
    submit_cmd.add_argument("--attempts", type=int, default=5,
                            help="tries in all while UNAVAILABLE or CANCELLED (default 5)")
    submit_cmd.set_defaults(run=run_submit)

    status_cmd = commands.add_parser("status", help="the delivery state of a submitted record")
    status_cmd.add_argument("record_id")
    status_cmd.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                            help="poll while QUEUED, for up to SECONDS")
    status_cmd.set_defaults(run=run_status)

    inbox = argparse.ArgumentParser(add_help=False)
    inbox.add_argument("--after", type=int, default=0, help="start after this sequence number")
    inbox.add_argument("--type", action="append", choices=sorted(RECORD_TYPES),
                       help="only this record type (repeatable)")
    subscribe_cmd = commands.add_parser("subscribe", parents=[inbox],
                                        help="print inbound records after a cursor")
    subscribe_cmd.add_argument("--cursor-file",
                               help="read the cursor from here; save it after each record")
    subscribe_cmd.add_argument("--max", type=int, default=0, help="stop after this many records")
    subscribe_cmd.add_argument("--follow", action="store_true",
                               help="stream, and keep waiting for new records")
    subscribe_cmd.set_defaults(run=run_subscribe)
    list_cmd = commands.add_parser("list", parents=[inbox],
                                   help="print one page of inbound records")
    list_cmd.add_argument("--page-size", type=int, default=0, help="default 100, at most 1000")
    list_cmd.add_argument("--page-token", default="", help="next_page_token of the previous page")
    list_cmd.set_defaults(run=run_list)

    args = parser.parse_args(argv)
    missing = [name for name in ("target", "ca", "cert", "key") if not getattr(args, name)]
    if missing:
        parser.error("missing " + ", ".join(f"--{name} (IICC_{name.upper()})" for name in missing))
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)  # Exits 2 on bad usage.
    try:
        # Read the input first: a bad record is a usage error even when the
        # certificates are wrong too.
        if args.command == "submit":
            args.request = read_submit_request(args.file)
        with connect(args.target, args.ca, args.cert, args.key) as channel:
            return args.run(gateway_grpc.MinistryGatewayStub(channel), args)
    except UsageError as error:
        print(f"iicc_client: {error}", file=sys.stderr)
        return EXIT_USAGE
    except grpc.RpcError as error:
        return print_rpc_error(error)
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
