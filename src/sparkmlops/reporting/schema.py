"""The JSON Schema of each report document, published under ``schemas/`` in the repository.

Analysts' tools validate what they read against these files; a test checks that they
equal what the models generate, so the published contract never drifts from the code.
Regenerate after changing :mod:`.models`:

    python -m sparkmlops.reporting.schema --write schemas
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sparkmlops.reporting.contract import _adapter
from sparkmlops.reporting.models import DOCUMENTS, SCHEMA_VERSION

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(kind: str) -> dict:
    """The JSON Schema (draft 2020-12) of one document kind at the current schema version."""
    generated = _adapter(kind).json_schema(ref_template="#/$defs/{model}")
    return {**generated, "$schema": DIALECT, "$id": f"sparkmlops/{kind}.schema.json", "title": f"sparkmlops {kind} document",
            "$comment": f"Report schema {SCHEMA_VERSION}. Files with schema_version 1 are read after an upgrade "
                        "(sparkmlops.reporting.contract)."}


def rendered(kind: str) -> str:
    return json.dumps(json_schema(kind), indent=2, sort_keys=True) + "\n"


def file_name(kind: str) -> str:
    return f"{kind}.schema.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check the published report schemas.")
    parser.add_argument("--write", action="store_true", help="write the files (default: check them)")
    parser.add_argument("folder", nargs="?", default="schemas")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    stale = []
    for kind in DOCUMENTS:
        path = folder / file_name(kind)
        if args.write:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(rendered(kind))
        elif not path.exists() or path.read_text() != rendered(kind):
            stale.append(str(path))
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m sparkmlops.reporting.schema --write {folder}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
