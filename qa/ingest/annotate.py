"""What ingest stores for the answer stages besides vectors: sentence parses and word vectors.

Every title and sentence is parsed with spaCy once (:class:`qa.models.nlp.Annotator`,
``annotations.sqlite``); the lemmas the predicate checks compare are embedded once
(:class:`qa.models.words.WordVectors`, ``words.sqlite``), with the entity types the
corpus's nouns name ("which county" is answered by a place).  A large batch is
parsed in a child process while the parent embeds it (:class:`ParseWorker`):
spaCy is single-threaded, so on a multi-core machine its time hides behind the
embedding's instead of adding to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from qa.ingest.chunk import sentence_spans
from qa.models.embedding import Embedder
from qa.models.nlp import COMPARED_POS, Annotator
from qa.models.parse_worker import ParseWorker
from qa.models.words import WordVectors, naming, typing_nouns
from qa.text import undated
from qa.types import Article

WORKER_CHARS = 200_000
"""A batch with this much text is parsed in a child process beside its embedding (smaller ones
cost less to parse here than the child's start, about 2 s)."""


def annotation_texts(articles: Sequence[Article]) -> list[str]:
    """What ingest parses: every title and sentence, and an opening sentence without its dateline.

    Corroboration judges a sentence without its dateline ("BOGOTA, Colombia (CNN) —"),
    so that text is parsed here too, not while a question waits.
    """
    texts = [a.title for a in articles if a.title]
    for a in articles:
        sentences = [a.text[s:e] for s, e in sentence_spans(a.text)]
        texts.extend(sentences)
        texts.extend(bare for sentence in sentences if (bare := undated(sentence)) != sentence)
    return texts


def annotate_articles(
    articles: Sequence[Article], annotator: Annotator, words: WordVectors, embedder: Embedder
) -> int:
    """Parse and store the sentences (and titles) not annotated yet, and embed their new words."""
    texts = annotation_texts(articles)
    parsed = annotator.annotate_new(texts)
    sents = annotator.read_all(texts)
    words.add_typed([(key, *typed) for key, sent in sents for typed in typing_nouns(sent)])
    words.add_named([(key, *named) for key, sent in sents for named in naming(sent)])
    compared = {t.lemma for _, sent in sents for t in sent.toks if t.pos in COMPARED_POS}
    missing = words.missing(sorted(compared))
    for i in range(0, len(missing), 4096):
        part = missing[i : i + 4096]
        words.put_many(dict(zip(part, embedder.embed(part, batch_size=256), strict=True)))
    return parsed


class BesideEmbedding:
    """Starts a batch's parses in a child process before its embedding; :meth:`close` at the end.

    Batches are pipelined: a batch's parses are queued behind the previous batch's, and
    the previous batch is finished (:meth:`hold`) only after this one is embedded, so the
    child parses without pause while the parent embeds, and an ingest takes about the
    longer of the two, not the sum of each batch's longer one.
    """

    def __init__(self, annotator: Annotator, enabled: bool) -> None:
        self.annotator = annotator
        self.enabled = enabled
        self._worker: ParseWorker | None = None
        self._held: Callable[[], None] | None = None

    def start(self, articles: Sequence[Article]) -> Callable[[], int]:
        """Submit the batch's unparsed texts (if it is large, or the child runs already); call the
        result once it is embedded."""
        if not self.enabled or (self._worker is None and sum(len(a.text) for a in articles) < WORKER_CHARS):
            return lambda: 0
        if self._worker is None:
            self._worker = ParseWorker()
        return self.annotator.annotate_new_beside(annotation_texts(articles), self._worker)

    def hold(self, finish: Callable[[], None]) -> None:
        """Run the batch held before (its parses ran beside the batch just embedded), then hold ``finish``."""
        self._settle()
        self._held = finish

    def _settle(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held()

    def close(self) -> None:
        """Finish the batch held (also when ingest stopped on an error), then stop the child."""
        try:
            self._settle()
        finally:
            if self._worker is not None:
                self._worker.close()
                self._worker = None
