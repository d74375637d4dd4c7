"""The one text type of every string the API takes: query, JSON, tags, form fields, paths.

PostgreSQL refuses a NUL in text and `os.path` raises ValueError on one; a lone surrogate
(`"\\ud800"` in JSON) cannot be encoded as UTF-8 at all. Either reached the database or the
file system as a 500 before; refused here, the caller gets a 400 naming the field.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

#: Free text: titles, producers, searches.
MAX_TEXT = 500
#: One tag.
MAX_TAG = 100
#: A file name.
MAX_NAME = 1024
#: A path inside the library (PATH_MAX).
MAX_PATH = 4096


def text_problem(value: str) -> str | None:
    """What makes a string unusable as stored text, or None when it is fine."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def _refuse_bad_characters(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: The one check of every text input, applied after the length bound of each alias (so a
#: too-long string is told "at most N characters", not "items").
CLEAN = AfterValidator(_refuse_bad_characters)
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), CLEAN]
TagText = Annotated[str, StringConstraints(max_length=MAX_TAG), CLEAN]
NameText = Annotated[str, StringConstraints(max_length=MAX_NAME), CLEAN]
PathText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATH), CLEAN]
