"""The `dapt` command (filled in by the CLI work)."""
import sys


def main(argv: list[str] | None = None) -> int:
    print("dapt: CLI under construction", file=sys.stderr)
    return 2
