"""One "did you mean" helper: the guesses and the wording every message shares."""

from __future__ import annotations

from framework.suggestions import closest, did_you_mean, nearest, unknown_text


def test_nearest_gives_one_likely_typo_or_nothing():
    assert nearest("wieght", ["name", "weight", "host"]) == "weight"
    assert nearest("colour", ["name", "weight", "host"]) is None
    assert nearest("anything", []) is None


def test_did_you_mean_quotes_names_unless_told_not_to():
    assert did_you_mean(["load"]) == "did you mean 'load'?"
    assert did_you_mean(["a", "b"]) == "did you mean 'a' or 'b'?"
    assert did_you_mean(["--port"], quote=False) == "did you mean --port?"


def test_unknown_text_words_its_hint_with_did_you_mean():
    close = closest("chekout", ["checkout", "login"])
    assert f"; {did_you_mean(close)} " in unknown_text("scenario", "chekout", ["checkout", "login"])
