"""The history page on hand-built trends: the line, CI whiskers, change points and runs table."""

from __future__ import annotations

import re
from pathlib import Path

from framework.store.history import trend
from framework.store.history_page import default_path, render_history_html
from framework.store.records import RunSummary
from framework.store.trend_chart import BETTER, WORSE, trend_chart

HOSTILE = "<script>alert(1)</script>"
CREATED = "2026-12-01T00:00:00Z"


def points(levels: list[float], *, ci: float | None = 0.03, prefix: str = "run"):
    """One point per level, a little deterministic noise, interval ±``ci`` (relative)."""
    out = []
    for i, level in enumerate(levels):
        value = level * (1 + 0.004 * ((i % 3) - 1))
        low, high = (value * (1 - ci), value * (1 + ci)) if ci else (None, None)
        out.append((f"{prefix}{i:02d}", f"2026-11-{i + 1:02d}T09:00:00Z", value, low, high))
    return out


def step(metric: str = "p95", *, at: int = 12, factor: float = 1.08, **kw):
    base = 50.0 if metric == "throughput" else 100.0
    levels = [base] * at + [base * factor] * at
    return trend(points(levels, **kw), metric=metric, scenario="checkout", name="overall")


def summary(run_id: str, *, git: str, verdict: str) -> RunSummary:
    return RunSummary(
        run_id=run_id, scenario="checkout", path=Path(run_id), started_at="2026-11-01",
        ended_at=None, status="finished", exit_code=0, verdict=verdict, git_revision=git,
        host=None, tags={}, pinned=False, overall=None,
    )  # fmt: skip


def test_an_eight_percent_step_is_one_labelled_change_point():
    history = step()
    assert [s.index for s in history.shifts] == [12]
    html = render_history_html(history, created_at=CREATED)
    trend_section = html.split('id="trend"')[1].split("</section>")[0]
    assert trend_section.count('class="change-point"') == 1
    label = re.search(r'class="change-label"[^>]*>([^<]*)<', trend_section)
    assert label and re.fullmatch(r"\+8\.\d% at run run12", label.group(1))
    assert f'stroke="{WORSE}"' in trend_section  # p95 went up: worse
    assert "1 change point" in html


def test_chart_has_a_point_and_whisker_per_run_and_the_levels():
    svg = trend_chart(step())
    assert svg.count('<circle class="point"') == 24
    assert svg.count('class="whisker"') == 24
    assert svg.count('class="level"') == 2  # before and after the change
    assert "#13 run12 · 2026-11-13 09:00" in svg


def test_runs_without_an_interval_get_no_whisker():
    svg = trend_chart(step(ci=None))
    assert 'class="whisker"' not in svg and svg.count('<circle class="point"') == 24


def test_a_throughput_rise_is_marked_better():
    history = step("throughput", factor=1.2)
    svg = trend_chart(history)
    assert f'stroke="{BETTER}"' in svg and f'stroke="{WORSE}"' not in svg
    assert "better" in render_history_html(history, created_at=CREATED)


def test_a_flat_history_has_no_change_point():
    flat = trend(points([100.0] * 20), metric="p95", scenario="checkout")
    html = render_history_html(flat, created_at=CREATED)
    assert 'class="change-point"' not in html
    assert "No change point" in html


def test_an_empty_history_says_so_without_a_chart():
    html = render_history_html(trend([], metric="p95", scenario="checkout"), created_at=CREATED)
    assert "trend-chart" not in html
    assert "No analysed run of checkout has a p95 for overall yet." in html


def test_runs_table_has_time_git_revision_value_interval_and_verdict():
    history = step()
    runs = {"run12": summary("run12", git="abcdef0123456789", verdict="failed")}
    html = render_history_html(history, runs=runs, created_at=CREATED)
    table = html.split('id="runs-table"')[1]
    assert table.count("<tr") == 25
    assert "abcdef012345" in table and ">failed<" in table
    assert "2026-11-13 09:00:00 UTC" in table
    assert re.search(r"107\.\d ms</span> <span class=\"ci\">\[10\d\.\d, 11\d\.\d\]", table)
    assert re.search(r'class="pill regression">\+8\.\d% at run run12<', table)


def test_small_multiples_are_drawn_with_their_change_points():
    history = step()
    multiples = [step("p95"), step("throughput", factor=1.0), step("error_rate", factor=1.0)]
    html = render_history_html(history, multiples=multiples, created_at=CREATED)
    overall = html.split('id="overall"')[1].split("</section>")[0]
    assert overall.count("<svg") == 3
    assert overall.count('class="change-point"') == 1
    for metric in ("p95", "throughput", "error_rate"):
        assert f"<h3>{metric} <small>" in overall


def test_error_rate_axis_is_in_percent():
    rates = trend(points([0.01] * 10), metric="error_rate", scenario="checkout")
    svg = trend_chart(rates)
    assert re.search(r'class="tick">1(\.\d+)?%<', svg)


def test_run_ids_and_names_are_escaped_and_nothing_is_loaded():
    history = trend(points([100.0] * 12 + [110.0] * 12, prefix=HOSTILE), metric="p95",
                    scenario=HOSTILE, name=HOSTILE)  # fmt: skip
    html = render_history_html(history, created_at=CREATED)
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script>") == 1
    assert not re.search(r'\b(src|href)="(?!#)', html)
    assert not [u for u in re.findall(r"https?://[^\s\"'<>]+", html)
                if not u.startswith("http://www.w3.org/")]  # fmt: skip


def test_default_path_is_in_the_reports_folder_and_safe():
    assert default_path(Path("reports"), "checkout") == Path("reports/history-checkout.html")
    assert default_path(Path("r"), "../a b/c") == Path("r/history-a_b_c.html")
