"""Run configs: each variant declares its hyperparameters once, as a frozen dataclass.

A variant's `Config` (a subclass of `zoo.models.base.GAN.Config`) lists every setting as a
field, with its type, its default, its defaults per kind of data and its check:

    @dataclasses.dataclass(frozen=True)
    class Config(GAN.Config):
        penalty_weight: float = param(10.0, mixture=0.1, check=at_least(0), doc="lambda")

From that one line the rest derives: the model's constructor keywords and `get_config`
(`RunConfig.to_dict`), the unknown-key check with the valid keys named (`RunConfig.resolve`),
`--set=KEY=VALUE` on the command line, type coercion (an int given for a float) and the
one-line error for a bad value. Design choices:

- Fields carry a *section* (`model`, `network`, `train`, `optimizer`); `to_dict` nests by
  section and the trainer reads `train` and `optimizer` only, never the model's own keys.
- A field may apply to one kind of data only (`only="image"`: the DCGAN width has no
  meaning for a mixture); setting it for the other kind is refused, and it is left out of
  that kind's dict.
- Add-ons are not fields: `addons` maps each add-on's name to its options, and the flat
  key namespace of `resolve` takes add-on names too (`--set=generator_ema=0.999`), checked
  by the add-on registry (`zoo.addons`), so a new add-on needs no edit here.
- A resolved config is complete: `to_dict` holds every key, so storing it (run
  directories' config.json, pretrained entries) pins what is built against later changes
  of the defaults.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Callable, ClassVar, Mapping

SECTIONS = ("model", "network", "train", "optimizer")
KINDS = ("mixture", "image")
_UNSET = object()


def param(default: Any, *, mixture: Any = _UNSET, image: Any = _UNSET,
          only: Any = _UNSET, check: Any = _UNSET, section: Any = _UNSET,
          doc: str = "") -> Any:
    """A config field: `default`, overridden per kind of data by `mixture` / `image`;
    `only` restricts it to one kind; `check(value)` returns an error text or None;
    `section` is one of `SECTIONS` ("model" by default). What a subclass's field leaves
    out (section, only, check) it inherits from the field it overrides; a plain default
    (`loss: str = "hinge"`) is that default for every kind."""
    if section is not _UNSET and section not in SECTIONS:
        raise ValueError(f"section must be one of {SECTIONS}, got {section!r}")
    if isinstance(default, (list, dict)):
        raise TypeError("use tuples for sequence defaults (configs are frozen)")
    metadata = {k: v for k, v in dict(section=section, check=check, only=only).items()
                if v is not _UNSET}
    metadata.update(doc=doc, kinds={k: v for k, v in (("mixture", mixture), ("image", image))
                                    if v is not _UNSET})
    return dataclasses.field(default=default, metadata=metadata)


def _meta(cls: type, field: dataclasses.Field, key: str) -> Any:
    """`field`'s metadata `key`, inherited from the same field of a base class if unset
    (per-kind defaults are never inherited: a new default replaces them)."""
    if key in field.metadata:
        return field.metadata[key]
    if key == "kinds":
        return {}
    for base in cls.__mro__[1:]:
        inherited = getattr(base, "__dataclass_fields__", {}).get(field.name)
        if inherited is not None and key in inherited.metadata:
            return inherited.metadata[key]
    return "model" if key == "section" else None


# Checks: each returns None when the value is valid, else the text after "must be".
def at_least(low: float) -> Callable[[Any], str | None]:
    return lambda v: None if v is None or v >= low else f">= {low}"


def positive(v: Any) -> str | None:
    """The project's wording: "a positive int" for ints, "positive" for numbers."""
    if v is None or v > 0:
        return None
    return "a positive int" if isinstance(v, int) else "positive"


def in_range(low: float, high: float) -> Callable[[Any], str | None]:
    return lambda v: None if v is None or low <= v <= high else f"in [{low}, {high}]"


def below_one(v: Any) -> str | None:
    return None if v is None or 0 <= v < 1 else "in [0, 1)"


def one_of(*choices: Any) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"one of {list(choices)}"


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind).replace("typing.", ""))


