"""The ``foveal`` command line: ``foveal info`` (more subcommands arrive with their issues)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence


def _info(args: argparse.Namespace) -> int:
    import foveal

    info = foveal.build_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        print(f"{key:<{width}}  {value}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="foveal", description="fast deep learning for image data")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="print the build: version, compiler, OpenMP, CPU features, ISA")
    p_info.add_argument("--json", action="store_true", help="print JSON")
    p_info.set_defaults(func=_info)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
