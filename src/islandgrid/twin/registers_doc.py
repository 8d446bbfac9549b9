"""Write ``docs/registers.md`` to stdout: ``python -m islandgrid.twin.registers_doc > docs/registers.md``."""

from __future__ import annotations

import sys

from islandgrid.twin.registers import registers_markdown

if __name__ == "__main__":
    sys.stdout.write(registers_markdown())
