"""Readers that turn interaction files and openfyp's event log into :class:`Interactions`.

Formats: MovieLens (``ratings.csv`` with or without a header and with any line ends, ``ratings.dat``,
``u.data``), a generic CSV/TSV of ``user,item[,value[,timestamp]]`` with an optional header and a sniffed
delimiter, and RecBole's atomic ``.inter`` files with their typed header (``user_id:token ...``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from openfyp.recsys.interactions import InteractionDataError, Interactions
from openfyp.recsys.signals import SignalWeights, grade, tally_events

DataFormat = Literal["movielens", "csv", "recbole"]
FORMATS: tuple[str, ...] = ("movielens", "csv", "recbole")

_USER_NAMES = ("user", "user_id", "userid", "uid", "viewer_id", "account_id")
_ITEM_NAMES = ("item", "item_id", "itemid", "iid", "movieid", "movie_id", "video_id", "videoid")
_VALUE_NAMES = ("value", "rating", "score", "weight", "watch_ratio", "label")
_TIME_NAMES = ("timestamp", "ts", "time", "server_ts", "datetime", "date")


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InteractionDataError("not_found", f"no such file: {path}", "path")
    if not path.is_file():
        raise InteractionDataError("not_a_file", f"not a file: {path}", "path")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return path.read_text(encoding="latin-1")


def _parse_ids(column: list[str]) -> np.ndarray:
    """Integer ids when every id is an integer (so maps sort numerically), strings otherwise."""
    try:
        return np.array([int(v) for v in column], dtype=np.int64)
    except ValueError:
        return np.array(column, dtype=str)


def _parse_floats(column: list[str], field: str, first_line: int) -> np.ndarray:
    try:
        return np.array([float(v) if v != "" else np.nan for v in column], dtype=np.float64)
    except ValueError:
        for offset, value in enumerate(column):
            try:
                float(value)
            except ValueError:
                raise InteractionDataError("bad_number", f"line {first_line + offset}: {field} {value!r} is not a "
                                           "number", field) from None
        raise


def _build(users: list[str], items: list[str], values: list[str] | None, times: list[str] | None,
           first_line: int) -> Interactions:
    if not users:
        raise InteractionDataError("empty", "the file holds no interactions", "path")
    value_array = _parse_floats(values, "value", first_line) if values is not None else None
    time_array = _parse_floats(times, "timestamp", first_line) if times is not None else None
    if value_array is not None and np.isnan(value_array).any():
        value_array = np.where(np.isnan(value_array), 1.0, value_array)
    if time_array is not None and np.isnan(time_array).any():
        line = first_line + int(np.flatnonzero(np.isnan(time_array))[0])
        raise InteractionDataError("bad_timestamp", f"line {line}: empty timestamp", "timestamp")
    return Interactions.from_external(_parse_ids(users), _parse_ids(items), value_array,
                                      time_array).deduplicated()


def _split_rows(rows: Iterable[list[str]], min_columns: int, first_line: int
                ) -> tuple[list[str], list[str], list[str] | None, list[str] | None]:
    users: list[str] = []
    items: list[str] = []
    values: list[str] = []
    times: list[str] = []
    width = None
    for offset, row in enumerate(rows):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < min_columns:
            raise InteractionDataError("too_few_columns", f"line {first_line + offset}: expected at least "
                                       f"{min_columns} columns (user, item), found {len(row)}", "path")
        width = len(row) if width is None else min(width, len(row))
        users.append(row[0].strip())
        items.append(row[1].strip())
        values.append(row[2].strip() if len(row) > 2 else "")
        times.append(row[3].strip() if len(row) > 3 else "")
    has_values = width is not None and width > 2
    has_times = width is not None and width > 3
    return users, items, values if has_values else None, times if has_times else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_like_header(row: list[str]) -> bool:
    names = {cell.strip().lower().split(":")[0] for cell in row}
    known = set(_USER_NAMES + _ITEM_NAMES + _VALUE_NAMES + _TIME_NAMES)
    if names & known:
        return True
    # A data row has numeric value/timestamp columns; a header row has names there.
    return len(row) > 2 and not all(_is_number(cell) for cell in row[2:4] if cell.strip())


def _column_order(header: list[str]) -> list[int]:
    """Positions of (user, item, value, time) in a named header; unnamed columns keep their order."""
    lowered = [cell.strip().lower().split(":")[0] for cell in header]
    picked: list[int] = []
    for names in (_USER_NAMES, _ITEM_NAMES, _VALUE_NAMES, _TIME_NAMES):
        found = next((i for i, name in enumerate(lowered) if name in names and i not in picked), None)
        if found is None:
            break
        picked.append(found)
    if len(picked) < 2:
        return list(range(len(header)))
    return picked


def load_movielens(path: str | Path) -> Interactions:
    """MovieLens ratings: a folder holding ``ratings.csv``/``ratings.dat``/``u.data``, or one such file."""
    path = Path(path)
    if path.is_dir():
        for name in ("ratings.csv", "ratings.dat", "u.data"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise InteractionDataError("not_found", f"no ratings.csv, ratings.dat or u.data in {path}", "path")
    text = _read_text(path)
    if path.suffix == ".dat":
        rows = (line.split("::") for line in text.splitlines())
    elif path.name == "u.data":
        rows = (line.split("\t") for line in text.splitlines())
    else:
        rows = csv.reader(io.StringIO(text))
    rows = list(rows)
    first_line = 1
    if rows and _looks_like_header(rows[0]):
        rows, first_line = rows[1:], 2
    users, items, values, times = _split_rows(rows, 2, first_line)
    return _build(users, items, values, times, first_line)


def load_csv(path: str | Path, delimiter: str | None = None, has_header: bool | None = None) -> Interactions:
    """A delimited file of ``user,item[,value[,timestamp]]``; a named header may order the columns."""
    path = Path(path)
    text = _read_text(path)
    sample = text[:64 * 1024]
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",\t;| ").delimiter
        except csv.Error:
            delimiter = "\t" if "\t" in sample else ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)
            if row and any(cell.strip() for cell in row)]
    if not rows:
        raise InteractionDataError("empty", f"{path} holds no interactions", "path")
    header = _looks_like_header(rows[0]) if has_header is None else has_header
    first_line = 1
    if header:
        order = _column_order(rows[0])
        rows, first_line = [[row[i] if i < len(row) else "" for i in order] for row in rows[1:]], 2
    users, items, values, times = _split_rows(rows, 2, first_line)
    return _build(users, items, values, times, first_line)


def load_recbole(path: str | Path, user_field: str = "user_id", item_field: str = "item_id",
                 value_field: str = "rating", time_field: str = "timestamp") -> Interactions:
    """RecBole atomic ``.inter`` file (or a folder holding exactly one): tab-separated, typed header."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.inter"))
        if len(found) != 1:
            raise InteractionDataError("not_found", f"expected one .inter file in {path}, found {len(found)}", "path")
        path = found[0]
    lines = _read_text(path).splitlines()
    if not lines:
        raise InteractionDataError("empty", f"{path} is empty", "path")
    header = lines[0].split("\t")
    names: list[str] = []
    for cell in header:
        name, sep, kind = cell.strip().partition(":")
        if not sep or kind not in {"token", "float", "token_seq", "float_seq"}:
            raise InteractionDataError("bad_header", f"header field {cell!r} is not name:type "
                                       "(token, float, token_seq, float_seq)", "header")
        names.append(name)
    for required in (user_field, item_field):
        if required not in names:
            raise InteractionDataError("missing_field", f"the .inter header has no {required} field", required)
    positions = [names.index(user_field), names.index(item_field)]
    positions.append(names.index(value_field) if value_field in names else -1)
    positions.append(names.index(time_field) if time_field in names else -1)
    users: list[str] = []
    items: list[str] = []
    values: list[str] = []
    times: list[str] = []
    for offset, line in enumerate(lines[1:]):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(names):
            raise InteractionDataError("too_few_columns", f"line {offset + 2}: expected {len(names)} fields, "
                                       f"found {len(cells)}", "path")
        users.append(cells[positions[0]])
        items.append(cells[positions[1]])
        values.append(cells[positions[2]] if positions[2] >= 0 else "1")
        times.append(cells[positions[3]] if positions[3] >= 0 else "0")
    return _build(users, items, values if positions[2] >= 0 else None, times if positions[3] >= 0 else None, 2)


