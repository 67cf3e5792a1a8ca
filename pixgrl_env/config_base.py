"""The base of every config dataclass: presets, ``replace``, dict/JSON round trips and declarative validation.

Every config of the project (:class:`~pixgrl_env.config.EnvConfig` and each trainer's ``Config``) is a dataclass
that inherits :class:`BaseConfig` and declares its fields CleanRL-style, with a docstring under each one (the
``--help`` text of the command lines, see :meth:`BaseConfig.field_docs`):

    @dataclass
    class Config(BaseConfig):
        PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"quick": {"num_envs": 8}}

        num_envs: int = param(32, ge=1)
        \"""images per batch\"""
        lr: float = param(1e-3, gt=0)
        \"""Adam learning rate\"""
        backbone: str = param("graph", choices=("graph", "cnn"))
        \"""network backbone\"""

Creating an instance (directly or through :meth:`~BaseConfig.preset`, :meth:`~BaseConfig.replace`,
:meth:`~BaseConfig.from_dict`) checks every field against its annotation and the constraints given to
:func:`param`, and stores it normalised:

- ``float``: a real number (not a bool), finite (no inf, no nan), within the bounds; stored as a Python float;
- ``int``: an integer (not a bool), within the bounds; stored as a Python int;
- ``bool``: True or False; ``str``: a string; either one of ``choices`` when given;
- ``tuple[X, ...]`` / ``tuple[X, Y]``: any sequence (a JSON list too) of such items, each checked (bounds and
  choices apply to every item); stored as a tuple;
- ``dict[...]``: a mapping; stored as a new dict whose list values (at any depth) become tuples, so a config
  survives a JSON round trip unchanged;
- ``X | None``: None or an X; any other annotation needs ``param(check=...)``.

Errors are ``ValueError`` s naming the field, the value and what was allowed, e.g.
``lr must be a number > 0 and finite, got inf`` or ``backbone must be one of ('graph', 'cnn'), got 'gnn'``.
Frozen and mutable dataclasses both work. Subclasses check relations between fields in their own
``__post_init__``, after ``super().__post_init__()``.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import inspect
import json
import math
import numbers
import textwrap
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass
from typing import Any, ClassVar, TypeVar

__all__ = ["BaseConfig", "Constraint", "check_int", "check_number", "constraint_of", "param"]

C = TypeVar("C", bound="BaseConfig")
Check = Callable[[str, Any], Any]
_KEY = "pixgrl_constraint"


@dataclass(frozen=True)
class Constraint:
    """What :func:`param` allows beyond the annotation: bounds, a list of choices, or a custom check."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    check: Check | None = None

    def bounds(self) -> str:
        """The bounds in words: ``""``, ``">= 0"``, ``"< 1"``, ``"in [0, 1]"``, ``"in (0, 1]"``…"""
        lower = ("[", ">=", self.ge) if self.ge is not None else ("(", ">", self.gt) if self.gt is not None else None
        upper = ("]", "<=", self.le) if self.le is not None else (")", "<", self.lt) if self.lt is not None else None
        if lower and upper:
            return f"in {lower[0]}{lower[2]:g}, {upper[2]:g}{upper[0]}"
        bound = lower or upper
        return f"{bound[1]} {bound[2]:g}" if bound else ""

    def within(self, value: float) -> bool:
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))


def param(default: Any = MISSING, *, factory: Callable[[], Any] | None = None, ge: float | None = None,
          gt: float | None = None, le: float | None = None, lt: float | None = None,
          choices: Sequence[Any] | None = None, check: Check | None = None) -> Any:
    """A dataclass field with constraints, checked with the field's annotation whenever an instance is made.

    Args:
        default: The default value; a dict, list or set is deep-copied for every instance.
        factory: Builds the default instead (``dataclasses.field(default_factory=...)``).
        ge, gt, le, lt: Bounds of a number (or of every item of a tuple of numbers).
        choices: The allowed values (of the field, or of every item of a tuple).
        check: ``check(name, value) -> value``: replaces the annotation's check (for annotations it does not
            cover, e.g. ``tuple[float, ...] | str``); raise ``ValueError`` naming ``name`` and ``value``.
    """
    constraint = Constraint(ge, gt, le, lt, tuple(choices) if choices is not None else None, check)
    if factory is None and isinstance(default, (dict, list, set)):
        factory = functools.partial(copy.deepcopy, default)
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={_KEY: constraint})
    return dataclasses.field(default=default, metadata={_KEY: constraint})


