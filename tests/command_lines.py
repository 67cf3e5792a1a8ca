"""Helpers of the tests that run the command lines in-process: exit statuses and the error line."""

from __future__ import annotations

import pytest

from agents import a2c
from pixgrl import cli as pixgrl_cli


def pixgrl(*argv: str) -> int:
    """Run ``pixgrl ARGV``; its exit status."""
    with pytest.raises(SystemExit) as info:
        pixgrl_cli.main(list(argv))
    return info.value.code


def trainer(*argv: str) -> int:
    """Run ``python -m agents.a2c ARGV``; its exit status (0 when it returns)."""
    try:
        a2c.main(list(argv))
    except SystemExit as exc:
        return exc.code
    return 0


def last_line(err: str) -> str:
    """The error line of a command's stderr (after any progress bar of the training it ran)."""
    return err.replace("\r", "\n").strip().splitlines()[-1]
