"""The master's side of a web-UI session: a run folder per start, and the form's stylesheet."""

from __future__ import annotations

from framework.locust_glue.session import WebSession
from framework.locust_glue.web_ui import plan_fields_style


def test_each_start_gets_the_next_free_folder_beside_the_session(tmp_path):
    session = WebSession(tmp_path / "s")
    (tmp_path / "s-2").mkdir()  # taken by something else: skipped, never reused
    ids = [session.open_run(float(t)).run_id for t in range(3)]
    assert ids == ["s-1", "s-3", "s-4"]
    assert session.find("s-3").path == tmp_path / "s-3"
    assert session.find("s-2") is None and session.find("../s-1") is None


def test_plan_fields_style_hides_the_three_fields_and_escapes_the_plan_text():
    style = plan_fields_style('evil"</style><script>x</script>')
    for name in ("userCount", "spawnRate", "runTime"):
        assert f'input[name="{name}"]' in style
    assert style.count("</style>") == 1 and "<script>" not in style
    assert '"</' not in style
