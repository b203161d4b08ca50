"""The web workers' board (web/balance.py): what each says it holds, and who is live."""

from __future__ import annotations

import os
import time

from listfed.web.balance import FRESH, SLOT, Board, board_file


def test_a_worker_sees_the_fewest_connections_a_live_other_holds() -> None:
    fd = board_file(3)
    try:
        mine, second, third = (Board(fd, slot, 3) for slot in range(3))
        assert mine.fewest_elsewhere() is None  # no other has said anything yet
        second.put(7)
        third.put(4)
        mine.put(5)
        assert mine.fewest_elsewhere() == 4 and third.fewest_elsewhere() == 5
        # a worker that stopped writing (gone or hung) is not counted after FRESH
        SLOT.pack_into(mine.map, SLOT.size * 2, 0, time.monotonic() - FRESH - 1)
        assert mine.fewest_elsewhere() == 7
    finally:
        os.close(fd)
