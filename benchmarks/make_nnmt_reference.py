"""Generate tests/data/nnmt_meanfield.npz with NNMT 1.3.0 (run with NNMT's own Python).

    /work/refenvs/nnmt/bin/python benchmarks/make_nnmt_reference.py

NNMT lives in its own virtual environment outside the repository (see
benchmarks/README.md, section "meanfield"). Nothing here imports coupling_tutorial: the
file holds NNMT's numbers only. Contents:

* ``siegert_*``: NNMT's delta-synapse Siegert rate on a (mu, sigma) grid;
* ``mc_rates``, ``mc_mu``, ``mc_sigma``: microcircuit (Bos 2016 variant, exponential
  synapses, shift method) fixed point, ODE relaxation from 0 Hz;
* ``tf_omegas``, ``tf_H``: transfer function (shift method, synaptic filter) at the
  microcircuit working point;
* ``brunel41_lstsq_x``: where NNMT's least-squares solver (scipy ``least_squares``)
  stops for the Brunel network at g = 4, eta = 1 from 1 Hz, and its cost per dimension.
"""

import json
import sys
from pathlib import Path

import numpy as np
import scipy.optimize as sopt
import nnmt
from nnmt.lif import delta, exp, _general

ROOT = Path(__file__).resolve().parent.parent
data = json.loads((ROOT / "tests" / "data" / "reference_public.json").read_text())
out = {"nnmt_version": np.array(nnmt.__version__ if hasattr(nnmt, "__version__") else "1.3.0"),
       "numpy_version": np.array(np.__version__)}

# Siegert grid (delta synapses)
mu = np.array([-0.01, 0.0, 0.005, 0.01, 0.015, 0.019, 0.02, 0.021, 0.025, 0.04, 0.1])
sigma = np.array([0.0005, 0.001, 0.003, 0.01, 0.05])
M, S = np.meshgrid(mu, sigma, indexing="ij")
out["siegert_mu"], out["siegert_sigma"] = M.ravel(), S.ravel()
out["siegert_params"] = np.array([0.02, 0.002, 0.02, 0.01])  # tau_m, tau_r, V_th, V_r
out["siegert_rate"] = np.array([
    delta._firing_rates_for_given_input(m, s, 0.01, 0.02, 0.02, 0.002)
    for m, s in zip(M.ravel(), S.ravel())], dtype=float).ravel()

# Microcircuit fixed point
mc = data["microcircuit_bos2016_parameters"]
J, K = np.array(mc["J_V"]), np.array(mc["K"])
J_ext, K_ext = np.array(mc["J_ext_V"])[:, None], np.array(mc["K_ext"])[:, None]  # (8, 1) as NNMT
nu_ext = np.array(mc["nu_ext_Hz"])
args = dict(J=J, K=K, V_0_rel=mc["V_0_rel_V"], V_th_rel=mc["V_th_rel_V"], tau_m=mc["tau_m_s"],
            tau_r=mc["tau_r_s"], tau_s=mc["tau_s_s"], J_ext=J_ext, K_ext=K_ext, nu_ext=nu_ext)
rates = exp._firing_rates(**args, method="shift")
mu_mc = _general._mean_input(rates, J, K, mc["tau_m_s"], J_ext, K_ext, nu_ext)
sigma_mc = _general._std_input(rates, J, K, mc["tau_m_s"], J_ext, K_ext, nu_ext)
out["mc_rates"], out["mc_mu"], out["mc_sigma"] = rates, mu_mc, sigma_mc

# Transfer function at the microcircuit working point
omegas = 2 * np.pi * np.array([0.5, 2.0, 10.0, 40.0, 100.0, 250.0])
H = exp._transfer_function_shift(mu_mc, sigma_mc, mc["tau_m_s"], mc["tau_s_s"], mc["tau_r_s"],
                                 mc["V_th_rel_V"], mc["V_0_rel_V"], omegas,
                                 synaptic_filter=True)
out["tf_omegas"], out["tf_H"] = omegas, np.asarray(H)

# Brunel g = 4, eta = 1: where scipy's least_squares (NNMT's LSTSQ) stops from 1 Hz
g, eta, Jb = 4.0, 1.0, 1e-4
Jm = np.array([[Jb, -g * Jb], [Jb, -g * Jb]])
Km = np.array([[1000.0, 250.0], [1000.0, 250.0]])
nu_ext_b = np.array([eta * 10.0])
K_ext_b, J_ext_b = np.array([[1000.0], [1000.0]]), np.array([[Jb], [Jb]])


def diff(nu):
    m = _general._mean_input(nu, Jm, Km, 0.02, J_ext_b, K_ext_b, nu_ext_b)
    s = _general._std_input(nu, Jm, Km, 0.02, J_ext_b, K_ext_b, nu_ext_b)
    return delta._firing_rates_for_given_input(m, s, 0.01, 0.02, 0.02, 0.002) - nu


res = sopt.least_squares(diff, np.array([1.0, 1.0]), bounds=(0, np.inf))
out["brunel41_lstsq_x"] = res.x
out["brunel41_lstsq_cost_per_dim"] = np.array(res.cost / 2)
out["brunel41_ode"] = delta._firing_rates(Jm, Km, 0.01, 0.02, 0.02, 0.002, J_ext_b, K_ext_b,
                                          nu_ext_b)

target = ROOT / "tests" / "data" / "nnmt_meanfield.npz"
np.savez(target, **out)
print("wrote", target, file=sys.stderr)
for k, v in out.items():
    print(k, np.round(v, 6) if v.dtype.kind in "fc" else v)