def constraint_of(field: dataclasses.Field[Any]) -> Constraint:
    """The :class:`Constraint` a field was declared with (an empty one for a plain field)."""
    return field.metadata.get(_KEY, Constraint())


# ----------------------------------------------------------------------------------------------------------------
# Checks of single values
# ----------------------------------------------------------------------------------------------------------------


def check_number(name: str, value: Any, constraint: Constraint = Constraint(), optional: bool = False) -> float | None:
    """``value`` as a finite Python float within ``constraint``'s bounds (or None when ``optional``)."""
    if value is None and optional:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not constraint.within(value):
        bounds = constraint.bounds()
        what = f"a number {bounds}" if bounds.startswith("in ") else \
            f"a number {bounds} and finite" if bounds else "a finite number"
        raise ValueError(f"{name} must be {what}{' or None' if optional else ''}, got {value!r}")
    return float(value)


def check_int(name: str, value: Any, minimum: int | None = None, allow_none: bool = False,
              maximum: int | None = None) -> int | None:
    """``value`` as a Python int in ``[minimum, maximum]`` (or None when ``allow_none``); else ``ValueError``.

    >>> check_int("episode_length", 0, 1)
    Traceback (most recent call last):
    ValueError: episode_length must be an int >= 1, got 0
    """
    if value is None and allow_none:
        return None
    bounds = Constraint(ge=minimum, le=maximum)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or not bounds.within(value):
        what = f"an int {bounds.bounds()}".rstrip()
        raise ValueError(f"{name} must be {what}{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def _check_choice(name: str, value: Any, constraint: Constraint) -> Any:
    if constraint.choices is not None and value not in constraint.choices:
        raise ValueError(f"{name} must be one of {constraint.choices!r}, got {value!r}")
    return value


def _check_bool(name: str, value: Any, constraint: Constraint) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _check_str(name: str, value: Any, constraint: Constraint) -> str:
    if constraint.choices is None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    return _check_choice(name, value, constraint)


def _check_int(name: str, value: Any, constraint: Constraint) -> int:
    if constraint.gt is not None or constraint.lt is not None:
        raise TypeError(f"{name}: int fields take ge/le bounds, not gt/lt")
    return _check_choice(name, check_int(name, value, constraint.ge, maximum=constraint.le), constraint)


def _check_float(name: str, value: Any, constraint: Constraint) -> float:
    return _check_choice(name, check_number(name, value, constraint), constraint)


def _frozen_lists(value: Any) -> Any:
    """Lists (and tuples) become tuples and dicts new dicts, at any depth: what ``json.loads`` undoes."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen_lists(v) for v in value)
    if isinstance(value, dict):
        return {k: _frozen_lists(v) for k, v in value.items()}
    return value


def _check_dict(name: str, value: Any, constraint: Constraint) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a dict, got {value!r}")
    return _frozen_lists(dict(value))


_SCALARS: dict[Any, Callable[[str, Any, Constraint], Any]] = {
    bool: _check_bool, int: _check_int, float: _check_float, str: _check_str, dict: _check_dict}


def _checker(annotation: Any, constraint: Constraint, where: str) -> Check:
    """The check of a field annotated ``annotation`` (see the module docstring)."""
    if constraint.check is not None:
        return constraint.check
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
        inner = _checker(next(a for a in args if a is not type(None)), constraint, where)

        def optional(name: str, value: Any) -> Any:
            if value is None:
                return None
            try:
                return inner(name, value)
            except ValueError as exc:  # "<name> must be <what>, got <value>" -> "... <what> or None, got ..."
                what, sep, got = str(exc).partition(", got ")
                raise ValueError(f"{what} or None{sep}{got}") from None
        return optional
    if origin is tuple:
        variadic = len(args) == 2 and args[1] is Ellipsis
        items = [_checker(a, constraint, where) for a in (args[:1] if variadic else args)]

        def sequence(name: str, value: Any) -> tuple[Any, ...]:
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise ValueError(f"{name} must be a tuple (or list), got {value!r}")
            if not variadic and len(value) != len(items):
                raise ValueError(f"{name} must have {len(items)} items, got {value!r}")
            return tuple((items[0] if variadic else items[i])(f"{name}[{i}]", v) for i, v in enumerate(value))
        return sequence
    scalar = _SCALARS.get(origin or annotation)
    if scalar is not None:
        return lambda name, value: scalar(name, value, constraint)
    if annotation is Any:
        return lambda name, value: value
    raise TypeError(f"{where}: no check for the annotation {annotation!r}; pass param(check=...)")


@functools.cache
def _checks(cls: type) -> tuple[tuple[str, Check], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _checker(hints[f.name], constraint_of(f), f"{cls.__qualname__}.{f.name}"))
                 for f in dataclasses.fields(cls))


# ----------------------------------------------------------------------------------------------------------------
# The base class
# ----------------------------------------------------------------------------------------------------------------


class BaseConfig:
    """Presets, ``replace``, dict/JSON round trips and field validation for a dataclass (see the module docstring).

    Attributes:
        PRESETS: Named sets of field values: ``Cls.preset(name, **overrides)``.
        TIED: ``{field: key_field}``: a preset's ``field`` is meant for its own ``key_field`` only, so overriding
            ``key_field`` (without ``field``) drops the preset's ``field`` (e.g. network widths belong to their
            backbone: ``{"net_kwargs": "backbone"}``).
        RESUMABLE: The fields a resumed run may change (``agents.resume``): the budget, the eval/checkpoint/log
            cadence, the device, thread counts and caching, which change neither the task nor the network. Names
            a class does not have are ignored; a subclass may narrow or widen the set.
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    TIED: ClassVar[dict[str, str]] = {}
    RESUMABLE: ClassVar[frozenset[str]] = frozenset({
        "total_steps", "total_timesteps", "steps",  # the budget
        "eval_every", "eval_pairs", "eval_episodes", "eval_images", "checkpoint_every", "save_every", "log_every",
        "device", "deterministic", "torch_deterministic", "torch_threads", "slic_threads", "cache_size"})

    def __post_init__(self) -> None:
        for name, check in _checks(type(self)):
            object.__setattr__(self, name, check(name, getattr(self, name)))

    @classmethod
    def preset(cls: type[C], name: str, **overrides: Any) -> C:
        """The preset ``name`` of :attr:`PRESETS` with keyword overrides."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown preset {name!r} of {cls.__name__}; expected one of {sorted(cls.PRESETS)}")
        chosen = cls.PRESETS[name]
        values = {**chosen, **overrides}
        for dependent, key in cls.TIED.items():
            own = chosen.get(key, cls.field_defaults().get(key))
            if dependent in chosen and dependent not in overrides and key in overrides and overrides[key] != own:
                values.pop(dependent)
        return cls(**values)

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` (validated like a new instance)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        """Every field by name (a deep copy; tuples stay tuples)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        """The fields as a JSON object (tuples become lists: :meth:`from_json` turns them back)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls: type[C], d: Mapping[str, Any]) -> C:
        """An instance from :meth:`to_dict`'s output (or a JSON-decoded one, lists for tuples).

        Raises:
            ValueError: ``d`` names fields the class does not have.
        """
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"unknown {cls.__module__}.{cls.__qualname__} fields {sorted(unknown)}; expected some "
                             f"of {sorted(f.name for f in dataclasses.fields(cls))}")  # type: ignore[arg-type]
        return cls(**d)

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        return cls.from_dict(json.loads(text))

    @classmethod
    def field_defaults(cls) -> dict[str, Any]:
        """The default of every field (factories called)."""
        return {f.name: f.default_factory() if f.default_factory is not MISSING else f.default  # type: ignore[misc]
                for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        """The docstring under each field, whitespace collapsed (CleanRL's tyro reads the same strings): the
        ``--help`` text of the command lines. Fields of base classes included; {} where the source is unknown."""
        return _field_docs(cls)


@functools.cache
def _field_docs(cls: type) -> dict[str, str]:
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs
