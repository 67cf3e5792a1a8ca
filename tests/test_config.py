"""The config base (pixgrl_env.config_base): validation messages, presets, round trips, field docs; EnvConfig on it."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from pixgrl_env.config import EnvConfig
from pixgrl_env.config_base import BaseConfig, check_int, param


@dataclass
class Example(BaseConfig):
    """A config with one field of every kind the base checks."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"small": {"width": 8, "kwargs": {"depth": 2}},
                                                    "wide": {"backbone": "b", "kwargs": {"depth": 5}}}
    TIED: ClassVar[dict[str, str]] = {"kwargs": "backbone"}

    lr: float = param(1e-3, gt=0)
    """learning rate"""
    gamma: float = param(0.9, ge=0, le=1)
    """discount, multi-line
    docstring"""
    scale: float = 1.0
    width: int = param(32, ge=1)
    crop: int | None = param(None, ge=1)
    flag: bool = False
    backbone: str = param("a", choices=("a", "b"))
    betas: tuple[float, float] = param((0.5, 0.999), ge=0, lt=1)
    widths: tuple[int, ...] = param((8, 8), ge=1)
    kwargs: dict[str, Any] = param({})


@dataclass(frozen=True)
class Frozen(BaseConfig):
    x: float = param(1.0, gt=0)


@pytest.mark.parametrize("field, value, message", [
    ("lr", math.inf, "lr must be a number > 0 and finite, got inf"),
    ("lr", 0.0, "lr must be a number > 0 and finite, got 0.0"),
    ("lr", "fast", "lr must be a number > 0 and finite, got 'fast'"),
    ("lr", True, "lr must be a number > 0 and finite, got True"),
    ("gamma", math.nan, "gamma must be a number in [0, 1], got nan"),
    ("gamma", 1.5, "gamma must be a number in [0, 1], got 1.5"),
    ("scale", -math.inf, "scale must be a finite number, got -inf"),
    ("width", 0, "width must be an int >= 1, got 0"),
    ("width", 2.0, "width must be an int >= 1, got 2.0"),
    ("crop", 0, "crop must be an int >= 1 or None, got 0"),
    ("flag", "yes", "flag must be True or False, got 'yes'"),
    ("backbone", "gnn", "backbone must be one of ('a', 'b'), got 'gnn'"),
    ("betas", (0.5,), "betas must have 2 items, got (0.5,)"),
    ("betas", (0.5, 1.0), "betas[1] must be a number in [0, 1), got 1.0"),
    ("widths", (8, 0), "widths[1] must be an int >= 1, got 0"),
    ("widths", "8", "widths must be a tuple (or list), got '8'"),
    ("kwargs", [1], "kwargs must be a dict, got [1]"),
])
def test_bad_values_raise_naming_field_value_and_allowed(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        Example(**{field: value})
    assert str(info.value) == message
    with pytest.raises(ValueError):  # replace validates like the constructor
        Example().replace(**{field: value})


def test_values_are_normalised() -> None:
    c = Example(lr=1, betas=[0.5, 0.9], widths=[4], kwargs={"dilations": [1, [2, 3]]}, crop=None)
    assert type(c.lr) is float and c.lr == 1.0
    assert c.betas == (0.5, 0.9) and c.widths == (4,)
    assert c.kwargs == {"dilations": (1, (2, 3))}


def test_json_round_trip_keeps_tuples() -> None:
    c = Example(widths=(3, 4), kwargs={"d": (1, 2)}, crop=5)
    text = c.to_json()
    assert json.loads(text)["widths"] == [3, 4]
    assert Example.from_json(text) == c
    assert Example.from_dict(json.loads(text)) == c
    with pytest.raises(ValueError, match=r"unknown .*Example fields \['colour'\]"):
        Example.from_dict({**c.to_dict(), "colour": "red"})


def test_presets_overrides_and_tied_fields() -> None:
    assert Example.preset("small").width == 8
    assert Example.preset("small", width=4).width == 4
    with pytest.raises(ValueError, match="unknown preset 'nope' of Example; expected one of"):
        Example.preset("nope")
    # A preset's kwargs belong to its own backbone: another backbone drops them, the same one keeps them.
    assert Example.preset("small", backbone="b").kwargs == {}
    assert Example.preset("small", backbone="a").kwargs == {"depth": 2}
    assert Example.preset("wide", backbone="a").kwargs == {}
    assert Example.preset("small", backbone="b", kwargs={"depth": 3}).kwargs == {"depth": 3}
    with pytest.raises(TypeError, match="colour"):
        Example.preset("small", colour="red")


def test_frozen_configs_validate_and_replace() -> None:
    assert Frozen(2).x == 2.0 and Frozen().replace(x=3).x == 3.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        Frozen().x = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="x must be a number > 0"):
        Frozen(math.nan)


def test_mutable_defaults_are_not_shared() -> None:
    a, b = Example(), Example()
    a.kwargs["x"] = 1
    assert b.kwargs == {}


def test_field_docs_are_the_strings_under_the_fields() -> None:
    docs = Example.field_docs()
    assert docs["lr"] == "learning rate" and docs["gamma"] == "discount, multi-line docstring"
    assert "scale" not in docs
    assert EnvConfig.field_docs()["episode_length"].startswith("steps per episode")
    assert set(EnvConfig.field_docs()) == {f.name for f in dataclasses.fields(EnvConfig)}


def test_check_int() -> None:
    assert check_int("n", 3, 1) == 3 and check_int("n", None, 1, allow_none=True) is None
    with pytest.raises(ValueError, match=r"^n must be an int >= 1, got 0$"):
        check_int("n", 0, 1)
    with pytest.raises(ValueError, match=r"^n must be an int >= 0 or None, got True$"):
        check_int("n", True, 0, allow_none=True)


# ----------------------------------------------------------------------------------------------------------------
# EnvConfig: finite rewards (a reliability issue: these were accepted and gave NaN rewards)
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides, message", [
    ({"factors": (math.inf, 1.0)}, "factors[0] must be a number > 0 and finite, got inf"),
    ({"factors": (0.9, math.nan)}, "factors[1] must be a number > 0 and finite, got nan"),
    ({"factors": (0.0, 1.0)}, "factors[0] must be a number > 0 and finite, got 0.0"),
    ({"lam": math.inf}, "lam must be a number >= 0 and finite, got inf"),
    ({"pixel_weight": math.inf}, "pixel_weight must be a number >= 0 and finite, got inf"),
    ({"pixel_weight": math.nan}, "pixel_weight must be a number >= 0 and finite, got nan"),
    ({"split": "dev"}, "split must be one of"),
    ({"cache_size": -1}, "cache_size must be an int >= 0, got -1"),
])
def test_env_config_rejects_non_finite_and_out_of_range(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        EnvConfig(**overrides)
    assert str(info.value).startswith(message)


def test_env_config_round_trip_and_presets() -> None:
    c = EnvConfig.preset("small", factors="n5", conditioning=["input"], dataset_kwargs={"gain": [1.1, 1.2]})
    assert c.crop == 64 and c.factors == (0.9, 0.95, 1.0, 1.05, 1.1) and c.conditioning == ("input",)
    assert EnvConfig.from_json(c.to_json()) == c
    assert EnvConfig.preset("paper_text").lam == 0.15
