from app import APP_NAME
from app.ui.main_window import MainWindow


def test_window_shows_app_name(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == APP_NAME
    assert window.isVisible()
