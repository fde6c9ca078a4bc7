"""qa: ask questions of a folder of news articles; answers are cited, verbatim extracts.

The Python API is `qa.open_index(...)`, which returns a `qa.service.Library` (see README).
"""

from __future__ import annotations

from qa.service import Library, Status, open_index

__version__ = "0.1.0"
__all__ = ["Library", "Status", "open_index"]
