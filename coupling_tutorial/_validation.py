"""Input checks shared by every module.

Every public function validates its arguments with these helpers so that bad input
raises a :class:`ValueError` whose message always has the same form::

    `<argument>` must be <what was expected>; got <what was given>.

The tests pin these messages, so keep the wording stable. The checks run on concrete
(non-traced) values only: inside ``jax.jit`` the value checks are skipped and only the
shape checks, which are static, apply.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

__all__: list[str] = []  # private module


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def any_traced(*args) -> bool:
    """Whether any argument is a tracer (inside ``jax.jit``/``jax.grad``)."""
    return any(_is_traced(a) for a in args)


def check_thresholds(V_th, V_r):
    """Raise unless ``V_th > V_r`` everywhere (broadcast); skipped for traced values."""
    if any_traced(V_th, V_r):
        return
    a, b = np.broadcast_arrays(np.asarray(V_th), np.asarray(V_r))
    bad = ~(a > b)
    if np.any(bad):
        i = np.flatnonzero(bad)[0]
        raise ValueError(
            f"`V_th` must be greater than `V_r`; got V_th = {a.ravel()[i].item()} "
            f"<= V_r = {b.ravel()[i].item()}."
        )


def float_dtype():
    """The float dtype JAX computes in now: float64 with ``jax_enable_x64``, else float32.

    The one dtype helper of the package (read at call time, so a change of the flag is
    seen); :func:`np_float_dtype` is the same as a numpy type, for host-side arrays.
    """
    return jnp.result_type(float)


def np_float_dtype():
    """:func:`float_dtype` as a numpy scalar type (host-side arrays)."""
    return np.float64 if jax.config.jax_enable_x64 else np.float32


def _describe(x) -> str:
    """Short description of a value for an error message."""
    if isinstance(x, (numbers.Number, np.generic)):
        return repr(x.item() if isinstance(x, np.generic) else x)
    if hasattr(x, "shape"):
        return f"an array of shape {tuple(x.shape)}"
    return f"{type(x).__name__} {x!r}"[:80]


def as_array(x, name: str, ndim: int | tuple[int, ...] | None = None, dtype=None):
    """Convert ``x`` to a JAX array and check its number of dimensions.

    Parameters
    ----------
    x : array_like
        The value to convert.
    name : str
        The argument's name, used in the error message.
    ndim : int or tuple of int, optional
        Accepted number(s) of dimensions.
    dtype : dtype, optional
        Requested dtype (default: keep integers as integers, floats as JAX's default float).
    """
    if x is None:
        raise ValueError(f"`{name}` must be an array; got None.")
    try:
        arr = jnp.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` must be a numeric array; got {_describe(x)}.") from err
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(
                f"`{name}` must be {want}; got a {arr.ndim}-D array of shape {arr.shape}."
            )
    return arr


def check_finite(arr, name: str):
    """Raise if ``arr`` holds NaN or inf (skipped for traced values)."""
    if _is_traced(arr):
        return arr
    a = np.asarray(arr)
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        n_bad = int(np.sum(~np.isfinite(a)))
        raise ValueError(
            f"`{name}` must contain only finite values; got {n_bad} NaN or inf "
            f"entr{'y' if n_bad == 1 else 'ies'}."
        )
    return arr


def check_counts(arr, name: str):
    """Raise unless ``arr`` holds finite, non-negative, integer-valued counts."""
    check_finite(arr, name)
    if _is_traced(arr):
        return arr
    a = np.asarray(arr)
    if np.any(a < 0):
        raise ValueError(
            f"`{name}` must hold non-negative spike counts; got a minimum of {a.min()}."
        )
    if a.dtype.kind == "f" and np.any(a != np.round(a)):
        raise ValueError(f"`{name}` must hold integer spike counts; got non-integer values.")
    return arr


def check_positive(value, name: str, strict: bool = True):
    """Raise unless ``value`` (a scalar or array) is finite and > 0 (>= 0 if not strict)."""
    if _is_traced(value):
        return value
    a = np.asarray(value)
    if a.dtype.kind not in "iuf" or a.size == 0:
        raise ValueError(f"`{name}` must be a {'positive' if strict else 'non-negative'} "
                         f"number; got {_describe(value)}.")
    bad = ~np.isfinite(a) | ((a <= 0) if strict else (a < 0))
    if np.any(bad):
        shown = a.item() if a.ndim == 0 else a[bad].ravel()[0].item()
        raise ValueError(
            f"`{name}` must be {'positive' if strict else 'non-negative'} and finite; got {shown}."
        )
    return value


def check_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as a Python int, raising unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {_describe(value)}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {int(value)}.")
    return int(value)


def check_mask(mask, name: str, shape: tuple[int, ...]):
    """Return a 0/1 mask of exactly ``shape`` as a float array, or raise."""
    m = as_array(mask, name)
    if m.shape != tuple(shape):
        raise ValueError(f"`{name}` must have shape {tuple(shape)}; got shape {m.shape}.")
    if not _is_traced(m):
        a = np.asarray(m)
        if not np.all((a == 0) | (a == 1)):
            raise ValueError(f"`{name}` must contain only 0 and 1; got other values.")
    return m.astype(jnp.result_type(float))


def check_key(key, name: str = "key"):
    """A single PRNG key, returned typed: ``jax.random.key(seed)`` as is, or a raw
    ``uint32[2]`` key (``jax.random.PRNGKey(seed)``) wrapped as a threefry key (same bits,
    so the same random numbers). Traced keys are accepted."""
    if isinstance(key, (jax.Array, np.ndarray)):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            if key.shape != ():
                raise ValueError(f"`{name}` must be a single PRNG key; got an array of "
                                 f"{key.shape} keys.")
            return key
        if key.dtype == np.uint32 and key.shape == (2,):
            return jax.random.wrap_key_data(jnp.asarray(key), impl="threefry2x32")
    raise ValueError(
        f"`{name}` must be a JAX PRNG key (jax.random.key(seed) or "
        f"jax.random.PRNGKey(seed)); got {_describe(key)}"
        + (f" of dtype {key.dtype}" if hasattr(key, "dtype") else "") + "."
    )
