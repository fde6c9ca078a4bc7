"""qa: ask questions of a folder of news articles; answers are cited, verbatim extracts."""

__version__ = "0.1.0"
