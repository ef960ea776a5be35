"""One grade type, one order: pass < warn < fail everywhere grades are compared."""

from __future__ import annotations

from typing import get_args

import pytest

from framework.scenario.budgets import ValidationRules
from framework.scenario.grades import Grade, GradeName, grade_rank, worst


def test_grades_rank_from_best_to_worst_in_member_order():
    assert [g.rank for g in Grade] == [0, 1, 2]
    assert [grade_rank(w) for w in ("pass", "warn", "fail")] == [0, 1, 2]


def test_the_written_words_are_the_grades_in_order():
    assert get_args(GradeName) == tuple(g.value for g in Grade)


def test_worst_picks_the_highest_rank_and_pass_when_empty():
    assert worst([Grade.PASS, Grade.FAIL, Grade.WARN]) is Grade.FAIL
    assert worst([]) is Grade.PASS


def test_an_unknown_grade_word_is_refused():
    with pytest.raises(ValueError):
        grade_rank("ok")


def test_min_quality_accepts_exactly_the_grade_words():
    assert [ValidationRules(min_quality=w).min_quality for w in get_args(GradeName)] == [
        "pass",
        "warn",
        "fail",
    ]
    with pytest.raises(ValueError):
        ValidationRules(min_quality="ok")
