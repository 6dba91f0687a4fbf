"""Command line for the event catalogue.

``python -m shared.events asyncapi [--output docs/asyncapi.yaml] [--html docs/asyncapi.html]``
writes the AsyncAPI document (to stdout without ``--output``) and its browsable HTML page;
``python -m shared.events list`` prints the registered events.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.events import REGISTRY
from shared.events.asyncapi import build_document, generate
from shared.events.asyncapi_html import render_html


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.events", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    asyncapi = commands.add_parser("asyncapi", help="write the AsyncAPI 3.0 document")
    asyncapi.add_argument("--output", type=Path, help="file to write (default: stdout)")
    asyncapi.add_argument("--html", type=Path, help="also write the document as an HTML page")
    commands.add_parser("list", help="print event type, version, exchange and summary")
    args = parser.parse_args(argv)

    if args.command == "asyncapi":
        text = generate()
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text, encoding="utf-8")
            print(f"wrote {args.output}", file=sys.stderr)
        if args.html is not None:
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(render_html(build_document()), encoding="utf-8")
            print(f"wrote {args.html}", file=sys.stderr)
    else:
        for event_type, version in sorted(REGISTRY):
            cls = REGISTRY[(event_type, version)]
            print(f"{event_type}\tv{version}\t{cls.exchange}\t{cls.summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
