"""`--help` for every parser of `python -m app`: each option says its default, and a mistyped
name is answered with the nearest right one."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Iterable


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their line breaks (the list of commands); options get their default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return help_with_default(action)


def help_with_default(action: argparse.Action) -> str:
    """The option's help with "(default: ...)" added, unless it says its default in words
    (a None default means "decided at run time", which only words can tell) or is a flag."""
    text = action.help or ""
    if (text == argparse.SUPPRESS or not action.option_strings or action.nargs == 0
            or "default" in text.lower() or action.default in (None, [], argparse.SUPPRESS)):
        return text
    return f"{text} (default: %(default)s)"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Parser(argparse.ArgumentParser):
    """ArgumentParser with HelpFormatter and no abbreviated options (a prefix would read
    `--thread` as another option); add_subparsers makes its subparsers of this class too."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
