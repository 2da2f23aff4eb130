"""`python -m app [options]`: the window's command line. A headless command (app/cli.py) is
chosen before this runs; what is left is the window's options, Qt's own options, and files a
desktop passes ("Exec=ponder %F"). Anything else is a mistake: it gets an error and exit 2,
never a window that silently ignored it."""

from __future__ import annotations

import argparse
import os

from app import APP_NAME, CLI_COMMANDS, __version__
from app.help_format import HelpFormatter, did_you_mean

# Options QGuiApplication and QApplication read themselves (Qt takes "-name" and "--name").
QT_OPTIONS_WITH_VALUE = {"platform", "platformpluginpath", "platformtheme", "plugin", "qwindowgeometry",
                         "qwindowicon", "qwindowtitle", "session", "display", "geometry", "name", "title",
                         "style", "stylesheet"}
QT_OPTIONS = QT_OPTIONS_WITH_VALUE | {"reverse", "widgetcount", "nograb", "dograb", "sync", "qmljsdebugger"}
OPTIONS = ("--help", "--version", "--model", "--self-test", "--screenshot")  # the window's own, for suggestions


def build_parser() -> argparse.ArgumentParser:
    width = max(map(len, CLI_COMMANDS)) + 2
    commands = "\n".join(f"  {name.ljust(width)}{summary}" for name, summary in CLI_COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="python -m app",
        usage="%(prog)s [--model PATH] [--self-test [--screenshot PNG]]\n"
              f"       %(prog)s {{{','.join(CLI_COMMANDS)}}} ...",
        description=f"{APP_NAME}: think through hard questions with a local reasoning model.\n"
                    "Without a command, opens the window.\n\n"
                    "commands (python -m app COMMAND --help tells more):\n" + commands,
        epilog="Qt's own options (-style NAME, -platform NAME, -reverse, ...) are passed on to Qt.",
        formatter_class=HelpFormatter,
        allow_abbrev=False,  # a prefix of an option is a typo here, not a shorthand
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    window = parser.add_argument_group("window options")
    window.add_argument("--model", metavar="PATH",
                        help="a .gguf model to load at start (default: the model the window loaded last)")
    window.add_argument("--self-test", action="store_true",
                        help="ask one question in the real window, say whether reasoning and answer "
                             "arrived apart, and exit (0 when they did)")
    window.add_argument("--screenshot", metavar="PNG",
                        help="with --self-test: save a picture of the window here (default: none)")
    window.add_argument("--measure-start", action="store_true", help=argparse.SUPPRESS)  # bench/cold_start.py
    return parser


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The window's options, and the arguments meant for Qt; exits 2 on anything unknown."""
    parser = build_parser()
    if argv and not argv[0].startswith("-") and not os.path.exists(argv[0]):
        parser.error(f"unknown command '{argv[0]}'{did_you_mean(argv[0], CLI_COMMANDS)}. "
                     f"The commands are {', '.join(CLI_COMMANDS)}; without one, the window opens.")
    args, rest = parser.parse_known_args(argv)
    _check_rest(parser, rest)
    return args, rest


def _check_rest(parser: argparse.ArgumentParser, rest: list[str]) -> None:
    """Qt's options (and their values) and existing files pass; anything else is refused."""
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg.startswith("-") and arg != "-":
            name = arg.lstrip("-").split("=", 1)[0]
            if name not in QT_OPTIONS:
                parser.error(f"unknown option '{arg.split('=', 1)[0]}'{did_you_mean(arg.split('=', 1)[0], OPTIONS)}")
            if name in QT_OPTIONS_WITH_VALUE and "=" not in arg:
                i += 1  # its value
        elif not os.path.exists(arg):
            parser.error(f"unexpected argument '{arg}': the window takes options only "
                         f"(the commands are {', '.join(CLI_COMMANDS)}, and come first)")
        i += 1
