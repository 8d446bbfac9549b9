"""Read a TOML site file into a validated :class:`~islandgrid.site.spec.Site`."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from islandgrid.carbon.pairing import scope2_factors
from islandgrid.errors import SiteFileError
from islandgrid.site.spec import Site

_PATH_FIELDS = {
    ("weather", "epw"),
    ("weather", "pv_csv"),
    ("grid", "carbon_csv"),
    ("grid", "outages_csv"),
    ("load", "csv"),
    ("carbon", "certificates"),
    ("compute", "jobs_csv"),
}
#: Fields holding lists of data files (resolved like the single paths).
_PATH_LIST_FIELDS = {("scenarios", "epws"), ("scenarios", "pv_csvs")}


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model class inside ``annotation`` (``X``, ``X | None``, ``list[X]``), if any."""
    stack = [annotation]
    while stack:
        ann = stack.pop()
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return ann
        stack.extend(getattr(ann, "__args__", ()))
    return None


def _walk(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[type[BaseModel] | None, Any]:
    """Follow ``loc`` through nested models: (model holding the last part, its FieldInfo or None)."""
    current: type[BaseModel] | None = model
    info = None
    for i, part in enumerate(loc):
        if current is None:
            return None, None
        if isinstance(part, int):  # an item of a list of models
            continue
        if part not in current.model_fields:
            return (current, None) if i == len(loc) - 1 else (None, None)
        info = current.model_fields[part]
        if i == len(loc) - 1:
            return current, info
        current = _nested_model(info.annotation)
    return current, info


def _unknown_key(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, str, str]:
    """Message, allowed keys and fix for an unknown key, with the closest valid key as a suggestion."""
    parent, _ = _walk(model, loc)
    keys = list(parent.model_fields) if parent is not None else []
    keys = [k for k in keys if k != "source"] if parent is Site else keys
    section = ".".join(str(p) for p in loc[:-1])
    where = f"[{section}]" if section else "the top level (sections)"
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.6)
    if close:
        msg, fix = f"unknown field; did you mean '{close[0]}'?", f"rename '{loc[-1]}' to '{close[0]}'"
    else:
        msg, fix = "unknown field (a typo?)", "remove it or check the spelling against examples/horinger-ai-room.toml"
    return msg, f"the keys of {where}: {', '.join(keys)}", fix


def _field_info(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str | None, str | None]:
    """Walk ``loc`` through nested models; return (allowed range, fix hint) of the leaf field."""
    _, info = _walk(model, loc)
    if info is None:
        return None, None
    bounds = []
    for meta in info.metadata:
        for key, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(meta, key, None)
            if v is not None:
                bounds.append(f"{sym} {v}")
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    fix = extra.get("fix")
    return (" and ".join(bounds) or None), (str(fix) if fix else None)


def site_from_dict(data: dict[str, Any], source: str = "<site>", base_dir: Path | None = None) -> Site:
    """Validate a parsed site dictionary.

    Parameters
    ----------
    data : dict
        The parsed TOML.
    source : str
        Name of the file, used in error messages.
    base_dir : Path, optional
        Relative data paths are resolved against this folder.

    Raises
    ------
    SiteFileError
        On the first invalid field, naming field, value, allowed range and fix.
    """
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    if base_dir is not None:
        for section, key in _PATH_FIELDS:
            sec = data.get(section)
            if isinstance(sec, dict) and isinstance(sec.get(key), str):
                p = Path(sec[key]).expanduser()
                sec[key] = p if p.is_absolute() else (base_dir / p)
        for section, key in _PATH_LIST_FIELDS:
            sec = data.get(section)
            if isinstance(sec, dict) and isinstance(sec.get(key), list):
                sec[key] = [
                    (base_dir / Path(v).expanduser()) if isinstance(v, str) and not Path(v).is_absolute() else v
                    for v in sec[key]
                ]
    try:
        site = Site.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # an unknown key first: a typo (kwpp) also makes its intended key (kwp) look missing
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        allowed, fix = _field_info(Site, loc)
        msg = err["msg"].removeprefix("Value error, ")
        ctx = err.get("ctx") or {}
        allowed, fix = ctx.get("allowed", allowed), ctx.get("fix", fix)
        if err["type"] == "missing":
            msg = "this field is required but missing"
            fix = fix or f"add '{loc[-1]} = ...' to section [{'.'.join(str(p) for p in loc[:-1])}]"
        elif err["type"] == "extra_forbidden":
            msg, allowed, fix = _unknown_key(Site, loc)
        raise SiteFileError(msg, source=source, field=field, value=err.get("input"), allowed=allowed, fix=fix) from None
    for section, key in _PATH_FIELDS:
        given = getattr(getattr(site, section), key, None)  # an optional section may be absent
        if given is not None and not Path(given).is_file():
            raise SiteFileError(
                "file not found",
                source=source,
                field=f"{section}.{key}",
                value=str(given),
                fix="give a path relative to the site file, or an absolute path",
            )
    for section, key in _PATH_LIST_FIELDS:
        for i, p in enumerate(getattr(getattr(site, section), key)):
            if not Path(p).is_file():
                raise SiteFileError(
                    "file not found",
                    source=source,
                    field=f"{section}.{key}[{i}]",
                    value=str(p),
                    fix="give a path relative to the site file, or an absolute path",
                )
    scope2_factors(site, source)  # factors of one year, or a stated reason
    return site.model_copy(update={"source": Path(source)})


def load_site(path: str | Path) -> Site:
    """Load and validate a TOML site file.

    Parameters
    ----------
    path : str or Path
        The site file.

    Returns
    -------
    Site
        The validated, frozen site.

    Raises
    ------
    SiteFileError
        If the file is missing, is not TOML, or any field is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise SiteFileError("site file not found", source=str(path), fix="check the path")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SiteFileError(f"not valid TOML: {exc}", source=str(path), fix="fix the TOML syntax") from None
    return site_from_dict(data, source=str(path), base_dir=path.parent)
