from __future__ import annotations

import pytest

import hwnas


@pytest.mark.parametrize("name", hwnas.__all__)
def test_every_public_name_resolves(name):
    assert getattr(hwnas, name) is not None


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError):
        hwnas.not_a_thing  # noqa: B018


def test_registry_rejects_a_second_registration():
    from hwnas.errors import HwnasError
    from hwnas.registry import Registry

    registry = Registry("thing")
    registry.register("a")(object)
    with pytest.raises(HwnasError, match="already registered"):
        registry.register("a")(object)
    assert registry.names("a*") == ["a"]
