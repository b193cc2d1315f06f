"""``kit data list`` and ``kit data fetch``."""
from __future__ import annotations

import json
import sys

from kit.errors import FetchError, UsageError


def cmd_list(args) -> int:
    from .catalog import catalog, catalog_table

    if args.json:
        print(json.dumps(catalog(), indent=2))
    else:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_colwidth", 40):
            print(catalog_table().to_string(index=False))
    return 0


def cmd_fetch(args) -> int:
    from .fetch import fetch
    from .registry import load_registry

    names = list(args.names)
    for kind in args.kind or []:
        names += [e.name for e in load_registry() if e.kind == kind and e.name not in names]
    if not names:
        raise UsageError("name at least one entry, or a --kind (kit data list shows them)")
    failed = 0
    for name in names:
        try:
            print(fetch(name, offline=args.offline or None, progress=not args.quiet))
        except FetchError as exc:
            print(f"kit: error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def register(sub) -> None:
    from .registry import KINDS

    data = sub.add_parser("data", help="the data and model registry").add_subparsers(dest="action", required=True)
    p = data.add_parser("list", help="list registry entries (name, kind, size, license, cached)")
    p.add_argument("--json", action="store_true", help="print every field, sources included, as JSON")
    p.set_defaults(func=cmd_list)
    p = data.add_parser("fetch", help="fetch entries into the cache and print their local paths")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--kind", action="append", choices=list(KINDS),
                   help="also every entry of this kind (repeatable)")
    p.add_argument("--offline", action="store_true", help="use only KIT_MIRROR folders and the cache")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_fetch)
