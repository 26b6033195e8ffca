"""Input checks shared by every module.

Every public function validates its arguments with these helpers so that bad input
raises a :class:`ValueError` whose message always has the same form::

    `<argument>` must be <what was expected>; got <what was given>.

The tests pin these messages, so keep the wording stable. The checks run on concrete
(non-traced) values only: inside ``jax.jit`` the value checks are skipped and only the
shape checks, which are static, apply.

This is the package's one validation layer, in three rules:

* **Type first.** A value of the wrong *type* (a complex, boolean, string, ``None``,
  list or length-2 array where a real scalar is expected; a complex, object or string
  array where a real array is expected; a key of another PRNG implementation) raises
  :class:`ArgumentTypeError`, which is both a :class:`TypeError` and a
  :class:`ValueError`, naming the argument.
* **Cast, then check.** Values are converted to the working float dtype
  (:func:`float_dtype`: float32 unless ``jax_enable_x64``) *before* their range is
  checked, so ``tau=1e-300`` in float32 is rejected as underflowing to 0 and ``1e300`` as
  overflowing, instead of giving NaN later. Python, NumPy and JAX real scalars and 0-d
  arrays are all accepted for a scalar.
* **Bounded sizes.** Integers that size an allocation are at most :data:`MAX_SIZE`
  (and :func:`check_size` bounds a product of sizes), so an absurd size is a
  ``ValueError``, not an out-of-memory abort.

New public functions adopt it with the :func:`validate` decorator (``@validate(tau=
"positive", window_size="size", key="key")``), which checks and converts the named
arguments at entry, or by calling the ``check_*`` helpers below.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

__all__: list[str] = []  # private module

_SCALAR_KINDS = ("real", "positive", "nonneg", "unit", "prob", "quantile")

#: The largest integer accepted for a size or count, and the most elements an array
#: may be asked to have (JAX indexes arrays with int32).
MAX_SIZE = 2**31 - 1


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type. Both a :class:`TypeError` (what it is) and a
    :class:`ValueError` (what the package raised for bad input before it existed)."""


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


def _check_array_type(x, name: str, allow_complex: bool = False):
    """Raise :class:`ArgumentTypeError` for strings, objects and (unless allowed) complex."""
    if isinstance(x, (str, bytes, bool, np.bool_)):
        raise ArgumentTypeError(f"`{name}` must be a numeric array; got {_describe(x)}.")
    if _is_traced(x) or isinstance(x, jax.Array):
        kind = np.dtype(x.dtype).kind if not jnp.issubdtype(x.dtype, jax.dtypes.prng_key) \
            else "V"
    else:
        try:
            kind = np.asarray(x).dtype.kind
        except (TypeError, ValueError, OverflowError):
            kind = "O"
    if kind == "c" and not allow_complex:
        raise ArgumentTypeError(f"`{name}` must be real; got a complex value "
                                f"({_describe(x)}).")
    if kind not in "biufc":
        raise ArgumentTypeError(f"`{name}` must be a numeric array; got {_describe(x)}"
                                + (f" of dtype {np.asarray(x).dtype}" if kind in "OUSV"
                                   and not isinstance(x, (list, tuple)) else "") + ".")


