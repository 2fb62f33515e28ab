"""Kannel, the real SMS gateway, with Kannel's own fake SMSC as its carrier.

Starts Debian's `bearerbox` and `smsbox` (package `kannel`) and
`fakesmsc` (package `kannel-extras`) as the SMSC peer, with a generated
configuration in the state directory:

- the sendsms HTTP interface listens on 127.0.0.1:--port
  (`/cgi-bin/sendsms`, user and password from --user/--password);
- bearerbox's own ports (admin, smsbox link, SMSC link) are free loopback
  ports picked at start;
- every short message the fake SMSC receives is appended to
  `<dir>/messages.jsonl`, one JSON object per line and per part:
  {"from", "to", "type" ("text" | "ucs-2" | "udh"), "udh" (hex),
   "part" ("1/2" for concatenated parts), "data" (hex of the octets),
   "text" (to read: UCS-2 parts decoded when they look it)};
- the fake SMSC acknowledges every message, so Kannel posts delivery
  reports (SMSC accepted, then delivered) to each message's `dlr-url`.

In production smsbox and bearerbox stay, and the `smsc = fake` group is
replaced by the carrier's `smsc = smpp` group (README, "SMS").

Stops all three on SIGTERM or SIGINT.
"""

import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

BEARERBOX = os.environ.get("KANNEL_BEARERBOX", "/usr/sbin/bearerbox")
SMSBOX = os.environ.get("KANNEL_SMSBOX", "/usr/sbin/smsbox")
FAKESMSC = os.environ.get("KANNEL_FAKESMSC", "/usr/lib/kannel/test/fakesmsc")


def die_with_parent() -> None:
    """In a child: SIGTERM when this launcher dies, even by SIGKILL."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    for _ in range(150):
        if answers(port):
            return
        if proc.poll() is not None:
            sys.exit(f"kannel: {what} exited with {proc.returncode}")
        time.sleep(0.1)
    sys.exit(f"kannel: {what} does not listen on {port}")


def config(args, admin: int, box: int, smsc: int) -> str:
    d = args.dir
    return f"""\
group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = {args.password}
admin-allow-ip = "127.0.0.1"
smsbox-port = {box}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "{d}/bearerbox.log"
log-level = 1
access-log = "{d}/access.log"
dlr-storage = internal
store-type = spool
store-location = "{d}/store"

group = smsc
smsc = fake
smsc-id = fake
port = {smsc}
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {box}
sendsms-port = {args.port}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = 1
access-log = "{d}/smsbox-access.log"
# A delivery report the workers do not take (none running, a 5xx) is
# posted again, every 10 s, up to 30 times.
http-request-retry = 30
http-queue-delay = 10

group = sendsms-user
username = {args.user}
password = {args.password}
max-messages = 2
concatenation = true
"""


def octets(urlencoded: str) -> bytes:
    """fakesmsc writes octets URL-encoded, a space as `+`."""
    return urllib.parse.unquote_to_bytes(urlencoded.replace("+", "%20"))


def parse(line: str):
    """`... Got message N: <from to type [udh] payload>` → a record."""
    marker = "Got message "
    at = line.find(marker)
    if at < 0:
        return None
    body = line[line.index(": <", at) + 3 :].rstrip("\n")
    body = body.removesuffix(">")
    parts = body.split(" ", 3)
    if len(parts) < 4:
        return None
    sender, receiver, kind, rest = parts
    record = {"from": sender, "to": receiver, "type": kind, "udh": ""}
    if kind == "text":
        record["text"] = rest
        record["data"] = rest.encode().hex()
    elif kind == "udh":
        udh, _sub, payload = rest.split(" ", 2)
        header = octets(udh)
        data = octets(payload)
        record["udh"] = header.hex()
        record["data"] = data.hex()
        if len(header) == 6 and header[1] == 0:  # concatenation: ref, total, seq
            record["part"] = f"{header[5]}/{header[4]}"
        record["text"] = readable(data)
    else:  # ucs-2, data
        data = octets(rest)
        record["data"] = data.hex()
        record["text"] = readable(data)
    return record


def readable(data: bytes) -> str:
    """The part's text for a person reading the file: UCS-2 when it has a
    zero byte (GSM-7 text never does here), else as Kannel passed it on."""
    if b"\x00" in data and len(data) % 2 == 0:
        return data.decode("utf-16-be", errors="replace")
    return data.decode("utf-8", errors="replace")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=13013, help="sendsms HTTP port")
    ap.add_argument("--dir", required=True, help="configuration, logs and messages.jsonl")
    ap.add_argument("--user", default="airline")
    ap.add_argument("--password", default="dev-only-kannel-password")
    args = ap.parse_args()
    args.dir = os.path.abspath(args.dir)
    os.makedirs(os.path.join(args.dir, "store"), exist_ok=True)
    for tool in (BEARERBOX, SMSBOX, FAKESMSC):
        if not os.access(tool, os.X_OK):
            sys.exit(f"kannel: {tool} is missing; install Debian's kannel and kannel-extras (scripts/check-tools.sh)")

    admin, box, smsc = free_port(), free_port(), free_port()
    conf = os.path.join(args.dir, "kannel.conf")
    with open(conf, "w") as f:
        f.write(config(args, admin, box, smsc))
    os.chmod(conf, 0o600)

    procs: list[subprocess.Popen] = []

    def stop(*_):
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    quiet = subprocess.DEVNULL
    bearerbox = subprocess.Popen([BEARERBOX, conf], stdout=quiet, stderr=quiet, preexec_fn=die_with_parent)
    procs.append(bearerbox)
    wait_port(box, bearerbox, "bearerbox")
    wait_port(smsc, bearerbox, "bearerbox")
    fake = subprocess.Popen(
        [FAKESMSC, "-H", "127.0.0.1", "-r", str(smsc), "-m", "0", "1 2 text unused"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        preexec_fn=die_with_parent,
    )
    procs.append(fake)
    smsbox = subprocess.Popen([SMSBOX, conf], stdout=quiet, stderr=quiet, preexec_fn=die_with_parent)
    procs.append(smsbox)
    wait_port(args.port, smsbox, "smsbox")

    out = os.path.join(args.dir, "messages.jsonl")
    print(f"kannel: sendsms on 127.0.0.1:{args.port}; messages the SMSC receives go to {out}", flush=True)

    def watch():
        assert fake.stdout is not None
        for line in fake.stdout:
            record = parse(line)
            if record is None:
                continue
            with open(out, "a") as f:
                f.write(json.dumps(record) + "\n")

    threading.Thread(target=watch, daemon=True).start()
    while True:
        for p in procs:
            if p.poll() is not None:
                print(f"kannel: {p.args[0]} exited with {p.returncode}", flush=True)
                stop()
        time.sleep(0.5)


if __name__ == "__main__":
    main()
