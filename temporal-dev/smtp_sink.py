"""A real SMTP server on loopback that keeps every message it receives.

Each message is written as an .eml file under the mail directory, named by
arrival time and a counter, so a test (or a developer) can read it back.
"""

import argparse
import asyncio
import itertools
import os
import signal
import time

from aiosmtpd.controller import Controller


class Keep:
    def __init__(self, mail_dir: str) -> None:
        self.mail_dir = mail_dir
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{next(self.counter):06d}.eml"
        tmp = os.path.join(self.mail_dir, "." + name)
        with open(tmp, "wb") as f:
            f.write(f"X-Envelope-From: {envelope.mail_from}\r\n".encode())
            f.write(f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode())
            f.write(envelope.original_content or envelope.content)
        os.replace(tmp, os.path.join(self.mail_dir, name))  # readers never see half a file
        return "250 Message accepted for delivery"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2525)
    ap.add_argument("--mail-dir", required=True)
    args = ap.parse_args()
    os.makedirs(args.mail_dir, exist_ok=True)
    controller = Controller(Keep(args.mail_dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"smtp sink on {args.host}:{args.port}, writing to {args.mail_dir}", flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
