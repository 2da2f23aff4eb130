"""The context meter counts what is typed but not sent, and turns red past the context."""

from app.ui.chat.context_meter import compact


def test_typed_text_counts_and_overflow_shows(make_app):
    app = make_app()
    app.load()
    app.ask("Hello there")
    meter = app.window.context_meter
    before = meter.value()
    with app.qtbot.waitSignal(app.session.context_measured, timeout=5000) as sig:
        app.window.composer.setPlainText("word " * 50)
    r = sig.args[0]
    tokens, reserve, size = r.used, r.reserve, r.size
    assert meter.value() == min(tokens + reserve, size) > before
    assert meter.property("over") is False
    with app.qtbot.waitSignal(app.session.context_measured, timeout=5000) as sig:
        app.window.composer.setPlainText("word " * (size + 10))
    assert sig.args[0].used + sig.args[0].reserve > size and meter.property("over") is True
    assert meter.text().endswith(f"of {compact(size)} tokens — full")
    assert f"the context holds {size:,}" in meter.toolTip()
