"""``python -m tests.runners.cli_launcher train|evaluate ...``: vlkit's CLI restricted to train/evaluate.

Used by subprocess tests while ``vlkit.cli`` lists subcommands whose modules are not written yet.
"""

from __future__ import annotations

import sys

import vlkit.cli as cli


def main(argv: list[str]) -> int:
    cli.SUBCOMMANDS = {
        "train": ("vlkit.runners.cli_train", "train a model"),
        "evaluate": ("vlkit.runners.cli_evaluate", "evaluate a model"),
    }
    return cli.run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
