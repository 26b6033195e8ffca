r"""Poisson GLMs for a whole population, fitted to the optimum (Chapter 2).

Every neuron :math:`i` gets its own coefficients :math:`w_i` and intercept :math:`b_i`;
its rate in bin :math:`t` is

.. math::

    \lambda_{t i} = \exp\Big(\sum_f X_{t f}\, M_{f i}\, W_{f i} + b_i\Big),

with a 0/1 *feature mask* :math:`M` that says which features neuron :math:`i` may use
(shared inputs, private inputs, or a coupling map). The fit minimises, exactly as NeMoS's
``PopulationGLM`` does,

.. math::
    :label: glm-objective

    \mathcal{L}(W, b) = \sum_i \Big[\frac{1}{T}\sum_{t=1}^{T}
        \big(\lambda_{t i} - y_{t i}\log\lambda_{t i}\big) + P(w_i)\Big],

the Poisson negative log-likelihood without :math:`\log y!`, averaged over the
:math:`T` samples (rows of ``X`` containing NaN are dropped), plus a penalty on the
coefficients only, **not** divided by :math:`T`:

* ``"Ridge"``: :math:`P(w) = \tfrac12\alpha\sum_f w_f^2`
* ``"Lasso"``: :math:`P(w) = \alpha\sum_f |w_f|`
* ``"ElasticNet"``: :math:`P(w) = \alpha\sum_f\big[(1-\rho)\tfrac12 w_f^2 + \rho|w_f|\big]`,
  ``regularizer_strength=(alpha, rho)`` (NeMoS calls :math:`\rho` the *ratio*;
  scikit-learn's ``l1_ratio``); a bare ``alpha`` means :math:`\rho = 0.5`.
* ``"GroupLasso"``: :math:`P(w) = \alpha\sum_g \sqrt{|g|}\,\lVert w_g\rVert_2`.

Because the data term is a mean over samples, the same :math:`\alpha` gives the same model
here, in NeMoS and in scikit-learn's ``PoissonRegressor(alpha=...)`` (ridge).
The objective is a sum of one independent term per neuron, so a population fit equals
``n_neurons`` single-neuron fits; the solvers exploit that by running one small
optimisation per neuron, vectorised over neurons.

Solvers
-------
``"newton"``
    Damped Newton (IRLS) per neuron: the exact Hessian
    :math:`X^\top \mathrm{diag}(\lambda_i) X / T`, a Cholesky solve and a backtracking
    line search on the exact objective. Quadratic convergence: ~10 iterations. With a
    non-smooth penalty it becomes *proximal* Newton (the quadratic model plus the penalty is
    minimised by accelerated proximal gradient on the small ``(n_features+1)`` problem).
    Costs :math:`T F^2` per neuron and iteration: the default for small ``F``.
``"newton-cg"``
    Truncated Newton: the Newton system is solved by preconditioned conjugate gradients that
    only need Hessian-vector products, two matrix products with ``X`` for all neurons at
    once (done in float32 when fitting in float64; the gradient and line search stay in
    float64, so the optimum is the float64 one). Preconditioner: the Gram matrix
    :math:`\tilde X^\top\tilde X/T` scaled by each neuron's mean count. The default for
    smooth penalties (none, ridge) when ``F`` is large.
``"proximal-gradient"``
    FISTA with backtracking (the first-order method NeMoS uses for Lasso-type penalties).
    Included to show how far first-order methods with loose tolerances stop from the
    optimum; it needs thousands of iterations where Newton needs ten.

The solvers are written with ``jax.lax`` directly: the per-neuron Newton systems are
small dense Cholesky solves, and what makes the truncated Newton fast (one float32 matrix
product for all neurons' Hessian-vector products, a shared Gram-matrix preconditioner,
exact zeros for masked features, per-neuron stopping) is not something optimistix, optax
or lineax provide; their L-BFGS / first-order solvers are what leaves fits short of the
optimum (Chapter 2). With a ``feature_mask`` the ``"newton-cg"`` preconditioner keeps one
Cholesky factor per neuron, ``n_neurons * (n_features + 1)**2`` numbers.

Convergence: a neuron has converged when the largest entry of the minimum-norm
subgradient of its objective (the *KKT residual*: the gradient for smooth penalties) is
at most ``tol``; the Newton solvers then take one more step, so the returned coefficients
are usually far more accurate than ``tol``.

Other observation models or links would change the log-likelihood, the Hessian weights
(:math:`\lambda` is the Hessian weight only for the canonical exp link; a softplus link
gives non-canonical, possibly indefinite "observed" Hessians, so IRLS would use the
expected information) and the sufficient conditions for a unique optimum; this module
implements the Poisson/exp case only.

Where each section of Chapter 2 lives
-------------------------------------
=============================================  ==========================================
Chapter 2 section                              file
=============================================  ==========================================
The Poisson GLM                                ``objective.py`` (the loss, its gradient;
                                               the link is ``links.EXP``)
Fitting the whole population at once           ``model.py`` (``PopulationGLM``, ``GLM``),
                                               ``solve.py``, ``newton.py``,
                                               ``newton_cg.py``
Regularisation and choosing its strength       ``penalties.py`` (the ``Penalty`` type)
Pseudo-R²                                      ``model.py`` (``score``)
How close to the optimum? Tolerances           ``proximal_gradient.py`` (the first-order
                                               method it is compared with), ``solve.py``
=============================================  ==========================================

``_inputs.py`` (private) turns dict inputs and masks into arrays.
"""

from .model import *  # noqa: F401,F403
from .model import __all__

# Public objects print and pickle under the package's name, as before the split.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
