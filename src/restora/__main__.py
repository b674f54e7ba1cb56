"""``python -m restora``: the same command line as the ``restora`` script."""

import sys

from restora.cli import main

if __name__ == "__main__":
    sys.exit(main())
