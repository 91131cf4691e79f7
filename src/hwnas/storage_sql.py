"""Prebuilt SQL over the tables of Optuna's RDB storage, and a light reader of trials.

The search loop runs a handful of statements per evaluation (claim, complete, count). Built
afresh each time, an SQLAlchemy statement costs more Python time than the database spends
running it (about 0.6 ms of building and cache-key generation against 0.1-0.3 ms of SQLite
work); so each statement here is built once, with bound parameters, and reused (SQLAlchemy
then finds its compiled form at once).

:func:`read_trials` reads trials whole (values, parameters, attributes, intermediate
values) in six queries for any number of trials, where Optuna's ``get_trial`` loads each
trial through the ORM with a lazy load per relation (about 5 ms a trial).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

#: trial ids per ``IN (...)`` list (well under SQLite's and every server's bound-parameter cap)
CHUNK = 500


def tables() -> Any:
    """Optuna's table models (``optuna.storages._rdb.models``)."""
    from optuna.storages._rdb import models

    return models


@functools.cache
def statements() -> SimpleNamespace:
    """The statements of the search loop, built once (parameters are bound per call)."""
    import sqlalchemy as sa
    from sqlalchemy import bindparam

    models = tables()
    trials = models.TrialModel.__table__
    trial_attrs = models.TrialSystemAttributeModel.__table__
    user_attrs = models.TrialUserAttributeModel.__table__
    beats = models.TrialHeartbeatModel.__table__
    study_attrs = models.StudySystemAttributeModel.__table__
    values = models.TrialValueModel.__table__
    params = models.TrialParamModel.__table__
    claim = trials.update().where(trials.c.trial_id == bindparam("b_trial"),
                                  trials.c.state == TrialState.WAITING)
    running = TrialState.RUNNING
    return SimpleNamespace(
        trials=trials, user_attrs=user_attrs, trial_attrs=trial_attrs, beats=beats,
        study_attrs=study_attrs, values=values, params=params,
        count_before=sa.select(sa.func.count()).select_from(trials).where(
            trials.c.study_id == bindparam("b_study"), trials.c.trial_id < bindparam("b_trial")),
        states=sa.select(trials.c.trial_id, trials.c.state).where(
            trials.c.study_id == bindparam("b_study")).order_by(trials.c.trial_id),
        claim=claim.values(state=running, datetime_start=bindparam("b_now")),
        drop_trial_attr=trial_attrs.delete().where(trial_attrs.c.trial_id == bindparam("b_trial"),
                                                   trial_attrs.c.key == bindparam("b_key")),
        add_trial_attr=trial_attrs.insert(),
        add_beat=beats.insert().values(trial_id=bindparam("b_trial"), heartbeat=sa.func.now()),
        complete=trials.update().where(trials.c.trial_id == bindparam("b_trial"),
                                       trials.c.state == running)
        .values(state=TrialState.COMPLETE, datetime_complete=bindparam("b_now")),
        add_user_attrs=user_attrs.insert(),
        add_values=values.insert(),
        add_params=params.insert(),
        add_trial=trials.insert().values(study_id=bindparam("b_study"),
                                         number=bindparam("b_number"),
                                         state=TrialState.WAITING),
        set_number=trials.update().where(trials.c.trial_id == bindparam("b_trial"))
        .values(number=bindparam("b_number")),
        lock_study=sa.select(models.StudyModel.__table__.c.study_id).where(
            models.StudyModel.__table__.c.study_id == bindparam("b_study")),
        waiting=sa.select(trials.c.trial_id, trials.c.number, user_attrs.c.value_json)
        .select_from(trials.outerjoin(user_attrs, sa.and_(
            user_attrs.c.trial_id == trials.c.trial_id,
            user_attrs.c.key == bindparam("b_key"))))
        .where(trials.c.study_id == bindparam("b_study"),
               trials.c.state == TrialState.WAITING),
        study_attr=sa.select(study_attrs.c.value_json).where(
            study_attrs.c.study_id == bindparam("b_study"),
            study_attrs.c.key == bindparam("b_key")),
        add_study_attr=study_attrs.insert(),
        swap_study_attr=study_attrs.update().where(
            study_attrs.c.study_id == bindparam("b_study"), study_attrs.c.key == bindparam("b_key"),
            study_attrs.c.value_json == bindparam("b_expected"))
        .values(value_json=bindparam("b_new")),
    )


