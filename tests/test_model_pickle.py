"""Entries and hits cross from the parser workers pickled, through their own __reduce__
(constructor arguments): every field must survive, including any field added later."""
import copy
import dataclasses
import pickle
from datetime import datetime, timezone

import pytest

from bot.core.model import Entry, Hit


def _non_default(cls):
    """An instance whose every field differs from its default (and from the other fields)."""
    values = {}
    for i, f in enumerate(dataclasses.fields(cls)):
        if f.type in ("datetime | None",):
            values[f.name] = datetime(2026, 1, 3, 4, 5, 6, 789, tzinfo=timezone.utc)
        elif f.type.startswith("tuple"):
            values[f.name] = (f"{f.name}-a", f"{f.name}-b")
        elif f.type == "float":
            values[f.name] = 41.5 + i
        else:
            values[f.name] = f"{f.name}-value"
    return cls(**values)


@pytest.mark.parametrize("cls", [Entry, Hit])
def test_every_field_survives_pickling(cls):
    obj = _non_default(cls)
    for f in dataclasses.fields(cls):           # the fixture really is away from the defaults
        if f.default is not dataclasses.MISSING:
            assert getattr(obj, f.name) != f.default, f.name
    for proto in (2, pickle.HIGHEST_PROTOCOL):
        back = pickle.loads(pickle.dumps(obj, proto))
        assert type(back) is cls
        for f in dataclasses.fields(cls):       # compare=False fields too (Hit.evidence)
            assert getattr(back, f.name) == getattr(obj, f.name), f.name
    assert copy.copy(obj) == obj and copy.deepcopy(obj) == obj
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(pickle.loads(pickle.dumps(obj)), "feed" if cls is Entry else "alias", "x")
