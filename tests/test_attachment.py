"""Where an entity hangs in the parse: a name inside a person's title stands for that person,
read from real spaCy parses."""

from __future__ import annotations

import pytest

from qa.answer.assess import assess
from qa.answer.attachment import another_actor, title_holder, where_it_happens
from qa.answer.question import analyze
from qa.models.nlp import Annotator, Sent
from tests.parsed import ent, parse

pytestmark = pytest.mark.slow


def holder(sent: Sent, text: str) -> str | None:
    found = title_holder(sent, ent(sent, text))
    return found.text if found is not None else None


def test_a_name_inside_a_title_belongs_to_the_person_who_holds_it(annotator: Annotator) -> None:
    sent = parse(annotator, "The husband of House Speaker Nancy Pelosi was taken to a hospital on Friday.")
    assert holder(sent, "House") == "Nancy Pelosi"
    rice = parse(annotator, "The group includes former Secretary of State Condoleezza Rice and two bankers.")
    assert holder(rice, "State") == "Condoleezza Rice"
    # A name that is itself an argument is no title, nor is a person their own title.
    bought = parse(annotator, "Goldman Sachs advised the Walton family on the purchase of the team.")
    assert holder(bought, "Goldman Sachs") is None
    assert holder(sent, "Nancy Pelosi") is None


def test_a_title_answers_only_when_its_holder_did_what_was_asked(annotator: Annotator) -> None:
    treated = analyze(parse(annotator, "Which hospital treated the speaker's husband after the attack?"))
    sent = parse(annotator, "The husband of House Speaker Nancy Pelosi was attacked at home early Friday.")
    # What the corpus calls a hospital is never a person (qa.answer.assess.focus_labels).
    places = frozenset({"ORG", "FAC", "GPE"})
    assert assess(treated, sent, 0.8, labels=places).answers == []
    cared = parse(annotator, "Doctors at Zuckerberg General treated him, House Speaker Nancy Pelosi said.")
    assert [e.text for e in assess(treated, cared, 0.8, labels=places).answers] == ["Zuckerberg General"]
    # The holder is the asked verb's subject: the agency in the title answers which agency acted.
    announced = analyze(parse(annotator, "Which agency announced the recall of the baby formula?"))
    said = parse(
        annotator, "FDA Commissioner Robert Califf announced the recall of the baby formula on Monday."
    )
    assert [e.text for e in assess(announced, said, 0.8, labels=frozenset({"ORG"})).answers] == ["FDA"]


def test_a_figure_another_named_actor_is_the_subject_of_is_theirs(annotator: Annotator) -> None:
    fined = analyze(parse(annotator, "How much was Instagram fined for failing to protect children's data?"))
    other = parse(annotator, "WhatsApp was fined a record 225 million euros for breaking EU data rules.")
    assert another_actor(other, ent(other, "225 million"), fined.names, fined.text) is not None
    assert assess(fined, other, 0.8).answers == []
    own = parse(annotator, "Instagram was fined 405 million euros for its handling of children's data.")
    assert another_actor(own, ent(own, "405 million"), fined.names, fined.text) is None
    assert [e.text for e in assess(fined, own, 0.8).answers] == ["405 million"]
    # Named anywhere in the question (here only in the sentence that sets the scene), it is no other.
    scene = "Dana Reyes, a star of the show, was sentenced this week. How many years was the sentence?"
    sentenced = analyze(parse(annotator, scene))
    hers = parse(annotator, "Dana Reyes has been sentenced to 12 years in federal prison.")
    assert another_actor(hers, ent(hers, "12 years"), sentenced.names, sentenced.text) is None


def test_a_place_where_something_happens_names_no_team(annotator: Annotator) -> None:
    held = parse(
        annotator,
        "The final individual event takes place in Jeddah, Saudi Arabia, while the team championship "
        "will be held in Miami.",
    )
    assert where_it_happens(held, ent(held, "Saudi Arabia")) and where_it_happens(held, ent(held, "Miami"))
    beat = parse(annotator, "Spain beat Germany 2-1 in the final in Doha.")
    assert not where_it_happens(beat, ent(beat, "Spain")) and where_it_happens(beat, ent(beat, "Doha"))
    # Asked which team won, a team's own name still answers: only the place where it happened is out.
    team = analyze(parse(annotator, "Which team won the season-ending team championship?"))
    teams = frozenset({"ORG", "GPE"})  # the corpus names teams by both
    won = parse(annotator, "Spain won the team championship in Doha on Sunday.")
    assert [e.text for e in assess(team, won, 0.8, labels=teams).answers] == ["Spain"]
    # Asked which city, the place is the answer.
    city = analyze(parse(annotator, "In which city will the team championship be held?"))
    assert "Miami" in [e.text for e in assess(city, held, 0.8, labels=frozenset({"GPE"})).answers]
