"""The light storage steps read and write what Optuna's own storage API does."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from hwnas.storage import (
    add_trials,
    claim_trial,
    complete_trial,
    count_trials,
    get_trials,
    open_storage,
)
from hwnas.storage_sql import read_trials


@pytest.fixture
def stored(tmp_path):
    """An Optuna study (two objectives) with trials in every state, written by Optuna."""
    storage = open_storage(tmp_path / "s.db", heartbeat_interval=None)
    study = optuna.create_study(storage=storage, study_name="hwnas",
                                directions=["maximize", "minimize"])
    for number in range(4):
        trial = study.ask({"w": CategoricalDistribution((8, 16, 32)),
                           "d": IntDistribution(1, 4), "lr": FloatDistribution(1e-3, 1.0)})
        trial.set_user_attr("proposal", {"batch": 0, "position": number})
        trial.storage.set_trial_system_attr(trial._trial_id, "worker", "host:1")
        storage.set_trial_intermediate_value(trial._trial_id, 1, 0.5 * number)
        if number == 0:
            study.tell(trial, [0.9, float("inf")])
        elif number == 1:
            study.tell(trial, state=TrialState.FAIL)
        elif number == 2:
            study.tell(trial, [0.5, 2.0])
    study.enqueue_trial({"w": 16, "d": 2, "lr": 0.5}, user_attrs={"proposal": {"batch": 1}})
    return storage, storage.get_study_id_from_name("hwnas")


def test_read_trials_equals_optunas_reading(stored):
    storage, study_id = stored
    expected = storage.get_all_trials(study_id, deepcopy=False)
    assert {t.state for t in expected} == {TrialState.COMPLETE, TrialState.FAIL,
                                          TrialState.RUNNING, TrialState.WAITING}
    got = read_trials(storage, study_id)
    assert [t.__dict__ for t in got] == [t.__dict__ for t in expected]
    assert read_trials(storage, study_id, [expected[2]._trial_id, expected[0]._trial_id]) == \
        [expected[0], expected[2]]
    assert read_trials(storage, study_id, states=[TrialState.RUNNING, TrialState.WAITING]) == \
        expected[3:]
    assert read_trials(storage, study_id, [expected[0]._trial_id],
                       states=[TrialState.FAIL]) == []
    assert read_trials(storage, study_id, []) == []


def test_in_memory_storage_gives_the_same_trials(stored):
    storage, study_id = stored
    memory = optuna.storages.InMemoryStorage()
    memory_id = memory.create_new_study([optuna.study.StudyDirection.MAXIMIZE,
                                         optuna.study.StudyDirection.MINIMIZE])
    for trial in storage.get_all_trials(study_id, deepcopy=False):
        memory.create_new_trial(memory_id, template_trial=trial)
    ids = [t._trial_id for t in memory.get_all_trials(memory_id)]
    assert [t.number for t in get_trials(memory, memory_id, ids[1:3])] == [1, 2]
    assert [t.number for t in get_trials(memory, memory_id, states=(TrialState.WAITING,))] \
        == [4]


def test_queued_trials_are_numbered_claimed_up_to_a_limit_and_completed(stored):
    storage, study_id = stored
    templates = [create_trial(state=TrialState.WAITING, params={"w": w},
                              distributions={"w": CategoricalDistribution((8, 16, 32))},
                              user_attrs={"proposal": {"position": w}}) for w in (8, 32)]
    add_trials(storage, study_id, templates)
    trials = storage.get_all_trials(study_id, deepcopy=False)
    assert [t.number for t in trials] == list(range(7))
    assert [t.params for t in trials[5:]] == [{"w": 8}, {"w": 32}]
    first, second = trials[5]._trial_id, trials[6]._trial_id
    # COMPLETE 2 + RUNNING 1 = 3: a limit of 4 lets one more start, not two
    assert claim_trial(storage, study_id, first, "host:2", limit=4)
    assert not claim_trial(storage, study_id, second, "host:2", limit=4)
    assert not claim_trial(storage, study_id, first, "host:3")  # already taken
    claimed = storage.get_trial(first)
    assert claimed.state == TrialState.RUNNING and claimed.system_attrs["worker"] == "host:2"
    assert complete_trial(storage, first, [0.7, 1.5], {"measurement": {"a": 1}},
                          replace=False)
    assert not complete_trial(storage, first, [0.1, 0.1], {"measurement": {}})
    done = storage.get_trial(first)
    assert (done.state, done.values, done.user_attrs["measurement"]) == \
        (TrialState.COMPLETE, [0.7, 1.5], {"a": 1})
    assert count_trials(storage, study_id, (TrialState.COMPLETE,)) == 3
    assert count_trials(storage, study_id, (TrialState.WAITING, TrialState.FAIL)) == 3
