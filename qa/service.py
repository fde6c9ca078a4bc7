"""The one policy every front end uses: open an index for a corpus, keep it fresh, ask, re-index, status.

import qa
library = qa.open_index(corpus="~/news")      # index folder: the user's data dir unless given
answer = library.ask("Where is the next forum hosted?")
print(answer.text, answer.citation.path)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import Settings
from qa.errors import IndexLocked, IndexOutdated

if TYPE_CHECKING:
    from qa.answer import Answer
    from qa.embed import Embedder
    from qa.filters import Filters
    from qa.retrieve import Retriever
    from qa.store import ArticleRow
    from qa.sync import Progress, SyncReport
    from qa.timeline import Evidence

Warn = Callable[[str], None]


@dataclass
class Status:
    corpus: str
    index: str
    model: str
    indexed_model: str | None = None
    articles: int = 0
    chunks: int = 0
    size_bytes: int = 0
    built: bool = False  # False: no index yet
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    outdated: bool = False  # written by an older qa: the next index run migrates it
    undated: int = 0  # indexed articles without a publication date (they pass no date filter)

    @property
    def stale(self) -> bool:
        return not self.built or self.outdated or bool(self.new or self.changed or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stale": self.stale}


class Library:
    """A corpus folder and its index. Reading (ask, status) and writing (index) go through here, so
    the CLI, the TUI and `qa eval` share one policy: sync before answering when the corpus changed,
    answer from the last complete index when another process is writing it, say every fallback."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, warn: Warn | None = None, batch_texts: int = 512
    ) -> None:
        """`batch_texts`: texts embedded per committed step of an index run (see sync.BATCH_TEXTS)."""
        self.settings = settings
        self.batch_texts = batch_texts
        self._embedder = embedder
        self.warn: Warn = warn or (lambda message: None)
        self._retriever: Retriever | None = None
        self._lock = threading.RLock()  # the TUI re-indexes in one thread while another asks

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                from qa.embed import ModelEmbedder

                self._embedder = ModelEmbedder(self.settings.model, quantize=self.settings.quantize)
            return self._embedder

    @property
    def built(self) -> bool:
        from qa.indexformat import CATALOG

        return (self.settings.index / CATALOG).is_file()

    # writing ------------------------------------------------------------------------------------
    def index(self, rebuild: bool = False, progress: Progress | None = None) -> SyncReport:
        """Bring the index in line with the corpus folder (the only writer; one at a time)."""
        from qa.sync import Indexer

        indexer = Indexer(
            self.settings.corpus, self.settings.index, self.embedder, progress, batch_texts=self.batch_texts
        )
        report = indexer.run(rebuild=rebuild)
        for warning in report.warnings:
            self.warn(warning)
        self.reload()
        return report

    def refresh(self, progress: Progress | None = None) -> SyncReport | None:
        """Sync when the index is missing or the corpus changed; None when nothing needed doing, or
        another process holds the write lock and a complete index exists to answer from."""
        if not self.status(sizes=False).stale:
            warning = self.embedder.prepare()  # e.g. an index built before the fast query path existed
            if warning:
                self.warn(warning)
            return None
        try:
            return self.index(progress=progress)
        except IndexLocked:
            if not self.built:
                raise
            self.warn("the index is being updated by another `qa index`; answering from its last complete state")
            return None

    # reading ------------------------------------------------------------------------------------
    def retriever(self) -> Retriever:
        """The open reader, opened on first use and again by `reload` (after `index` too)."""
        with self._lock:
            if self._retriever is None:
                self._retriever = self._open()
            return self._retriever

    def _open(self) -> Retriever:
        from qa.retrieve import Retriever

        retriever = Retriever(self.settings.index, self.embedder)
        for warning in retriever.warnings:
            self.warn(warning)
        return retriever

    def article(self, article_id: str) -> ArticleRow | None:
        """An indexed article (title, date, outlet, path, text), e.g. to show a cited source."""
        return self.retriever().article(article_id)

    def changed_since_open(self) -> bool:
        """Whether another process (`qa index`, `qa watch`) changed the index the open reader serves."""
        from qa.store import Catalog

        with self._lock:
            retriever = self._retriever
        if retriever is None or not self.built:
            return False
        catalog = Catalog(self.settings.index)
        try:
            return catalog.tag() != retriever.tag
        finally:
            catalog.close()

    def reload(self) -> None:
        """Open the index as it is now and swap it in; questions already running finish on the old
        reader. If it cannot be opened, the error is raised and the old reader stays in use."""
        with self._lock:
            opened = self._retriever is not None
        if opened:
            fresh = self._open()
            with self._lock:
                self._retriever = fresh

    def ask(
        self,
        question: str,
        k: int = 5,
        mode: str = "hybrid",
        sync: bool = True,
        filters: Filters | None = None,
        as_of: date | None = None,
        min_confidence: float | None = None,
        scorer: str = "rules",
    ) -> Answer:
        """Answer a question with a cited extract, or say the corpus does not answer. The answer is as
        of `as_of` (default: today): articles dated later do not answer, and "next", "latest" or "in
        2021" are read against it. `filters` keep articles of a date range and of some outlets. The answer
        carries its confidence; below `min_confidence` (default: the calibrated threshold) the corpus
        does not answer. `scorer`: "rules" (default) or "learned" (see qa.answer)."""
        from qa.answer import answer
        from qa.retrieve import check_question

        question = check_question(question)  # fail fast, before any model loads or the index syncs
        if sync:
            self.refresh()
        when = as_of or date.today()
        return answer(
            self.retriever(),
            question,
            k=k,
            mode=mode,
            filters=filters,
            as_of=when,
            min_confidence=min_confidence,
            which=scorer,
        )

    def timeline(
        self, question: str, k: int = 20, filters: Filters | None = None, as_of: date | None = None
    ) -> list[Evidence]:
        """The evidence for a question in date order (undated last): for "how did X develop"."""
        from qa.timeline import timeline

        return timeline(self.retriever(), question, k=k, filters=filters, as_of=as_of)

    def status(self, sizes: bool = True) -> Status:
        """What is indexed and which corpus files are new, changed or removed since (no model loaded)."""
        from qa.corpus import check_corpus, staleness
        from qa.store import Catalog, disk_size

        s = self.settings
        out = Status(str(s.corpus), str(s.index), s.model)
        files = check_corpus(s.corpus)
        if not self.built:
            return out
        try:
            catalog = Catalog(s.index)
        except IndexOutdated:  # an older qa's index: stale until `qa index` migrates it
            out.built, out.outdated = True, True
            return out
        try:
            stale = staleness(catalog, s.corpus, files)
            out.indexed_model = catalog.settings().get("model")
            out.articles, out.chunks = catalog.counts()
            out.undated = catalog.undated_count()
        finally:
            catalog.close()
        out.built = True
        out.new, out.changed, out.removed = stale.new, stale.changed, stale.removed
        if sizes:
            out.size_bytes = disk_size(s.index)
        return out

    def close(self) -> None:
        with self._lock:
            if self._retriever is not None:
                self._retriever.close()
                self._retriever = None


def open_index(
    corpus: str | Path | None = None,
    index: str | Path | None = None,
    model: str | None = None,
    *,
    embedder: Embedder | None = None,
    warn: Warn | None = None,
) -> Library:
    """The corpus folder (default: the bundled seeds, or $QA_CORPUS) and its index (default: in the
    user's data folder, or $QA_INDEX). Nothing is read or built until it is used."""
    return Library(Settings.from_options(corpus, index, model), embedder=embedder, warn=warn)
