"""localstripe with its store kept in memory only.

The `localstripe` command loads and rewrites one fixed file,
/tmp/localstripe.pickle, shared by every instance on the machine: two
instances (tests in parallel, or a test beside `make dev`) would see and
overwrite each other's data. This launcher starts it with an empty store
that is never written to disk. Arguments are localstripe's own
(`--port N`).
"""
import sys

import localstripe.resources as resources

resources.Store.dump_to_disk = lambda self: None
if "--from-scratch" not in sys.argv:
    sys.argv.append("--from-scratch")

from localstripe.server import start  # noqa: E402

start()
