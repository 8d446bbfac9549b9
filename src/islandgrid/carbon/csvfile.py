"""Reading a user's CSV file as text, with the one error a missing or unreadable file gets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from islandgrid.errors import DataFileError


def read_text_csv(path: str | Path, *, missing_fix: str = "check the path") -> pd.DataFrame:
    """Every cell of the CSV at ``path`` as text (no NA parsing, leading spaces dropped).

    Parameters
    ----------
    path : str or Path
        The file.
    missing_fix : str
        The fix a missing file's message gives (e.g. the option that names the file).

    Raises
    ------
    DataFileError
        The file does not exist or is not a readable CSV.
    """
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise DataFileError("file not found", source=str(path), fix=missing_fix) from None
    except Exception as exc:
        raise DataFileError(
            f"not a readable CSV ({exc})", source=str(path), fix="give a comma-separated file"
        ) from None
