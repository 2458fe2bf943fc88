"""A differential oracle: how Python's h11 reads a byte stream of requests.

Reads JSON lines `{"id": N, "data": BASE64}` on stdin and writes one JSON line
per input on stdout, in the trace format of `scripts/fuzz/trace.ts`:

    {"id": N, "requests": [{"method", "target", "version", "headEnd", "end",
     "body", "bodyLength", "bodyHash", "keepAlive"}], "tail", "reason"}

Offsets are bytes from the start of the input. The whole input is received
at once and never followed by an end of stream, so an unfinished head or body
is "partial", not an error. Each request is answered (an empty 200, or 404
for CONNECT so that h11 does not switch protocols) to let h11 read the next.

The first line of output is `{"ready": "h11 VERSION"}`; a missing h11 is a
line `{"error": ...}` and exit status 3, so the caller can say what to install.
"""

import base64
import hashlib
import json
import sys

try:
    import h11
except ImportError as error:  # Reported to the caller, which names the package to install.
    print(json.dumps({"error": f"h11 is not importable by {sys.executable}: {error}"}), flush=True)
    sys.exit(3)

# Far above the server's own head limits: size limits are compared separately.
MAX_EVENT = 1 << 24


def consumed(conn: h11.Connection, total: int) -> int:
    """Bytes of the input h11 has taken so far.

    `len(conn._receive_buffer)` is h11's unprocessed data, the same bytes that
    the public `trailing_data` copies; the copy would make long inputs quadratic.
    """
    return total - len(conn._receive_buffer)  # noqa: SLF001


def trace(data: bytes) -> dict:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_EVENT)
    conn.receive_data(data)
    total = len(data)
    requests = []
    current = None
    body = None
    while True:
        try:
            event = conn.next_event()
        except h11.ProtocolError as error:
            if current is not None:
                current["body"] = "error"
                current["bodyLength"] = len(body)
                current["bodyHash"] = hashlib.sha1(body).hexdigest()
                return {"requests": requests, "tail": "body", "reason": str(error)}
            return {"requests": requests, "tail": "error", "reason": str(error)}
        if event is h11.NEED_DATA or event is h11.PAUSED:
            if current is not None:
                current["body"] = "partial"
                current["bodyLength"] = len(body)
                current["bodyHash"] = hashlib.sha1(body).hexdigest()
                return {"requests": requests, "tail": "body"}
            left = total - consumed(conn, total)
            return {"requests": requests, "tail": "partial" if left > 0 else "eof"}
        if isinstance(event, h11.Request):
            current = {
                "method": event.method.decode("latin-1"),
                "target": event.target.decode("latin-1"),
                "version": event.http_version.decode("latin-1"),
                "headEnd": consumed(conn, total),
                "end": None,
                "body": "partial",
                "bodyLength": 0,
                "bodyHash": "",
                "keepAlive": None,
            }
            requests.append(current)
            body = bytearray()
            method = event.method
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            current["end"] = consumed(conn, total)
            current["body"] = "complete"
            current["bodyLength"] = len(body)
            current["bodyHash"] = hashlib.sha1(body).hexdigest()
            # A 2xx to CONNECT (or a 101) would switch protocols; this answer keeps HTTP.
            status = 404 if method == b"CONNECT" else 200
            conn.send(h11.Response(status_code=status, headers=[("content-length", "0")]))
            conn.send(h11.EndOfMessage())
            # Only once answered: a request proposing an upgrade waits in MIGHT_SWITCH_PROTOCOL.
            keep_alive = conn.our_state is h11.DONE and conn.their_state is h11.DONE
            current["keepAlive"] = keep_alive
            current = None
            if not keep_alive:
                return {"requests": requests, "tail": "closed"}
            conn.start_next_cycle()
        elif isinstance(event, h11.ConnectionClosed):
            return {"requests": requests, "tail": "eof"}


def main() -> None:
    print(json.dumps({"ready": f"h11 {h11.__version__}"}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            result = trace(base64.b64decode(job["data"]))
        except Exception as error:  # noqa: BLE001 -- an oracle crash is reported, not fatal
            result = {"requests": [], "tail": "crash", "reason": f"{type(error).__name__}: {error}"}
        result["id"] = job["id"]
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
