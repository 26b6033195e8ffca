"""Answer checks for the conceptual exercises: a number or a choice, with hints.

The implement-it-yourself exercises have a ``check_*`` each; the exercises whose answer
is a number (a time constant, a rate, a count) or a choice ("log", "linear") are checked
by :func:`check_answer`, keyed by the exercise's label in the book. A wrong answer gets
a specific hint (the likely mistake, or whether it is too small or too large), never the
answer itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class NumberAnswer:
    """A numeric answer: ``value`` within ``rtol``, with hints for likely mistakes.

    ``mistakes`` pairs a wrong value a reader is likely to give (within ``rtol``) with
    the hint for it; ``too_small`` / ``too_large`` are the hints for any other answer.
    """

    value: float
    unit: str = ""
    rtol: float = 0.01
    mistakes: tuple[tuple[float, str], ...] = ()
    too_small: str = "too small."
    too_large: str = "too large."


@dataclass(frozen=True)
class ChoiceAnswer:
    """One of a few ``choices`` (case and surrounding spaces ignored), with a hint for
    each wrong choice."""

    value: str
    choices: tuple[str, ...]
    hints: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # other spellings of a choice


@dataclass(frozen=True)
class TupleAnswer:
    """Several numbers answered together, e.g. ``(lag, value)``: each part is checked
    (and hinted) on its own, in order; ``names`` say what each part is."""

    parts: tuple[NumberAnswer, ...]
    names: tuple[str, ...]


#: ``{exercise label: answer}`` for every conceptual exercise with a checkable answer.
ANSWERS: dict[str, NumberAnswer | ChoiceAnswer] = {}


def register_answer(label: str, answer: NumberAnswer | ChoiceAnswer) -> None:
    if label in ANSWERS:
        raise ValueError(f"answer for {label!r} registered twice")
    ANSWERS[label] = answer


def check_answer(label: str, answer, verbose: bool = True) -> bool:
    """Check the answer to a conceptual exercise; print a hint if it is wrong.

    Parameters
    ----------
    label : str
        The exercise's label in the book, e.g. ``"ex-ch1-halflife"``
        (``sorted(ct.checks.ANSWERS)`` lists them).
    answer : float or str
        Your answer: a number (in the unit the exercise asks for) or one of the choices.
    verbose : bool, default True
        Print one line: a success line, or a hint.

    Returns
    -------
    bool
        Whether the answer is right.

    Raises
    ------
    ValueError
        If ``label`` is not an exercise with a checked answer.

    Examples
    --------
    >>> import coupling_tutorial as ct
    >>> ct.checks.check_answer("ex-ch1-halflife", 3.0)  # doctest: +ELLIPSIS
    ✗ ex-ch1-halflife: 3 ms is too small...
    False
    """
    if not isinstance(label, str) or label not in ANSWERS:
        raise ValueError(f"label: expected one of {sorted(ANSWERS)}, got {label!r}")
    spec = ANSWERS[label]
    check = {NumberAnswer: _number, ChoiceAnswer: _choice, TupleAnswer: _tuple}[type(spec)]
    ok, message = check(spec, answer)
    if verbose:
        print(f"{'✓' if ok else '✗'} {label}: {message}")
    return ok


def _number(spec: NumberAnswer, answer) -> tuple[bool, str]:
    unit = f" {spec.unit}" if spec.unit else ""
    if answer is None or answer is Ellipsis:
        where = f" (in{unit})" if unit else ""
        return False, f"no answer yet: assign a number{where} to your variable."
    if isinstance(answer, (str, bytes, bool)) or np.iscomplexobj(answer):
        return False, (f"expected a real number{f' (in{unit})' if unit else ''}, got "
                       f"{type(answer).__name__} {answer!r}.")
    try:
        arr = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        return False, f"expected a number, got {type(answer).__name__}."
    if arr.size != 1:
        return False, f"expected one number, got an array of shape {arr.shape}."
    x = float(arr.reshape(()))
    if not math.isfinite(x):
        return False, f"your answer is {x}: expected a finite number."
    shown = f"{x:.4g}{unit}"
    if math.isclose(x, spec.value, rel_tol=spec.rtol, abs_tol=0.0):
        return True, f"{shown} is right."
    for wrong, hint in spec.mistakes:
        if math.isclose(x, wrong, rel_tol=spec.rtol, abs_tol=1e-12):
            return False, f"{shown} is not right: {hint}"
    return False, f"{shown} is {spec.too_small if x < spec.value else spec.too_large}"


def _tuple(spec: TupleAnswer, answer) -> tuple[bool, str]:
    n = len(spec.parts)
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__len__") or len(answer) != n:
        return False, (f"expected {n} numbers ({', '.join(spec.names)}), got "
                       f"{type(answer).__name__} {answer!r}.")
    messages = []
    for name, part, value in zip(spec.names, spec.parts, answer):
        ok, message = _number(part, value)
        if not ok:
            return False, f"{name}: {message}"
        messages.append(f"{name} {message}")
    return True, "; ".join(messages)


def _choice(spec: ChoiceAnswer, answer) -> tuple[bool, str]:
    if not isinstance(answer, str):
        return False, (f"expected one of {list(spec.choices)} (a string), got "
                       f"{type(answer).__name__} {answer!r}.")
    a = answer.strip().lower()
    a = {k.lower(): v.lower() for k, v in spec.aliases.items()}.get(a, a)
    if a not in {c.lower() for c in spec.choices}:
        return False, f"{answer!r} is not one of the choices {list(spec.choices)}."
    if a == spec.value.lower():
        return True, f"{answer!r} is right."
    return False, f"{answer!r} is not right: {spec.hints.get(a, 'think again.')}"


# --------------------------------------------------------------------------------------
# The book's answers (hints never give the answer away)
# --------------------------------------------------------------------------------------
_MS = "The answer is asked in ms, with bins of dt = 1 ms"

register_answer("ex-ch1-halflife", NumberAnswer(
    value=5.0 / math.log(2.0), unit="ms", rtol=1e-3,
    mistakes=((5.0 * math.log(2.0), "with it c[5] is below 1/2. Solve "
               "exp(-5 dt / tau) = 1/2 for tau again and check on which side ln 2 ends up."),
              (math.log(2.0) / 5.0, "this looks like a decay rate (per ms), 1/tau, not a "
               "time constant."),
              (5.0 / math.log(2.0) / 1000.0, f"{_MS}; you seem to have given seconds."),
              (6.0 / math.log(2.0), "check which lag you used: the question is about "
               "c[5], i.e. l = 5 in c[l] = exp(-dt l / tau), with c[0] = 1."),
              (4.0 / math.log(2.0), "check which lag you used: the question is about "
               "c[5], i.e. l = 5 in c[l] = exp(-dt l / tau), with c[0] = 1.")),
    too_small="too small: with it ct.exponential_filter(10, tau=tau)[5] is below 1/2, "
              "the filter decays too fast.",
    too_large="too large: with it ct.exponential_filter(10, tau=tau)[5] is above 1/2, "
              "the filter decays too slowly."))

register_answer("ex-ch1-scaling", NumberAnswer(
    value=50.0, rtol=1e-12,
    mistakes=((1.0, "a nearly linear axis spaces the bumps evenly: count how many it needs "
               "before the fast dip at short lags is resolved."),
              (10.0, "recount: compare the smallest K for each scaling, with the relative "
               "error ||h - B w|| / ||h|| and the 3 % threshold, starting from K = 3."),
              (200.0, "more stretching is not always better: with s = 200 several centres "
               "fall on the first one or two lags, where there is one sample per lag.")),
    too_small="not one of the four time scalings the exercise asks you to compare.",
    too_large="not one of the four time scalings the exercise asks you to compare."))

register_answer("ex-ch4-deterministic", NumberAnswer(
    value=1.0 / (0.002 + 0.01 * math.log(3.0)), unit="Hz", rtol=1e-3,
    mistakes=((1.0 / (0.002 + 0.01 * math.log10(3.0)), "the formula uses the natural "
               "logarithm (np.log), not log10."),
              (1.0 / (0.01 * math.log(3.0)), "did you include the refractory time tau_r "
               "in the period?"),
              (1.0 / (2.0 + 10.0 * math.log(3.0)), "time constants must be in seconds, "
               "not milliseconds."),
              (0.002 + 0.01 * math.log(3.0), "you computed the period in seconds; the "
               "rate is its inverse."),
              (1.0 / (0.002 + 0.02 * math.log(3.0)), "this exercise uses tau_m = 10 ms, "
               "not the 20 ms of the chapter's figures.")),
    too_small="too small: check the units (seconds) and that the rate is 1 / period.",
    too_large="too large: check the logarithm's argument, (mu - V_r) / (mu - V_th), and "
              "that the period includes the refractory time."))

register_answer("ex-ch5-noise", NumberAnswer(
    value=math.exp(4.5), rtol=1e-3,
    mistakes=((1.0, "the noise has mean zero, but the exponential is convex: its average "
               "is not the exponential of the average."),
              (math.exp(3.0), "average exp(sigma xi) over the Gaussian: the result "
               "depends on the variance of xi, not on one sample of size sigma."),
              (math.exp(9.0), "check the factor in the moment-generating function of a "
               "Gaussian."),
              (math.exp(1.5), "the exponent grows with the square of sigma.")),
    too_small="too small: E[exp(sigma xi)] for a standard normal xi is the Gaussian's "
              "moment-generating function at sigma.",
    too_large="too large: E[exp(sigma xi)] for a standard normal xi is the Gaussian's "
              "moment-generating function at sigma."))

register_answer("ex-ch2-lasso", NumberAnswer(
    value=1e-3, rtol=1e-6,
    mistakes=((1e-4, "at this strength many filters that are absent in the truth survive: "
               "count the wrongly kept ones. A stronger penalty sets more whole filters "
               "to zero."),
              (3e-4, "closer, but some absent filters are still kept. Compare the count of "
               "wrongly kept filters across the four values."),
              (3e-3, "this strength removes the absent filters, but check the first count: "
               "are the true connections still kept?")),
    too_small="not one of the four penalty strengths listed in the exercise. If every "
              "strength keeps all 36 filters, check that each row of G covers one "
              "sender's K coupling columns, in the sorted key order of X.",
    too_large="not one of the four penalty strengths listed in the exercise. If every "
              "strength keeps all 36 filters, check that each row of G covers one "
              "sender's K coupling columns, in the sorted key order of X."))

register_answer("ex-ch3-link", ChoiceAnswer(
    value="exp", choices=("exp", "softplus"),
    aliases={"exponential": "exp", "jnp.exp": "exp", "np.exp": "exp",
             "jax.nn.softplus": "softplus"},
    hints={"softplus": "the simulation has to use the model that was fitted. Which inverse "
                       "link does PopulationGLM use when it fits? That softplus is NeMoS's "
                       "simulator default does not make it the right link here."}))

register_answer("ex-ch3-edge", NumberAnswer(
    value=4.0, rtol=0.13,
    mistakes=((3.0, "did you run the balanced network `net`? The network without "
               "inhibitory weights (jnp.maximum(W0, 0)) runs away earlier; the question "
               "asks about the one with Dale's law."),
              (2.0, "at such a small r the network is far from runaway. Check that you "
               "change r with net.replace(r=r) (not b), and simulate 5 000 bins after a "
               "burn-in of 100 bins."),
              (1.0, "at such a small r the network is far from runaway. Check that you "
               "change r with net.replace(r=r) (not b), and simulate 5 000 bins after a "
               "burn-in of 100 bins.")),
    too_small="too small: step r through 1, 2, 3, ... and stop at the first simulation "
              "that raises ct.RunawayError.",
    too_large="too large: step r through every integer and stop at the first one whose "
              "simulation raises RunawayError; catch the error from ct.simulate_network, "
              "not from ct.mean_field_rate (the mean field still has a fixed point where "
              "the simulation runs away)."))

register_answer("ex-ch5-lag", TupleAnswer(
    names=("the lag", "the covariance"),
    parts=(NumberAnswer(
        value=3.0, unit="bins", rtol=1e-12,
        mistakes=((2.0, "a kernel entry G[l] acts with a delay of l + 1 bins (the model "
                   "uses x(t - 1 - l))."),
                  (-3.0, "C_01[tau] is Cov(x_0(t + tau), x_1(t)): which neuron comes "
                   "later?")),
        too_small="too small: find the kernel entry that couples neuron 1 to neuron 0 and "
                  "remember that G[l] acts l + 1 bins later.",
        too_large="too large: find the kernel entry that couples neuron 1 to neuron 0 and "
                  "remember that G[l] acts l + 1 bins later."),
        NumberAnswer(
        value=0.04, rtol=1e-6,
        mistakes=((0.08, "the covariance is the kernel times the variance of the *driving* "
                   "neuron, whose rate is nu_1."),
                  (0.4, "that is the kernel value; the covariance also carries the variance "
                   "of the driving neuron's counts."),
                  (0.016, "the covariance is linear in the kernel, not quadratic.")),
        too_small="too small: the covariance is the kernel entry times the variance of the "
                  "driving neuron's counts.",
        too_large="too large: the covariance is the kernel entry times the variance of the "
                  "driving neuron's counts."))))

register_answer("ex-ch5-fano", NumberAnswer(
    value=1.091, rtol=0.01,
    mistakes=((1.0, "a Poisson neuron without coupling has Fano factor 1; did you use "
               "G(0) = 0, or the diagonal D alone?"),),
    too_small="too small: below 1 means less variable than Poisson. The propagator is "
              "(I - G(0))^{-1}, the inverse; did you use I - G(0) itself? And a Fano "
              "factor divides the count variance by the mean count (the rate).",
    too_large="too large: C(0) is a variance per bin; a window of K bins multiplies both "
              "the variance and the mean by K, so their ratio does not depend on K."))

register_answer("ex-ch6-fp", NumberAnswer(
    value=76 * 0.05, unit="false positives", rtol=1e-3,
    mistakes=((90 * 0.05, "only the unconnected ordered pairs can give false positives: "
               "leave out the connected ones."),
              (100 * 0.05, "the self-history filters are not tested as connections, and "
               "the connected pairs cannot give false positives."),
              (38 * 0.05, "sender -> receiver is an ordered pair: j -> i and i -> j are "
               "two tests."),
              (0.05, "that is the probability for one test; how many null tests are "
               "there?")),
    too_small="too small: each null test is a false positive with probability 0.05; "
              "count the ordered pairs j != i without a connection.",
    too_large="too large: only unconnected ordered pairs (j != i) are null tests."))

register_answer("ex-ch6-length", NumberAnswer(
    value=4.0, unit="times longer", rtol=0.01,
    mistakes=((2.0, "the width of the band is proportional to the standard error, "
               "which falls like one over the square root of the recording length."),
              (math.sqrt(2.0), "the Fisher information grows linearly with the length; "
               "the standard error is its inverse square root."),
              (0.25, "the recording must get longer, not shorter: give the factor > 1.")),
    too_small="too small: the standard error falls like 1 / sqrt(number of bins).",
    too_large="too large: the standard error falls like 1 / sqrt(number of bins)."))

register_answer("ex-ch7-bytes", NumberAnswer(
    value=500 * 1_800_000 * 6 * 4 / 1e9, unit="GB", rtol=0.01,
    mistakes=((500 * 1_800_000 * 4 / 1e9, "the design has n_basis columns per neuron, "
               "not one: multiply by the number of basis functions."),
              (500 * 1_800_000 * 6 * 8 / 1e9, "float32 numbers take 4 bytes each; 8 is "
               "float64."),
              (500 * 1_800_000 * 6 / 1e9, "this counts numbers, not bytes: each float32 "
               "number takes 4 bytes."),
              (500 * 1_800_000 * 6 * 4 / 2**30, "GB here means 10^9 bytes; you divided "
               "by 2^30 (GiB)."),
              (500 * 30 * 60 * 6 * 4 / 1e9, "30 minutes at 1 ms bins is 30 x 60 x 1000 "
               "bins, not 30 x 60.")),
    too_small="too small: the design has one row per bin and n_neurons x n_basis "
              "columns, 4 bytes each.",
    too_large="too large: the design has one row per bin and n_neurons x n_basis "
              "columns, 4 bytes each; the answer is in GB (10^9 bytes)."))

# Exercise 7.3: a Hessian-vector product takes t1 = 7.2 s on one device (N = 200 neurons,
# F = 1000 features, 6e5 bins); on D devices the compute is t1 / D plus a ring all-reduce
# of the (F + 1) x N float32 partial sums, 2 (D - 1) / D x bytes / bandwidth (1.25 GB/s).
_T1, _BANDWIDTH, _SUM_BYTES = 7.2, 1.25e9, 1001 * 200 * 4


def _speedup(D, bytes_=_SUM_BYTES, ring=True):
    comm = (2 * (D - 1) / D if ring else 1.0) * bytes_ / _BANDWIDTH
    return _T1 / (_T1 / D + comm)


def _half_efficiency(bytes_=_SUM_BYTES, ring=True):
    """D with t1 / D = communication time (speed-up D / 2)."""
    return (1 + _T1 * _BANDWIDTH / (2 * bytes_)) if ring else _T1 * _BANDWIDTH / bytes_


register_answer("ex-ch7-speedup", TupleAnswer(
    names=("the speed-up on 64 devices", "the number of devices at 50 % efficiency"),
    parts=(NumberAnswer(
        value=_speedup(64), rtol=0.002,
        mistakes=((64.0, "that is the speed-up without communication: add the time of "
                   "the all-reduce of the partial sums."),
                  (_speedup(64, ring=False), "a ring all-reduce sends (and receives) "
                   "2 (D - 1) / D times the message per device, not the message once."),
                  (_speedup(64, 2 * _SUM_BYTES), "the partial sums are float32 here: 4 "
                   "bytes per number.")),
        too_small="too small: the compute shrinks as t1 / D, and the message is under a "
                  "megabyte.",
        too_large="too large: a speed-up on D devices cannot exceed D."),
        NumberAnswer(
        value=_half_efficiency(), rtol=0.01,
        mistakes=((_half_efficiency(ring=False), "a ring all-reduce sends (and receives) "
                   "2 (D - 1) / D times the message per device, not the message once."),
                  (_half_efficiency(2 * _SUM_BYTES), "the partial sums are float32 here: "
                   "4 bytes per number.")),
        too_small="too small: at 50 % efficiency the compute time t1 / D equals the "
                  "communication time; solve for D.",
        too_large="too large: at 50 % efficiency the compute time t1 / D equals the "
                  "communication time; solve for D.")),
))
