"""LINAS: predictor-in-the-loop search (as DyNAS-T's lightweight iterative NAS), that
knows when its predictors are weak.

Measure a starting design; then, each ask: fit one predictor per objective on every
measured sub-network (a pipeline :class:`~hwnas.predictors.SpaceEncoder` -> model, so
categorical dimensions are one-hot), and fill the batch from two sources:

- **exploit**: NSGA-II for many generations on *predicted* objectives only (thousands of
  candidates scored by the models), started from the measured front; the batch takes the
  best unmeasured candidates of the predicted front, by rank then crowding;
- **explore**: evolutionary offspring of the measured archive (the same variation as
  :class:`~hwnas.strategies.NSGA2`), screened when the predictors rank at all well, by
  an optimistic prediction: the mean minus the spread of the current and the previous
  asks' models (an ensemble over nested histories that costs no extra fit).

How much of the batch each source gets follows the predictors' *prospective* quality:
models fitted without the latest results rank those results (Kendall tau per objective,
the weakest objective counts). Good predictors get most of the batch; poor ones hand it
to the evolutionary offspring, so on a space where the predictors fail LINAS behaves like
NSGA-II instead of exploiting noise.

Under constraints (:meth:`~hwnas.strategies.Strategy.constrain`) one more predictor per
constrained key is fitted, on every result that has the key (a cheap key is known also for
the sub-networks the study stopped after their cheap measures), and the search follows
constraint domination on the *predicted* violation: the inner NSGA-II optimises the
predicted objectives under the predicted constraints, the exploited candidates are ranked
with the measured sub-networks (true violations) that way, and the evolutionary offspring
are bred from a constraint-dominated archive and screened by predicted violation first; so
the proposals are mostly feasible (``benchmarks/constrained_search.py``). The predicted
front is taken as predicted (it lies on the bound, where the best feasible sub-networks
are: a margin there missed them, an optimistic one wasted measurements); the evolutionary
and uniformly drawn candidates count as feasible only with a margin, the constraint
model's recent error towards infeasibility. The starting design is half as
large (most of a space-filling design would be infeasible). Without constraints nothing of
this runs.

Ours beyond the published recipe, each checked in ``benchmarks/search_efficiency.py``:

- a starting design that suits the space (:mod:`hwnas.strategies.design`);
- type-aware variation and canonical duplicate elimination in the inner search;
- the predictor (and, optionally, the encoding) is chosen by 3-fold cross-validation
  (``AutoPredictor``) only when the data has doubled, and refitted cheaply in between;
- everything is a function of the history (no state outside the study): the model
  choice, the prospective quality and so the batch split, so a resumed study proposes the
  same sub-networks. ``ask_info`` records the predictors, the cross-validated quality when
  reselected, the prospective quality (``previous_batch``) and the split.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sklearn

from hwnas.constraints import Constraint
from hwnas.errors import InvalidConfigError
from hwnas.pareto import non_dominated, to_minimization
from hwnas.predictors import ENCODINGS, PREDICTORS, AutoPredictor, prediction_quality
from hwnas.predictors.encoding import space_predictor
from hwnas.space import Config, SearchSpace
from hwnas.strategies.base import HistoryStrategy, check_positive, result_violation
from hwnas.strategies.predicted_search import breed, evolve, rank_order

MIN_CONSTRAINED_FINISHED = 4
"""Under constraints, fewest finished results objective predictors are fitted on (before,
the proposals come from constraint-dominated offspring screened by predicted violation)."""
MARGIN_QUANTILE = 0.75
"""Quantile of a constraint model's recent errors towards infeasibility kept as margin."""
MIN_PROSPECTIVE = 8
"""Fewest held-back results a prospective quality is measured on."""
PROSPECTIVE_WINDOWS = 2
"""Batches (the latest ones) that the prospective quality is measured on."""