# Statements over a fixed set of states or keys are built once per set: an "expanding" bound
# list is rendered into the SQL text on every call, which costs about as much as building.
@functools.cache
def count_in(states: tuple[TrialState, ...]) -> Any:
    """``SELECT count(*)`` of a study's trials in ``states``."""
    import sqlalchemy as sa
    from sqlalchemy import bindparam

    trials = tables().TrialModel.__table__
    return sa.select(sa.func.count()).select_from(trials).where(
        trials.c.study_id == bindparam("b_study"), trials.c.state.in_(states))


@functools.cache
def claim_below(busy: tuple[TrialState, ...]) -> Any:
    """WAITING -> RUNNING of one trial while the study holds fewer than ``b_limit`` trials
    in ``busy``: the count and the switch in one statement."""
    import sqlalchemy as sa
    from sqlalchemy import bindparam

    trials = tables().TrialModel.__table__
    others = trials.alias("others")
    counted = (sa.select(sa.func.count()).select_from(others)
               .where(others.c.study_id == bindparam("b_study"), others.c.state.in_(busy))
               .subquery("counted"))  # a derived table: MySQL reads its own table so
    return (trials.update().where(trials.c.trial_id == bindparam("b_trial"),
                                  trials.c.state == TrialState.WAITING,
                                  sa.select(counted).scalar_subquery() < bindparam("b_limit"))
            .values(state=TrialState.RUNNING, datetime_start=bindparam("b_now")))


@functools.cache
def drop_user_attrs(keys: tuple[str, ...]) -> Any:
    """Delete one trial's user attributes ``keys``."""
    from sqlalchemy import bindparam

    table = tables().TrialUserAttributeModel.__table__
    return table.delete().where(table.c.trial_id == bindparam("b_trial"), table.c.key.in_(keys))


@functools.cache
def _head(by_ids: bool, states: tuple[TrialState, ...] | None) -> Any:
    """The trials' own rows, picked by id (bound per call) and/or by state."""
    import sqlalchemy as sa
    from sqlalchemy import bindparam

    trials = tables().TrialModel.__table__
    where = [trials.c.study_id == bindparam("b_study")]
    if by_ids:
        where.append(trials.c.trial_id.in_(bindparam("b_ids", expanding=True)))
    if states is not None:
        where.append(trials.c.state.in_(states))
    return sa.select(trials.c.trial_id, trials.c.number, trials.c.state,
                     trials.c.datetime_start, trials.c.datetime_complete
                     ).where(*where).order_by(trials.c.trial_id)


@functools.cache
def _related(by_ids: bool) -> list[tuple[str, Any]]:
    """One query per table of a trial's values, parameters, attributes and intermediate
    values: of the trials ``b_ids``, or of every trial of the study ``b_study``."""
    import sqlalchemy as sa
    from sqlalchemy import bindparam

    models = tables()
    trials = models.TrialModel.__table__
    queries = []
    for name, model, columns in (
            ("values", models.TrialValueModel, ("objective", "value", "value_type")),
            ("params", models.TrialParamModel,
             ("param_id", "param_name", "param_value", "distribution_json")),
            ("user_attrs", models.TrialUserAttributeModel, ("key", "value_json")),
            ("system_attrs", models.TrialSystemAttributeModel, ("key", "value_json")),
            ("intermediate", models.TrialIntermediateValueModel,
             ("step", "intermediate_value", "intermediate_value_type"))):
        table = model.__table__
        picked = (table.c.trial_id.in_(bindparam("b_ids", expanding=True)) if by_ids else
                  table.c.trial_id.in_(sa.select(trials.c.trial_id)
                                       .where(trials.c.study_id == bindparam("b_study"))))
        queries.append((name, sa.select(table.c.trial_id, *(table.c[c] for c in columns))
                        .where(picked)))
    return queries


