"""The status bar shows the speed while a reply streams, then the reply's totals."""


def test_live_speed_then_totals(make_app):
    app = make_app()
    app.script = "<think>" + "step " * 60 + "</think>" + "done " * 20
    app.load()
    shown = []
    app.session.rate_updated.connect(lambda _rate: shown.append(app.window.stats_label.text()))
    app.ask("Go")
    assert shown and all(" tok/s · " in text and text.endswith(" s") for text in shown)
    tokens = [int(text.split(" · ")[1].split()[0].replace(",", "")) for text in shown]
    assert tokens == sorted(tokens) and tokens[0] > 0
    final = app.window.stats_label.text()
    assert "thought" in final and "answered in" in final


def test_accepted_drafts_show_their_speed_up(make_app):
    from app.core.types import RateEvent, Stats

    app = make_app()
    app.load()
    app.session.rate_updated.emit(RateEvent(120, 3.0, draft_speedup=1.62))
    assert app.window.stats_label.text().endswith(" s · 1.6x from drafts")
    app.session.rate_updated.emit(RateEvent(130, 3.5, draft_speedup=1.01))  # within noise: not shown
    assert "drafts" not in app.window.stats_label.text()
    app.ask("Go")  # a scripted reply has no drafts: its totals say nothing of them
    assert "drafts" not in app.window.stats_label.text()
    totals = Stats(5, 5, 300, 100, 2.0, 3.0, 0.1, 60.0, "stop", draft_tokens=200, draft_accepted=150,
                   draft_speedup=1.8)
    app.session.stats_updated.emit(totals)
    assert app.window.stats_label.text().endswith("answered in 3 s · 1.8x from drafts")


def test_totals_say_where_the_prompt_came_from(make_app):
    from app.core.types import Stats

    app = make_app()
    app.load()
    restored = Stats(12_048, 14, 300, 100, 12.0, 3.0, 0.7, 18.3, "stop", restored_prompt_tokens=12_034,
                     restore_seconds=0.6)
    app.session.stats_updated.emit(restored)
    assert app.window.stats_label.text() == ("restored 12,034 tokens in 0.6 s · read 14 in 0.1 s · 18.3 tok/s · "
                                             "300 tokens · thought 12 s · answered in 3 s")
    assert "loaded from its saved state on disk" in app.window.stats_label.toolTip()
    app.ask("Go")  # a short prompt read in a blink: nothing said of it
    assert " tok/s · " in app.window.stats_label.text() and "read" not in app.window.stats_label.text()
    assert app.window.stats_label.toolTip() == ""
    direct = Stats(1_500, 1_500, 40, 0, 0.0, 2.0, 12.4, 20.0, "stop")  # no thinking: no "thought 0 s"
    app.session.stats_updated.emit(direct)
    assert app.window.stats_label.text() == "read 1,500 tokens in 12 s · 20.0 tok/s · 40 tokens · answered in 2 s"


def test_a_narrow_window_ends_the_totals_in_an_ellipsis(make_app, qtbot):
    from app.core.types import Stats

    app = make_app()
    app.load()
    app.window.resize(600, 700)
    restored = Stats(12_048, 14, 300, 100, 12.0, 3.0, 0.7, 18.3, "stop", restored_prompt_tokens=12_034,
                     restore_seconds=0.6)
    app.session.stats_updated.emit(restored)
    label = app.window.stats_label
    qtbot.waitUntil(lambda: label.elided() and label.shown_text() != "")
    assert label.shown_text().startswith("restored 12,034 tokens") and label.shown_text()[-1] == "…"
    assert label.text().endswith("answered in 3 s")  # whole, for the tooltip
    app.window.resize(1400, 700)
    qtbot.waitUntil(lambda: not label.elided())
