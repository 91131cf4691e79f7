"""NSGA-II assembled from pymoo's operators, over the study's history.

Each ask is one generation: the parents are the rank-and-crowding survivors of *every*
measured sub-network (an elitist archive, so a resumed study rebuilds the population from
the stored results), mated by binary tournament and type-aware variation on the value
indices (:mod:`hwnas.strategies.variation`: SBX and polynomial mutation for ordered
dimensions, uniform crossover and random-choice mutation for categorical ones, about one
gene mutated per offspring), and stripped of sub-networks measured before. The first
generation is the starting design (:mod:`hwnas.strategies.design`).

Under constraints (:meth:`~hwnas.strategies.Strategy.constrain`), survival and the
tournament use constraint domination, as pymoo and Optuna do: feasible sub-networks before
infeasible ones, feasible ones by rank and crowding, infeasible ones by total violation;
those the study stopped after a cheap measure broke a constraint take part too (by their
violation), so the search is pulled towards the feasible region from the first
generation.
"""

from __future__ import annotations

import numpy as np
from pymoo.core.mating import Mating
from pymoo.core.population import Population
from pymoo.operators.selection.tournament import TournamentSelection
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

from hwnas.errors import InvalidConfigError
from hwnas.pareto import to_minimization
from hwnas.space import Config
from hwnas.strategies.base import HistoryStrategy, check_positive
from hwnas.strategies.index_problem import IndexProblem
from hwnas.strategies.predicted_search import rank_and_crowding
from hwnas.strategies.variation import (
    MUTATION_ETA,
    SBX_ETA,
    CanonicalDuplicates,
    TypedCrossover,
    TypedMutation,
)


def _crowded_tournament(population: Population, pairs: np.ndarray,
                        random_state: np.random.Generator, **_: object) -> np.ndarray:
    """NSGA-II's crowded-comparison tournament: lower rank wins, then larger crowding
    distance, then a coin flip."""
    rank, crowding = population.get("rank"), population.get("crowding")
    a, b = pairs[:, 0], pairs[:, 1]
    coin = random_state.random(len(pairs)) < 0.5
    a_wins = np.where(rank[a] != rank[b], rank[a] < rank[b],
                      np.where(crowding[a] != crowding[b], crowding[a] > crowding[b], coin))
    return np.where(a_wins, a, b)[:, None]


def typed_mating(space, crossover_eta: float = SBX_ETA,
                 mutation_eta: float = MUTATION_ETA) -> Mating:
    """Crowded tournament, type-aware crossover and mutation, canonical duplicates removed."""
    return Mating(
        selection=TournamentSelection(func_comp=_crowded_tournament),
        crossover=TypedCrossover(space, eta=crossover_eta),
        mutation=TypedMutation(space, eta=mutation_eta),
        eliminate_duplicates=CanonicalDuplicates(space),
    )


class NSGA2(HistoryStrategy):
    #: cheap options for the conformance suite (hwnas.testing.strategies)
    test_options = {"population_size": 8}

    def __init__(self, population_size: int = 20, crossover_eta: float = SBX_ETA,
                 mutation_eta: float = MUTATION_ETA) -> None:
        self.batch_size = check_positive("population_size", population_size, 2)
        self.population_size = population_size
        for name, eta in (("crossover_eta", crossover_eta), ("mutation_eta", mutation_eta)):
            if not isinstance(eta, (int, float)) or eta < 0:
                raise InvalidConfigError(f"{name} must be a number >= 0, got {eta!r}")
        self.crossover_eta, self.mutation_eta = crossover_eta, mutation_eta

    def ask(self, n: int) -> list[Config]:
        rng = self.rng()
        finished, violations = self.ranked()
        if len(finished) < self.population_size:
            return self.starting_batch(n, rng, self.population_size)
        problem = IndexProblem(self.space, len(self.directions))
        if self.constraints:
            parents = self.constrained_survivors(finished, violations, rng)
        else:
            parents = self.survivors(problem, finished, rng)
        mating = typed_mating(self.space, self.crossover_eta, self.mutation_eta)
        chosen: list[Config] = []
        taken: set[str] = set()
        for _ in range(20):
            offspring = mating.do(problem, parents, 2 * n, random_state=rng)
            if len(offspring):
                chosen += self.unseen(problem.configs(offspring.get("X")), n - len(chosen),
                                      taken)
            if len(chosen) == n:
                return chosen
        return chosen + self.random_unseen(n - len(chosen), rng, taken)

    def survivors(self, problem: IndexProblem, finished: list,
                  rng: np.random.Generator) -> Population:
        vectors = np.array([self.space.encode(r.config) for r in finished], dtype=float)
        objectives = to_minimization([r.values for r in finished], self.directions)
        population = Population.new("X", vectors, "F", objectives)
        return RankAndCrowding().do(problem, population, n_survive=self.population_size,
                                    random_state=rng)

    def constrained_survivors(self, ranked: list, violations: np.ndarray,
                              rng: np.random.Generator) -> Population:
        """Rank-and-crowding survival under constraint domination
        (:func:`~hwnas.strategies.predicted_search.rank_and_crowding` with violations),
        the survivors keeping the rank and crowding the tournament compares."""
        vectors = np.array([self.space.encode(r.config) for r in ranked], dtype=float)
        objectives = to_minimization([r.values if r.ok else [np.nan] * len(self.directions)
                                      for r in ranked], self.directions)
        rank, crowding = rank_and_crowding(objectives, violations)
        order = np.lexsort((rng.random(len(ranked)), -crowding, rank))[: self.population_size]
        return Population.new("X", vectors[order], "F", objectives[order], "rank", rank[order],
                              "crowding", crowding[order])