def as_array(x, name: str, ndim: int | tuple[int, ...] | None = None, dtype=None,
             allow_complex: bool = False, allow_empty: bool = False):
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
    allow_complex : bool
        Accept complex values (otherwise they raise :class:`ArgumentTypeError`, where
        JAX would drop the imaginary part with a warning).
    allow_empty : bool
        Accept an array with a zero-length axis (otherwise a :class:`ValueError`: an
        empty basis, zero neurons or zero samples give no meaningful result).
    """
    if x is None:
        raise ArgumentTypeError(f"`{name}` must be an array; got None.")
    _check_array_type(x, name, allow_complex=allow_complex)
    try:
        arr = jnp.asarray(x, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as err:
        raise ArgumentTypeError(
            f"`{name}` must be a numeric array; got {_describe(x)}.") from err
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(
                f"`{name}` must be {want}; got a {arr.ndim}-D array of shape {arr.shape}."
            )
    if not allow_empty and 0 in arr.shape:
        raise ValueError(f"`{name}` must not be empty; got an array of shape {arr.shape}.")
    check_size(arr.shape, name)
    return arr


def check_finite(arr, name: str, allow_nan: bool = False):
    """Raise if ``arr`` holds NaN or inf (skipped for traced values). With ``allow_nan``
    only inf raises (for functions whose NaN rows have a documented meaning)."""
    if _is_traced(arr):
        return arr
    a = np.asarray(arr)
    if allow_nan:
        n_inf = int(np.sum(np.isinf(a))) if a.dtype.kind in "fc" else 0
        if n_inf:
            raise ValueError(f"`{name}` must not contain inf (NaN marks a missing value); "
                             f"got {n_inf} inf entr{'y' if n_inf == 1 else 'ies'}.")
        return arr
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        n_bad = int(np.sum(~np.isfinite(a)))
        raise ValueError(
            f"`{name}` must contain only finite values; got {n_bad} NaN or inf "
            f"entr{'y' if n_bad == 1 else 'ies'}."
        )
    return arr


def check_not_nan(arr, name: str):
    """Raise if ``arr`` holds NaN (inf allowed: for functions defined at +-inf)."""
    if _is_traced(arr):
        return arr
    a = np.asarray(arr)
    if a.dtype.kind in "fc" and np.any(np.isnan(a)):
        raise ValueError(f"`{name}` must not contain NaN; got {int(np.sum(np.isnan(a)))} "
                         f"NaN entr{'y' if int(np.sum(np.isnan(a))) == 1 else 'ies'}.")
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


def _cast(a: np.ndarray) -> np.ndarray:
    """A real array in the working float dtype (integers too: the checks see what the
    computation will see)."""
    with np.errstate(over="ignore", under="ignore"):
        return a.astype(np_float_dtype()) if a.dtype.kind in "iuf" else a


def check_positive(value, name: str, strict: bool = True):
    """Raise unless ``value`` (a scalar or array) is finite and > 0 (>= 0 if not strict)
    once cast to the working float dtype (so 1e-300 is 0 in float32, 1e300 inf)."""
    if _is_traced(value):
        return value
    what = "positive" if strict else "non-negative"
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        raise ArgumentTypeError(f"`{name}` must be a {what} number; got {_describe(value)}.")
    _check_array_type(value, name)
    a = np.asarray(value)
    if a.dtype.kind not in "iuf" or a.size == 0:
        raise ArgumentTypeError(f"`{name}` must be a {what} number; got {_describe(value)}.")
    c = _cast(a)
    bad = ~np.isfinite(c) | ((c <= 0) if strict else (c < 0))
    if np.any(bad):
        i = np.flatnonzero(bad.ravel())[0]
        raw, cast = a.ravel()[i].item(), c.ravel()[i].item()
        if np.isfinite(raw) and raw != cast and (cast == 0 or not np.isfinite(cast)):
            raise ValueError(
                f"`{name}` must be {what} and finite; got {raw}, which is {cast} in "
                f"{c.dtype} (JAX's working precision; enable x64 for float64).")
        raise ValueError(f"`{name}` must be {what} and finite; got {raw}.")
    return value


def check_scalar(value, name: str, kind: str = "real"):
    """Check a real scalar argument and return it as a Python number of the working dtype.

    ``kind``: ``"real"`` (finite), ``"positive"`` (> 0), ``"nonneg"`` (>= 0), ``"unit"``
    (in the open interval (0, 1)), ``"prob"`` (in [0, 1]) or ``"quantile"`` (in [0, 1)).
    Python, NumPy and JAX real scalars and 0-d arrays are accepted; complex, boolean,
    string, ``None``, lists and arrays of other sizes raise :class:`ArgumentTypeError`. The value is cast to the
    working float dtype *before* its range is checked. Traced values are returned as is
    (their shape is still checked).
    """
    if _is_traced(value):
        if value.shape != ():
            raise ArgumentTypeError(f"`{name}` must be a real scalar; got an array of shape "
                                    f"{tuple(value.shape)}.")
        return value
    if value is None or isinstance(value, (bool, np.bool_, str, bytes, list, tuple, dict)):
        raise ArgumentTypeError(f"`{name}` must be a real number; got {_describe(value)}.")
    _check_array_type(value, name)
    a = np.asarray(value)
    if a.dtype.kind not in "iuf":
        raise ArgumentTypeError(f"`{name}` must be a real number; got {_describe(value)}.")
    if a.shape != ():
        raise ArgumentTypeError(f"`{name}` must be a real scalar; got an array of shape "
                                f"{a.shape}.")
    if kind in ("positive", "nonneg"):
        check_positive(a, name, strict=kind == "positive")
    c = _cast(a)
    x = c.item()
    if not np.isfinite(x):
        raw = a.item()
        how = f"; got {raw}" + (f", which is {x} in {c.dtype}" if np.isfinite(raw) else "")
        raise ValueError(f"`{name}` must be finite{how}.")
    if kind == "unit" and not 0 < x < 1:
        raise ValueError(f"`{name}` must be in (0, 1); got {a.item()}"
                         + (f", which is {x} in {c.dtype}" if x != a.item() else "") + ".")
    if kind == "prob" and not 0 <= x <= 1:
        raise ValueError(f"`{name}` must be in [0, 1]; got {a.item()}.")
    if kind == "quantile" and not 0 <= x < 1:
        raise ValueError(f"`{name}` must be in [0, 1); got {a.item()}"
                         + (f", which is {x} in {c.dtype}" if x != a.item() else "") + ".")
    if kind not in _SCALAR_KINDS:
        raise ValueError(f"unknown scalar kind {kind!r}")
    return x


def check_int(value, name: str, minimum: int = 1, maximum: int = MAX_SIZE) -> int:
    """Return ``value`` as a Python int, raising unless it is an integer in
    ``[minimum, maximum]`` (Python, NumPy or JAX integers and 0-d integer arrays; not
    bool, float, str or None, which raise :class:`ArgumentTypeError`)."""
    if _is_traced(value):
        raise ArgumentTypeError(f"`{name}` must be a concrete integer (it sets a shape or "
                                f"a loop length, so it cannot be traced); got a tracer.")
    if isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"`{name}` must be an integer >= {minimum}; got "
                                f"{_describe(value)}.")
    if isinstance(value, (jax.Array, np.ndarray)) and value.shape == () \
            and np.dtype(value.dtype).kind in "iu":
        value = int(value)
    if not isinstance(value, (numbers.Integral, np.integer)):
        raise ArgumentTypeError(f"`{name}` must be an integer >= {minimum}; got "
                                f"{_describe(value)}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {int(value)}.")
    if value > maximum:
        raise ValueError(f"`{name}` must be an integer <= {maximum}; got {int(value)}.")
    return int(value)


def check_size(shape, name: str):
    """Raise unless an array of ``shape`` has at most :data:`MAX_SIZE` elements (checked
    before allocating, so an absurd size is an error, not an out-of-memory abort)."""
    n = 1
    for d in shape:
        n *= int(d)
    if n > MAX_SIZE:
        raise ValueError(f"`{name}` asks for an array of shape {tuple(int(d) for d in shape)}"
                         f" ({n:.3g} elements); at most {MAX_SIZE} are supported.")


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
    """A single PRNG key of the default implementation (threefry), returned typed:
    ``jax.random.key(seed)`` as is, or a raw ``uint32[2]`` key (``jax.random.PRNGKey(seed)``)
    wrapped as a threefry key (same bits, so the same random numbers). Keys of other
    implementations (``rbg``, ``unsafe_rbg``), which the samplers do not support, raise
    :class:`ArgumentTypeError`. Traced keys are accepted."""
    if isinstance(key, (jax.Array, np.ndarray)) or _is_traced(key):
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            impl = str(jax.random.key_impl(key))
            if impl != "threefry2x32":
                raise ArgumentTypeError(
                    f"`{name}` must be a threefry PRNG key (jax.random.key(seed)); got a "
                    f"{impl!r} key, which the package's samplers do not support.")
            if key.shape != ():
                raise ValueError(f"`{name}` must be a single PRNG key; got an array of "
                                 f"{key.shape} keys.")
            return key
        if key.dtype == np.uint32 and key.shape == (2,):
            return jax.random.wrap_key_data(jnp.asarray(key), impl="threefry2x32")
    raise ArgumentTypeError(
        f"`{name}` must be a JAX PRNG key (jax.random.key(seed) or "
        f"jax.random.PRNGKey(seed)); got {_describe(key)}"
        + (f" of dtype {key.dtype}" if hasattr(key, "dtype") else "") + "."
    )




def check_bool(value, name: str) -> bool:
    """Return ``value`` as a bool; raise unless it is a Python, NumPy or 0-d boolean."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (jax.Array, np.ndarray)) and value.shape == () \
            and value.dtype == np.bool_ and not _is_traced(value):
        return bool(value)
    raise ArgumentTypeError(f"`{name}` must be True or False; got {_describe(value)}.")