class _PredictedProblem:
    """Value-index rows scored by the fitted predictors, every objective minimised."""

    def __init__(self, models: list, signs: np.ndarray, earlier: list[list],
                 constraints: Sequence[Constraint] = (), limits: list | None = None,
                 margins: Sequence[float] | None = None) -> None:
        self.models, self.signs, self.earlier = models, signs, earlier
        self.constraints, self.limits = tuple(constraints), limits or []
        self.margins = list(margins) if margins is not None else [0.0] * len(self.constraints)

    def violation(self, rows: np.ndarray, cautious: bool = False) -> np.ndarray:
        """Total predicted violation of each row (one fitted model per constraint);
        ``cautious``: each prediction moved towards the bound by its margin (how far the
        model has lately erred towards infeasibility), so "predicted feasible" means
        feasible with room."""
        rows = np.asarray(rows, dtype=np.int64)
        total = np.zeros(len(rows))
        for constraint, model, margin in zip(self.constraints, self.limits, self.margins):
            margin = margin if cautious else 0.0
            predicted = model.predict(rows)
            excess = predicted + margin - constraint.bound if constraint.op == "<=" \
                else constraint.bound - (predicted - margin)
            total += np.maximum(excess, 0.0)
        return total

    def score(self, rows: np.ndarray, models: list | None = None) -> np.ndarray:
        """Predictions (minimised) of each row; each encoding is computed once for all the
        models that share it (the pipelines' encoders need no fitting data)."""
        rows = np.asarray(rows, dtype=np.int64)
        features: dict[str, np.ndarray] = {}
        columns = []
        for model in models or self.models:
            encoder = model.named_steps["encode"]
            if encoder.encoding not in features:
                features[encoder.encoding] = encoder.transform(rows)
            columns.append(model.named_steps["model"].predict(features[encoder.encoding]))
        return np.column_stack(columns) * self.signs

    def optimistic(self, rows: np.ndarray) -> np.ndarray:
        """Mean minus spread of the current and the earlier asks' models (an ensemble
        over nested histories, free: those models are fitted already); where the models
        changed their minds most, the prediction is least certain and gets the benefit."""
        if not self.earlier:
            return self.score(rows)
        members = np.stack([self.score(rows, m) for m in [self.models, *self.earlier]])
        return members.mean(axis=0) - members.std(axis=0)


class LINAS(HistoryStrategy):
    """Predictor-in-the-loop search; see the module docstring.

    ``trust_tau=(low, high)``: at a prospective Kendall tau (weakest objective) of ``low``
    or below, only ``min_exploit`` of the batch comes from the predicted front; at
    ``high`` or above, all but ``min_explore`` of it; linear in between.
    """

    #: cheap options for the conformance suite (hwnas.testing.strategies)
    test_options = {"initial_population": 6, "batch_size": 4, "inner_population": 12,
                    "inner_generations": 3, "predictor": "ridge"}

    def __init__(self, initial_population: int = 20, batch_size: int = 10,
                 inner_population: int = 50, inner_generations: int = 10,
                 predictor: str = "auto", reselect_growth: float = 2.0,
                 encodings: Sequence[str] = ("typed",),
                 trust_tau: tuple[float, float] = (0.3, 0.7),
                 min_exploit: float = 0.2, min_explore: float = 0.1) -> None:
        self.initial_population = check_positive("initial_population", initial_population, 4)
        self.batch_size = check_positive("batch_size", batch_size)
        self.inner_population = check_positive("inner_population", inner_population, 4)
        self.inner_generations = check_positive("inner_generations", inner_generations)
        if predictor != "auto" and predictor not in PREDICTORS:
            PREDICTORS.get(predictor)  # raises, listing the valid names
        if reselect_growth < 1.0:
            raise InvalidConfigError(f"reselect_growth must be >= 1, got {reselect_growth}")
        encodings = tuple(encodings) if not isinstance(encodings, str) else (encodings,)
        unknown = [e for e in encodings if e not in ENCODINGS]
        if not encodings or unknown:
            raise InvalidConfigError(
                f"encodings must name one or more of {list(ENCODINGS)}, got {list(encodings)}"
            )
        low, high = trust_tau
        if not -1.0 <= low < high <= 1.0:
            raise InvalidConfigError(f"trust_tau must be (low, high) with -1 <= low < high "
                                     f"<= 1, got {trust_tau!r}")
        for name, value in (("min_exploit", min_exploit), ("min_explore", min_explore)):
            if not 0.0 <= value <= 1.0:
                raise InvalidConfigError(f"{name} must be in [0, 1], got {value!r}")
        if min_exploit + min_explore > 1.0:
            raise InvalidConfigError("min_exploit + min_explore must not exceed 1")
        self.predictor, self.reselect_growth = predictor, reselect_growth
        self.encodings = encodings
        self.trust_tau = (float(low), float(high))
        self.min_exploit, self.min_explore = float(min_exploit), float(min_explore)

    def bind(self, space: SearchSpace, directions, seed: int) -> None:
        super().bind(space, directions, seed)
        self._chosen: list[tuple[str, str] | None] = [None] * len(self.directions)
        self._chosen_at = -1
        self._fitted: dict[tuple, list] = {}
        self._limit_choice: dict[str, tuple[int, tuple[str, str]]] = {}
        self._limit_fitted: dict[tuple, object] = {}

    # -- predictors ---------------------------------------------------------------------------
    def _selection_point(self, n_finished: int) -> int:
        """The model choice is redone when the data reaches ``initial_population * g**k``
        results (g = ``reselect_growth``), on exactly those first results, so the choice is
        a function of the history alone and a rebuilt strategy makes the same one."""
        point = self.initial_population
        while point * self.reselect_growth <= n_finished and self.reselect_growth > 1.0:
            point = int(np.ceil(point * self.reselect_growth))
        return point

    def _choose_models(self, rows: np.ndarray, targets: np.ndarray) -> list[tuple[str, str]]:
        """(model name, encoding) per objective, cross-validated at the selection points."""
        point = self._selection_point(len(rows))
        if self.predictor != "auto" and len(self.encodings) == 1:
            return [(self.predictor, self.encodings[0])] * targets.shape[1]
        if point != self._chosen_at:
            candidates = PREDICTORS.names() if self.predictor == "auto" else [self.predictor]
            candidates = [c for c in ("ridge", "svr", "gbt") if c in candidates] or candidates
            qualities = []
            for column in range(targets.shape[1]):
                auto = AutoPredictor(candidates=tuple(candidates), cv=3, random_state=self.seed,
                                     space=self.space, encodings=self.encodings)
                auto.fit(rows[:point], targets[:point, column])
                self._chosen[column] = (auto.chosen_, auto.encoding_)
                qualities.append(auto.quality_.to_dict())
            self._chosen_at = point
            self.ask_info["cross_validated"] = qualities
        return list(self._chosen)

    def _fit(self, choice: list[tuple[str, str]], rows: np.ndarray,
             targets: np.ndarray) -> list:
        """One fitted pipeline per objective on the first ``len(rows)`` results. Kept for a
        few asks (the results only grow, so the same prefix gives the same models): the
        prospective quality reuses the models of earlier asks instead of refitting."""
        key = (len(rows), tuple(choice))
        if key not in self._fitted:
            self._fitted[key] = [
                space_predictor(self.space, name, encoding).fit(rows, targets[:, column])
                for column, (name, encoding) in enumerate(choice)]
            for old in list(self._fitted)[:-(PROSPECTIVE_WINDOWS + 2)]:
                del self._fitted[old]
        return self._fitted[key]

    def _prospective_quality(self, choice: list[tuple[str, str]], rows: np.ndarray,
                             targets: np.ndarray) -> tuple[list[dict[str, float]] | None, list]:
        """How well models fitted without the latest results rank those results: the last
        ``PROSPECTIVE_WINDOWS`` batches, each predicted by the models of the history
        before it (the models the asks that proposed them had). Also returns those models."""
        truth, predicted, earlier = [], [], []
        for window in range(1, PROSPECTIVE_WINDOWS + 1):
            end, start = len(rows) - (window - 1) * self.batch_size, \
                len(rows) - window * self.batch_size
            if start < self.initial_population:
                break
            models = self._fit(choice, rows[:start], targets[:start])
            earlier.append(models)
            truth.append(targets[start:end])
            predicted.append(np.column_stack([m.predict(rows[start:end]) for m in models]))
        if not truth or sum(len(t) for t in truth) < MIN_PROSPECTIVE:
            return None, earlier
        truth_all, predicted_all = np.concatenate(truth), np.concatenate(predicted)
        return [prediction_quality(truth_all[:, c], predicted_all[:, c]).to_dict()
                for c in range(targets.shape[1])], earlier

    def _exploit_share(self, quality: list[dict[str, float]] | None) -> float:
        """The fraction of the batch taken from the predicted front."""
        low, high = self.trust_tau
        if quality is None:
            trust = 0.5
        else:
            tau = min(q["kendall_tau"] for q in quality)
            trust = float(np.clip((tau - low) / (high - low), 0.0, 1.0))
        return self.min_exploit + (1.0 - self.min_exploit - self.min_explore) * trust

    # -- ask ----------------------------------------------------------------------------------
    def ask(self, n: int) -> list[Config]:
        rng = self.rng()
        self.ask_info = {}
        finished = self.finished
        ranked, violations = self.ranked()
        start = self.initial_population
        if self.constraints:  # most of a space-filling design would be infeasible
            start = max(MIN_CONSTRAINED_FINISHED, self.initial_population // 2)
        if len(ranked) < start:
            return self.starting_batch(n, rng, start)
        # inputs are built here, valid by construction: skip scikit-learn's re-checks
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            if self.constraints and len(finished) < MIN_CONSTRAINED_FINISHED:
                return self._ask_feasible_first(n, ranked, violations, rng)
            return self._ask(n, finished, rng)

    # -- constraints --------------------------------------------------------------------------
    def _limit_models(self) -> tuple[list, list[float]]:
        """One fitted pipeline per constraint, on every result that has its key (finite),
        the model chosen (``predictor="auto"``) by cross-validation when that data has
        doubled, as for the objectives; and per constraint its margin: the
        ``MARGIN_QUANTILE`` quantile of how far the true value lay on the infeasible side
        of the prediction, over the latest results predicted by a model fitted without
        them (0 when the model erred the other way, or too few results)."""
        models, margins = [], []
        for constraint in self.constraints:
            known = [r for r in self.results if np.isfinite(r.metrics.get(constraint.key, np.nan))]
            rows = np.stack([self.space.encode(r.config) for r in known]) if known \
                else np.zeros((0, len(self.space)), dtype=np.int64)
            target = np.array([r.metrics[constraint.key] for r in known], dtype=np.float64)
            if len(known) < 2:
                models.append(_Constant(float(target[0]) if len(known) else constraint.bound))
                margins.append(0.0)
                continue
            choice = self._limit_choice_for(constraint.key, rows, target)
            models.append(self._limit_fit(constraint.key, choice, rows, target))
            held = min(PROSPECTIVE_WINDOWS * self.batch_size, len(rows) // 2)
            margin = 0.0
            if held >= MIN_PROSPECTIVE // 2 and len(rows) - held >= 2:
                earlier = self._limit_fit(constraint.key, choice, rows[:-held], target[:-held])
                errors = target[-held:] - earlier.predict(rows[-held:])
                if constraint.op == ">=":
                    errors = -errors
                margin = max(0.0, float(np.quantile(errors, MARGIN_QUANTILE)))
            margins.append(margin)
        return models, margins

    def _limit_fit(self, key: str, choice: tuple[str, str], rows: np.ndarray,
                   target: np.ndarray):
        """A constraint model on the first ``len(rows)`` results, kept for a few asks."""
        cache_key = (key, len(rows), choice)
        if cache_key not in self._limit_fitted:
            self._limit_fitted[cache_key] = space_predictor(self.space, *choice).fit(rows, target)
            mine = [k for k in self._limit_fitted if k[0] == key]
            for old in mine[:-(PROSPECTIVE_WINDOWS + 2)]:
                del self._limit_fitted[old]
        return self._limit_fitted[cache_key]

    def _limit_choice_for(self, key: str, rows: np.ndarray,
                          target: np.ndarray) -> tuple[str, str]:
        if self.predictor != "auto" and len(self.encodings) == 1:
            return (self.predictor, self.encodings[0])
        point = self._selection_point(len(rows))
        cached = self._limit_choice.get(key)
        if cached is None or cached[0] != point or len(rows) < 4:
            if len(rows) < 4:
                return ("ridge", self.encodings[0])
            candidates = PREDICTORS.names() if self.predictor == "auto" else [self.predictor]
            candidates = [c for c in ("ridge", "svr", "gbt") if c in candidates] or candidates
            auto = AutoPredictor(candidates=tuple(candidates), cv=3, random_state=self.seed,
                                 space=self.space, encodings=self.encodings)
            auto.fit(rows[:point], target[:point])
            self._limit_choice[key] = (point, (auto.chosen_, auto.encoding_))
        return self._limit_choice[key][1]

    def _ask_feasible_first(self, n: int, ranked: list, violations: np.ndarray,
                            rng: np.random.Generator) -> list[Config]:
        """Too few finished results for objective predictors: offspring of the
        constraint-dominated archive, those with the least predicted violation first."""
        problem = _PredictedProblem([], np.ones(len(self.directions)), [], self.constraints,
                                    *self._limit_models())
        rows = np.stack([self.space.encode(r.config) for r in ranked])
        measured = to_minimization([r.values if r.ok else [np.nan] * len(self.directions)
                                    for r in ranked], self.directions)
        taken: set[str] = set()
        self.ask_info.update({"n_training": 0, "n_exploit": 0, "feasible_first": True})
        chosen = self._explore(problem, rows, measured, n, rng, taken, False, violations,
                               minimized=True)
        if len(chosen) < n:
            chosen += self.random_unseen(n - len(chosen), rng, taken)
        return chosen

    def _ask(self, n: int, finished: list, rng: np.random.Generator) -> list[Config]:
        rows = np.stack([self.space.encode(r.config) for r in finished])
        targets = np.array([r.values for r in finished], dtype=np.float64)
        choice = self._choose_models(rows, targets)
        models = self._fit(choice, rows, targets)
        quality, earlier = self._prospective_quality(choice, rows, targets)
        share = self._exploit_share(quality)
        n_exploit = min(n, int(round(n * share)))
        self.ask_info.update({"predictors": [name for name, _ in choice],
                              "encodings": [encoding for _, encoding in choice],
                              "n_training": len(finished), "n_exploit": n_exploit})
        if quality is not None:
            self.ask_info["previous_batch"] = quality
        signs = np.array([-1.0 if d == "maximize" else 1.0 for d in self.directions])
        limits, margins = self._limit_models() if self.constraints else (None, None)
        problem = _PredictedProblem(models, signs, earlier, self.constraints, limits, margins)
        if self.constraints:
            self.ask_info["constraint_margins"] = margins
        taken: set[str] = set()
        chosen = self._exploit(problem, rows, targets, n_exploit, rng, taken)
        trusted = quality is not None and min(q["kendall_tau"] for q in quality) > self.trust_tau[0]
        if self.constraints:
            ranked, violations = self.ranked()
            archive_rows = np.stack([self.space.encode(r.config) for r in ranked])
            archive = to_minimization([r.values if r.ok else [np.nan] * len(self.directions)
                                       for r in ranked], self.directions)
            chosen += self._explore(problem, archive_rows, archive, n - len(chosen), rng, taken,
                                    trusted, violations, minimized=True)
        else:
            chosen += self._explore(problem, rows, targets, n - len(chosen), rng, taken,
                                    trusted)
        if len(chosen) < n:
            chosen += self.random_unseen(n - len(chosen), rng, taken)
        return chosen

    def _exploit(self, problem: _PredictedProblem, rows: np.ndarray, targets: np.ndarray,
                 n: int, rng: np.random.Generator, taken: set[str]) -> list[Config]:
        """The unseen candidates of the predicted front, by predicted rank then crowding:
        NSGA-II on predictions, started from the measured front (topped up at random)."""
        if n <= 0:
            return []
        constrained = bool(problem.constraints)
        if constrained:  # the best measured by constraint domination, feasible front first
            violations = np.array([result_violation(self.constraints, r)
                                   for r in self.finished])
            front = rank_order(to_minimization(targets, self.directions), rng,
                               violations)[: self.inner_population]
        else:
            front = non_dominated(targets, self.directions)[: self.inner_population]
        start = [rows[front]]
        if len(front) < self.inner_population:
            start.append(np.stack([self.space.encode(self.space.sample(rng))
                                   for _ in range(self.inner_population - len(front))]))
        population, scores = evolve(self.space, problem.score, np.concatenate(start),
                                    self.inner_population, self.inner_generations, rng,
                                    violation=problem.violation if constrained else None)
        # rank the candidates together with the measured sub-networks (their true values):
        # a candidate predicted to be dominated by a measured one comes after those that
        # would extend the measured front
        measured = to_minimization(targets, self.directions)
        if constrained:
            order = rank_order(np.concatenate([measured, scores]), rng,
                               np.concatenate([violations, problem.violation(population)]))
        else:
            order = rank_order(np.concatenate([measured, scores]), rng)
        order = order[order >= len(measured)] - len(measured)
        return self.unseen_rows(population[order], n, taken)

    def _explore(self, problem: _PredictedProblem, rows: np.ndarray, targets: np.ndarray,
                 n: int, rng: np.random.Generator, taken: set[str],
                 screen: bool, violations: np.ndarray | None = None,
                 minimized: bool = False) -> list[Config]:
        """Offspring of the measured archive (NSGA-II's generation); when the predictors
        are trusted at all, four times as many are bred and those with the best optimistic
        prediction (:meth:`_PredictedProblem.optimistic`) kept. Under constraints the
        archive and the offspring's parents follow constraint domination (``violations``
        per archive row; ``targets`` then already minimised, NaN where not measured),
        four times as many are always bred, and the screen puts the least predicted
        violation first."""
        if n <= 0:
            return []
        measured = targets if minimized else to_minimization(targets, self.directions)
        constrained = violations is not None
        size = min(len(rows), max(2 * self.batch_size, self.initial_population))
        archive = rank_order(measured, rng, violations)[:size]
        wanted = 4 * n if screen or constrained else n
        candidates: list[Config] = []
        local = set(taken)
        for _ in range(10):
            children = breed(self.space, rows[archive], measured[archive], wanted, rng,
                             violation=violations[archive] if constrained else None)
            candidates += self.unseen_rows(children, wanted - len(candidates), local)
            if len(candidates) >= wanted:
                break
        if constrained:  # and as many uniform samples: the feasible region beyond the archive
            candidates += self.random_unseen(wanted, rng, local)
        if constrained and len(candidates) > n:
            encoded = np.stack([self.space.encode(c) for c in candidates])
            predicted = problem.violation(encoded, cautious=True)
            if screen:
                finished = np.flatnonzero(violations <= 0.0)
                order = rank_order(np.concatenate([measured[finished],
                                                   problem.optimistic(encoded)]), rng,
                                   np.concatenate([violations[finished], predicted]))
                order = order[order >= len(finished)] - len(finished)
            else:
                order = np.lexsort((rng.random(len(candidates)), predicted))
            candidates = [candidates[i] for i in order]
        elif screen and len(candidates) > n:
            encoded = np.stack([self.space.encode(c) for c in candidates])
            order = rank_order(np.concatenate([measured, problem.optimistic(encoded)]), rng)
            candidates = [candidates[i - len(measured)] for i in order if i >= len(measured)]
        return self.unseen(candidates, n, taken)


class _Constant:
    """A stand-in predictor before a constrained key has two known values."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.full(len(rows), self.value)
