"""A fit's bootstrap resamples kept beside it (schema version 6), on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np

from service.server.store import SCHEMA_VERSION, CurveMeta, Store

from .conftest import Database
from .test_store import bits, points


def test_a_fits_resamples_come_back_bit_for_bit(store: Store) -> None:
    cid = store.insert_curve(CurveMeta(name="c"), points()).id
    draws = np.random.default_rng(0).standard_normal((200, 5)) * np.array([1, 1e3, 0.1, 1e4, 0.1])
    with_draws, without = store.save_fits(
        [(cid, {}, {"params": dict.fromkeys("ABCDE", 1.0)}), (cid, {}, {"params": {"L0": 1.0}})], [draws, None]
    )
    back = store.get_fit_samples(with_draws)
    assert back is not None and back.shape == (200, 5) and bits(back.ravel()) == bits(draws.ravel())
    assert store.get_fit_samples(without) is None
    assert [f["id"] for f in store.list_fits(cid)] == [with_draws, without]  # listing reads no resamples


def test_fits_stored_before_version_6_have_no_resamples(db: Database) -> None:
    old = db.open(schema_version=5)
    cid = old.insert_curve(CurveMeta(name="old"), points()).id
    with old._backend.transaction() as tx:  # a fit as a version-5 server wrote it: no samples column
        tx.execute(
            "INSERT INTO fits (id, curve_id, options, result, created_at) VALUES (?,?,?,?,?)",
            ("f-old", cid, "{}", '{"params": {"L0": 1.0}}', "2024-01-01T00:00:00+00:00"),
        )
    old.close()
    new = db.open()
    assert new.schema_version == SCHEMA_VERSION
    assert new.get_fit_samples("f-old") is None and new.get_fit("f-old")[0] == cid
