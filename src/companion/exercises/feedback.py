"""What a checker says about a student's answer: right or not yet, what is wrong, and a hint.

Every checker in :mod:`companion.exercises` returns a :class:`Feedback` and never the expected
value: the student learns where to look, not what to write. The helpers below turn the usual
ways an answer can be unusable (still ``None``, wrong type, wrong shape) into feedback instead
of an exception, so a student copy with nothing filled in runs from top to bottom.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

CORRECT = "correct"
NOT_YET = "not yet"


@dataclass(frozen=True)
class Feedback:
    """``ok`` is True when the answer is right; ``message`` says why (and hints when it is not)."""

    ok: bool
    message: str

    def __str__(self) -> str:
        return f"{CORRECT if self.ok else NOT_YET}: {self.message}"

    def __bool__(self) -> bool:
        return self.ok


def correct(message: str) -> Feedback:
    return Feedback(True, message)


def not_yet(problem: str, hint: str | None = None) -> Feedback:
    """A wrong or missing answer: ``problem`` says what is wrong, ``hint`` where to look."""
    return Feedback(False, problem if hint is None else f"{problem} Hint: {hint}")


class Unusable(Exception):
    """Raised inside a checker when the answer cannot be compared; carries the feedback."""

    def __init__(self, feedback: Feedback):
        super().__init__(feedback.message)
        self.feedback = feedback


def require_answer(answer: Any, name: str, what: str) -> None:
    """Stop the check with "not yet" when ``answer`` is still the scaffold's ``None`` or ``...``."""
    if answer is None or answer is Ellipsis:
        raise Unusable(not_yet(f"`{name}` is not filled in yet.", f"replace the placeholder with {what}."))


def as_number(answer: Any, name: str) -> float:
    """``answer`` as a finite float, or :class:`Unusable` naming the problem."""
    require_answer(answer, name, "a number")
    try:
        value = float(np.asarray(answer, dtype=np.float64).item())
    except (TypeError, ValueError):
        raise Unusable(
            not_yet(
                f"`{name}` should be a single number, got {type(answer).__name__} {_short(answer)}.",
                "a scalar numpy array, a torch scalar or a Python float all work.",
            )
        ) from None
    if not np.isfinite(value):
        raise Unusable(
            not_yet(f"`{name}` is {value}.", "look for a division by zero or a log/exp of an extreme value.")
        )
    return value


def as_array(answer: Any, name: str, shape: tuple[int, ...], axes: str) -> np.ndarray:
    """``answer`` as a float64 array of ``shape``, or :class:`Unusable` explaining the mismatch.

    ``axes`` names the dimensions for the message, e.g. ``"[queries, persons]"``.
    """
    require_answer(answer, name, f"an array of shape {axes} = {list(shape)}")
    if hasattr(answer, "detach"):  # torch tensors
        answer = answer.detach().cpu().numpy()
    try:
        array = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        raise Unusable(
            not_yet(
                f"`{name}` could not be read as an array of numbers ({type(answer).__name__}).",
                f"build it with numpy; it should have shape {axes}.",
            )
        ) from None
    if array.shape != tuple(shape):
        transposed = array.ndim == 2 and array.shape == tuple(shape)[::-1]
        raise Unusable(
            not_yet(
                f"`{name}` has shape {list(array.shape)}, expected {axes} = {list(shape)}.",
                "it looks transposed: rows and columns are swapped."
                if transposed
                else "check which axis each dimension belongs to and that no axis was summed away.",
            )
        )
    if not np.all(np.isfinite(array)):
        raise Unusable(
            not_yet(
                f"`{name}` contains NaN or infinite values.",
                "look for a division by zero, e.g. an average over an empty set.",
            )
        )
    return array


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def checker(function):
    """Decorator: a checker always answers with feedback, never with an exception.

    :class:`Unusable` carries its own feedback; any other error comes from an answer of a kind the
    checker did not foresee (a check cell must not crash a student's notebook).
    """

    @functools.wraps(function)
    def wrapped(*args, **kwargs) -> Feedback:
        try:
            return function(*args, **kwargs)
        except Unusable as unusable:
            return unusable.feedback
        except Exception as error:  # noqa: BLE001 - reported to the student instead
            return not_yet(
                f"your answer could not be checked ({type(error).__name__}: {error}).",
                "compare its type and shape with what the cell asks for.",
            )

    return wrapped


def wrong_entries(answer: np.ndarray, expected: np.ndarray, rtol: float = 1e-4, atol: float = 1e-6) -> np.ndarray:
    """Indices (``[n, ndim]``) of the entries of ``answer`` that differ from ``expected``."""
    return np.argwhere(~np.isclose(answer, expected, rtol=rtol, atol=atol))


def describe_indices(indices: np.ndarray, axes: tuple[str, ...], limit: int = 4) -> str:
    """``[[0, 2], [1, 0]]`` with axes ("query", "person") -> "query 0/person 2, query 1/person 0"."""
    parts = ["/".join(f"{axis} {i}" for axis, i in zip(axes, index)) for index in indices[:limit]]
    more = f" and {len(indices) - limit} more" if len(indices) > limit else ""
    return ", ".join(parts) + more
