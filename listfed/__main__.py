"""``python -m listfed``: the same as the ``listfed`` command."""

from listfed.cli.main import main

main()
