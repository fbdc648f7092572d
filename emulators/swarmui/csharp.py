"""C#/.NET text conventions the protocol leaks: `JToken.ToString()`, `double.ToString()`,
`int.TryParse`/`double.TryParse` (reference §1.2)."""

from __future__ import annotations

import json
import re
from typing import Any


def csharp_text(value: Any) -> str:
    """`JToken.ToString()`: what C# sees when it coerces a JSON value to a string."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return csharp_double(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, indent=2, ensure_ascii=False)


def csharp_double(value: float) -> str:
    """`double.ToString()`: shortest round-trip text, `E+NN` exponents, no trailing `.0`."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa.removesuffix('.0')}E{sign}{exponent.lstrip('+-').zfill(2)}"


_INTEGER = re.compile(r"^\s*[+-]?[0-9]+\s*\Z")
_DECIMAL = re.compile(r"^\s*[+-]?([0-9][0-9,]*\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*\Z")
_INT_RANGES = {"Int32": 2**31, "Int64": 2**63}


def parse_csharp_integer(text: str, type_name: str = "Int64") -> int | None:
    """`int.TryParse` / `long.TryParse`: whitespace and a sign allowed, nothing else."""
    if not _INTEGER.match(text):
        return None
    number = int(text)
    limit = _INT_RANGES[type_name]
    return number if -limit <= number < limit else None


def parse_csharp_decimal(text: str) -> float | None:
    """`double.TryParse` with the default number styles (thousands separators allowed)."""
    special = text.strip().lower()
    if special in ("nan", "infinity", "+infinity", "-infinity"):
        return float(special)
    if not _DECIMAL.match(text):
        return None
    return float(text.replace(",", ""))


def sort_key(text: str | None) -> tuple[str, str]:
    """Approximates .NET's culture-aware string ordering (case-insensitive first)."""
    text = text or ""
    return text.casefold(), text
