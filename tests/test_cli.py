"""The `bioalbert` command dispatches to every job's module."""

import importlib
import subprocess
import sys

import pytest

from bioalbert.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_a_main(command):
    module = importlib.import_module(COMMANDS[command][0])
    assert callable(module.main), f"{COMMANDS[command][0]} has no main(argv)"


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    printed = capsys.readouterr().out
    assert all(command in printed for command in COMMANDS)


def test_unknown_command_exits_2_and_names_it(capsys):
    assert main(["pretrian"]) == 2
    assert "'pretrian'" in capsys.readouterr().err


def test_console_script_runs_a_subcommand_help():
    completed = subprocess.run([sys.executable, "-m", "bioalbert.cli", "finetune", "--help"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "--dataset" in completed.stdout and "--seeds" in completed.stdout