def coerce(value: Any, kind: Any, where: str) -> Any:
    """`value` as the annotated `kind` (int, float, str, bool, tuple[X, ...], X | None, Any):
    an int where a float is declared becomes a float, a list a tuple; else a ValueError."""
    if kind is Any:
        return value
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return coerce(value, option, where)
            except ValueError as error:
                errors.append(error)
        raise errors[0]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list of {_type_name(args[0])}, got {value!r}")
        return tuple(coerce(v, args[0], where) for v in value)
    if origin in (dict, Mapping) or kind in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ValueError(f"{where} must be a dict, got {value!r}")
        return dict(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value):
            raise ValueError(f"{where} must be a number, got {value!r}")
        return float(value)
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where} must be an integer, got {value!r}")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string, got {value!r}")
        return value
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The base of every variant's `Config`: the data kind and the add-ons' options.

    Build one with `resolve(kind, overrides)` (defaults for the kind, then the overrides),
    `from_dict` (a stored `to_dict`) or `replace`; all go through the checks.
    """

    kind: str = dataclasses.field(default="mixture", metadata=dict(section="data"))
    addons: Mapping[str, Any] = dataclasses.field(default_factory=dict,
                                                  metadata=dict(section="addons"))
    # Resolves and checks add-on options (set by `zoo.addons` at import); name -> normalize.
    addon_options: ClassVar[Callable[[str, Any, "RunConfig"], Any] | None] = None
    addon_names: ClassVar[Callable[[], list] | None] = None
    # Add-ons a variant turns on by default (beta_gan: annealing); `KEY=None` turns one off.
    default_addons: ClassVar[Mapping[str, Any]] = {}
    kind_addons: ClassVar[Mapping[str, Mapping[str, Any]]] = {}  # per kind, over those
    # Inherited fields a variant does not take (wgan's Adam betas): refused like unknown keys.
    unused: ClassVar[frozenset] = frozenset()

    def __post_init__(self) -> None:
        what = type(self).__qualname__
        if self.kind not in KINDS:
            raise ValueError(f"{what}: kind must be one of {list(KINDS)}, got {self.kind!r}")
        hints = typing.get_type_hints(type(self))
        cls = type(self)
        for field in self.fields():
            value = getattr(self, field.name)
            if not cls.applies(field, self.kind):
                if value is not None:
                    raise ValueError(f"{cls.owner()} does not take {field.name} for "
                                     f"{self.kind} data; got {field.name}={value!r}")
                continue
            value = coerce(value, hints[field.name], f"{field.name}")
            check = _meta(cls, field, "check")
            problem = check(value) if check and value is not None else None
            if problem:
                raise ValueError(f"{field.name} must be {problem}, got {value!r}")
            object.__setattr__(self, field.name, value)
        if not isinstance(self.addons, Mapping):
            raise ValueError(f"addons must be a dict of add-on options, got {self.addons!r}")
        addons = {}
        for name, value in self.addons.items():
            value = self.addon_options(name, value, self) if self.addon_options else value
            if value is not None:
                addons[name] = value
        object.__setattr__(self, "addons", addons)

    @classmethod
    def owner(cls) -> str:
        """The variant's class name ("WGANGP" for `WGANGP.Config`, "GAN" for `GANConfig`)."""
        name = cls.__qualname__.split(".")[0]
        return name[:-len("Config")] if name.endswith("Config") and name != "Config" else name

    @classmethod
    def fields(cls) -> list[dataclasses.Field]:
        """The hyperparameter fields (every field but `kind` and `addons`)."""
        return [f for f in dataclasses.fields(cls) if f.name not in ("kind", "addons")]

    @classmethod
    def applies(cls, field: dataclasses.Field, kind: str) -> bool:
        """Whether `field` is a setting of this config for `kind` data (not `unused`, and not
        restricted to the other kind)."""
        return field.name not in cls.unused and _meta(cls, field, "only") in (None, kind)

    @classmethod
    def keys(cls, kind: str) -> list[str]:
        """Every key `resolve` takes for `kind`: the fields that apply, then the add-ons."""
        names = [f.name for f in cls.fields() if cls.applies(f, kind)]
        return names + (cls.addon_names() if cls.addon_names else [])

    @classmethod
    def defaults(cls, kind: str) -> dict:
        """{field: its default for `kind`} (None for fields of the other kind only)."""
        values = {}
        for field in cls.fields():
            if not cls.applies(field, kind):
                values[field.name] = None
            else:
                values[field.name] = _meta(cls, field, "kinds").get(kind, field.default)
        return values

    @classmethod
    def resolve(cls, kind: str, overrides: Mapping[str, Any] | None = None,
                dataset: str | None = None) -> "RunConfig":
        """The defaults for `kind` updated by a flat diff `{key: value}` (fields and add-on
        names); an unknown key fails loudly, naming the valid ones, and a setting of the
        other kind of data names that kind (and `dataset`, the data it was asked for)."""
        overrides = dict(overrides or {})
        for field in cls.fields():
            only = _meta(cls, field, "only")
            if field.name in overrides and field.name not in cls.unused and only not in (
                    None, kind):
                where = f"{dataset!r} is a {kind}" if dataset else f"not {kind} data"
                raise ValueError(f"{field.name} is for {only} datasets; {where}, got "
                                 f"{field.name}={overrides[field.name]!r}")
        addons = dict(cls.default_addons, **cls.kind_addons.get(kind, {}),
                      **(overrides.pop("addons", None) or {}))
        return cls._build(kind, overrides, addons)

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> "RunConfig":
        """A config from `to_dict`'s nested form (or a flat dict with `kind`); the stored
        add-ons replace the variant's default ones."""
        stored = dict(stored)
        kind = stored.pop("kind", "mixture")
        addons = dict(stored.pop("addons", None) or {})
        flat: dict = {}
        for key, value in stored.items():
            flat.update(value if key in SECTIONS and isinstance(value, Mapping) else {key: value})
        return cls._build(kind, flat, addons)

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with `changes` (flat keys, add-on names included), checked again."""
        addons = dict(self.addons, **changes.pop("addons", {}))
        return type(self)._build(self.kind, dict(self.flat(), **changes), addons)

    @classmethod
    def _build(cls, kind: str, values: Mapping[str, Any], addons: Mapping[str, Any]
               ) -> "RunConfig":
        """The config of `kind`: its defaults updated by `values` (fields and add-on names,
        the latter over `addons`); an unknown key fails loudly, naming the valid ones."""
        valid = cls.keys(kind)
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise ValueError(f"unknown {cls.owner()} config option(s) {unknown}; valid "
                             f"options: {sorted(valid)}")
        fields, addons = cls.defaults(kind), dict(addons)
        for key, value in values.items():
            (fields if key in fields else addons)[key] = value
        return cls(kind=kind, addons=addons, **fields)

    def section(self, name: str) -> dict:
        """{key: value} of one section ("model", "network", "train", "optimizer")."""
        cls = type(self)
        return {f.name: _jsonable(getattr(self, f.name)) for f in self.fields()
                if _meta(cls, f, "section") == name and cls.applies(f, self.kind)}

    def to_dict(self) -> dict:
        """The whole config, JSON-ready, nested by section; `from_dict` reads it back."""
        return dict(kind=self.kind, **{s: self.section(s) for s in SECTIONS},
                    addons=_jsonable(self.addons))

    def flat(self) -> dict:
        """{key: value} over every section, the add-ons under their own names."""
        values = {}
        for section in SECTIONS:
            values.update(self.section(section))
        values.update(_jsonable(self.addons))
        return values

    def __getitem__(self, key: str) -> Any:
        """`config[key]`: a field's value, or an add-on's options (None when off)."""
        if key in {f.name for f in self.fields()}:
            return getattr(self, key)
        if self.addon_names and key in self.addon_names():
            return self.addons.get(key)
        raise KeyError(key)

    def __contains__(self, key: str) -> bool:
        """`key in config`: a field that applies to this kind of data, or an add-on name."""
        return key in self.keys(self.kind)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            value = self[key]
        except KeyError:
            return default
        return default if value is None else value


def merge(defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None, what: str) -> dict:
    """Returns `defaults` updated by `overrides`, refusing keys the defaults lack (the
    add-ons' own option dicts use this)."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown {what} option(s) {unknown}; valid options: {sorted(defaults)}")
    merged = dict(defaults)
    merged.update(overrides)
    return merged
