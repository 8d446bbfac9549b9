"""The ``islandgrid`` command line (typer + rich)."""
