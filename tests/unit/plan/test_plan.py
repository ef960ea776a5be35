"""Terminal rendering of load plans: chart geometry, axis labels and the phase table."""

from __future__ import annotations

import math

import pytest

from framework.plan.chart import format_duration, render_plan
from framework.plan.shapes import constant, spike, stages, stepped, wave


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (5, "5s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m30s"),
        (630, "10m30s"),
        (3600, "1h"),
        (3661, "1h1m1s"),
        (7260, "2h1m"),
        (1.5, "1.5s"),
        (0.5, "0.5s"),
        (90.25, "1m30.2s"),
        (59.96, "1m"),
        (120.0, "2m"),
    ],
)
def test_format_duration_drops_zero_parts(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "60", True])
def test_format_duration_rejects_non_durations(bad):
    with pytest.raises(ValueError, match="format_duration: seconds"):
        format_duration(bad)


def _spike_plan():
    return spike(base_users=10, spike_users=100, base_s=60, spike_s=30, recovery_s=60, spawn_rate=2)


def _chart(text: str, height: int) -> list[str]:
    """The ``height`` chart rows, after the title line."""
    return text.splitlines()[1 : 1 + height]


def test_render_has_title_then_height_rows_then_axis_and_labels():
    text = render_plan(_spike_plan(), width=65, height=12)
    lines = text.splitlines()
    assert lines[0] == "spike: 2m30s, peak 100 users"
    rows = _chart(text, 12)
    assert [row[:5] for row in rows] == [
        "100 ┤", "    │", "    │", "    │", "    │", "    │",
        " 50 ┤", "    │", "    │", "    │", "    │", "  0 ┤",
    ]  # fmt: skip
    assert lines[13] == "    └┬───────────┬───────────┬───────────┬───────────┬──────────┬"
    assert lines[14] == "     0s          30s         1m          1m30s       2m     2m30s"
    assert all(len(line) <= 65 for line in lines[:15])


def test_render_puts_peak_in_column_of_its_start_time():
    # width 65 - 5-character axis = 60 columns for 150 s: 2.5 s per column; spike at 60..90 s.
    rows = _chart(render_plan(_spike_plan(), width=65, height=12), 12)
    top = rows[0][5:]
    assert top.index("█") == 24
    assert top.rstrip() == " " * 24 + "█" * 12
    # the base (10 of 100 users over 12 rows = 1.2 rows) fills the bottom row everywhere
    assert rows[-1][5:] == "█" * 60
    assert rows[-2][5:].replace("█", "").strip("▂") == ""


def test_render_draws_stepped_levels_and_table():
    plan = stepped(start_users=10, step_users=10, step_duration_s=60, steps=3, spawn_rate=2)
    text = render_plan(plan, width=52, height=3)
    assert text == "\n".join(
        [
            "stepped: 3m, peak 30 users",
            "30 ┤                                ████████████████",
            "   │                ████████████████████████████████",
            " 0 ┤████████████████████████████████████████████████",
            "   └┬───────────────┬───────────────┬──────────────┬",
            "    0s              1m              2m            3m",
            "",
            "phase           kind     start   end  users",
            "ramp-up         ramp        0s    5s     10",
            "step 1          plateau     5s    1m     10",
            "ramp to step 2  ramp        1m  1m5s     20",
            "step 2          plateau   1m5s    2m     20",
            "ramp to step 3  ramp        2m  2m5s     30",
            "step 3          plateau   2m5s    3m     30",
        ]
    )


def test_render_labels_odd_end_times_and_drops_crowded_ticks():
    plan = wave(min_users=5, max_users=25, period_s=120, duration_s=630, spawn_rate=5)
    lines = render_plan(plan).splitlines()
    assert lines[14] == "    0s           2m           4m           6m           8m        10m30s"
    assert lines[13].count("┬") == 6
    assert "cycle 6  wave    10m  10m30s     25" in lines


def test_render_shows_wave_crests_at_each_period():
    plan = wave(min_users=0, max_users=8, period_s=10, duration_s=40, spawn_rate=8)
    top = _chart(render_plan(plan, width=43, height=8), 8)[0][3:].ljust(40)
    # 40 columns over 40 s: crests at 5, 15, 25, 35 s, troughs at 0, 10, 20, 30 s
    assert [top[i] for i in (5, 15, 25, 35)] == ["█"] * 4
    assert [top[i] for i in (0, 10, 20, 30)] == [" "] * 4


def test_render_sub_second_plans():
    text = render_plan(stages(stages=[(0.5, 2, 10), (0.5, 4, 10)]), width=30, height=4)
    assert text.splitlines()[0] == "stages: 1s, peak 4 users"
    assert text.splitlines()[6] == "   0s            0.5s       1s"


def test_render_is_deterministic():
    plan = _spike_plan()
    assert render_plan(plan) == render_plan(plan)


def test_render_all_zero_plan_draws_empty_chart():
    text = render_plan(stages(stages=[(10, 0, 1)]), width=20, height=2)
    assert text.splitlines()[1:3] == ["0 ┤", "0 ┤"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 10}, "render_plan: width must leave at least 10 columns"),
        ({"height": 1}, "render_plan: height must be an integer >= 2, got 1"),
    ],
)
def test_render_rejects_too_small_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        render_plan(constant(users=5, spawn_rate=1, duration_s=10), **kwargs)


def test_an_open_plan_is_drawn_in_arrivals_per_second_with_its_rates_in_the_table():
    from framework.plan import rates

    plan = rates.spike(base_rate=5, spike_rate=20, base_s=10, spike_s=5, recovery_s=5, ramp_s=1)
    assert render_plan(plan, width=30, height=4).splitlines() == [
        "spike: 20s, peak 20 arrivals/s",
        "20 ┤              ██████",
        "   │             ███████▇",
        "10 ┤             ████████",
        " 0 ┤▅█████████████████████████",
        "   └┬────────────┬───────────┬",
        "    0s           10s       20s",
        "",
        "phase             kind     start  end  arrivals/s",
        "ramp-up           ramp        0s   1s           5",
        "base              plateau     1s  10s           5",
        "ramp to spike     ramp       10s  11s          20",
        "spike             spike      11s  15s          20",
        "ramp to recovery  ramp       15s  16s           5",
        "recovery          plateau    16s  20s           5",
    ]


def test_a_fractional_peak_rate_is_labelled_as_written():
    from framework.plan import rates

    text = render_plan(rates.constant(rate=2.5, duration_s=10), width=20, height=2)
    assert text.splitlines()[:3] == [
        "constant: 10s, peak 2.5 arrivals/s",
        "2.5 ┤███████████████",
        "  0 ┤███████████████",
    ]