def read_trials(storage: optuna.storages.RDBStorage, study_id: int,
                trial_ids: Sequence[int] | None = None,
                states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
    """The study's trials (those of ``trial_ids`` and/or in ``states``; all by default), as
    Optuna's ``get_all_trials`` builds them, in creation order; six queries per
    :data:`CHUNK` ids.

    The queries are not one snapshot (SQLite reads outside a transaction), so the trials'
    rows come first: what the other tables hold is then at least as new as the state read.
    A finished trial's figures and attributes are written before or with its state, so a
    finished trial always comes whole; an unfinished one may carry newer figures than its
    state says, and is read again once it has finished."""
    if trial_ids is not None and len(trial_ids) > CHUNK:
        ids = list(trial_ids)
        return [trial for start in range(0, len(ids), CHUNK)
                for trial in read_trials(storage, study_id, ids[start:start + CHUNK], states)]
    if trial_ids is not None and not trial_ids:
        return []
    head = _head(trial_ids is not None, tuple(states) if states is not None else None)
    every = trial_ids is None and states is None
    with storage.engine.connect() as connection:
        rows = connection.execute(head, {"b_study": study_id, "b_ids": list(trial_ids or ())}
                                  ).all()
        picked = [row[0] for row in rows]
        parts: dict[str, list[Any]] = {name: [] for name, _ in _related(True)}
        for start in [0] if every else range(0, len(picked), CHUNK):
            bound = {"b_study": study_id} if every else {"b_ids": picked[start:start + CHUNK]}
            for name, query in _related(not every):
                parts[name].extend(connection.execute(query, bound).all())
    return _build(rows, parts)


@functools.lru_cache(maxsize=4096)
def json_to_distribution(text: str) -> Any:
    """Optuna's ``json_to_distribution``, parsed once per text (every trial of a study
    repeats the same few distributions)."""
    from optuna.distributions import json_to_distribution as parse

    return parse(text)


def _build(rows: list[Any], parts: dict[str, list[Any]]) -> list[FrozenTrial]:
    models = tables()
    by_id: dict[int, dict[str, Any]] = {
        row[0]: {"values": {}, "params": [], "user_attrs": {}, "system_attrs": {},
                 "intermediate": {}} for row in rows}
    values_model, steps_model = models.TrialValueModel, models.TrialIntermediateValueModel
    for trial_id, objective, value, kind in parts["values"]:
        if trial_id in by_id:  # (not a trial added after the trials were read)
            by_id[trial_id]["values"][objective] = values_model.stored_repr_to_value(value, kind)
    for trial_id, param_id, name, value, distribution in parts["params"]:
        if trial_id in by_id:
            by_id[trial_id]["params"].append((param_id, name, value, distribution))
    for part in ("user_attrs", "system_attrs"):
        for trial_id, key, value_json in parts[part]:
            if trial_id in by_id:
                by_id[trial_id][part][key] = json.loads(value_json)
    for trial_id, step, value, kind in parts["intermediate"]:
        if trial_id in by_id:
            by_id[trial_id]["intermediate"][step] = \
                steps_model.stored_repr_to_intermediate_value(value, kind)
    trials = []
    for trial_id, number, state, started, completed in rows:
        got = by_id[trial_id]
        distributions = {name: json_to_distribution(text)
                         for _, name, _, text in sorted(got["params"])}
        values = got["values"]
        trials.append(FrozenTrial(
            number=number, state=state, value=None,
            values=[values[k] for k in sorted(values)] if values else None,
            datetime_start=started, datetime_complete=completed,
            params={name: distributions[name].to_external_repr(value)
                    for _, name, value, _ in sorted(got["params"])},
            distributions=distributions, user_attrs=got["user_attrs"],
            system_attrs=got["system_attrs"], intermediate_values=got["intermediate"],
            trial_id=trial_id))
    return trials
