"""``python -m listfed``: the same as the ``listfed`` command."""

from listfed.cli.app import main

main()