def load_interactions(path: str | Path, data_format: str) -> Interactions:
    """Dispatch on ``data_format`` (``movielens``, ``csv`` or ``recbole``)."""
    if data_format == "movielens":
        return load_movielens(path)
    if data_format == "csv":
        return load_csv(path)
    if data_format == "recbole":
        return load_recbole(path)
    raise InteractionDataError("bad_format", f"unknown format {data_format!r}; use one of {', '.join(FORMATS)}",
                               "format")


def interactions_from_events(rows: Iterable[Any], weights: SignalWeights | None = None) -> Interactions:
    """One signed, graded row per (user, video) from event-log rows.

    Each row is a mapping or an object with ``user_id, video_id, kind, watch_ratio, server_ts``. The
    timestamp of a pair is its latest event. Use ``.positive()`` for retrieval models and
    ``.negative()`` for the ranker's negatives; pairs that grade to exactly zero are dropped.
    """
    weights = weights or SignalWeights()
    tallies = tally_events(rows)
    pairs = [(key, grade(tally, weights), tally.last_ts) for key, tally in tallies.items()]
    pairs = [(key, value, ts) for key, value, ts in pairs if value != 0.0]
    if not pairs:
        return Interactions.from_external(np.array([], dtype=np.int64), np.array([], dtype=np.int64),
                                          np.array([]), np.array([]))
    users = [key[0] for key, _, _ in pairs]
    videos = [key[1] for key, _, _ in pairs]
    return Interactions.from_external(_ids(users), _ids(videos), [v for _, v, _ in pairs], [t for _, _, t in pairs])


def _ids(values: list[Any]) -> np.ndarray:
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.int64)
    return np.array([str(v) for v in values], dtype=str)
