"""Hostile inputs for every public callable: strategies, a guarded runner and a fuzzer.

Used by ``tests/test_hostile_inputs.py`` (Hypothesis, in CI) and runnable by hand::

    python tests/hostile.py --n 60                      # 60 cases per callable and precision
    python tests/hostile.py --n 60 --markdown out.md    # the table as Markdown too

Every public callable (found from ``coupling_tutorial.__all__``, the ``__all__`` of every
public subpackage and module, and the public methods of public classes) has an entry in
:data:`TABLE`: a :class:`Spec` (how to call it, a valid baseline of arguments and the
*kind* of each argument) or an :class:`Exempt` (why it takes no hostile input: result
types, exceptions). A case replaces one argument of the baseline by a hostile value from
the pool of its kind (:func:`hostile_values`); each value says whether it is ``valid``
(must be accepted), ``invalid`` (must be rejected) or ``either``.

Each case runs in a worker process (:class:`Worker`) under a per-call timeout, so a hang
or a crash of the process is an outcome, not a blocked CI job. The outcome classes:

``ok``
    a named rejection (``ValueError``/``TypeError`` whose message names the argument in
    backticks, or a documented error: ``RunawayError``, ``FixedPointError``), or a finite
    result of the working dtype.
``unrelated``
    any other exception, or a ``ValueError``/``TypeError`` that does not name the hostile
    argument.
``garbage``
    NaN/inf where a finite value exists, a float64 result in float32 mode, insane values
    (negative or overflowing counts), or invalid input accepted.
``hang``
    the call ran past the timeout, or the worker process died.
``valid-rejected``
    a valid input rejected (with any exception).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import pickle
import queue
import re
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ("ok", "unrelated", "garbage", "hang", "valid-rejected")
PRECISIONS = ("float32", "float64")


# --------------------------------------------------------------------------------------
# Recipes: picklable descriptions of values the worker builds (keys, JAX arrays, nets)
# --------------------------------------------------------------------------------------
def jnp_(x, dtype=None):
    """A JAX array (or 0-d JAX scalar) built in the worker."""
    return ("@jnp", np.asarray(x), dtype)


def key_(impl="threefry2x32", seed=1):
    return ("@key", impl, seed)


def rawkey_(seed=1):
    return ("@rawkey", seed)


def net_(**changes):
    return ("@net", changes)


def fn_(name):
    """A student function (for the self-checks) from :data:`STUDENT_FNS`."""
    return ("@fn", name)


def call_(name, *args):
    """The result of calling a package function (e.g. a ``brunel_parameters`` entry)."""
    return ("@call", name, args)


NET_BASE = dict(W0=np.array([[0.0, 0.5, -0.5], [0.3, 0.0, 0.0], [-0.4, 0.2, 0.0]]),
                alpha=1.0, beta=1.0, T=4, tau=2.0, dt=1.0, r=0.5, b=-2.0)


def _student_fns():
    import jax.numpy as jnp

    import coupling_tutorial as ct

    def returns(value):
        return lambda *a, **k: value

    def plus_complex(f):
        return lambda *a, **k: jnp.asarray(f(*a, **k)) + 0j

    return {
        "none": returns(None), "string": returns("abc"), "dict": returns({"a": 1}),
        "nan": returns(np.full((3, 3), np.nan)), "scalar": returns(1.0),
        "raises": lambda *a, **k: 1 / 0, "not-callable": 3,
        "coupling_features": ct.coupling_features,
        "coupling_features+0j": plus_complex(ct.coupling_features),
        "raised_cosine_log_basis+0j": plus_complex(ct.raised_cosine_log_basis),
        "empirical_covariance+0j": plus_complex(ct.empirical_covariance),
    }


def materialize(x):
    """Build the value a recipe describes (recursively through tuples, lists, dicts)."""
    import jax
    import jax.numpy as jnp

    import coupling_tutorial as ct

    if isinstance(x, tuple) and x and isinstance(x[0], str) and x[0].startswith("@"):
        tag = x[0]
        if tag == "@jnp":
            return jnp.asarray(x[1], dtype=x[2])
        if tag == "@key":
            return jax.random.key(x[2], impl=x[1])
        if tag == "@rawkey":
            return jax.random.PRNGKey(x[1])
        if tag == "@net":
            kw = dict(NET_BASE)
            kw.update({k: materialize(v) for k, v in x[1].items()})
            return ct.PoissonGLMNetwork(**kw)
        if tag == "@fn":
            return _student_fns()[x[1]]
        if tag == "@call":
            obj = ct
            for part in x[1].split("."):
                obj = getattr(obj, part)
            return obj(*x[2])
        if tag == "@link":
            return {"identity": IDENTITY}[x[1]]
        raise ValueError(f"unknown recipe {tag}")
    if isinstance(x, tuple):
        return tuple(materialize(v) for v in x)
    if isinstance(x, list):
        return [materialize(v) for v in x]
    if isinstance(x, dict):
        return {k: materialize(v) for k, v in x.items()}
    return x


def IDENTITY(x):  # a module-level function: one compiled loop per run
    return x


# --------------------------------------------------------------------------------------
# Hostile values by kind
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class H:
    """A hostile value: what it is, whether it is valid, and a label for the report."""
    value: object
    expect: str  # "valid", "invalid", "either"
    label: str


def _scalar_common(v):
    """Type variants of a valid scalar ``v`` (valid) and non-scalars (invalid)."""
    return [
        H(np.float32(v), "valid", "np.float32"), H(np.float64(v), "valid", "np.float64"),
        H(jnp_(v, "float32"), "valid", "jnp.float32"), H(np.asarray(v), "valid", "0-d array"),
        H(complex(v, 1.0), "invalid", "complex"), H(np.complex64(v), "invalid", "np.complex"),
        H(True, "invalid", "bool"), H("1.0", "invalid", "str"), H(None, "invalid", "None"),
        H([v], "invalid", "list"), H(np.array([v, v]), "invalid", "length-2 array"),
        H(jnp_([v, v]), "invalid", "length-2 jax array"),
        H(float("nan"), "invalid", "nan"), H(float("inf"), "invalid", "inf"),
        H(float("-inf"), "invalid", "-inf"),
    ]


def hostile_values(kind, base):
    """The pool of hostile values for an argument of ``kind`` whose valid value is ``base``."""
    if kind == "pos":
        return _scalar_common(base) + [
            H(0.0, "invalid", "zero"), H(-abs(base), "invalid", "negative"),
            H(1e-300, "either", "1e-300"), H(1e300, "either", "1e300"),
            H(abs(base) * 1e-6, "either", "tiny"), H(abs(base) * 1e6, "either", "huge")]
    if kind == "nonneg":
        return _scalar_common(base) + [
            H(0.0, "either", "zero"), H(-1.0, "invalid", "negative"),
            H(1e-300, "either", "1e-300"), H(1e300, "either", "1e300")]
    if kind == "real":
        return _scalar_common(base) + [
            H(0.0, "either", "zero"), H(-1e300, "either", "-1e300"), H(1e300, "either", "1e300"),
            H(-abs(base) - 1.0, "either", "negative")]
    if kind == "unit":  # open interval (0, 1)
        return _scalar_common(base) + [
            H(0.0, "invalid", "zero"), H(1.0, "invalid", "one"), H(1.5, "invalid", "1.5"),
            H(-0.1, "invalid", "-0.1"), H(1e-300, "either", "1e-300")]
    if kind == "prob":  # closed [0, 1]
        return _scalar_common(base) + [
            H(0.0, "either", "zero"), H(1.0, "either", "one"), H(1.5, "invalid", "1.5"),
            H(-0.1, "invalid", "-0.1")]
    if kind == "acplx":  # a broadcast complex scalar (an order of parabolic_cylinder_u)
        return [dataclasses.replace(h, expect="either") if "complex" in h.label else h
                for h in hostile_values("areal", base)]
    if kind in ("apos", "anonneg", "areal"):  # broadcast scalars: arrays are fine too
        return [dataclasses.replace(h, expect="either")
                if h.label in ("list", "length-2 array", "length-2 jax array") else h
                for h in hostile_values(kind[1:], base)]
    if kind.endswith("?"):  # optional: None is valid
        return [H(None, "valid", "None")] + [h for h in hostile_values(kind[:-1], base)
                                             if h.label != "None"]
    if kind in ("size", "count", "int0"):
        low = 0 if kind == "int0" else 1
        vals = [H(np.int64(base), "valid", "np.int64"), H(np.int32(base), "valid", "np.int32"),
                H(low - 1, "invalid", "below minimum"), H(2.5, "invalid", "2.5"),
                H(float(base), "either", "integral float"), H(True, "invalid", "bool"),
                H(str(base), "invalid", "str"), H(None, "invalid", "None"),
                H([base], "invalid", "list"), H(complex(base), "invalid", "complex"),
                H(float("nan"), "invalid", "nan")]
        if kind == "size":
            vals += [H(10**12, "invalid", "absurd size"), H(2**63, "invalid", "2**63")]
        return vals
    if kind == "key":
        return [H(key_(), "valid", "typed key"), H(rawkey_(), "valid", "raw key"),
                H(key_("rbg"), "invalid", "rbg key"), H(key_("unsafe_rbg"), "invalid", "unsafe_rbg"),
                H(1, "invalid", "int seed"), H(None, "invalid", "None"),
                H(np.zeros(3, np.uint32), "invalid", "uint32[3]"),
                H(np.array([0.0, 1.0]), "invalid", "float[2]"),
                H(("@call", "_split_keys"), "invalid", "2 keys")]
    if kind == "bool":
        return [H(False, "valid", "False"), H(np.bool_(True), "valid", "np.bool_"),
                H("yes", "either", "str"), H(None, "either", "None")]
    if kind.startswith("choice:"):
        return [H("no-such-option", "invalid", "unknown option"), H(3, "invalid", "int"),
                H(None, "either", "None")]
    if kind in ("arr", "counts", "mask", "posarr", "carr"):
        a = np.asarray(base)
        vals = [H(a.tolist(), "valid", "list"), H(jnp_(a), "valid", "jax array"),
                H(a.astype(object), "either", "object array"),
                H(None, "invalid", "None"), H("abc", "invalid", "str"),
                H(a[None], "invalid", "extra axis"),
                H(a[:0], "either", "empty")]
        if kind != "carr":
            vals += [H(a.astype(np.float32), "valid", "float32"),
                     H(a + 0j, "invalid", "complex"), H(a + 1j, "invalid", "complex")]
        fl = a.copy() if a.dtype.kind == "c" else a.astype(float)
        if fl.size:
            nan = fl.copy()
            nan.flat[0] = np.nan
            inf = fl.copy()
            inf.flat[-1] = np.inf
            vals += [H(nan, "invalid", "NaN entry"), H(inf, "invalid", "inf entry")]
        if kind == "counts" and fl.size:
            neg = fl.copy()
            neg.flat[0] = -1
            half = fl.copy()
            half.flat[0] = 0.5
            vals += [H(neg, "invalid", "negative count"), H(half, "invalid", "half count"),
                     H(a.astype(np.int32), "valid", "int32")]
        if kind == "mask" and fl.size:
            two = fl.copy()
            two.flat[0] = 2
            vals += [H(two, "invalid", "value 2"), H(a.astype(bool), "valid", "bool")]
        if kind == "posarr" and fl.size:
            neg = fl.copy()
            neg.flat[0] = -1.0
            vals += [H(neg, "invalid", "negative entry")]
        return vals
    if kind == "net":
        return [H(net_(b=float("nan")), "invalid", "net with NaN b"),
                H(("@call", "_net_replaced_nan"), "invalid", "replace(r=nan)"),
                H(None, "invalid", "None"), H("net", "invalid", "str"),
                H(net_(W0=np.zeros((3, 3))), "valid", "no edges")]
    if kind == "fn":
        return [H(fn_(n), "either", n) for n in
                ("none", "string", "dict", "nan", "scalar", "raises", "not-callable")]
    if kind == "link":
        return [H("exp", "valid", "'exp'"), H("softplus", "valid", "'softplus'"),
                H("nope", "invalid", "unknown name"), H(3, "invalid", "int"),
                H(None, "invalid", "None")]
    if kind == "answer":
        return [H(None, "either", "None"), H("abc", "either", "str"),
                H(float("nan"), "either", "nan"), H(1 + 2j, "either", "complex"),
                H([1.0, 2.0], "either", "list")]
    raise ValueError(f"unknown kind {kind!r}")


# --------------------------------------------------------------------------------------
# The table: one entry per public callable
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class Spec:
    """How to fuzz one public callable.

    ``base`` holds a valid value of every argument (numpy, Python or recipes); ``kinds``
    the kind of each argument to mutate (arguments not listed keep their base value);
    ``call`` names the callable (``"name"`` in ``coupling_tutorial``, ``"mod.name"``, or
    ``"@name"`` for a wrapper of this file, e.g. a method); ``scenarios`` are extra whole
    cases ``(label, kwargs, expect)``. ``finite`` says the result must be finite.
    """
    call: str
    base: dict
    kinds: dict
    scenarios: list = dataclasses.field(default_factory=list)
    finite: bool = True
    expect_bool: bool = False
    host_result: bool = False  # a documented host-side (numpy float64) summary
    either: tuple = ()  # case labels whose value is documented as accepted or refused


@dataclasses.dataclass
class Exempt:
    """A public callable that takes no hostile input of its own (and why)."""
    reason: str


def _brunel():
    return dict(J=np.array([[1e-4, -5e-4], [1e-4, -5e-4]]),
                K=np.array([[1000.0, 250.0], [1000.0, 250.0]]), tau_m=0.02, tau_r=0.002,
                V_th=0.02, V_r=0.01, J_ext=1e-4, K_ext=1000.0, nu_ext=20.0)


_B6 = np.array([[1.0, 0.0], [0.7, 0.3], [0.4, 0.6], [0.2, 0.8], [0.1, 0.5], [0.0, 0.2]])
_COUNTS = (np.arange(90) % 4 == 0).astype(float).reshape(30, 3)
_COUNTS[::7, 1] = 2
_X = np.sin(np.arange(180.0) * 0.37).reshape(60, 3)
_Y2 = (np.arange(120) % 3 == 0).astype(float).reshape(60, 2)
_H = np.zeros((4, 3, 3))
_H[0] = 0.1 * np.eye(3)[::-1]
_OMEGA = np.array([0.0, 10.0, 100.0])
_SIEG = dict(mu=0.015, sigma=0.003, tau_m=0.01, tau_r=0.002, V_th=0.02, V_r=0.01)
_SIEG_K = dict(mu="areal", sigma="apos", tau_m="apos", tau_r="anonneg", V_th="areal",
               V_r="areal")
_GLM_K = dict(X="arr", y="counts", regularizer_strength="nonneg",  # 0: no penalty
              tol="pos?", maxiter="count?")


# inference and scale baselines: counts of 2 neurons, a window-3 basis of 2 functions and
# its coupling design (neuron-major columns, features.py), rows with a full window only
_CT_B = np.array([[1.0, 0.2], [0.5, 0.6], [0.1, 1.0]])
_CT_COUNTS = np.random.default_rng(0).poisson(0.4, (300, 2)).astype(float)
_CT_X = np.stack([np.convolve(_CT_COUNTS[:, j], _CT_B[:, k])[2:299]
                  for j in range(2) for k in range(2)], axis=1)  # rows 3..299: lags 1..3
_CT_Y = _CT_COUNTS[3:]
_CT_MODEL = ("@call", "_ct_model")
_NAN_ROWS = ("X=NaN entry", "y=NaN entry")  # rows with NaN are dropped, as fit does


def _CT_MODEL_SCENARIOS(kw):
    return [("model=unfitted PopulationGLM", dict(kw, model=("@call", "PopulationGLM", ())),
             "invalid"),
            ("model=None", dict(kw, model=None), "invalid"),
            ("model=str", dict(kw, model="model"), "invalid")]


def _rec_base(**kw):
    d = dict(coupling_coef=-0.5 * np.ones((3, 3, 2)), feedforward_coef=None,
             intercepts=np.array([-1.0, -0.5, -2.0]), random_key=key_(),
             feedforward_input=None, coupling_basis_matrix=_B6,
             init_y=np.zeros((6, 3)), n_steps=20)
    d.update(kw)
    return d


TABLE = {
    # filters
    "difference_of_gammas": Spec("difference_of_gammas", dict(window_size=20),
                                 dict(window_size="size", upper_percentile="prob",
                                      inhib_a="pos", excit_a="pos", inhib_b="pos",
                                      excit_b="pos")),
    "exponential_filter": Spec("exponential_filter", dict(window_size=5, tau=2.0, dt=1.0),
                               dict(window_size="size", tau="pos", dt="pos"),
                               scenarios=[("tau underflows in float32",
                                           dict(window_size=3, tau=1e-300, dt=1.0), "either")]),
    "raised_cosine_log_basis": Spec(
        "raised_cosine_log_basis", dict(n_basis_funcs=3, window_size=20, width=2.0),
        dict(n_basis_funcs="size", window_size="size", width="pos", time_scaling="pos",
             enforce_decay_to_zero="bool"),
        scenarios=[("width 1.25 (2 x width not an integer)",
                    dict(n_basis_funcs=3, window_size=20, width=1.25), "invalid"),
                   ("width 1.5", dict(n_basis_funcs=3, window_size=20, width=1.5), "valid"),
                   ("n_basis_funcs 0 (empty basis)", dict(n_basis_funcs=0, window_size=20),
                    "invalid")]),
    "raised_cosine_linear_basis": Spec(
        "raised_cosine_linear_basis", dict(n_basis_funcs=3, window_size=20, width=2.0),
        dict(n_basis_funcs="size", window_size="size", width="pos")),
    "history_basis": Spec("history_basis", dict(window_size=5), dict(window_size="size")),
    "regress_filter": Spec("regress_filter",
                           dict(coupling_filters=np.exp(-np.arange(6.0))[:, None, None]
                                * np.ones((1, 2, 1)), basis=_B6),
                           dict(coupling_filters="arr", basis="arr")),
    "gamma_ppf": Spec("gamma_ppf", dict(q=0.5, a=1.0, b=1.0),
                      dict(q="prob", a="pos", b="pos")),
    # features
    "coupling_features": Spec("coupling_features", dict(counts=_COUNTS, basis=_B6),
                              dict(counts="counts", basis="arr"),
                              finite=False),  # its first window_size rows are NaN
    "split_coupling": Spec("split_coupling", dict(coef=np.ones((6, 3)), n_basis=2),
                           dict(coef="arr", n_basis="size")),
    "to_simulation_layout": Spec("to_simulation_layout", dict(split_coef=np.ones((3, 2, 3))),
                                 dict(split_coef="arr")),
    "coupling_filters": Spec("coupling_filters", dict(split_coef=np.ones((3, 2, 3)), basis=_B6),
                             dict(split_coef="arr", basis="arr")),
    "coupling_mask_to_feature_mask": Spec(
        "coupling_mask_to_feature_mask", dict(mask=1.0 - np.eye(3), n_basis=2),
        dict(mask="mask", n_basis="size")),
    # glm
    "PopulationGLM": Exempt("constructor stores settings; fuzzed through its methods"),
    "GLM": Exempt("constructor stores settings; fuzzed through its methods"),
    "PopulationGLM.fit": Spec("@glm_fit", dict(X=_X, y=_Y2, regularizer="Ridge",
                                               regularizer_strength=0.1), _GLM_K,
                              either=_NAN_ROWS),  # dropped rows (documented)
    "PopulationGLM.predict": Spec("@glm_predict", dict(X=_X), dict(X="arr"),
                                  either=("X=NaN entry",)),  # NaN rows: NaN predictions
    # score and objective drop the rows fit drops (NaN in X or y; a warning for y)
    "PopulationGLM.score": Spec("@glm_score", dict(X=_X, y=_Y2), dict(X="arr", y="counts"),
                                either=_NAN_ROWS),
    "PopulationGLM.objective": Spec("@glm_objective", dict(X=_X, y=_Y2),
                                    dict(X="arr", y="counts"), either=_NAN_ROWS),
    "GLM[fit]": Spec("@glm1_fit", dict(X=_X, y=_Y2[:, 0], regularizer="Ridge",
                                      regularizer_strength=0.1), _GLM_K,
                     either=_NAN_ROWS),  # NaN rows are dropped (documented)
    "ConvergenceWarning": Exempt("a warning class"),
    # simulate
    "RunawayError": Exempt("an exception class"),
    "simulate_recurrent": Spec(
        "simulate_recurrent", _rec_base(),
        dict(coupling_coef="arr", intercepts="arr", random_key="key",
             coupling_basis_matrix="arr", init_y="counts", n_steps="size", max_rate="pos?",
             sampler="choice:jax,inversion", algorithm="choice:event,dense"),
        scenarios=[
            ("max_rate=None, intercept 30", _rec_base(intercepts=np.full(3, 30.0),
                                                      max_rate=None), "either"),
            ("max_rate=None, intercept 100", _rec_base(intercepts=np.full(3, 100.0),
                                                       max_rate=None), "either"),
            ("identity link, negative drive",
             _rec_base(inverse_link_function=("@link", "identity")), "either"),
        ]),
    "simulate_recurrent[jit]": Spec(
        "@jit_simulate_recurrent", dict(intercepts=np.array([-1.0, -0.5, -2.0])),
        dict(intercepts="arr"),
        scenarios=[("runaway under jit", dict(intercepts=np.full(3, 30.0)), "invalid")]),
    "PoissonGLMNetwork": Spec("PoissonGLMNetwork", dict(NET_BASE),
                              dict(W0="arr", alpha="pos", beta="real", T="size", tau="pos",
                                   dt="pos", r="real", b="real")),
    "PoissonGLMNetwork.replace": Spec("@net_replace", dict(net=net_(), r=0.5, b=-2.0,
                                                         alpha=1.0, tau=2.0),
                                      dict(r="real", b="real", alpha="pos", tau="pos")),
    "PoissonGLMNetwork.dense_W0": Spec("@net_dense", dict(net=net_()), {}),  # a method:
    "PoissonGLMNetwork.kernel": Spec("@net_kernel", dict(net=net_()), {}),  # no argument
    "PoissonGLMNetwork.tree_flatten": Exempt("pytree protocol"),
    "PoissonGLMNetwork.tree_unflatten": Exempt("pytree protocol"),
    "network_input": Spec("network_input", dict(net=net_(), history=np.zeros((4, 3))),
                          dict(net="net", history="counts", stimulus="real?")),
    "network_rate": Spec("network_rate", dict(net=net_(), history=np.zeros((4, 3))),
                         dict(net="net", history="counts", stimulus="real?")),
    "simulate_network": Spec(
        "simulate_network", dict(net=net_(), key=key_(), n_steps=20),
        dict(net="net", key="key", n_steps="size", burn_in="int0", max_rate="pos?",
             sampler="choice:inversion,jax"),
        scenarios=[("max_rate=None, b=40", dict(net=net_(b=40.0), key=key_(), n_steps=20,
                                                max_rate=None), "either")]),
    "simulate_network[jit]": Spec(
        "@jit_simulate_network", dict(net=net_()), dict(net="net"),
        scenarios=[("runaway under jit", dict(net=net_(b=40.0)), "invalid")]),
    "network_as_recurrent": Spec("network_as_recurrent", dict(net=net_()), dict(net="net")),
    "normal_network": Spec("normal_network", dict(key=key_(), n_neurons=6, density=0.5),
                           dict(key="key", n_neurons="size", mean="real", std="nonneg",
                                density="prob", excitatory_fraction="prob", glorot="bool",
                                dale="bool")),
    "uniform_network": Spec("uniform_network", dict(key=key_(), n_neurons=6, density=0.5),
                            dict(key="key", n_neurons="size", low="real", high="real",
                                 density="prob")),
    "mexican_hat_network": Spec("mexican_hat_network", dict(n_neurons=6),
                                dict(n_neurons="size", a="real", sigma_1="pos",
                                     sigma_2="pos")),
    "mean_field_rate": Spec("mean_field_rate", dict(net=net_(), n_iter=50),
                            dict(net="net", n_iter="count", damping="prob",
                                 fluctuations="bool")),
    "tune_network": Spec("tune_network", dict(net=net_(), target_rate=0.1, params=("b",),
                                              n_iter=10),
                         dict(net="net", target_rate="pos", n_iter="count",
                              learning_rate="pos", method="choice:mean_field,simulation")),
    # meanfield
    "erfcx": Spec("erfcx", dict(x=np.array([-1.0, 0.5, 3.0, 30.0])), dict(x="arr"),
                  scenarios=[("erfcx(inf)", dict(x=np.inf), "either")],
                  either=("x=extra axis", "x=inf entry")),  # elementwise, defined at inf
    "dawson": Spec("dawson", dict(x=np.array([-1.0, 0.5, 3.0, 30.0])), dict(x="arr"),
                   either=("x=extra axis", "x=inf entry")),
    "mean_input": Spec("mean_input", dict(nu=np.array([10.0, 10.0]),
                                          **{k: v for k, v in _brunel().items()
                                             if k not in ("tau_r", "V_th", "V_r")}),
                       dict(nu="posarr", J="arr", K="posarr", tau_m="apos", J_ext="areal",
                            K_ext="anonneg", nu_ext="anonneg")),
    "std_input": Spec("std_input", dict(nu=np.array([10.0, 10.0]),
                                        **{k: v for k, v in _brunel().items()
                                           if k not in ("tau_r", "V_th", "V_r")}),
                      dict(nu="posarr", J="arr", K="posarr", tau_m="apos", J_ext="areal",
                           K_ext="anonneg", nu_ext="anonneg")),
    "siegert_rate": Spec("siegert_rate", dict(_SIEG), dict(_SIEG_K)),
    "firing_rate_exp_synapses": Spec("firing_rate_exp_synapses",
                                     dict(_SIEG, tau_s=0.0005, V_r=0.0),
                                     dict(_SIEG_K, tau_s="anonneg")),
    "threshold_shift": Spec("threshold_shift", dict(sigma=0.005, tau_m=0.01, tau_s=0.0005),
                            dict(sigma="anonneg", tau_m="apos", tau_s="anonneg")),
    "self_consistent_rates": Spec("self_consistent_rates", _brunel(),
                                  dict(J="arr", K="posarr", tau_m="apos", tau_r="anonneg",
                                       V_th="areal", V_r="areal", J_ext="areal",
                                       K_ext="anonneg",  # 0: no external drive, rates 0
                                       nu_ext="anonneg", tol="pos?",
                                       method="choice:newton,iteration"),
                                  scenarios=[("Brunel defaults", _brunel(), "valid")]),
    "FixedPointResult": Exempt("a result type"),
    "FixedPointError": Exempt("an exception class"),
    "parabolic_cylinder_u": Spec("parabolic_cylinder_u", dict(a=-0.5, x=1.3),
                                 dict(a="acplx", x="areal")),
    "transfer_function": Spec("transfer_function",
                              dict(mu=0.012, sigma=0.004, tau_m=0.01, tau_s=0.0005,
                                   tau_r=0.002, V_th=0.015, V_r=0.0, omegas=_OMEGA),
                              dict(mu="areal", sigma="apos", tau_m="apos", tau_s="anonneg?",
                                   tau_r="anonneg", V_th="areal", V_r="areal", omegas="arr",
                                   synaptic_filter="bool")),
    "fit_transfer_function": Spec(
        "fit_transfer_function",
        dict(H=(300.0 / (1 + 1j * np.linspace(6.0, 600.0, 8) * 0.005))[:, None],
             omegas=np.linspace(6.0, 600.0, 8)),
        dict(H="carr", omegas="posarr")),
    "brunel_parameters": Spec("brunel_parameters", dict(g=5.0, eta=2.0),
                              dict(g="nonneg", eta="nonneg")),
    "microcircuit_parameters": Spec("microcircuit_parameters", {}, {}),
    # lif
    "LIFResult": Exempt("a result type"),
    "LIFNeuronResult": Exempt("a result type"),
    "Connectivity": Exempt("a result type"),
    "fixed_indegree_connectivity": Spec(
        "fixed_indegree_connectivity", dict(key=key_(), n_exc=8, n_inh=2, c_exc=2, c_inh=1),
        dict(key="key", n_exc="size", n_inh="size", c_exc="int0", c_inh="int0")),
    "simulate_brunel": Spec(
        "simulate_brunel", dict(key=key_(), g=5.0, eta=2.0, n_exc=40, n_inh=10, c_exc=4,
                                c_inh=1, t_sim=0.02, t_warmup=0.005, J=1e-4),
        dict(key="key", g="nonneg", eta="nonneg", n_exc="size", n_inh="size", J="real",
             tau_m="pos", dt="pos", t_sim="pos"),
        host_result=True),  # LIFResult: numpy summaries (documented)
    "simulate_lif_neuron": Spec(
        "simulate_lif_neuron", dict(key=key_(), mu=0.025, sigma=0.005, n_neurons=4,
                                    t_sim=0.02, t_warmup=0.005),
        dict(key="key", mu="areal", sigma="anonneg", tau_m="pos", dt="pos", n_neurons="size",
             t_sim="pos")),
    # linear_response
    "StationaryRates": Exempt("a result type"),
    "Linearization": Exempt("a result type"),
    "network_filters": Spec("network_filters", dict(net=net_()), dict(net="net")),
    "stationary_rates": Spec("stationary_rates",
                             dict(filters=_H, baseline_rates=np.array([0.1, 0.2, 0.3])),
                             dict(filters="arr", baseline_rates="posarr", tol="pos?",
                                  max_iter="count")),
    "linear_kernel": Spec("linear_kernel", dict(filters=_H, rates=np.array([0.1, 0.2, 0.3])),
                          dict(filters="arr", rates="posarr")),
    "linearize": Spec("linearize", dict(filters=_H, baseline_rates=np.array([0.1, 0.2, 0.3])),
                      dict(filters="arr", baseline_rates="posarr", tol="pos?",
                           max_iter="count")),
    "linearize_network": Spec("linearize_network", dict(net=net_()),
                              dict(net="net", tol="pos?", max_iter="count")),
    "spectral_radius": Spec("spectral_radius", dict(kernel=0.1 * _H), dict(kernel="arr")),
    "cross_spectrum": Spec("cross_spectrum", dict(kernel=0.1 * _H,
                                                  rates=np.array([0.1, 0.2, 0.3]),
                                                  omegas=_OMEGA / 100),
                           dict(kernel="arr", rates="posarr", omegas="arr")),
    "predicted_covariance": Spec("predicted_covariance",
                                 dict(kernel=0.1 * _H, rates=np.array([0.1, 0.2, 0.3]),
                                      max_lag=2),
                                 dict(kernel="arr", rates="posarr", max_lag="int0",
                                      method="choice:exact,fft")),
    "empirical_covariance": Spec("empirical_covariance", dict(counts=_COUNTS, max_lag=2),
                                 dict(counts="counts", max_lag="int0", unbiased="bool",
                                      method="choice:auto,direct,fft")),
    "correlation_coefficients": Spec(
        "correlation_coefficients",
        dict(covariance=np.array([[[4.0, 1.0, 0.0], [1.0, 1.0, 0.2], [0.0, 0.2, 2.0]]])),
        dict(covariance="arr")),
    # links, plotting
    "links.Link": Exempt("a NamedTuple of functions"),
    "links.as_inverse_link": Spec("links.as_inverse_link", dict(link="exp"),
                                  dict(link="link")),
    "plotting.show_widgets": Spec("plotting.show_widgets", {}, {}, finite=False),
    "plotting.use_book_style": Spec("plotting.use_book_style", {}, {}, finite=False),
    # inference (issue 16): small baselines (297 rows, 2 neurons, window 3, 2 basis functions)
    "CouplingTests": Exempt("a result type"),
    "CrossValidation": Exempt("a result type"),
    "FilterBand": Exempt("a result type"),
    "Fold": Exempt("a result type"),
    "Stability": Exempt("a result type"),
    "StandardErrors": Exempt("a result type"),
    "TimeRescaling": Exempt("a result type"),
    "benjamini_hochberg": Spec("benjamini_hochberg",
                               dict(p_values=np.array([[0.5, 0.001], [0.002, 0.9]]), q=0.05,
                                    mask=1.0 - np.eye(2)),
                               dict(p_values="arr", q="unit", mask="mask?"),
                               either=("p_values=extra axis", "p_values=empty")),
    "time_folds": Spec("time_folds", dict(n_samples=10, n_folds=3, gap=1),
                       dict(n_samples="size", n_folds="size", gap="int0")),
    "time_rescaling_test": Spec("time_rescaling_test",
                                dict(y=_CT_Y, rate=np.full(_CT_Y.shape, 0.3), key=key_()),
                                dict(y="counts", rate="posarr", key="key")),
    "PopulationGLM.standard_errors": Spec("@glm_standard_errors", dict(X=_CT_X, y=_CT_Y),
                                          dict(X="arr", y="counts"), either=_NAN_ROWS),
    "coupling_tests": Spec("coupling_tests", dict(model=_CT_MODEL, X=_CT_X, y=_CT_Y,
                                                  n_basis=2),
                           dict(X="arr", y="counts", n_basis="size",
                                test="choice:wald,lr"),
                           scenarios=_CT_MODEL_SCENARIOS(dict(X=_CT_X, y=_CT_Y, n_basis=2)),
                           either=_NAN_ROWS),
    "filter_confidence_band": Spec(
        "filter_confidence_band", dict(model=_CT_MODEL, X=_CT_X, y=_CT_Y, basis=_CT_B),
        dict(X="arr", y="counts", basis="arr", level="unit"),
        scenarios=_CT_MODEL_SCENARIOS(dict(X=_CT_X, y=_CT_Y, basis=_CT_B)), either=_NAN_ROWS),
    "predict_stability": Spec(
        "predict_stability", dict(model=_CT_MODEL, basis=_CT_B),
        dict(basis="arr", max_radius="pos", max_branching="pos", horizon="size",
             escape_offset="real"),
        scenarios=_CT_MODEL_SCENARIOS(dict(basis=_CT_B))),
    "cross_validate": Spec(
        "cross_validate", dict(X=_CT_X, y=_CT_Y, strengths=np.array([0.1, 1.0]), n_folds=2,
                               gap=3),
        dict(X="arr", y="counts", strengths="posarr", n_folds="size", gap="int0",
             regularizer="choice:Ridge,Lasso"),
        either=_NAN_ROWS),
    # scale (issue 15)
    "CouplingDesign": Spec("@design_build",
                           dict(counts=_CT_COUNTS, basis=_CT_B, chunk_size=64),
                           dict(counts="counts", basis="arr", chunk_size="size?")),
    "CouplingDesign.materialize": Spec("@design_materialize", {}, {}),  # no argument
    "CouplingDesign.targets": Spec("@design_targets", dict(y=_CT_COUNTS), dict(y="counts")),
    "time_mesh": Spec("time_mesh", {}, {}, scenarios=[
        ("devices=[] (none)", dict(devices=[]), "invalid"),
        ("devices=None", dict(devices=None), "valid"),
        ("axis_name='t'", dict(axis_name="t"), "valid")]),
    "init_distributed": Exempt("starts the multi-process runtime (once per process, before "
                               "any other JAX call); tested by tests/test_scale.py's "
                               "two-process test"),
    # progress displays (issue 15): the stream of TextProgress is any file-like object
    "FitProgress": Exempt("a result type (the record a display is called with)"),
    "SimulationProgress": Exempt("a result type (the record a display is called with)"),
    "TextProgress": Spec("TextProgress", dict(min_interval=0.1),
                         dict(min_interval="nonneg")),
    "NotebookProgress": Spec("NotebookProgress", dict(min_interval=0.1),
                             dict(min_interval="nonneg")),
    "checks.check_answer": Spec("checks.check_answer",
                                dict(label=("@call", "_first_answer_label"), answer=1.0,
                                     verbose=False),
                                dict(answer="answer"), expect_bool=True),
}

for _name, _correct in (("check_coupling_features", "coupling_features"),
                        ("check_raised_cosine_log_basis", "raised_cosine_log_basis"),
                        ("check_poisson_loglik", None), ("check_newton_fit", None),
                        ("check_simulate_recurrent", None), ("check_siegert_mean_driven", None),
                        ("check_relaxation", None),
                        ("check_empirical_covariance", "empirical_covariance"),
                        ("check_benjamini_hochberg", None),
                        ("check_wald_test", None), ("check_chunked_gradient", None)):
    _sc = [] if _correct is None else [
        (f"student returns complex {_correct}",
         dict(fn=fn_(f"{_correct}+0j"), verbose=False), "false")]
    TABLE[f"checks.{_name}"] = Spec(f"checks.{_name}", dict(fn=fn_("none"), verbose=False),
                                    dict(fn="fn"), scenarios=_sc, expect_bool=True)


# --------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------
def public_callables() -> dict:
    """Every public callable by its table name: ``name`` for top-level names,
    ``module.name`` for names only in a public submodule's ``__all__``, and
    ``Class.method`` for public methods defined in the package."""
    import pkgutil

    import coupling_tutorial as ct

    out = {n: getattr(ct, n) for n in ct.__all__ if callable(getattr(ct, n))}
    for info in pkgutil.iter_modules(ct.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"coupling_tutorial.{info.name}")
        for n in getattr(mod, "__all__", ()):
            obj = getattr(mod, n)
            if n not in out and callable(obj):
                out[f"{info.name}.{n}"] = obj
    for name, obj in list(out.items()):
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                fn = member.__func__ if isinstance(member, (classmethod, staticmethod)) \
                    else member
                if (not attr.startswith("_") and inspect.isfunction(fn)
                        and fn.__module__.startswith("coupling_tutorial")):
                    out[f"{name}.{attr}"] = member
    return out


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------
def cases(name):
    """Every case of a table entry as ``(label, arg, kwargs, expect)`` (finite list)."""
    spec = TABLE[name]
    out = [("baseline", None, dict(spec.base), "valid")]
    for label, kwargs, expect in spec.scenarios:
        out.append((label, None, dict(kwargs), expect))
    for arg, kind in spec.kinds.items():
        base = spec.base.get(arg, _default(name, arg))
        for h in hostile_values(kind, base):
            if "[jit]" in name and not (isinstance(h.value, np.ndarray)
                                        and h.value.dtype.kind == "f"):
                continue  # under jit only values that can be traced reach the package
            kw = dict(spec.base)
            kw[arg] = h.value
            label = f"{arg}={h.label}"
            out.append((label, arg, kw, "either" if label in spec.either else h.expect))
    return out


_FLOAT_KINDS = {"pos", "nonneg", "real", "unit", "prob", "pos?", "real?", "apos", "anonneg",
                "areal"}


def _float_expect(kind, x):
    """Whether a generated float is a valid value of ``kind`` (``either`` when in range:
    an extreme value may be rejected, as underflowing or overflowing the precision)."""
    if not np.isfinite(x):
        return "invalid"
    kind = kind.rstrip("?")
    kind = kind[1:] if kind in ("apos", "anonneg", "areal") else kind
    inside = {"pos": x > 0, "nonneg": x >= 0, "real": True, "unit": 0 < x < 1,
              "prob": 0 <= x <= 1}[kind]
    return "either" if inside else "invalid"


def strategy(name):
    """The Hypothesis strategy of one table entry's cases: the curated hostile values of
    :func:`cases`, and floats drawn by Hypothesis for every real-scalar argument."""
    from hypothesis import strategies as st

    spec = TABLE[name]
    curated = st.sampled_from(cases(name))
    float_args = sorted(a for a, k in spec.kinds.items() if k in _FLOAT_KINDS)
    if not float_args:
        return curated

    @st.composite
    def drawn(draw):
        arg = draw(st.sampled_from(float_args))
        x = draw(st.floats(allow_nan=True, allow_infinity=True)
                 | st.floats(-1e3, 1e3) | st.floats(1e-320, 1e-30))
        kw = dict(spec.base)
        kw[arg] = x
        return (f"{arg}={x!r}", arg, kw, _float_expect(spec.kinds[arg], x))

    return st.one_of(curated, drawn())


def _default(name, arg):
    """The default of an argument not in the baseline (from the signature)."""
    import coupling_tutorial as ct

    spec = TABLE[name]
    fn = _resolve(spec.call, ct) if not spec.call.startswith("@") else None
    if fn is not None:
        p = inspect.signature(fn).parameters.get(arg)
        if p is not None and p.default is not inspect.Parameter.empty and p.default is not None:
            return p.default
    return {"pos": 1.0, "nonneg": 1.0, "real": 0.5, "unit": 0.5, "prob": 0.5, "size": 3,
            "count": 50, "int0": 1, "bool": True}.get(spec.kinds[arg], 1.0)


def _resolve(call, ct):
    obj = ct
    for part in call.split("."):
        obj = getattr(obj, part)
    return obj


# --------------------------------------------------------------------------------------
# Running one case (in the worker) and classifying its outcome
# --------------------------------------------------------------------------------------
def _glm_fitted(X, y, **kw):
    import coupling_tutorial as ct
    return ct.PopulationGLM(**kw).fit(X, y)


def _glm_reference():
    """The fitted model whose predict/score/objective are fuzzed (ridge: a unique optimum)."""
    return _glm_fitted(_X, _Y2, regularizer="Ridge", regularizer_strength=0.1)


def _glm_predict_finite_rows(X):
    """predict(X) on the rows of X without NaN (a NaN row's prediction is NaN, as
    documented: a non-NaN there is returned as NaN, so the fuzzer reports it)."""
    pred = np.asarray(_glm_reference().predict(X))
    nan_rows = np.isnan(np.asarray(X, dtype=float)).any(axis=1)
    if not np.isnan(pred[nan_rows]).all():
        return np.full(1, np.nan)
    return pred[~nan_rows]


WRAPPERS = {
    "glm_fit": lambda X, y, **kw: (lambda m: (m.coef_, m.intercept_))(_glm_fitted(X, y, **kw)),
    "glm1_fit": lambda X, y, **kw: (lambda m: (m.coef_, m.intercept_))(
        __import__("coupling_tutorial").GLM(**kw).fit(X, y)),
    "glm_predict": lambda X: _glm_predict_finite_rows(X),
    "glm_score": lambda X, y: _glm_reference().score(X, y),
    "glm_objective": lambda X, y: _glm_reference().objective(X, y),
    "net_replace": lambda net, **kw: (lambda n: __import__("coupling_tutorial").network_rate(
        n, np.zeros((n.T, n.n_neurons))))(net.replace(**kw)),
    "net_dense": lambda net: net.dense_W0(),
    "net_kernel": lambda net: net.kernel(),
}


def _ct_model():
    """The fitted model of the inference entries (ridge: a unique optimum), one per
    precision of the worker."""
    import jax
    key = ("ct_model", bool(jax.config.jax_enable_x64))
    if key not in _JITTED:
        _JITTED[key] = _glm_fitted(_CT_X, _CT_Y, regularizer="Ridge",
                                   regularizer_strength=0.1)
    return _JITTED[key]


def _design(counts=_CT_COUNTS, basis=_CT_B, **kw):
    import coupling_tutorial as ct
    return ct.CouplingDesign(counts, basis, **kw)


WRAPPERS.update({
    "glm_standard_errors": lambda X, y: _ct_model().standard_errors(X, y),
    "design_build": lambda **kw: _design(**kw).materialize(),
    "design_materialize": lambda: _design(chunk_size=64).materialize(),
    "design_targets": lambda y: _design(chunk_size=64).targets(y),
})


_JITTED = {}


def _jit_simulate_recurrent(intercepts):
    import jax
    import jax.numpy as jnp

    import coupling_tutorial as ct
    b = jnp.asarray(intercepts)
    if "rec" not in _JITTED:
        _JITTED["rec"] = jax.jit(lambda b: ct.simulate_recurrent(
            -0.5 * jnp.ones((3, 3, 2)), None, b, jax.random.key(1), None, jnp.asarray(_B6),
            jnp.zeros((6, 3)), n_steps=20))
    return jax.block_until_ready(_JITTED["rec"](b))


def _jit_simulate_network(net):
    import jax

    import coupling_tutorial as ct
    if "net" not in _JITTED:
        _JITTED["net"] = jax.jit(lambda n: ct.simulate_network(n, jax.random.key(1), 20,
                                                                return_rates=True))
    return jax.block_until_ready(_JITTED["net"](net))


WRAPPERS["jit_simulate_recurrent"] = _jit_simulate_recurrent
WRAPPERS["jit_simulate_network"] = _jit_simulate_network
_AUX = {"_split_keys": lambda: __import__("jax").random.split(
            __import__("jax").random.key(0)),
        "_net_replaced_nan": lambda: materialize(net_()).replace(r=float("nan")),
        "_ct_model": lambda: _ct_model(),
        "_first_answer_label": lambda: next(iter(__import__("coupling_tutorial").checks.ANSWERS))}


def _arrays(result, out):
    """Collect the arrays and numbers of a result (tuples, NamedTuples, dicts, objects)."""
    import jax
    if isinstance(result, (bool, np.bool_)) or result is None or isinstance(result, str):
        return out
    if isinstance(result, (jax.Array, np.ndarray, np.generic, float, int, complex)):
        out.append(result)
    elif isinstance(result, dict):
        for v in result.values():
            _arrays(v, out)
    elif isinstance(result, (tuple, list)):
        for v in result:
            _arrays(v, out)
    return out


#: Names an error about an argument may give instead of the argument's own: a network's
#: fields are checked when it is built (the case's network never reaches the call).
ALIASES = {"net": set(NET_BASE) | {"weights"}}


def classify(spec, arg, expect, outcome):
    """The outcome class of one case: ``(class, detail)``."""
    kind, payload = outcome
    if kind == "hang":
        return "valid-rejected" if False else "hang", payload
    if kind == "raised":
        etype, msg, base = payload if len(payload) == 3 else (*payload, payload[0])
        documented = etype in ("RunawayError", "FixedPointError")
        if expect == "valid":
            return "valid-rejected", f"{etype}: {msg}"[:200]
        if etype in ("JaxRuntimeError", "XlaRuntimeError") and \
                msg.startswith("RunawayError:") and "jit" in spec.call:
            return "ok", ""  # the RunawayError of a jitted simulation, re-raised by JAX
        if documented:
            return "ok", ""
        if base in ("ValueError", "TypeError"):
            names = set(re.findall(r"`([^`]+)`", msg))
            want = arg if arg is not None else None
            if want is None and names:
                return "ok", ""
            ok_names = {want} | ALIASES.get(want, set())
            if want is not None and any(n in ok_names or n.startswith(want + "[")
                                        or n.startswith(want + ".") for n in names):
                return "ok", ""
            return "unrelated", f"{etype} not naming `{want}`: {msg}"[:200]
        return "unrelated", f"{etype}: {msg}"[:200]
    # returned
    problems = payload
    if expect == "false":
        return ("ok", "") if problems == "bool:False" else ("garbage", f"returned {problems}")
    if problems and not problems.startswith("bool:"):
        return "garbage", problems
    if expect == "invalid":
        return "garbage", "invalid input accepted"
    return "ok", ""


def inspect_result(spec, result, precision):
    """'' when the result is finite, of the working dtype and sane; else what is wrong."""
    if spec.expect_bool:
        if isinstance(result, bool):
            return f"bool:{result}"
        return f"not a bool: {type(result).__name__}"
    for a in _arrays(result, []):
        arr = np.asarray(a)
        if arr.dtype.kind in "fc":
            if precision == "float32" and arr.dtype in (np.float64, np.complex128) and \
                    not isinstance(a, (float, complex)) and not spec.host_result:
                return f"dtype {arr.dtype} in float32 mode"
            if spec.finite and not np.all(np.isfinite(arr)):
                return "NaN/inf in result"
        elif arr.dtype.kind in "iu" and arr.size and arr.dtype != np.uint32:
            if arr.min() < 0 or arr.max() >= 2**30:
                return f"insane integer result (min {arr.min()}, max {arr.max()})"
    return ""


def run_one(name, precision, kwargs):
    """Run one case in this process; returns ``(kind, payload)`` (no classification)."""
    import warnings

    import jax

    import coupling_tutorial as ct

    jax.config.update("jax_enable_x64", precision == "float64")
    spec = TABLE[name]
    try:
        kw = {k: (_AUX[v[1]]() if isinstance(v, tuple) and v and v[0] == "@call"
                  and v[1] in _AUX else materialize(v)) for k, v in kwargs.items()}
        fn = WRAPPERS[spec.call[1:]] if spec.call.startswith("@") else _resolve(spec.call, ct)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(**kw)
            result = jax.block_until_ready(result) if not isinstance(result, bool) else result
            return ("returned", inspect_result(spec, result, precision))
    except BaseException as err:  # noqa: BLE001 - every exception is an outcome
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        named = "ValueError" if isinstance(err, (ValueError, TypeError)) else type(err).__name__
        msg = str(err)
        if "RunawayError:" in msg:  # a RunawayError re-raised by JAX (under jit)
            msg = msg[msg.index("RunawayError:"):]
        msg = msg if len(msg) <= 600 else msg[:300] + " [...] " + msg[-300:]
        return ("raised", (type(err).__name__, msg, named))


# --------------------------------------------------------------------------------------
# The worker process: one long-lived process, per-call timeout, restarted on hang/crash
# --------------------------------------------------------------------------------------
def _send(stream, obj):
    data = pickle.dumps(obj)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _recv(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (n,) = struct.unpack("<Q", head)
    return pickle.loads(stream.read(n))


def _worker_main():
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the package's prints (self-checks) must not reach the protocol
    sys.stdout = open(os.devnull, "w")
    while True:
        try:
            req = _recv(proto_in)
        except EOFError:
            return
        _send(proto_out, run_one(*req))


class Worker:
    """Runs cases in a child process; a call past ``timeout`` s or a dead child is a hang."""

    def __init__(self, timeout=60.0):
        self.timeout = timeout
        self.proc = None

    def _start(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
            JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.replies = queue.Queue()

        def reader(stream, q):
            while True:
                try:
                    q.put(_recv(stream))
                except Exception:  # noqa: BLE001 - EOF or a broken pipe ends the reader
                    q.put(None)
                    return

        threading.Thread(target=reader, args=(self.proc.stdout, self.replies),
                         daemon=True).start()

    def run(self, name, precision, kwargs):
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            _send(self.proc.stdin, (name, precision, kwargs))
            reply = self.replies.get(timeout=self.timeout)
        except queue.Empty:
            self.close()
            return ("hang", f"no result within {self.timeout:g} s")
        except (BrokenPipeError, OSError):
            reply = None
        if reply is None:
            code = self.proc.poll()
            self.close()
            return ("hang", f"worker died (exit code {code})")
        return reply

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None


def module_of(name):
    import coupling_tutorial as ct
    if "[" in name:
        name = name.split("[")[0]
    head = name.split(".")[0]
    if head in ("checks", "links", "plotting"):
        return head
    obj = getattr(ct, head)
    mod = obj.__module__.split(".")
    return mod[1] if len(mod) > 1 else mod[0]


# --------------------------------------------------------------------------------------
# The fuzzer (by hand): every case of every entry (or N sampled), both precisions
# --------------------------------------------------------------------------------------
def main(argv=None):
    import argparse
    import random

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=0,
                   help="cases per callable and precision (0: all of them)")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--only", default="", help="comma-separated table names")
    p.add_argument("--markdown", default="", help="also write the table and failures here")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    names = [n for n in TABLE if isinstance(TABLE[n], Spec)]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    counts, failures = {}, []
    worker = Worker(args.timeout)
    t0 = time.time()
    try:
        for name in names:
            all_cases = cases(name)
            rng = random.Random(f"{args.seed}:{name}")
            chosen = all_cases if not args.n or args.n >= len(all_cases) else \
                [all_cases[0]] + rng.sample(all_cases[1:], args.n - 1)
            for precision in PRECISIONS:
                for label, arg, kwargs, expect in chosen:
                    outcome = worker.run(name, precision, kwargs)
                    cls, detail = classify(TABLE[name], arg, expect, outcome)
                    row = counts.setdefault(module_of(name), dict.fromkeys(CLASSES, 0))
                    row[cls] += 1
                    if cls != "ok":
                        failures.append((cls, name, precision, label, detail))
            print(f"{name}: done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    finally:
        worker.close()
    lines = ["| module | cases | " + " | ".join(CLASSES[1:]) + " |",
             "|---|---:|" + "---:|" * (len(CLASSES) - 1)]
    total = dict.fromkeys(CLASSES, 0)
    for mod, row in sorted(counts.items()):
        lines.append(f"| {mod} | {sum(row.values())} | "
                     + " | ".join(str(row[c]) for c in CLASSES[1:]) + " |")
        for c in CLASSES:
            total[c] += row[c]
    lines.append(f"| **all** | {sum(total.values())} | "
                 + " | ".join(str(total[c]) for c in CLASSES[1:]) + " |")
    table = "\n".join(lines)
    print(table)
    print(f"\n{len(failures)} failing cases in {time.time() - t0:.0f} s")
    if args.markdown:
        body = [table, "", "## Failing cases", "",
                "| class | callable | precision | case | detail |", "|---|---|---|---|---|"]
        for cls, name, precision, label, detail in failures:
            detail = detail.replace("|", "\\|").replace("\n", " ")
            body.append(f"| {cls} | {name} | {precision} | {label} | {detail} |")
        Path(args.markdown).write_text("\n".join(body) + "\n")
    return counts


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker_main()
    else:
        main()
