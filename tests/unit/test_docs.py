"""The README keeps up with the code: every setting and every command is documented."""

from pathlib import Path

from pointsbank.config import SETTINGS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_readme_starts_with_the_two_commands():
    block = README.split("```")[1]
    assert "make run" in block and "make test" in block


def test_every_setting_is_in_the_readme_configuration_table():
    for name in SETTINGS:
        assert f"`POINTSBANK_{name}`" in README, f"POINTSBANK_{name} is not documented"


def test_every_command_is_in_the_readme(app):
    assert "pointsbank db upgrade" in README
    for name, command in app.cli.commands.items():
        if name in ("db", "openapi"):  # Flask-Migrate's and flask-smorest's own groups
            continue
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for sub in subcommands:
                assert f"pointsbank {name} {sub}" in README, f"pointsbank {name} {sub} is not documented"
        else:
            assert f"pointsbank {name}" in README, f"pointsbank {name} is not documented"
