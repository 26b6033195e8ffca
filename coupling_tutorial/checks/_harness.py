"""The one harness of the self-checks (private): run, diagnose, report, register.

A check is written as a function of the reader's ``fn`` that returns the success message
or raises :class:`_Fail` with the diagnosis; :func:`exercise_check` turns it into the
public ``check_*(fn, verbose=True) -> bool`` (prints one line, returns whether it
passed) and registers it under its name (:data:`CHECKS`) and its exercise's label in the
book (:data:`EXERCISES`), so the registries and ``__all__`` are derived, not maintained.
"""

from __future__ import annotations

import inspect

import numpy as np


class _Fail(Exception):
    """A diagnosed mistake: the message is what the reader sees."""


def _report(name: str, ok: bool, message: str, verbose: bool) -> bool:
    if verbose:
        print(f"{'✓' if ok else '✗'} {name}: {message}")
    return ok


def _run(fn, args, kwargs=None):
    """Call the reader's function; NotImplementedError propagates, other errors fail."""
    if not callable(fn):
        raise _Fail(f"expected a function, got {type(fn).__name__}.")
    try:
        out = fn(*args, **(kwargs or {}))
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - any error of the reader's code is reported
        call = ", ".join([_short(a) for a in args]
                         + [f"{k}={v!r}" for k, v in (kwargs or {}).items()])
        raise _Fail(f"your function raised {type(err).__name__}: {err} "
                    f"(called as fn({call})).") from None
    if out is None:
        raise _Fail("your function returned None: did you forget `return`?")
    return _real_output(out, "your function")


def _real_output(out, what: str) -> np.ndarray:
    """The reader's output as a float array, or :class:`_Fail` saying why it is not one
    (None, not numeric, or complex: a complex result is wrong even when its real part
    is right, so it is never cast to real). ``what``: "your function" or the name of
    one of its outputs ("coef")."""
    must = "must return" if what == "your function" else "must be"
    if out is None:
        raise _Fail(f"{what} is None: did you forget `return`?")
    if isinstance(out, (str, bytes, dict, set)):
        raise _Fail(f"{what} {must} an array; got {type(out).__name__}.")
    try:
        arr = np.asarray(out)
    except Exception:  # noqa: BLE001 - ragged lists and other non-arrays
        raise _Fail(f"{what} {must} an array; got {type(out).__name__}.") from None
    if arr.dtype.kind == "c":
        raise _Fail(f"{what} {must} a real array; got a complex one ({arr.dtype}): a "
                    f"complex number slipped in (an FFT without .real, or a 1j?).")
    if arr.dtype.kind not in "biuf":
        raise _Fail(f"{what} {must} a numeric array; got {type(out).__name__} of dtype "
                    f"{arr.dtype}.")
    return arr.astype(float)


def _short(a) -> str:
    if hasattr(a, "shape") and getattr(a, "ndim", 0) > 0:
        return f"<array {tuple(a.shape)}>"
    return repr(a)


def _rtol(*arrays) -> float:
    """Relative tolerance: tight for float64 results, loose for float32."""
    import jax.numpy as jnp

    x64 = jnp.result_type(float) == jnp.float64
    if not x64 or any(getattr(a, "dtype", np.float64) == np.float32 for a in arrays):
        return 1e-4
    return 1e-9


def _close(got: np.ndarray, want: np.ndarray, rtol: float) -> bool:
    if got.shape != want.shape:
        return False
    both = np.isfinite(got) & np.isfinite(want)
    if not np.array_equal(np.isfinite(got), np.isfinite(want)):
        return False
    scale = max(1.0, float(np.max(np.abs(want[both]), initial=0.0)))
    return bool(np.all(np.abs(got[both] - want[both]) <= rtol * scale))


def _max_err(got: np.ndarray, want: np.ndarray, mask=None) -> tuple[float, tuple]:
    diff = np.abs(got - want)
    if mask is not None:
        diff = np.where(mask, diff, 0.0)
    diff = np.where(np.isnan(diff), np.inf, diff)
    idx = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return float(diff[idx]), tuple(int(i) for i in idx)


def _tolerance_message(rel_err: float, rtol: float) -> str | None:
    """The message for a result that is nearly right (relative error ``rel_err``)."""
    if rel_err <= 1e-5:
        return (f"close, but not within the tolerance {rtol:g}: compute in float64 "
                f"(jax.config.update('jax_enable_x64', True)), not float32")
    if rel_err <= 1e-3:
        return (f"close, but not within the tolerance {rtol:g}: an approximation or a "
                f"slightly wrong constant?")
    return None


def _float_inputs(*arrays):
    import jax.numpy as jnp

    dtype = jnp.result_type(float)
    return tuple(jnp.asarray(a, dtype=dtype) for a in arrays)


def _accepts(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


#: Every check by its name, in the order of the book (filled by :func:`exercise_check`).
CHECKS: dict = {}

#: The check of each implement-it-yourself exercise, by the exercise's label in the book.
EXERCISES: dict = {}


def exercise_check(label: str):
    """Register a check of the exercise ``label`` and give it the common harness.

    The decorated function ``check_<name>(fn)`` runs the reader's ``fn`` and returns the
    success message, or raises :class:`_Fail` with what is wrong. The result is the
    public ``check_<name>(fn, verbose=True) -> bool``: it prints the one-line verdict
    (unless ``verbose`` is false) and returns whether ``fn`` passed. A
    :class:`NotImplementedError` of an unfinished exercise propagates unchanged.
    """
    def register(body):
        name = body.__name__

        def check(fn, verbose: bool = True) -> bool:
            try:
                message = body(fn)
            except _Fail as fail:
                return _report(name, False, str(fail), verbose)
            except NotImplementedError:
                raise
            except Exception as err:  # noqa: BLE001 - an output the diagnosis did not expect
                return _report(name, False, f"your function's output could not be checked "
                               f"({type(err).__name__}: {err}); check its type and shape.",
                               verbose)
            return _report(name, True, message, verbose)

        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(check, attr, getattr(body, attr))
        if label in EXERCISES or name in CHECKS:
            raise ValueError(f"`{name}` or the label `{label}` is registered twice.")
        CHECKS[name] = check
        EXERCISES[label] = check
        return check

    return register
