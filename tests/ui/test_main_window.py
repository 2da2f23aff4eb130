from app import APP_NAME
from app.ui.main_window import MainWindow


def test_window_shows_app_name(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == APP_NAME
    assert window.isVisible()


def test_app_icon_ships_and_loads(qtbot):
    from PySide6.QtGui import QIcon

    from app.paths import resource

    icon = QIcon(str(resource("icons", "ponder.svg")))
    assert not icon.isNull() and not icon.pixmap(64, 64).isNull()
