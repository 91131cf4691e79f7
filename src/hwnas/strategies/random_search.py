"""Random search: uniform samples of sub-networks never measured before."""

from __future__ import annotations

from hwnas.space import Config
from hwnas.strategies.base import HistoryStrategy, check_positive


class RandomSearch(HistoryStrategy):
    #: cheap options for the conformance suite (hwnas.testing.strategies)
    test_options = {"batch_size": 5}

    def __init__(self, batch_size: int = 10) -> None:
        self.batch_size = check_positive("batch_size", batch_size)

    def ask(self, n: int) -> list[Config]:
        return self.random_unseen(n, self.rng(), set())
