"""NSGA-II assembled from pymoo's operators, over the study's history.

Each ask is one generation: the parents are the rank-and-crowding survivors of *every*
measured sub-network (an elitist archive, so a resumed study rebuilds the population from
the stored results), mated by binary tournament, simulated binary crossover and polynomial
mutation on the value indices, rounded, and stripped of sub-networks measured before.
"""

from __future__ import annotations

import numpy as np
from pymoo.core.duplicate import NoDuplicateElimination
from pymoo.core.mating import Mating
from pymoo.core.population import Population
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.operators.repair.rounding import RoundingRepair
from pymoo.operators.selection.tournament import TournamentSelection
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

from hwnas.pareto import to_minimization
from hwnas.space import Config
from hwnas.strategies.base import HistoryStrategy, check_positive
from hwnas.strategies.index_problem import IndexProblem


def _crowded_tournament(population: Population, pairs: np.ndarray,
                        random_state: np.random.Generator, **_: object) -> np.ndarray:
    """NSGA-II's crowded-comparison tournament: lower rank wins, then larger crowding
    distance, then a coin flip."""
    rank, crowding = population.get("rank"), population.get("crowding")
    winners = np.empty(len(pairs), dtype=np.int64)
    for i, (a, b) in enumerate(pairs):
        if rank[a] != rank[b]:
            winners[i] = a if rank[a] < rank[b] else b
        elif crowding[a] != crowding[b]:
            winners[i] = a if crowding[a] > crowding[b] else b
        else:
            winners[i] = a if random_state.random() < 0.5 else b
    return winners[:, None]


class NSGA2(HistoryStrategy):
    def __init__(self, population_size: int = 20, crossover_eta: float = 15.0,
                 mutation_eta: float = 20.0) -> None:
        self.batch_size = check_positive("population_size", population_size, 2)
        self.population_size = population_size
        self.crossover_eta, self.mutation_eta = crossover_eta, mutation_eta

    def ask(self, n: int) -> list[Config]:
        rng = self.rng()
        finished = self.finished
        if len(finished) < self.population_size:
            return self.starting_batch(n, rng)
        problem = IndexProblem(self.space, len(self.directions))
        parents = self.survivors(problem, finished, rng)
        mating = Mating(
            selection=TournamentSelection(func_comp=_crowded_tournament),
            crossover=SBX(prob=0.9, eta=self.crossover_eta, vtype=float,
                          repair=RoundingRepair()),
            mutation=PM(prob=1.0, eta=self.mutation_eta, vtype=float, repair=RoundingRepair()),
            eliminate_duplicates=NoDuplicateElimination(),
        )
        chosen: list[Config] = []
        taken: set[str] = set()
        for _ in range(20):
            offspring = mating.do(problem, parents, 2 * n, random_state=rng)
            chosen += self.unseen(problem.configs(offspring.get("X")), n - len(chosen), taken)
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
