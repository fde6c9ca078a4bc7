"""Domain errors: raised by the library, shown as one line by the CLI and TUI."""


class QAError(Exception):
    """Something the user can fix; the message says what and how."""


class IndexMissing(QAError):
    """No index has been built yet."""


class IndexCorrupt(QAError):
    """The index files cannot be read."""


class IndexMismatch(QAError):
    """The index was built with another model or chunker settings."""


class IndexOutdated(IndexMismatch):
    """The index was written by an older qa: the next `qa index` migrates it (nothing re-embedded)."""


class IndexLocked(QAError):
    """Another process is writing the index."""


class CorpusError(QAError):
    """The corpus folder is missing, empty or unreadable."""


class QuestionError(QAError):
    """The question is empty or too long."""
