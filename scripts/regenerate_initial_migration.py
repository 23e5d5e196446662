"""Development only, before the first release: rewrite migration 0001 from the current tables.

Once a release ships, migrations are never edited again; new ones are added instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from openfyp.store.db import MIGRATIONS_DIR, alembic_config, make_engine


def main() -> None:
    initial = MIGRATIONS_DIR / "versions" / "0001_initial.py"
    later = sorted(p for p in (MIGRATIONS_DIR / "versions").glob("*.py") if p != initial)
    parked = {p: p.read_text() for p in later}
    for p in later:
        p.unlink()
    initial.unlink(missing_ok=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'schema.db'}")
            command.revision(alembic_config(engine), message="initial", autogenerate=True, rev_id="0001")
            generated = next((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
            generated.rename(initial)
    finally:
        for p, text in parked.items():
            p.write_text(text)
    print(f"wrote {initial}")


if __name__ == "__main__":
    main()