def check_choice(value, name: str, options):
    """Return ``value`` unless it is not one of ``options`` (strings)."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"`{name}` must be one of {', '.join(map(repr, options))}; got "
                         f"{_describe(value)}.")
    return value


def check_arg(value, name: str, kind):
    """Check one argument by its kind (see :func:`validate`) and return it converted."""
    if isinstance(kind, tuple):  # choices
        return check_choice(value, name, kind)
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if optional and value is None:
        return None
    if kind in _SCALAR_KINDS:
        return check_scalar(value, name, kind)
    if kind == "size":
        return check_int(value, name, minimum=1)
    if kind == "count":
        return check_int(value, name, minimum=0)
    if kind == "key":
        return check_key(value, name)
    if kind == "bool":
        return check_bool(value, name)
    if kind == "array":
        _check_array_type(value, name)
        return value
    raise ValueError(f"unknown argument kind {kind!r}")


def validate(**kinds):
    """Decorator: check and convert the named arguments at the entry of a public function.

    Each keyword names an argument and its kind: ``"real"``, ``"positive"``,
    ``"nonneg"``, ``"unit"``, ``"prob"``, ``"quantile"`` (real scalars, see
    :func:`check_scalar`),
    ``"size"`` (integer >= 1, at most :data:`MAX_SIZE`), ``"count"`` (integer >= 0),
    ``"key"`` (a threefry PRNG key, returned typed), ``"bool"``, ``"array"`` (a real
    numeric array: its shape is the function's to check) or a tuple of allowed strings; a
    trailing ``"?"`` also accepts ``None``. The function receives the converted values.
    Shape and cross-argument checks stay in the function body.

    Examples
    --------
    >>> from coupling_tutorial._validation import validate
    >>> @validate(tau="positive", n="size")
    ... def f(n, tau):
    ...     return n * tau
    >>> f(2, tau=0.5)
    1.0
    >>> f(2, tau=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: `tau` must be positive and finite; got -1.0.
    """
    import functools
    import inspect

    def decorate(fn):
        sig = inspect.signature(fn)
        unknown = set(kinds) - set(sig.parameters)
        if unknown:
            raise TypeError(f"validate: {fn.__name__} has no argument(s) {sorted(unknown)}")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as err:
                raise TypeError(f"{fn.__name__}(): {err}") from None
            for name, kind in kinds.items():
                if name in bound.arguments:
                    bound.arguments[name] = check_arg(bound.arguments[name], name, kind)
                else:
                    default = sig.parameters[name].default
                    if default is not inspect.Parameter.empty:
                        bound.arguments[name] = check_arg(default, name, kind)
            return fn(*bound.args, **bound.kwargs)

        wrapper.__validated__ = dict(kinds)
        return wrapper

    return decorate
