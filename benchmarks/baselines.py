"""Search baselines that are not hwnas strategies, behind one small ask/tell interface.

Each baseline proposes configs with ``ask(n)`` (at most ``n``; it may return the same
sub-network again, which the benchmark counts as a fresh evaluation, as the original tool
would measure it) and learns the measured objective values with ``tell(configs, values)``.

- :class:`OptunaBaseline`: an in-memory Optuna study (NSGA-II or TPE sampler), one trial per
  evaluation, every dimension suggested with ``suggest_categorical``.
- :class:`DynasLinas`: LINAS as DyNAS-T publishes it (``dynast/search/search_tactic.py``,
  ``LINAS.search``; ``dynast/predictors/dynamic_predictor.py``; ``dynast/search/
  evolutionary.py``, ``configure_nsga2``): measure 50 random sub-networks; then per loop fit
  one predictor per objective on every evaluation so far (ridge and RBF-SVR, each tuned by
  ``GridSearchCV``, the better cross-validated one kept), run pymoo NSGA-II from scratch on
  the predictions, and measure the inner search's whole final population as the next batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.problem import Problem
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.operators.repair.rounding import RoundingRepair
from pymoo.operators.sampling.rnd import IntegerRandomSampling
from pymoo.optimize import minimize
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVR

from hwnas.space import Config, SearchSpace


class OneHot:
    """One-hot feature rows of value-index rows (one segment per dimension, every kind of
    dimension). An inactive gene (its condition on the parent fails) is encoded as its
    dimension's first value (``inactive="first"``: the canonical config, as DyNAS-T would
    see it) or as an all-zero segment (``inactive="zero"``)."""

    def __init__(self, space: SearchSpace, inactive: str = "first") -> None:
        if inactive not in ("first", "zero"):
            raise ValueError(f"inactive must be 'first' or 'zero', got {inactive!r}")
        self.space, self.inactive = space, inactive
        self.offsets = np.concatenate([[0], np.cumsum(space.cardinalities)[:-1]])
        self.width = int(space.cardinalities.sum())
        names = space.names
        #: (column, parent column, active per parent value index) of each conditional gene
        self.conditions = [
            (column, names.index(dim.active_if[0]),
             np.array([space.is_active(dim, {dim.active_if[0]: value})
                       for value in space[dim.active_if[0]].values]))
            for column, dim in enumerate(space.dims) if dim.active_if is not None
        ]

    def encode(self, indices: np.ndarray) -> np.ndarray:
        indices = np.array(indices, dtype=np.int64).reshape(-1, len(self.space))
        hot = np.ones(indices.shape, dtype=bool)
        for column, parent, active in self.conditions:
            inactive = ~active[indices[:, parent]]
            indices[inactive, column] = 0
            hot[inactive, column] = self.inactive == "first"
        out = np.zeros((len(indices), self.width))
        rows, columns = np.nonzero(hot)
        out[rows, indices[rows, columns] + self.offsets[columns]] = 1.0
        return out


class OptunaBaseline:
    """An Optuna study driven trial by trial (``sampler``: ``"nsga2"`` or ``"tpe"``)."""

    def __init__(self, space: SearchSpace, directions: Sequence[str], seed: int,
                 sampler: str = "nsga2", multivariate: bool = True) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        if sampler == "nsga2":
            chosen = optuna.samplers.NSGAIISampler(seed=seed)
        elif sampler == "tpe":
            chosen = optuna.samplers.TPESampler(seed=seed, multivariate=multivariate)
        else:
            raise ValueError(f"sampler must be 'nsga2' or 'tpe', got {sampler!r}")
        self.space = space
        self.study = optuna.create_study(directions=list(directions), sampler=chosen)
        self._pending: list[Any] = []

    def ask(self, n: int) -> list[Config]:
        trial = self.study.ask()
        self._pending.append(trial)
        return [{dim.name: trial.suggest_categorical(dim.name, list(dim.values))
                 for dim in self.space.dims}]

    def tell(self, configs: Sequence[Config], values: Sequence[Sequence[float]]) -> None:
        for trial, value in zip(self._pending, values):
            self.study.tell(trial, list(value))
        self._pending = []


class _DynasPredictor:
    """DyNAS-T's ``Predictor``: labels divided by a power of ten; ridge (alpha grid) and RBF
    SVR (``gamma="auto"``, ``epsilon=0``, C grid), each tuned by 5-fold ``GridSearchCV`` on
    negative MAPE; the one with the better best score predicts."""

    def __init__(self, alphas: np.ndarray, costs: np.ndarray) -> None:
        self.searchers = [
            GridSearchCV(Ridge(max_iter=1_000_000), {"alpha": alphas},
                         scoring="neg_mean_absolute_percentage_error", n_jobs=1),
            GridSearchCV(SVR(kernel="rbf", gamma="auto", epsilon=0.0, max_iter=1_000_000),
                         {"C": costs}, scoring="neg_mean_absolute_percentage_error", n_jobs=1),
        ]

    def fit(self, features: np.ndarray, labels: np.ndarray) -> _DynasPredictor:
        largest = float(np.max(np.abs(labels)))
        self.factor = 10.0 ** (np.floor(np.log10(largest)) - 1.0) if largest > 0.0 else 1.0
        scores = [searcher.fit(features, labels / self.factor).best_score_
                  for searcher in self.searchers]
        self.best = self.searchers[int(np.argmax(scores))].best_estimator_
        self.chosen = ["ridge", "svr"][int(np.argmax(scores))]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.best.predict(features) * self.factor


class _PredictedProblem(Problem):
    """Value-index vectors scored by the predictors, every objective minimised."""

    def __init__(self, space: SearchSpace, models: list[_DynasPredictor],
                 signs: np.ndarray, encode: Any) -> None:
        super().__init__(n_var=len(space), n_obj=len(models), xl=0,
                         xu=space.cardinalities - 1, vtype=int)
        self.models, self.signs, self.encode = models, signs, encode

    def _evaluate(self, x: np.ndarray, out: dict, *args: Any, **kwargs: Any) -> None:
        features = self.encode(np.rint(x).astype(np.int64))
        out["F"] = np.column_stack([m.predict(features) for m in self.models]) * self.signs


class DynasLinas:
    """LINAS as DyNAS-T runs it; see the module docstring.

    Defaults follow DyNAS-T: ``population=50`` (the random start and every batch),
    ``alphas = 0.1, 0.2, ..., 10``, ``costs = 1, 2, ..., 100``, NSGA-II with SBX
    (0.9, eta 15), polynomial mutation (prob 0.02, eta 20), rounding repair, duplicate
    elimination, integer random sampling, re-seeded with the run's seed every loop.
    DyNAS-T runs 5,000 to 20,000 predicted evaluations per inner search (100 to 400
    generations of 50); ``generations=200`` sits between. Features are DyNAS-T's one-hot
    vectors of the value indices, of the canonical config (inactive genes masked, which
    helps the predictors; DyNAS-T leaves that to the user). The batch is measured whole:
    sub-networks measured before, or twice in one batch, are measured (and counted) again,
    and stay in the training data as DyNAS-T's results file keeps them.
    """

    def __init__(self, space: SearchSpace, directions: Sequence[str], seed: int,
                 population: int = 50, generations: int = 200,
                 alphas: Sequence[float] | None = None,
                 costs: Sequence[float] | None = None) -> None:
        self.space, self.directions, self.seed = space, list(directions), seed
        self.population, self.generations = population, generations
        self.alphas = np.arange(0.1, 10.1, 0.1) if alphas is None else np.asarray(alphas)
        self.costs = np.arange(1.0, 101.0, 1.0) if costs is None else np.asarray(costs)
        self.signs = np.array([-1.0 if d == "maximize" else 1.0 for d in self.directions])
        self.rng = np.random.default_rng(seed)
        self.batch: list[Config] = [space.sample(self.rng) for _ in range(population)]
        self.features: list[np.ndarray] = []
        self.targets: list[Sequence[float]] = []
        self.loop_info: list[dict[str, Any]] = []
        self._encoder = OneHot(space, inactive="first")

    # -- encoding ------------------------------------------------------------------------------
    def onehot(self, indices: np.ndarray) -> np.ndarray:
        """One-hot rows of value-index rows, inactive genes set to their first value."""
        return self._encoder.encode(indices)

    # -- ask/tell -------------------------------------------------------------------------------
    def ask(self, n: int) -> list[Config]:
        return list(self.batch[:n])

    def tell(self, configs: Sequence[Config], values: Sequence[Sequence[float]]) -> None:
        self.features += list(self.onehot(np.stack([self.space.encode(c) for c in configs])))
        self.targets += [tuple(v) for v in values]
        self.batch = self.batch[len(configs):]
        if not self.batch:
            self.batch = self._next_batch()

    def _next_batch(self) -> list[Config]:
        features = np.array(self.features)
        targets = np.array(self.targets, dtype=np.float64)
        models = [_DynasPredictor(self.alphas, self.costs).fit(features, targets[:, i])
                  for i in range(targets.shape[1])]
        self.loop_info.append({"n_training": len(features),
                               "predictors": [m.chosen for m in models]})
        problem = _PredictedProblem(self.space, models, self.signs, self.onehot)
        algorithm = NSGA2(
            pop_size=self.population,
            sampling=IntegerRandomSampling(),
            crossover=SBX(prob=0.9, eta=15.0, vtype=float, repair=RoundingRepair()),
            mutation=PM(prob=0.02, eta=20.0, vtype=float, repair=RoundingRepair()),
            eliminate_duplicates=True,
        )
        result = minimize(problem, algorithm, ("n_gen", self.generations), seed=self.seed,
                          verbose=False)
        vectors = np.clip(np.rint(result.pop.get("X")), 0, self.space.cardinalities - 1)
        return [self.space.decode(v) for v in vectors.astype(np.int64)]


class BotorchQLogNEHVI:
    """Multi-objective Bayesian optimisation with BoTorch: an independent GP per objective
    (``SingleTaskGP`` with BoTorch's default kernel and priors, outcomes standardised,
    hyper-parameters by marginal likelihood, L-BFGS capped at ``fit_iterations``; a
    ``ModelListGP``) on one-hot inputs (:class:`OneHot`, inactive genes all-zero);
    each batch of ``batch`` sub-networks maximises ``qLogNoisyExpectedHypervolumeImprovement``
    (reference point: the task's, ``mc_samples`` quasi-MC samples, baseline pruned) by
    sequential greedy selection over a random subset of ``candidates`` sub-networks not yet
    measured (all of them when fewer remain), ``botorch.optim.optimize_acqf_discrete``. The
    first ``initial`` sub-networks are uniformly random."""

    def __init__(self, space: SearchSpace, directions: Sequence[str], seed: int,
                 reference: Sequence[float], initial: int = 20, batch: int = 10,
                 candidates: int = 1000, mc_samples: int = 64,
                 fit_iterations: int = 100) -> None:
        import torch

        self.torch = torch
        self.space, self.seed = space, seed
        self.signs = np.array([-1.0 if d == "minimize" else 1.0 for d in directions])
        self.reference = [float(v) for v in np.asarray(reference) * self.signs]  # maximised
        self.batch_size, self.candidates, self.mc_samples = batch, candidates, mc_samples
        self.fit_iterations = fit_iterations
        self.rng = np.random.default_rng(seed)
        self.encoder = OneHot(space, inactive="zero")
        self.pool = [space.canonical(c) for c in space.enumerate()]
        self.pool_ids = [space.arch_id(c) for c in self.pool]
        self.pool_features = self.encoder.encode(np.stack([space.encode(c) for c in self.pool]))
        self.position = {arch_id: i for i, arch_id in enumerate(self.pool_ids)}
        self.measured: list[int] = []
        self.targets: list[np.ndarray] = []
        picks = self.rng.choice(len(self.pool), size=min(initial, len(self.pool)), replace=False)
        self.batch: list[Config] = [self.pool[i] for i in picks]

    def ask(self, n: int) -> list[Config]:
        return list(self.batch[:n])

    def tell(self, configs: Sequence[Config], values: Sequence[Sequence[float]]) -> None:
        for config, value in zip(configs, values):
            self.measured.append(self.position[self.space.arch_id(config)])
            self.targets.append(np.asarray(value, dtype=np.float64) * self.signs)
        self.batch = self.batch[len(configs):]
        if not self.batch:
            self.batch = self._next_batch()

    def _next_batch(self) -> list[Config]:
        torch = self.torch
        from botorch.acquisition.multi_objective.logei import (
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import ModelListGP, SingleTaskGP
        from botorch.optim import optimize_acqf_discrete
        from botorch.sampling import SobolQMCNormalSampler
        from gpytorch.mlls import ExactMarginalLogLikelihood

        seen = set(self.measured)
        unmeasured = np.array([i for i in range(len(self.pool)) if i not in seen])
        if len(unmeasured) == 0:
            return []
        if len(unmeasured) > self.candidates:
            unmeasured = self.rng.choice(unmeasured, size=self.candidates, replace=False)
        torch.manual_seed(self.seed + len(self.measured))
        train_x = torch.tensor(self.pool_features[self.measured], dtype=torch.float64)
        train_y = torch.tensor(np.array(self.targets), dtype=torch.float64)
        models = [SingleTaskGP(train_x, train_y[:, i:i + 1]) for i in range(train_y.shape[1])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for gp in models:
                fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp), max_attempts=1,
                                 optimizer_kwargs={"options": {"maxiter": self.fit_iterations}})
        model = ModelListGP(*models)
        acquisition = qLogNoisyExpectedHypervolumeImprovement(
            model=model, ref_point=self.reference, X_baseline=train_x, prune_baseline=True,
            sampler=SobolQMCNormalSampler(torch.Size([self.mc_samples]),
                                          seed=self.seed + len(self.measured)))
        choices = torch.tensor(self.pool_features[unmeasured], dtype=torch.float64)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chosen, _ = optimize_acqf_discrete(acquisition, q=min(self.batch_size,
                                                                  len(unmeasured)),
                                               choices=choices, unique=True)
        lookup = {tuple(row): i for row, i in zip(self.pool_features[unmeasured].tolist(),
                                                  unmeasured)}
        return [self.pool[lookup[tuple(row)]] for row in chosen.numpy().tolist()]
