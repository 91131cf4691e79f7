"""LINAS: predictor-in-the-loop search (as DyNAS-T's lightweight iterative NAS).

Measure a small starting population; then, each ask: fit one predictor per objective on
every measured sub-network, run NSGA-II for many generations on *predicted* objectives only
(thousands of candidates scored by a regression model), and propose the best
not-yet-measured candidates of the predicted front for real measurement.

Ours beyond the published recipe, each checked in ``benchmarks/search_efficiency.py``:

- the starting population holds the largest and the smallest sub-network (the ends of the
  front, which uniform sampling practically never draws);
- the inner search starts from the measured front, topped up with random candidates;
- the batch is the predicted front ranked by rank and crowding, measured ones removed, and
  small (10) so the predictors learn between batches;
- the predictor is chosen by 3-fold cross-validation (``AutoPredictor``) only when the data
  has doubled, and refitted cheaply in between; the choice depends on the history alone,
  so a resumed study proposes the same sub-networks;
- each batch's predictions are scored once it is measured (``ask_info["previous_batch"]``:
  Kendall tau and MAPE on sub-networks the models had not seen), and the study records it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
from pymoo.core.population import Population
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.operators.repair.rounding import RoundingRepair
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
from pymoo.optimize import minimize

from hwnas.errors import InvalidConfigError
from hwnas.pareto import non_dominated
from hwnas.predictors import PREDICTORS, AutoPredictor, prediction_quality
from hwnas.space import Config, SearchSpace
from hwnas.strategies.base import HistoryStrategy, check_positive
from hwnas.strategies.index_problem import IndexProblem


class _PredictedProblem(IndexProblem):
    """Value-index vectors scored by the fitted predictors, every objective minimised."""

    def __init__(self, space: SearchSpace, models: list, signs: np.ndarray) -> None:
        super().__init__(space, len(models))
        self.models, self.signs = models, signs

    def _evaluate(self, x: np.ndarray, out: dict, *args: Any, **kwargs: Any) -> None:
        features = self.space.features_from_indices(np.rint(x).astype(np.int64))
        out["F"] = np.column_stack([m.predict(features) for m in self.models]) * self.signs


class LINAS(HistoryStrategy):
    def __init__(self, initial_population: int = 20, batch_size: int = 10,
                 inner_population: int = 50, inner_generations: int = 20,
                 predictor: str = "auto", reselect_growth: float = 2.0) -> None:
        self.initial_population = check_positive("initial_population", initial_population, 4)
        self.batch_size = check_positive("batch_size", batch_size)
        self.inner_population = check_positive("inner_population", inner_population, 4)
        self.inner_generations = check_positive("inner_generations", inner_generations)
        if predictor != "auto" and predictor not in PREDICTORS:
            PREDICTORS.get(predictor)  # raises, listing the valid names
        if reselect_growth < 1.0:
            raise InvalidConfigError(f"reselect_growth must be >= 1, got {reselect_growth}")
        self.predictor, self.reselect_growth = predictor, reselect_growth

    def bind(self, space: SearchSpace, directions, seed: int) -> None:
        super().bind(space, directions, seed)
        self._chosen: list[str | None] = [None] * len(self.directions)
        self._chosen_at = -1
        self._last_predictions: dict[str, np.ndarray] = {}

    # -- predictors ---------------------------------------------------------------------------
    def _selection_point(self, n_finished: int) -> int:
        """The model choice is redone when the data reaches ``initial_population * g**k``
        results (g = ``reselect_growth``), on exactly those first results, so the choice is
        a function of the history alone and a rebuilt strategy makes the same one."""
        point = self.initial_population
        while point * self.reselect_growth <= n_finished and self.reselect_growth > 1.0:
            point = int(np.ceil(point * self.reselect_growth))
        return point

    def _fit_models(self, features: np.ndarray, targets: np.ndarray) -> tuple[list, list]:
        """One fitted model per objective, and its name."""
        point = self._selection_point(len(features))
        reselect = self.predictor == "auto" and point != self._chosen_at
        models, qualities = [], []
        for column in range(targets.shape[1]):
            y = targets[:, column]
            if self.predictor != "auto":
                self._chosen[column] = self.predictor
            elif reselect:
                auto = AutoPredictor(cv=3, random_state=self.seed).fit(features[:point],
                                                                       y[:point])
                self._chosen[column] = auto.chosen_
                qualities.append(auto.quality_.to_dict())
            models.append(PREDICTORS.create(self._chosen[column]).fit(features, y))
        if reselect:
            self._chosen_at = point
            self.ask_info["cross_validated"] = qualities
        return models, list(self._chosen)

    def _record_prospective_quality(self) -> None:
        """How well the last models ranked the batch they proposed, once it is measured."""
        by_id = {r.arch_id: r for r in self.finished}
        quality = []
        for column in range(len(self.directions)):
            pairs = [(by_id[i].values[column], p[column])
                     for i, p in self._last_predictions.items() if i in by_id]
            if len(pairs) >= 2:
                truth, predicted = np.array(pairs).T
                quality.append(prediction_quality(truth, predicted).to_dict())
        if quality:
            self.ask_info["previous_batch"] = quality

    # -- ask ----------------------------------------------------------------------------------
    def ask(self, n: int) -> list[Config]:
        rng = self.rng()
        self.ask_info = {}
        finished = self.finished
        if len(finished) < self.initial_population:
            return self.starting_batch(n, rng)
        self._record_prospective_quality()
        configs = [r.config for r in finished]
        features = self.space.features(configs)
        targets = np.array([r.values for r in finished], dtype=np.float64)
        models, names = self._fit_models(features, targets)
        self.ask_info["predictors"] = names
        self.ask_info["n_training"] = len(finished)
        signs = np.array([-1.0 if d == "maximize" else 1.0 for d in self.directions])
        problem = _PredictedProblem(self.space, models, signs)
        population = self._inner_search(problem, finished, targets, rng)
        chosen = self._pick(problem, population, n, rng)
        if len(chosen) < n:
            chosen += self.random_unseen(n - len(chosen), rng,
                                         {self.space.arch_id(c) for c in chosen})
        vectors = np.stack([self.space.encode(c) for c in chosen])
        predictions = problem.evaluate(vectors.astype(float), return_values_of=["F"]) * signs
        self._last_predictions = {self.space.arch_id(c): p for c, p in zip(chosen, predictions)}
        return chosen

    def _inner_search(self, problem: _PredictedProblem, finished: list, targets: np.ndarray,
                      rng: np.random.Generator) -> Population:
        """NSGA-II on predictions, started from the measured front (topped up with random)."""
        front = non_dominated(targets, self.directions)
        start = [self.space.encode(finished[i].config) for i in front][: self.inner_population]
        while len(start) < self.inner_population:
            start.append(self.space.encode(self.space.sample(rng)))
        algorithm = PymooNSGA2(
            pop_size=self.inner_population, sampling=np.array(start, dtype=float),
            crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
            mutation=PM(prob=1.0, eta=20, vtype=float, repair=RoundingRepair()),
            eliminate_duplicates=False,  # measured ones are filtered at the pick; 2x faster
        )
        result = minimize(problem, algorithm, ("n_gen", self.inner_generations),
                          seed=int(rng.integers(2**31 - 1)), verbose=False)
        return result.pop

    def _pick(self, problem: _PredictedProblem, population: Population, n: int,
              rng: np.random.Generator) -> list[Config]:
        """The unseen candidates in order of predicted rank, then crowding."""
        ranked = RankAndCrowding().do(problem, population, n_survive=len(population),
                                      random_state=rng)
        return self.unseen(problem.configs(ranked.get("X")), n, set())

