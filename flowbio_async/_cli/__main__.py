"""``python -m flowbio_async._cli``: the same as the ``flowbio-async`` command."""

import sys

from flowbio_async._cli._main import main

sys.exit(main())
