"""Names that never answer (the question's own, credits, attribution, another edition) and the
entity types a corpus's nouns name ("which county" wants a place), read from real spaCy parses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.answer.aliases import abbreviates
from qa.answer.assess import assess, focus_labels
from qa.answer.nonanswers import (
    attribution,
    counted,
    dated_elsewhere,
    in_question,
    other_edition,
    stated_as_of,
)
from qa.answer.question import analyze
from qa.models.nlp import Annotator, Ent
from qa.models.words import WordVectors, naming, relabeled, typing_nouns
from tests.parsed import ent, parse

pytestmark = pytest.mark.slow


def test_an_entity_made_of_the_questions_words_is_not_its_answer(annotator: Annotator) -> None:
    info = analyze(parse(annotator, "Which Taronga Zoo keeper tranquilized the lion cub?"))
    # As spaCy spans it in some sentences ("Sydney's Taronga Zoo"): two of its three words are asked.
    assert in_question(Ent("ORG", "Sydney's Taronga Zoo", 0, 3, 0, 20), info)
    # One shared word is another entity: Nancy Pelosi answers who Paul Pelosi's wife is.
    info = analyze(parse(annotator, "Who is Paul Pelosi's wife?"))
    sent = parse(annotator, "Paul Pelosi is married to House Speaker Nancy Pelosi.")
    assert not in_question(ent(sent, "Nancy Pelosi"), info)
    # The wh-phrase says what kind of thing the answer is: its words may be in the answer's name.
    info = analyze(parse(annotator, "Wildfires forced evacuations near which national park?"))
    assert not in_question(Ent("FAC", "Yosemite National Park", 0, 2, 0, 21), info)


def test_another_name_for_what_the_question_names_is_not_its_answer(annotator: Annotator) -> None:
    # WordNet's demonym: "American" is the US the question names; "Ukrainian" names another country.
    info = analyze(parse(annotator, "US first lady Jill Biden met with the first lady of which country?"))
    sent = parse(
        annotator,
        "Ukrainian first lady Olena Zelenska met first lady Jill Biden and American officials on Tuesday.",
    )
    assert in_question(ent(sent, "American"), info)
    assert not in_question(ent(sent, "Ukrainian"), info)
    # An acronym the question uses: the agency written out is no answer to "which virus".
    info = analyze(parse(annotator, "The CDC opened an emergency center to respond to which virus?"))
    assert in_question(Ent("ORG", "the US Centers for Disease Control and Prevention", 0, 7, 0, 49), info)
    assert not in_question(Ent("ORG", "the US Department of Health", 0, 5, 0, 27), info)


def test_an_acronym_is_the_initials_of_a_names_capitalized_words() -> None:
    assert abbreviates("FBI", "Federal Bureau of Investigation")
    assert abbreviates("U.S.", "United States")
    assert abbreviates("CDC", "the US Centers for Disease Control and Prevention")  # a word either side
    assert abbreviates("NASA", "National Aeronautics and Space Administration")
    assert not abbreviates("UN", "Ukrainian National Guard")  # two letters: all the initials
    assert not abbreviates("NFL", "New York Giants")
    assert not abbreviates("Fed", "Federal Reserve")  # not an acronym
    assert not abbreviates("CDC", "Centers")


def test_credits_and_the_outlet_told_are_attribution(annotator: Annotator) -> None:
    info = analyze(parse(annotator, "Who bought the 1952 Mickey Mantle card?"))
    told = parse(annotator, "The card sold for $12.6 million, according to a news release shared with CNN.")
    assert attribution(told, ent(told, "CNN"), info)
    sources = parse(annotator, "Paul Pelosi was attacked early Friday, law enforcement sources told CNN.")
    assert attribution(sources, ent(sources, "CNN"), info)
    buyer = parse(annotator, "Anthony Giordano bought the Mantle card in 1991.")
    assert not attribution(buyer, ent(buyer, "Anthony Giordano"), info)
    # Asked who was told, the recipient is the answer.
    asked = analyze(parse(annotator, "Who did the sources tell about the attack?"))
    assert not attribution(sources, ent(sources, "CNN"), asked)
    # The outlet a statement or an interview was given to, under the verb that reports it.
    statement = parse(annotator, "He is on his way to a prison camp, his lawyers said in a statement to CNN.")
    assert attribution(statement, ent(statement, "CNN"), info)
    talks = parse(annotator, "Sri Lanka began negotiations with the IMF on a bailout in April.")
    assert not attribution(
        talks, ent(talks, "IMF"), analyze(parse(annotator, "Who did Sri Lanka negotiate with?"))
    )


def test_the_verb_of_a_question_parsed_as_a_clause_on_its_name_is_its_predicate(annotator: Annotator) -> None:
    # spaCy reads "was Griner sent to" as "was Griner, sent to ...": the clause's verb is asked.
    info = analyze(
        parse(annotator, "Which Russian penal colony was Brittney Griner sent to serve her sentence?")
    )
    assert info.predicate == "send" and info.focus == "colony"


def test_a_sentence_about_another_edition_answers_nothing(annotator: Annotator) -> None:
    info = analyze(parse(annotator, "Which rider won the 2022 Tour de France?"))
    assert ("2022", "france") in info.years
    other = parse(annotator, "Prince Harry watched the riders at the finish of the 2014 Tour de France.")
    assert other_edition(info.years, other)
    assert not assess(info, other, 0.8).answers
    same = parse(annotator, "Jonas Vingegaard won the 2022 Tour de France on Sunday.")
    assert not other_edition(info.years, same)
    assert [e.text for e in assess(info, same, 0.8).answers] == ["Jonas Vingegaard"]
    # A year that dates something else is no conflict.
    undated = parse(annotator, "Jonas Vingegaard, born in 1996, won the Tour de France on Sunday.")
    assert not other_edition(info.years, undated)


def test_nouns_that_type_names_are_counted_and_constrain_which_questions(
    annotator: Annotator, tmp_path: Path
) -> None:
    sents = [
        parse(annotator, f"The investment bank {bank} advised the buyer on the deal.")
        for bank in ("Goldman Sachs", "Morgan Stanley", "Lazard", "JPMorgan Chase", "Citigroup")
    ]
    sents += [
        parse(annotator, f"Officials in the city of {city} said the roads were closed.")
        for city in ("Boston", "Chicago")
    ]
    pairs = [p for s in sents for p in typing_nouns(s)]
    assert ("bank", "ORG") in pairs and ("city", "GPE") in pairs
    words = WordVectors(tmp_path, "model")
    rows = [(f"s{i}", noun, label) for i, s in enumerate(sents) for noun, label in typing_nouns(s)]
    words.add_typed(rows)
    words.add_typed(rows)  # idempotent: a re-ingest counts nothing twice
    assert words.noun_labels("city") is None  # too few mentions to trust
    words.add_typed([(f"x{i}", "bank", "ORG") for i in range(5)] + [("y", "bank", "PERSON")])
    labels = words.noun_labels("bank")
    assert labels is not None and "ORG" in labels and "GPE" not in labels
    info = analyze(parse(annotator, "Which investment bank advised the buyer?"))
    assert info.focus == "bank"
    sent = parse(annotator, "Donald Trump advised the buyer.")
    assert assess(info, sent, 0.8).answers  # unconstrained, any name would do
    assert not assess(info, sent, 0.8, labels=labels).answers
    words.put_many({"bank": np.ones(4, dtype=np.float32) / 2})
    assert words.count() == 1


def test_per_attribution_and_a_calendar_date_for_how_long(annotator: Annotator) -> None:
    info = analyze(parse(annotator, "Who holds the winning Powerball ticket?"))
    per = parse(annotator, "Per the Multi-State Lottery Association, 22 tickets won $1 million prizes.")
    assert attribution(per, ent(per, "the Multi-State Lottery Association"), info)
    info = analyze(parse(annotator, "How long did the jury deliberate before finding Cosby liable?"))
    dated = parse(
        annotator, "The jury found Cosby liable on June 21, 2022 after deliberating in Santa Monica."
    )
    assert "June 21, 2022" not in [e.text for e in assess(info, dated, 0.8).answers]
    lasted = parse(annotator, "The jury deliberated for two days before finding Cosby liable.")
    assert [e.text for e in assess(info, lasted, 0.8).answers] == ["two days"]
    # A count is no duration: "eight" women, asked how long.
    jurors = parse(
        annotator, "The jury, made up of eight women and four men, deliberated before its verdict."
    )
    assert assess(info, jurors, 0.8).answers == []
    # A length is: asked how long a bridge is, "2 miles".
    bridge = analyze(parse(annotator, "How long is the new river bridge?"))
    spans = parse(annotator, "The new river bridge is 2 miles long.")
    assert [e.text for e in assess(bridge, spans, 0.8).answers] == ["2 miles"]


def test_what_may_happen_does_not_answer_what_happened(annotator: Annotator) -> None:
    """Asked what happened (or is), a date in a clause under a modal is a plan, not the answer; asked
    what may happen, it is."""
    plan = parse(
        annotator,
        "NASA said the rocket's slow trek to the launch pad could begin as early as Friday, November 4.",
    )
    happened = analyze(parse(annotator, "On what date did NASA's rocket begin its trek to the launch pad?"))
    assert not analyze(parse(annotator, "When did the trek begin?")).hedged and not happened.hedged
    assert assess(happened, plan, 0.8).answers == []
    may = analyze(parse(annotator, "When could NASA's rocket begin its trek to the launch pad?"))
    assert may.hedged
    assert [e.text for e in assess(may, plan, 0.8).answers] == ["as early as Friday, November 4"]
    done = parse(annotator, "NASA's rocket began its slow trek to the launch pad on Friday, November 4.")
    assert [e.text for e in assess(happened, done, 0.8).answers] == ["Friday, November 4"]
    # The asked predicate under a modal ("should be on track to overtake"), the date on another verb.
    forecast = parse(
        annotator,
        "The new season gets underway on October 18 and James should be on track to overtake Kareem Abdul-Jabbar.",
    )
    passed = analyze(parse(annotator, "On what date did James overtake Kareem Abdul-Jabbar?"))
    assert assess(passed, forecast, 0.8).answers == []


def test_what_a_number_counts_inside_its_entity_or_through_a_measure_noun(annotator: Annotator) -> None:
    """A count's unit may sit inside the entity ("more than 18,000 acres") or in the measure it
    rose to ("the death toll rose to 156"); a count of something else is still no answer."""
    grown = parse(annotator, "The Mill Creek fire has burned through more than 9,000 acres since Friday.")
    assert counted(grown, ent(grown, "more than 9,000 acres")) == "acre"
    toll = parse(annotator, "The death toll rose to 156 on Monday.")
    assert counted(toll, ent(toll, "156")) == "death"
    staff = parse(annotator, "The company employs 87,000 employees worldwide.")
    assert counted(staff, ent(staff, "87,000")) == "employee"
    info = analyze(parse(annotator, "How many acres has the Mill Creek fire burned?"))
    assert [e.text for e in assess(info, grown, 0.8).answers] == ["more than 9,000 acres"]
    homes = parse(annotator, "The Mill Creek fire has burned through 40 homes since Friday.")
    assert assess(info, homes, 0.8).answers == []  # homes, not acres


def test_asked_when_something_might_happen_a_condition_on_its_verb_answers(annotator: Annotator) -> None:
    """ "When might X happen?" asks under what condition: an "if" clause on the asked verb answers it,
    not a condition on another verb, and not when the question asks when it did happen."""
    sent = parse(
        annotator,
        "Putin said a civilian site might become a legitimate target if enemy officers were meeting there.",
    )
    might = analyze(parse(annotator, "When might a civilian site become a legitimate target?"))
    assert [e.text for e in assess(might, sent, 0.8).answers] == ["if enemy officers were meeting there"]
    did = analyze(parse(annotator, "When did the civilian site become a target?"))
    assert assess(did, sent, 0.8).answers == []
    other = parse(
        annotator, "If enemy officers meet there, Putin said, talks would stop; the site is a hospital."
    )
    assert assess(might, other, 0.8).answers == []


def test_asked_what_a_measure_was_the_value_beside_it_answers(annotator: Annotator) -> None:
    info = analyze(parse(annotator, "What was the magnitude of the earthquake in eastern Afghanistan?"))
    assert (info.kind, info.focus, info.measured, info.predicate) == ("quantity", "magnitude", True, "")
    assert "DATE" not in info.types
    sent = parse(
        annotator,
        "Afghanistan was rocked by its deadliest earthquake in decades on Wednesday when a magnitude 5.9 "
        "earthquake struck the country's east, killing more than 1,000 people.",
    )
    fit = assess(info, sent, 0.8)
    assert fit.answers and fit.answers[0].text == "5.9"
    # A description noun after "what is" is no measure: the question stays open.
    assert not analyze(parse(annotator, "What is the plan for the city?")).measured


def test_the_name_in_apposition_with_the_asked_noun_comes_first(annotator: Annotator) -> None:
    info = analyze(parse(annotator, "Which training site did President Biden designate a national monument?"))
    sent = parse(
        annotator,
        "He is expected to designate Camp Hale, a World War II training site along the Continental Divide, "
        "as a national monument.",
    )
    fit = assess(info, sent, 0.8)
    assert [e.text for e in fit.answers][:1] == ["Camp Hale"], fit.answers


def test_a_name_spacy_runs_across_a_bracket_and_a_long_name_reworded(annotator: Annotator) -> None:
    from qa.answer.question import names_missing

    info = analyze(parse(annotator, "How many employees did Meta (Facebook's parent) say it would lay off?"))
    assert not names_missing(info, ["Facebook parent company Meta said it is laying off 11,000 employees."])
    assert names_missing(info, ["Twitter said it is laying off 3,700 employees."])
    contest = analyze(parse(annotator, "Who won the Nathan's Famous Hot Dog Eating Contest?"))
    assert not names_missing(
        contest, ["Chestnut won the Nathan's Famous International Hot Dog Eating Contest."]
    )
    assert names_missing(contest, ["Chestnut won the hot dog contest at Coney Island."])
    # An article about "the 2022 World Series" calls it "the World Series": the year is not asked of it.
    series = analyze(parse(annotator, "Which pitcher started Game 4 of the 2022 World Series?"))
    assert any("2022" in n for n in series.strict_names)
    assert not names_missing(series, ["Javier started Game 4 of the World Series for the Astros."])
    assert names_missing(series, ["Javier started Game 4 of the playoffs for the Astros."])


def test_a_capital_or_a_demonym_is_mentioned_by_its_country(annotator: Annotator) -> None:
    from qa.answer.question import names_missing

    # News says "Moscow" for Russia's government and "American" for the United States.
    truce = analyze(parse(annotator, "How long did Moscow's Easter truce last?"))
    assert not names_missing(truce, ["Russia declared a 30-hour Easter ceasefire."])
    assert names_missing(truce, ["Ukraine declared a 30-hour Easter ceasefire."])
    leader = analyze(parse(annotator, "Which American leader threatened to stop mediating?"))
    assert not names_missing(leader, ["U.S. President Donald Trump threatened to withdraw from mediation."])
    # A city that is no capital stands for no country: asked about Kharkiv, Ukraine is not it.
    city = analyze(parse(annotator, "How many people died in the strike on Kharkiv?"))
    assert names_missing(city, ["At least 35 people died in a missile strike in Ukraine."])


def test_a_section_label_is_no_answer_and_how_much_is_answered_by_a_sum(annotator: Annotator) -> None:
    label = parse(annotator, "OBITUARY: Queen Elizabeth II dies at 96 at Balmoral Castle")
    info = analyze(parse(annotator, "Where did Queen Elizabeth II die?"))
    assert attribution(label, label.ents[0], info) and label.ents[0].text == "OBITUARY"
    # Asked how much damage, "$50 billion in damages" answers though money is no "damage".
    much = analyze(parse(annotator, "How much damage did Hurricane Ian cause?"))
    sent = parse(annotator, "Hurricane Ian likely caused more than $50 billion in damages, economists say.")
    assert [e.text for e in assess(much, sent, 0.8).answers] == ["more than $50 billion"]
    # ... but asked how many weeks, a sum of money is still no answer.
    weeks = analyze(parse(annotator, "How many weeks did the strike last?"))
    strike = parse(annotator, "The strike cost the union $2 million.")
    assert assess(weeks, strike, 0.8).answers == []


def test_the_counted_noun_reported_deaths_and_a_year_the_clause_gives(annotator: Annotator) -> None:
    # "how many monkeypox cases" counts cases; "how many party members' votes" counts votes.
    assert (
        analyze(parse(annotator, "How many monkeypox cases has the United States reported?")).unit == "case"
    )
    assert analyze(parse(annotator, "How many party members' votes did Liz Truss receive?")).unit == "vote"
    # "109 people have been reported killed": the number is of those killed, not of a report.
    died = analyze(parse(annotator, "How many people died in Florida from Hurricane Ian?"))
    sent = parse(annotator, "At least 109 people have been reported killed by the hurricane in Florida.")
    fit = assess(
        died,
        sent,
        0.8,
        word_similarity=lambda w, others: [0.7 if {w, o} == {"die", "kill"} else 0.0 for o in others],
    )
    assert [e.text for e in fit.answers] == ["At least 109"]
    # "The number of dead climbed to 154": the count is of the dead, whatever verb it hangs on.
    dead = parse(annotator, "Through Sunday, the number of dead climbed to 154, with dozens more injured.")
    near = {frozenset({"die", "dead"}): 0.7}

    def similar(w: str, others: list[str]) -> list[float]:
        return [1.0 if w == o else near.get(frozenset({w, o}), 0.0) for o in others]

    assert [e.text for e in assess(died, dead, 0.8, word_similarity=similar).answers] == ["154"]
    near.clear()  # were "dead" unlike "die", the number that climbed would answer nothing
    assert not assess(died, dead, 0.8, word_similarity=similar).answers
    # ... but the speaker of "said" is not who did what was said.
    won = analyze(parse(annotator, "Which team won the championship?"))
    quote = parse(annotator, "Wilson said the franchise won its first title on Sunday.")
    assert "Wilson" not in [e.text for e in assess(won, quote, 0.8).answers]
    # Asked about the 2022 outbreak, "the last outbreak was in 2003" is another one.
    outbreak = analyze(parse(annotator, "How many cases were reported in the 2022 outbreak?"))
    old = parse(annotator, "The last outbreak was in 2003, when 47 cases were reported in six states.")
    assert other_edition(outbreak.years, old)
    assert not other_edition(
        outbreak.years, parse(annotator, "The outbreak began in May, and 47 cases were reported.")
    )


def test_asked_a_speed_a_length_is_no_answer_and_mph_is_miles_per_hour(annotator: Annotator) -> None:
    from qa.answer.facts import fits_dimension, quantities

    info = analyze(parse(annotator, "At what speed did the spacecraft hit the asteroid?"))
    assert (info.kind, info.focus) == ("quantity", "speed")
    sent = parse(annotator, "The spacecraft hit the asteroid about 55 feet from its center at 14,000 mph.")
    assert [e.text for e in assess(info, sent, 0.8).answers] == ["14,000 mph"]
    rate = parse(annotator, "It will accelerate to 13,421 miles per hour before it hits.")
    far = parse(annotator, "It hit the asteroid 7 million miles from Earth.")
    [fast], [distance] = quantities(rate), quantities(far)
    assert fits_dimension("speed", rate, fast.index, fast.unit)
    assert not fits_dimension("speed", far, distance.index + 1, distance.unit)
    assert fits_dimension("distance", far, distance.index + 1, distance.unit)
    # A dimension without a closed set of units constrains nothing; a length may be a duration.
    assert fits_dimension("population", far, distance.index + 1, distance.unit)
    assert fits_dimension("length", far, distance.index + 1, "day")
    # Asked how many miles, feet are another unit of the same dimension: no answer.
    miles = analyze(parse(annotator, "How many miles from Earth was the asteroid?"))
    feet = parse(annotator, "The asteroid was 520 feet wide and sat 7 million miles from Earth.")
    near = lambda w, others: [0.8 if {w, o} <= {"mile", "foot"} else 0.0 for o in others]  # noqa: E731
    assert [e.text for e in assess(miles, feet, 0.8, word_similarity=near).answers] == ["7 million miles"]


def test_asked_how_big_a_date_or_an_ordinal_is_no_size(annotator: Annotator) -> None:
    big = analyze(parse(annotator, "How big is the Powerball jackpot?"))
    sent = parse(annotator, "Tuesday's jackpot of $2.04 billion was hit on the 41st draw of the run.")
    assert [e.text for e in assess(big, sent, 0.8).answers] == ["$2.04 billion"]
    # "how long" may still be answered by a duration spaCy tags as a date.
    assert "DATE" in analyze(parse(annotator, "How long did the truce last?")).types


def test_asked_who_did_it_the_subject_answers_not_a_name_in_another_role(annotator: Annotator) -> None:
    from dataclasses import replace

    from qa.answer.short_answer import best_answer

    sent = parse(
        annotator,
        "Liz Truss will be the next prime minister of the United Kingdom after winning most votes in the "
        "Conservative Party leadership contest, succeeding Boris Johnson who resigned in July.",
    )
    asked = analyze(
        parse(annotator, "Who defeated Rishi Sunak in the Conservative Party leadership contest?")
    )
    assert asked.asks_subject
    # As the service reads it ("succeeding" close to the asked verb): both names answer, and Johnson,
    # the verb's object and nearer "contest", is linked to it.
    truss, johnson = ent(sent, "Liz Truss"), ent(sent, "Boris Johnson")
    linked = replace(assess(asked, sent, 0.8), answers=[truss, johnson], linked=[johnson], named=[])
    assert best_answer(replace(asked, asks_subject=False), sent, linked).text == "Boris Johnson"  # type: ignore[union-attr]
    assert best_answer(asked, sent, linked).text == "Liz Truss"  # type: ignore[union-attr]
    # Asked whom someone succeeded, the wh-word is the object: no subject is preferred.
    assert not analyze(parse(annotator, "Whom did Liz Truss succeed as prime minister?")).asks_subject


def test_asked_an_age_the_value_given_the_age_and_no_date_ordinal_or_count(annotator: Annotator) -> None:
    from qa.answer.short_answer import best_answer

    at_what_age = analyze(parse(annotator, "At what age did broadcaster Vin Scully die?"))
    died = parse(
        annotator,
        "Legendary broadcaster Vin Scully, the voice of the Los Angeles Dodgers for more than six decades, "
        "has died at the age of 94, the team announced Tuesday.",
    )
    fit = assess(at_what_age, died, 0.8)
    # "more than six decades" sits nearer the question's words; the value given the age answers.
    assert best_answer(at_what_age, died, fit).text == "the age of 94"  # type: ignore[union-attr]
    how_old = analyze(parse(annotator, "How old was Richard Branson when he flew to space?"))
    flew = parse(
        annotator,
        "Richard Branson's dream of space travel was realized Sunday as Virgin Galactic's rocket ship "
        "reached the edge of space.",
    )
    assert assess(how_old, flew, 0.8).answers == []  # a weekday is no age
    crew = parse(annotator, "Richard Branson was accompanied by two pilots and three mission specialists.")
    assert assess(how_old, crew, 0.8).answers == []  # nor a count of pilots
    second = parse(annotator, "Branson also became the second oldest person to reach space.")
    assert assess(how_old, second, 0.8).answers == []
    turns = parse(annotator, "Branson, who turns 71 this week, flew to the edge of space.")
    assert "71" in [e.text for e in assess(how_old, turns, 0.8).answers]
    aged = parse(annotator, "In 2021, billionaire Richard Branson flew on the rocket plane at age 70.")
    assert "age 70" in [e.text for e in assess(how_old, aged, 0.8).answers]
    # Another named person's age is theirs (qa.answer.attachment.another_actor).
    glenn = parse(annotator, "In 1998, astronaut John Glenn flew on the shuttle at age 77.")
    assert assess(how_old, glenn, 0.8).answers == []


def test_a_sentence_from_another_times_article_does_not_answer_an_asked_year_or_day() -> None:
    from datetime import date

    from qa.answer.nonanswers import another_times_news, asked_time

    asked = asked_time("Who won Brazil's presidential runoff in 2018?")
    assert asked.years == {2018} and asked.days == ()
    lead = "Lula held a slight lead over President Jair Bolsonaro."
    assert another_times_news(asked, lead, "", "2022-10-02")  # the article's own news is 2022's
    assert not another_times_news(asked, lead, "", "2018-10-29")
    assert not another_times_news(asked, lead, "", "2019-01-02")  # a January article tells December's
    assert another_times_news(asked, lead, "", "2019-06-02")  # a June one its own year's
    # Naming the asked year (or the sentence before it does) keeps it, whenever it was published.
    won = "Bolsonaro won the 2018 runoff with 55% of the vote."
    assert not another_times_news(asked, won, "", "2022-10-02")
    assert not another_times_news(asked, lead, "In 2018, the runoff was close.", "2022-10-02")
    # No year asked, or no date known: nothing to go by.
    assert not another_times_news(asked_time("Who won Brazil's runoff?"), lead, "", "2022-10-02")
    assert not another_times_news(asked, lead, "", None)
    assert asked_time("How many people died in 12345 incidents?").years == frozenset()
    # A year that names an edition is the asked time: the 2022 series is no answer about 2021's.
    series = asked_time("Who did the Astros defeat in the 2021 World Series?")
    assert another_times_news(series, "The Astros defeated the Phillies in six games.", "", "2022-11-06")
    # A day: the article of that day or the week after tells it; a later one only if it names the day.
    day = asked_time("What was the national average for regular gas according to AAA on March 10, 2022?")
    assert day.days == (date(2022, 3, 10),)
    now = "The national average for regular gas is now $4.32 a gallon, according to AAA."
    assert not another_times_news(day, now, "", "2022-03-10")
    assert not another_times_news(day, now, "", "2022-03-14")
    later = "The national average for regular gasoline dropped three cents to $4.16 a gallon on Wednesday."
    assert another_times_news(day, later, "", "2022-08-03")
    assert another_times_news(day, now, "", "2022-03-01")  # before the day: not yet its news
    assert not another_times_news(day, "On March 10, the average was $4.32.", "", "2022-08-03")
    # A day without a year is read in the article's year; "may" in lower case is no month.
    assert asked_time("Who spoke at the rally on Sept. 11?").days == (date(1, 9, 11),)
    assert not another_times_news(asked_time("Who spoke on Sept. 11?"), now, "", "2021-09-12")
    assert asked_time("How many may 5 people attend?").days == ()


def test_asked_who_holds_a_role_a_name_the_sentence_never_gives_it_is_no_answer(annotator: Annotator) -> None:
    manager = analyze(parse(annotator, "Who was the Astros' manager when they won the 2022 World Series?"))
    assert manager.role == "manager"
    win = parse(
        annotator,
        "The Houston Astros celebrate their World Series win against the Philadelphia Phillies in Houston.",
    )
    assert assess(manager, win, 0.8).answers == []
    beside = parse(annotator, "Astros manager Dusty Baker won his first World Series title as a manager.")
    assert "Dusty Baker" in [e.text for e in assess(manager, beside, 0.8).answers]
    copula = parse(annotator, "Dusty Baker was the Astros' manager when they beat the Phillies.")
    assert "Dusty Baker" in [e.text for e in assess(manager, copula, 0.8).answers]
    # A near synonym counts as the role (the word vectors compare it).
    close = {("manager", "skipper"): 0.75}
    skipper = parse(annotator, "Astros skipper Dusty Baker won the World Series.")
    fit = assess(manager, skipper, 0.8, word_similarity=lambda a, bs: [close.get((a, b), 0.0) for b in bs])
    assert "Dusty Baker" in [e.text for e in fit.answers]
    # A word merely related to the role ("team" beside a manager's name) does not name it.
    related = {("manager", "team"): 0.6}
    team = parse(annotator, "Astros team owner Jim Crane celebrated the World Series win.")
    fit = assess(manager, team, 0.8, word_similarity=lambda a, bs: [related.get((a, b), 0.0) for b in bs])
    assert "Jim Crane" not in [e.text for e in fit.answers]
    # Only "who is / was the <noun>" names a role; "who won" does not.
    assert analyze(parse(annotator, "Who will be the next prime minister?")).role == "minister"
    assert analyze(parse(annotator, "Who won the 2022 World Series?")).role == ""
    # "became" gives a role as "is" does; a subject's apposition holds it.
    became = analyze(parse(annotator, "Who became the Astros' manager in 2020?"))
    assert became.role == "manager"
    wife = parse(annotator, "His longtime coach, Dusty Baker, became the Astros' manager in 2020.")
    assert "Dusty Baker" in [e.text for e in assess(became, wife, 0.8).answers]


def test_a_name_in_a_clause_dated_to_another_year_does_not_answer(annotator: Annotator) -> None:
    near = {("knock", "lose"): 0.6}

    def similar(word: str, others: list[str]) -> list[float]:
        return [1.0 if word == o else near.get((word, o), 0.0) for o in others]

    info = analyze(parse(annotator, "Who knocked Serena Williams out of the 2022 US Open?"))
    caption = parse(
        annotator,
        "Tennis legend Serena Williams waits for the trophy ceremony after she lost to Naomi Osaka in the "
        "US Open final in 2018.",
    )
    assert [e.text for e in assess(info, caption, 0.8, word_similarity=similar).answers] == []
    # The same sentence without its year answers (what the rule alone removed).
    undated = parse(
        annotator,
        "Tennis legend Serena Williams waits for the trophy ceremony after she lost to Naomi Osaka in the "
        "US Open final.",
    )
    assert "Naomi Osaka" in [e.text for e in assess(info, undated, 0.8, word_similarity=similar).answers]
    # A year in another clause ("who won the US Open in 2014") dates that clause only.
    lost = parse(
        annotator,
        "Serena Williams, who won the US Open in 2014, lost to Ajla Tomljanovic in the third round on Friday.",
    )
    assert "Ajla Tomljanovic" in [e.text for e in assess(info, lost, 0.8, word_similarity=similar).answers]
    # Asked no year, the year is no constraint.
    anytime = analyze(parse(annotator, "Who did Serena Williams lose to in a US Open final?"))
    assert "Naomi Osaka" in [e.text for e in assess(anytime, caption, 0.8).answers]


def test_asked_who_did_it_the_subject_before_a_name_merely_beside_the_asked_noun(
    annotator: Annotator,
) -> None:
    from qa.answer.short_answer import best_answer

    info = analyze(parse(annotator, "Which team won the 2022 NHL Stanley Cup Finals?"))
    sent = parse(
        annotator,
        "The Colorado Avalanche defeated the Tampa Bay Lightning 2-1 in Game 6 to win the team’s first "
        "Stanley Cup since 2001 on Sunday night.",
    )

    # As the service's word vectors read it: "defeat" is close to the asked "win".
    def similar(word: str, others: list[str]) -> list[float]:
        return [1.0 if word == o else 0.6 if (word, o) == ("win", "defeat") else 0.0 for o in others]

    fit = assess(info, sent, 0.8, word_similarity=similar)
    assert [e.text for e in fit.named] == ["Game 6"]  # "... the team's first Cup" is beside it
    assert best_answer(info, sent, fit).text == "The Colorado Avalanche"  # type: ignore[union-attr]


def test_what_is_the_name_of_asks_a_name_the_sentence_gives_that_noun(annotator: Annotator) -> None:
    owner = analyze(
        parse(annotator, "What was the name of the gas station owner who sold the winning Powerball ticket?")
    )
    assert (owner.kind, owner.focus, owner.role, owner.predicate) == ("named", "owner", "owner", "sell")
    sold = parse(
        annotator,
        "Joseph Chahayed, the owner of the gas station in Altadena, sold the winning ticket on Monday.",
    )
    assert "Joseph Chahayed" in [e.text for e in assess(owner, sold, 0.8).answers]
    lion = analyze(parse(annotator, "What was the name of the Taronga Zoo lion that escaped first?"))
    zoo = parse(annotator, "Five lions managed to escape their enclosure at a Sydney zoo.")
    assert assess(lion, zoo, 0.8).answers == []  # Sydney is no lion's name
    # An apposition the parser misses, across quotation marks: still the property's name.
    cottage = analyze(parse(annotator, "What is the name of the Windsor property the couple will move into?"))
    moving = parse(
        annotator,
        "The Duke and Duchess of Cambridge are set to move into Adelaide Cottage, a “modest” property ten "
        "minutes’ walk from the Queen’s new official residence.",
    )
    assert "Adelaide Cottage" in [e.text for e in assess(cottage, moving, 0.8).answers]


def test_a_date_that_dates_a_statement_is_not_when_the_event_happened(annotator: Annotator) -> None:
    landfall = analyze(parse(annotator, "What time did Tropical Storm Ian make landfall in Cuba?"))
    said = parse(
        annotator,
        "Ian is expected to be a major hurricane by the time it passes over western Cuba, the hurricane "
        "center said Sunday morning.",
    )
    assert assess(landfall, said, 0.8).answers == []
    made = parse(annotator, "Ian made landfall in western Cuba early Tuesday, the hurricane center said.")
    assert [e.text for e in assess(landfall, made, 0.8).answers] == ["early Tuesday"]
    # Asked when something was said, the statement's day answers.
    asked = analyze(parse(annotator, "When did the hurricane center say Ian would become a major hurricane?"))
    assert "Sunday" in [e.text for e in assess(asked, said, 0.8).answers]


def test_a_dateline_a_denied_clause_and_a_count_of_other_things_do_not_answer(annotator: Annotator) -> None:
    where = analyze(parse(annotator, "Where did Loretta Lynn die?"))
    dateline = parse(annotator, "NASHVILLE, Tenn. – Loretta Lynn, the queen of country music, has died.")
    assert "Tenn." not in [e.text for e in assess(where, dateline, 0.8).answers]  # where it was filed
    share = analyze(parse(annotator, "What percentage of the first-round vote did Macron receive?"))
    assert share.types == {"PERCENT", "QUANTITY"}
    none = parse(
        annotator, "Since none of them received more than 50% of the ballots, there will be a runoff."
    )
    assert assess(share, none, 0.8).answers == []
    got = parse(annotator, "Macron received 27.8% of the ballots in the first round on Sunday.")
    assert [e.text for e in assess(share, got, 0.8).answers] == ["27.8%"]  # not "Sunday", not "first"
    # Asked what did not happen, a denied clause answers.
    short = analyze(parse(annotator, "What share of the ballots did Le Pen not receive?"))
    assert assess(short, parse(annotator, "Le Pen did not receive 50% of the ballots."), 0.8).answers
    cost = analyze(parse(annotator, "How much do KFC's new chicken nuggets cost?"))
    assert cost.types == {"MONEY"}
    herbs = parse(annotator, "The nuggets cost little to make with KFC's signature 11 herbs and spices.")
    assert assess(cost, herbs, 0.8).answers == []
    how_old = analyze(parse(annotator, "How old is Tiger Woods?"))
    week = parse(annotator, "Tiger Woods is 46 and may return to golf at the Masters next week.")
    assert [e.text for e in assess(how_old, week, 0.8).answers] == ["46"]  # "next week" is no age


def test_a_relative_clause_dates_its_name_and_a_name_may_hold_the_asked_noun(annotator: Annotator) -> None:
    info = analyze(parse(annotator, "What is the name of the hurricane that hit Florida in September 2022?"))
    assert info.role == "hurricane"
    old = parse(
        annotator,
        "It broke the record set by the Yankee Hurricane, which hit Florida’s east coast on November 4, 1935.",
    )
    assert "the Yankee Hurricane" not in [e.text for e in assess(info, old, 0.8).answers]
    ian = parse(annotator, "Its storm surge thrashed some areas hit in September by Hurricane Ian.")
    assert "Hurricane Ian" in [e.text for e in assess(info, ian, 0.8).answers]  # the name holds "hurricane"


def test_the_asked_unit_exactly_a_duration_with_a_number_and_a_name_asked_by_its_kind(
    annotator: Annotator,
) -> None:
    from qa.answer.short_answer import best_answer

    grandchildren = analyze(parse(annotator, "How many grandchildren did Vin Scully have?"))
    survived = parse(
        annotator, "He is survived by his five children, 21 grandchildren and six great-grandchildren."
    )
    near = {("grandchild", "child"): 0.6}  # as the word vectors read them: a near unit

    def similar(word: str, others: list[str]) -> list[float]:
        return [1.0 if word == o else near.get((word, o), 0.0) for o in others]

    fit = assess(grandchildren, survived, 0.8, word_similarity=similar)
    assert "five" in [e.text for e in fit.answers]
    assert best_answer(grandchildren, survived, fit).text == "21"  # type: ignore[union-attr]
    how_long = analyze(parse(annotator, "How long did the FBI search at Mar-a-Lago last?"))
    vague = parse(annotator, "The FBI search at Mar-a-Lago followed records recovered in recent months.")
    assert assess(how_long, vague, 0.8).answers == []  # "recent months" holds no number
    birth = analyze(parse(annotator, "What is Vin Scully's birth name?"))
    assert birth.kind == "named"


def test_a_fraction_is_a_share_and_a_name_that_holds_the_asked_noun_is_one(annotator: Annotator) -> None:
    share = analyze(parse(annotator, "What share of all species could face extinction by 2070?"))
    third = parse(
        annotator, "One-third of all animal and plant species could face extinction by 2070, a study warns."
    )
    assert [e.text for e in assess(share, third, 0.8).answers] == ["One-third"]
    bridge = analyze(parse(annotator, "At which bridge was the cocaine seized?"))
    seized = parse(
        annotator,
        "US Customs and Border Protection officers seized the narcotics Friday at the Colombia-Solidarity Bridge.",
    )
    fit = assess(bridge, seized, 0.8)
    assert [e.text for e in fit.named] == ["the Colombia-Solidarity Bridge"], fit


def test_reported_dead_counts_the_dead_a_dated_subject_and_a_stated_as_of(annotator: Annotator) -> None:
    died = analyze(parse(annotator, "How many people died in Florida from Hurricane Ian?"))
    near = {frozenset({"die", "dead"}): 0.7, frozenset({"die", "kill"}): 0.7}

    def similar(w: str, others: list[str]) -> list[float]:
        return [1.0 if w == o else near.get(frozenset({w, o}), 0.0) for o in others]

    # "were reported dead": what was reported of the people (an object predicate) is the asked verb.
    dead = parse(annotator, "At least 13 people were reported dead in counties across the state.")
    assert [e.text for e in assess(died, dead, 0.8, word_similarity=similar).answers] == ["At least 13"]
    near.clear()  # were "dead" unlike "die", the count of a report would answer nothing
    assert not assess(died, dead, 0.8, word_similarity=similar).answers
    # The clause's subject dates it: "Hurricane Andrew in 1992" is no answer about 2022.
    andrew = parse(annotator, "Hurricane Andrew in 1992 killed 43 people.")
    assert dated_elsewhere(andrew, ent(andrew, "43"), frozenset({2022}))
    assert not dated_elsewhere(andrew, ent(andrew, "43"), frozenset({1992}))
    ian = parse(annotator, "Hurricane Ian killed 43 people in Florida in 2022.")
    assert not dated_elsewhere(ian, ent(ian, "43"), frozenset({2022}))
    # A clause relative to a date is dated by it.
    jackpot = parse(
        annotator,
        "The largest jackpot ever won was in January 2016, when three winners split a prize advertised "
        "at $1.586 billion.",
    )
    assert dated_elsewhere(jackpot, ent(jackpot, "$1.586 billion"), frozenset({2022}))
    assert not dated_elsewhere(jackpot, ent(jackpot, "$1.586 billion"), frozenset({2016}))
    # "as of <date>" in the question: a full date (words or ISO), else none.
    assert stated_as_of("How many had died as of September 29, 2022?") == "2022-09-29"
    assert stated_as_of("Who led as of 2022-10-03?") == "2022-10-03"
    assert stated_as_of("What is the toll as of Sept. 3, 2021?") == "2021-09-03"
    for vague in (
        "What is the toll as of today?",
        "Who leads as of March 2022?",
        "Who led as of Feb 30, 2022?",
    ):
        assert stated_as_of(vague) is None


def test_a_question_that_sets_the_scene_first_is_read_in_the_sentence_that_asks(annotator: Annotator) -> None:
    scene = analyze(
        parse(
            annotator,
            "Police arrested 31 men believed to be affiliated with a group who allegedly planned to riot "
            "at a Pride event. Where was the event?",
        )
    )
    assert scene.kind == "place"  # not "who" of the scene's relative clause
    assert "Police" not in scene.names and "31" in scene.names  # its names are still the question's
    griner = analyze(
        parse(
            annotator,
            "A Russian court this week ruled that Brittney Griner will be detained for several more months. "
            "How many months was her detention extended?",
        )
    )
    assert (griner.kind, griner.predicate, griner.unit) == ("quantity", "extend", "month")
    # Asked how many months, "six months" (a DATE to spaCy) answers; "Friday" does not.
    sent = parse(annotator, "A court on Monday ruled her detention be extended six months, starting Friday.")
    assert [e.text for e in assess(griner, sent, 0.8).answers] == ["six months"]
    # "where is it located" asks only a place: "locate" is no predicate an answer must hang on.
    assert analyze(parse(annotator, "Where is the glacier located?")).predicate == ""


def test_what_is_only_wished_for_did_not_happen(annotator: Annotator) -> None:
    from qa.answer.syntax import hedged

    sent = parse(annotator, "NASA hopes the collision shortens its orbit by 10 minutes.")
    assert hedged(sent, next(i for i, t in enumerate(sent.toks) if t.text == "shortens"))
    done = parse(annotator, "NASA said the collision shortened its orbit by 32 minutes.")
    assert not hedged(done, next(i for i, t in enumerate(done.toks) if t.text == "shortened"))
    asked = analyze(parse(annotator, "By how many minutes did the impact shorten the orbit?"))
    assert not assess(
        asked, sent, 0.8, word_similarity=lambda w, o: [1.0 if w == x else 0.0 for x in o]
    ).answers


def test_a_hyphenated_duration_counts_its_unit_and_a_noun_subject_states_the_predicate(
    annotator: Annotator,
) -> None:
    sentence = parse(annotator, "She is due to serve the remainder of a nine-year drug smuggling sentence.")
    assert counted(sentence, ent(sentence, "nine-year")) == "year"
    asked = analyze(parse(annotator, "How many years is she due to serve for her sentence?"))
    assert [e.text for e in assess(asked, sentence, 0.8).answers] == ["nine-year"]
    # Asked how many were recalled, "the recall affects 2 million swings": the noun states the verb.
    recalled = analyze(parse(annotator, "How many baby swings were recalled this week?"))
    recall = parse(annotator, "The recall affects 2 million MamaRoo swings, according to the CPSC.")
    assert [e.text for e in assess(recalled, recall, 0.8).answers] == ["2 million"]
    other = parse(annotator, "The company sells 2 million MamaRoo swings a year.")
    assert not assess(recalled, other, 0.8).answers


def test_a_named_kind_of_unit_and_a_verb_spacy_tags_as_an_adverb(annotator: Annotator) -> None:
    accounts = analyze(parse(annotator, "How many Instagram accounts did the commission find?"))
    assert accounts.unit == "account"
    ages = parse(
        annotator, "The inquiry focused on users between the ages of 13 and 17 with business accounts."
    )
    assert not assess(accounts, ages, 0.8).answers  # "17" counts no accounts
    # spaCy tags a question's last verb as an adverb at times: it is still the predicate.
    assert (
        analyze(parse(annotator, "Where does the winner of the Powerball jackpot live?")).predicate == "live"
    )


def test_a_name_spacy_mistypes_here_is_of_the_asked_type_if_the_corpus_often_types_it_so(
    annotator: Annotator, tmp_path: Path
) -> None:
    sent = parse(annotator, "Sri Lanka has plunged into chaos and its president has fled to Singapore.")
    assert ent(sent, "Sri Lanka").label == "PERSON"  # spaCy's small model, in this sentence
    assert ("Sri Lanka", "PERSON") in naming(sent) and ("Singapore", "GPE") in naming(sent)
    the = parse(annotator, "The Taliban took Kabul.")
    assert ("Taliban", "ORG") in naming(the)  # a name is counted without its "the"
    words = WordVectors(tmp_path, "model")
    rows = [(f"s{i}", "Sri Lanka", "GPE") for i in range(3)] + [
        (f"p{i}", "Sri Lanka", "PERSON") for i in range(7)
    ]
    words.add_named(rows)
    words.add_named(rows)  # idempotent: a re-ingest counts nothing twice
    words.add_named([("r", "Havering", "GPE")])  # too rarely named to say
    assert words.name_labels(["Sri Lanka", "Singapore", "Havering"]) == {"Sri Lanka": ("PERSON", "GPE")}
    info = analyze(parse(annotator, "Which island nation plunged into chaos?"))
    labels = focus_labels(info, words)  # WordNet's: a nation is no person
    assert labels is not None and "PERSON" not in labels
    assert [e.text for e in assess(info, sent, 0.8, labels=labels).answers] == ["Singapore"]
    (fixed,) = relabeled([sent], words, info.types, labels)
    assert ent(fixed, "Sri Lanka").label == "GPE" and fixed.text == sent.text
    assert [e.text for e in assess(info, fixed, 0.8, labels=labels).answers] == ["Sri Lanka", "Singapore"]
    # Asked a person, the mention keeps spaCy's type; without the table nothing is retyped.
    who = analyze(parse(annotator, "Who fled to Singapore?"))
    assert relabeled([sent], words, who.types, None)[0] is sent
    assert relabeled([sent], None, info.types, labels)[0] is sent


def test_asked_when_a_date_of_another_event_in_the_sentence_is_no_answer(annotator: Annotator) -> None:
    filed = analyze(parse(annotator, "When did the union's lawyers file their appeal of the ruling?"))
    arrived = parse(
        annotator,
        "Union leader Ann Cole arrives outside the courthouse for the start of the hearing on June 1, 2022 "
        "in Sacramento.",
    )
    assert assess(filed, arrived, 0.8).answers == []
    lodged = parse(annotator, "The union's lawyers filed an appeal of the ruling on June 9, 2022.")
    assert [e.text for e in assess(filed, lodged, 0.8).answers] == ["June 9, 2022"]
    # A verb of like meaning attaches the date as the same verb does.
    near = {("file", "lodge"): 0.7}
    lodged = parse(annotator, "The union's lawyers lodged an appeal of the ruling on June 9, 2022.")
    fit = assess(filed, lodged, 0.8, word_similarity=lambda a, bs: [near.get((a, b), 0.0) for b in bs])
    assert [e.text for e in fit.answers] == ["June 9, 2022"]


def test_asked_what_something_is_worth_a_sum_on_any_verb_of_money_answers(annotator: Annotator) -> None:
    worth = analyze(parse(annotator, "How much is the stolen painting worth?"))
    assert worth.types == frozenset({"MONEY"})
    valued = parse(annotator, "Experts value the stolen painting at $3 million.")
    assert [e.text for e in assess(worth, valued, 0.8).answers] == ["$3 million"]
    # A count of other things is no sum ("four signed prints" once answered "how much").
    traded = parse(annotator, "The owner once traded the stolen painting for four signed prints.")
    assert assess(worth, traded, 0.8).answers == []


def test_asked_how_many_people_a_count_of_any_kind_of_person_answers(annotator: Annotator) -> None:
    died = analyze(parse(annotator, "How many people died in the stadium crush in Malang?"))
    mourned = parse(annotator, "Families in Malang mourn the 131 victims of the stadium crush.")
    near = {("die", "mourn"): 0.5}
    fit = assess(died, mourned, 0.8, word_similarity=lambda a, bs: [near.get((a, b), 0.0) for b in bs])
    assert [e.text for e in fit.answers] == ["131"]
    # Not a count of other things.
    homes = parse(annotator, "Families in Malang mourn as 131 homes were flattened by the stadium crush.")
    fit = assess(died, homes, 0.8, word_similarity=lambda a, bs: [near.get((a, b), 0.0) for b in bs])
    assert fit.answers == []


def test_a_stranded_preposition_takes_the_wh_phrase_and_a_first_name_may_be_shortened(
    annotator: Annotator,
) -> None:
    from qa.answer.question import names_missing

    # spaCy makes "Which president" the object of "serve"; it is the object of "under".
    served = analyze(parse(annotator, "Which president did the defense secretary serve under?"))
    assert not served.transitive
    # ... so "who served as President Barack Obama's defense secretary" states the predicate.
    sent = parse(annotator, "Dana Reyes, who served as President Barack Obama's defense secretary, has died.")
    fit = assess(served, sent, 0.8)
    assert fit.predicate == 1.0 and "Barack Obama" in [e.text for e in fit.answers]
    # A verb with its own object is transitive still.
    assert analyze(parse(annotator, "What did Ukraine call the attack?")).transitive
    # "Ash Carter" is mentioned as "Ashton Carter"; "Ash Wednesday" is no "Ashton Carter".
    carter = analyze(parse(annotator, "Which president did Ash Carter serve under?"))
    assert names_missing(carter, ["Ashton Carter served as defense secretary."]) == []
    assert names_missing(carter, ["Ashton Kutcher met Jimmy Carter."]) == ["Ash Carter"]


def test_a_name_the_sentence_calls_by_the_asked_noun_answers_whatever_its_tagged_type(
    annotator: Annotator,
) -> None:
    # spaCy tags the asteroid a PERSON, a type no asteroid is; the sentence itself calls it one.
    info = analyze(parse(annotator, "Which asteroid did NASA's DART spacecraft crash into?"))
    assert info.focus == "asteroid"
    sent = parse(annotator, "NASA's spacecraft collided with the asteroid Dimorphos at 14,000 mph.")
    assert [e.label for e in sent.ents if e.text == "Dimorphos"] == ["PERSON"]
    places = frozenset({"GPE", "LOC", "FAC", "ORG", "PRODUCT", "NORP"})
    found = assess(info, sent, 0.8, labels=places)
    assert "Dimorphos" in [e.text for e in found.answers]
    assert found.answers[0].text == "Dimorphos"  # what the sentence calls an asteroid comes first
    # Not so a name of another type that is no asteroid in the sentence.
    other = parse(annotator, "The spacecraft, built by engineer John Smith, collided with a small moon.")
    assert [e.label for e in other.ents if e.text == "John Smith"] == ["PERSON"]
    assert "John Smith" not in [e.text for e in assess(info, other, 0.8, labels=places).answers]
