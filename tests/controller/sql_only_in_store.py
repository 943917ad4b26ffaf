#!/usr/bin/env python3
"""SQL lives behind the store's repositories (controller/store), nowhere else.

Fails naming each file and line outside controller/store that prepares or
executes a statement on a database connection, or spells one out: a new
statement belongs in a repository method (docs/store.md, "Repositories").
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
call = re.compile(r"\b(db|dst|src|d|database|db_)\s*(\.|->)\s*(prepare|exec)\s*\(")
sql = re.compile(r'"[^"\n]*\b(SELECT\s+\S+.*\bFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|'
                 r'CREATE\s+TABLE|pg_notify)\b', re.IGNORECASE)
found = []
for top in ("controller", "agent", "shared"):
    for path in sorted((root / top).rglob("*")):
        if path.suffix not in (".cpp", ".h") or "controller/store" in path.as_posix():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if call.search(line) or sql.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
if found:
    print("SQL outside controller/store (move it into a repository method):")
    print("\n".join(found))
    sys.exit(1)
print("no SQL outside controller/store")
