"""Write tests/data/nemos_simulate_case.npz: spikes drawn by NeMoS's simulate_recurrent.

Run with the NeMoS reference venv (see benchmarks/README.md), never with the project's:

    /work/refenvs/nemos/bin/python benchmarks/make_nemos_reference.py [out.npz]

The file holds every input (so the test needs no NeMoS) and NeMoS's outputs for two
inverse links: softplus (NeMoS's default) and exp (the fitted GLM's link). float64.
"""

import sys
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import nemos  # noqa: E402
import numpy as np  # noqa: E402
from nemos.simulation import simulate_recurrent  # noqa: E402

out = Path(sys.argv[1]) if len(sys.argv) > 1 else (
    Path(__file__).resolve().parent.parent / "tests" / "data" / "nemos_simulate_case.npz")

rng = np.random.default_rng(2024)
n_neurons, window_size, n_basis, n_inputs, n_steps = 4, 30, 5, 2, 200
# the convolution kernel of RaisedCosineLogConv(n_basis, window_size): the Eval basis on
# linspace(0, 1, window_size), row 0 = lag 1
basis_matrix = np.asarray(
    nemos.basis.RaisedCosineLogEval(n_basis).compute_features(np.linspace(0, 1, window_size)))
coupling_coef = 0.15 * rng.normal(size=(n_neurons, n_neurons, n_basis))
for i in range(n_neurons):  # self-inhibition keeps the exp-link run finite
    coupling_coef[i, i] = -3.0 * np.abs(coupling_coef[i, i])
feedforward_coef = rng.normal(size=(n_neurons, n_inputs))
feedforward_input = 0.5 * rng.normal(size=(n_steps, n_neurons, n_inputs))
intercepts = np.log(np.array([0.2, 0.5, 1.0, 2.0]))
init_y = rng.poisson(0.5, size=(window_size, n_neurons)).astype(float)
seed = 123

results = {}
for name, link in (("softplus", jax.nn.softplus), ("exp", jnp.exp)):
    spikes, rates = simulate_recurrent(
        coupling_coef=coupling_coef, feedforward_coef=feedforward_coef,
        intercepts=intercepts, random_key=jax.random.key(seed),
        feedforward_input=feedforward_input, coupling_basis_matrix=basis_matrix,
        init_y=init_y, inverse_link_function=link)
    results[f"spikes_{name}"] = np.asarray(spikes)
    results[f"rates_{name}"] = np.asarray(rates)

np.savez(
    out, coupling_coef=coupling_coef, feedforward_coef=feedforward_coef,
    intercepts=intercepts, feedforward_input=feedforward_input,
    coupling_basis_matrix=basis_matrix, init_y=init_y, seed=seed,
    provenance=f"nemos {nemos.__version__}, jax {jax.__version__}, float64, "
               f"nemos.simulation.simulate_recurrent with jax.random.key({seed})",
    **results)
print(f"wrote {out}: spikes totals", {k: int(v.sum()) for k, v in results.items()
                                     if k.startswith("spikes")})
