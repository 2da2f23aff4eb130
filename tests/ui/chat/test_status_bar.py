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
