r"""Self-checks for the book's implement-it-yourself exercises.

Each ``check_*`` function takes the reader's function, runs it on fixed inputs (fixed
seeds, fixed shapes), compares the result with the package's reference implementation,
prints **one line** (a success line, or what is wrong: shape, off-by-one lag, sign,
ordering, tolerance) and returns ``True`` or ``False``. Pure Python + NumPy + JAX, so the
checks run anywhere the package does, Google Colab included. In a notebook::

    import coupling_tutorial as ct

    def my_coupling_features(counts, basis):
        ...

    ct.checks.check_coupling_features(my_coupling_features)

A function that still raises :class:`NotImplementedError` (an unfinished exercise stub
of the student edition) is not a wrong answer: the error propagates unchanged. Any other
exception raised by the reader's function is reported and counts as a failure.

Reuse in autograders
--------------------
The checks are plain functions returning a boolean, so any grader that can run Python
can use them; pass ``verbose=False`` to silence the printed line.

* **pytest** (e.g. a GitHub Classroom autograder): import the student's function from
  their submission (a module, or a notebook converted with ``jupyter nbconvert --to
  script``) and assert the check::

      # test_exercises.py
      import coupling_tutorial as ct
      from submission import my_coupling_features

      def test_coupling_features():
          assert ct.checks.check_coupling_features(my_coupling_features, verbose=False)

* **otter-grader**: make each check the body of a question's test case, e.g. the file
  ``tests/q1_1.py`` of an otter assignment::

      OK_FORMAT = True
      test = {"name": "q1_1", "points": 2, "suites": [{"type": "doctest",
          "scored": True, "setup": "", "teardown": "", "cases": [{"hidden": False,
          "code": ">>> ct.checks.check_coupling_features(my_coupling_features, "
                  "verbose=False)\nTrue"}]}]}

  (with ``import coupling_tutorial as ct`` in the notebook). ``otter assign`` can
  generate the same from a ``# TEST`` cell holding that line.

:data:`CHECKS` maps each check's name to the function, for graders that loop over them;
:data:`EXERCISES` maps each implement-it-yourself exercise's label in the book (e.g.
``"ex-ch1-features"``) to its check.

Layout
------
One file per chapter (``ch1_coupling_filters.py`` ... ``ch7_scaling_up.py``), named
like the chapter's notebook; each check there registers itself with its exercise's label
(``@exercise_check("ex-ch1-features")``), and the one harness that runs, diagnoses and
reports lives in ``_harness.py``. :data:`CHECKS`, :data:`EXERCISES` and ``__all__`` are
derived from those registrations. A new check is one decorated function in its chapter's
file. The conceptual exercises (a number, a tuple or a choice as answer) are checked by
:func:`check_answer` in ``answers.py``, keyed by label in :data:`ANSWERS`, with a hint
for each likely mistake and never the answer.
"""

from . import (  # noqa: F401  (importing registers the checks, chapter by chapter)
    ch1_coupling_filters,
    ch2_population_glm,
    ch3_recurrent_simulation,
    ch4_lif_mean_field,
    ch5_inference_errors,
    ch6_coupling_significance,
    ch7_scaling_up,
)
from ._harness import CHECKS, EXERCISES
from .answers import ANSWERS, check_answer  # the conceptual exercises' answer checks

globals().update(CHECKS)

def _chapter(check) -> int:
    """The chapter number of a check, from its module ``chN_<slug>``."""
    return int(check.__module__.rsplit(".", 1)[-1][2:].split("_")[0])


# The names of Chapters 1-5 and the registries keep their order (a published API, pinned
# in tests/test_layout.py); the checks of later chapters follow them.
__all__ = [*(n for n, f in CHECKS.items() if _chapter(f) <= 5),
           "CHECKS", "EXERCISES", "check_answer", "ANSWERS",
           *(n for n, f in CHECKS.items() if _chapter(f) > 5)]
