"""``python -m flowbio_async.testing``: run the local Flow server."""

from __future__ import annotations

import sys

from flowbio_async.testing._main import main

if __name__ == "__main__":
    sys.exit(main())
