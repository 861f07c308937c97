"""How much work one input may ask for: a share of this machine's memory."""

from __future__ import annotations

import os


def memory_budget() -> int:
    """Bytes one array or one decompressed payload may take: a quarter of the memory."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 << 30
