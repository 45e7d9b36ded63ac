"""TF Serving's JSON for predict: row (`instances`) and columnar (`inputs`) requests and replies.

Requests:
    {"signature_name": "sample", "instances": [1, 2, 3]}            one input, a row each
    {"instances": [{"seed": 1, "gibbs_steps": 5}, ...]}             named inputs per row
    {"inputs": {"seed": [1, 2, 3]}}  or  {"inputs": [1, 2, 3]}      columnar
Replies mirror the request's form: `{"predictions": [...]}` (a value per row, or an object
per row when there are several outputs) or `{"outputs": ...}`. String tensors whose name
ends in `_bytes` travel as `{"b64": "<base64>"}` both ways. A request may name the outputs it
wants, as gRPC's `output_filter` does: `{"instances": [...], "output_filter": ["images_png_bytes"]}`.

Replies are written by orjson (`dumps`) when it is installed (the `serving` extra): it writes
numeric numpy arrays directly, float32 as the shortest text that reads back as the same
float32, about 20x faster than `tolist` and the standard library's encoder on a 64-image reply
(benchmarks/SERVING.md); non-finite floats (which orjson would write as null) and other dtypes
take the standard library's path, as TF Serving writes them (NaN, Infinity).
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Mapping

import numpy as np
import tensorflow as tf

try:
    import orjson
except ImportError:  # the standard library's encoder
    orjson = None

from serving.errors import invalid_argument
from serving.validation import Limits

ROW, COLUMNAR = "row", "columnar"
_MAX_RANK = 32  # numpy's is 64; no generator takes more than a few
BYTES_SUFFIX = "_bytes"
BASE64_KEY = "b64"
# numpy kinds and item sizes orjson writes itself (float16 and bfloat16 are not among them).
_FAST_KINDS = {"f": (4, 8), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "b": (1,)}


def parse_document(body: bytes, limits: Limits = Limits()) -> dict:
    """The request's JSON object (INVALID_ARGUMENT if it is not one, or is over a limit).

    Parsed incrementally so that limits refuse early: nesting depth is checked on the raw
    bytes first, and the rows of `instances` / `inputs` are decoded one at a time, stopping
    at the first row past `--max_batch_rows`.
    """
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    check_nesting_depth(body, limits.max_json_depth)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise invalid_argument(f"JSON Parse error: {error}") from None
    try:
        return _DocumentParser(text, limits.max_batch_rows).document()
    except ValueError as error:  # JSONDecodeError, and ints of over 4300 digits
        raise invalid_argument(f"JSON Parse error: {error}") from None
    except RecursionError:  # (not reached with a depth limit under Python's recursion limit)
        raise invalid_argument("JSON Parse error: nested too deeply") from None


# +1 for [ and {, -1 for ] and }; the bytes that matter to nesting (brackets and quotes).
_DEPTH_STEP = np.zeros(256, np.int8)
_DEPTH_STEP[list(b"[{")] = 1
_DEPTH_STEP[list(b"]}")] = -1
_STRUCTURAL = np.zeros(256, bool)
_STRUCTURAL[list(b'[]{}"')] = True
_QUOTE = ord('"')


def check_nesting_depth(body: bytes, max_depth: int) -> None:
    """Refuses JSON nested deeper than `max_depth`, in numpy over the bytes (no parse).

    Escaped backslashes and quotes are dropped first, so that every remaining quote opens
    or closes a string; brackets inside strings do not count. Invalid JSON may be misjudged,
    but it is refused by the parse anyway.
    """
    stripped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    data = np.frombuffer(stripped, np.uint8)
    data = data[_STRUCTURAL[data]]
    if not data.size:
        return
    in_string = np.cumsum(data == _QUOTE, dtype=np.int32) & 1
    depths = np.cumsum(np.where(in_string, 0, _DEPTH_STEP[data]), dtype=np.int32)
    if depths.max() > max_depth:
        raise invalid_argument(
            f"JSON Parse error: nested deeper than the server's limit of {max_depth} levels "
            "(--max_json_depth)")


_WHITESPACE = json.decoder.WHITESPACE
_DECODER = json.JSONDecoder()
_ROW_KEYS = ("instances", "inputs")


class _DocumentParser:
    """The top-level object, with the row lists of `instances` / `inputs` decoded row by row.

    Every other value is decoded whole by the C decoder; like `json.loads`, a repeated key
    keeps its last value.
    """

    def __init__(self, text: str, max_rows: int):
        self._text = text
        self._max_rows = max_rows

    def _skip(self, index: int) -> int:
        return _WHITESPACE.match(self._text, index).end()

    def _expect(self, index: int, chars: str) -> str:
        char = self._text[index:index + 1]
        if not char or char not in chars:
            raise json.JSONDecodeError(f"Expecting one of {chars!r}", self._text, index)
        return char

    def document(self) -> dict:
        start = self._skip(0)
        if self._text[start:start + 1] != "{":
            value, _ = _DECODER.raw_decode(self._text, start)
            raise invalid_argument(f"JSON Value: {_preview(value)} Is not object")
        document, end = self._object(start, self._top_level_value)
        end = self._skip(end)
        if end != len(self._text):
            raise json.JSONDecodeError("Extra data", self._text, end)
        return document

    def _object(self, index: int, value_parser) -> tuple[dict, int]:
        """A JSON object at `index` ('{'), each value read by `value_parser(key, index)`."""
        result: dict = {}
        index = self._skip(index + 1)
        if self._text[index:index + 1] == "}":
            return result, index + 1
        while True:
            self._expect(index, '"')
            key, index = json.decoder.scanstring(self._text, index + 1)
            index = self._skip(index)
            self._expect(index, ":")
            result[key], index = value_parser(key, self._skip(index + 1))
            index = self._skip(index)
            if self._expect(index, ",}") == "}":
                return result, index + 1
            index = self._skip(index + 1)

    def _top_level_value(self, key: str, index: int) -> tuple[Any, int]:
        char = self._text[index:index + 1]
        if key in _ROW_KEYS and char == "[":
            return self._rows(index, f"'{key}'")
        if key == "inputs" and char == "{":
            return self._object(index, self._named_input)
        return _DECODER.raw_decode(self._text, index)

    def _named_input(self, key: str, index: int) -> tuple[Any, int]:
        if self._text[index:index + 1] == "[":
            return self._rows(index, f"input {key!r}")
        return _DECODER.raw_decode(self._text, index)

    def _rows(self, index: int, what: str) -> tuple[list, int]:
        """A list at `index` ('['), refused as soon as it has more than `max_rows` items."""
        rows: list = []
        index = self._skip(index + 1)
        if self._text[index:index + 1] == "]":
            return rows, index + 1
        while True:
            if len(rows) == self._max_rows:
                self._refuse_rows(index, what)
            value, index = _DECODER.raw_decode(self._text, index)
            rows.append(value)
            index = self._skip(index)
            if self._expect(index, ",]") == "]":
                return rows, index + 1
            index = self._skip(index + 1)

    def _refuse_rows(self, index: int, what: str) -> None:
        """One row past the limit: says how many rows if that row is the last one."""
        try:
            _, end = _DECODER.raw_decode(self._text, index)
            last = self._text[self._skip(end):self._skip(end) + 1] == "]"
        except ValueError:
            last = False
        count = f"{self._max_rows + 1}" if last else f"at least {self._max_rows + 1}"
        raise invalid_argument(
            f"{what} has a batch of {count} rows, more than the server's limit of "
            f"{self._max_rows} (--max_batch_rows)")


def output_filter(document: Mapping[str, Any]) -> list[str]:
    """The request's `output_filter`: the names of the outputs it wants ([]: all)."""
    names = document.get("output_filter", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise invalid_argument("'output_filter' must be a list of output names (strings), "
                               f"got {_preview(names)}")
    return names


def dumps(document: Any) -> bytes:
    """`document` as compact JSON bytes (orjson where present and the values allow)."""
    if orjson is not None:
        try:
            return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY
                                | orjson.OPT_PASSTHROUGH_SUBCLASS)
        except TypeError:  # a `_StandardOnly` value (or another type orjson does not know)
            pass
    return json.dumps(_plain(document), separators=(",", ":")).encode("utf-8")


def _plain(value: Any) -> Any:
    """`value` with numpy arrays as lists (for the standard library's encoder)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, _StandardScalar):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def signature_name(document: Mapping[str, Any]) -> str:
    """The request's `signature_name` ("" when absent, meaning `serving_default`)."""
    name = document.get("signature_name", "")
    if not isinstance(name, str):
        raise invalid_argument("'signature_name' key must be a string value")
    return name


def decode_inputs(document: Mapping[str, Any],
                  specs: Mapping[str, tf.TensorSpec]) -> tuple[dict[str, np.ndarray], str]:
    """(input arrays by name, ROW or COLUMNAR) from a predict request for a signature."""
    has_instances, has_inputs = "instances" in document, "inputs" in document
    if has_instances and has_inputs:
        raise invalid_argument(
            "Not formatted correctly: expecting only one of 'inputs' or 'instances' keys")
    if has_instances:
        return _from_instances(document["instances"], specs), ROW
    if has_inputs:
        return _from_inputs(document["inputs"], specs), COLUMNAR
    raise invalid_argument("Missing 'inputs' or 'instances' key")


def encode_outputs(outputs: Mapping[str, np.ndarray], form: str) -> dict:
    """The reply for `outputs` in the request's form."""
    values = {name: _json_values(name, array) for name, array in outputs.items()}
    if form == COLUMNAR:
        return {"outputs": values if len(values) > 1 else next(iter(values.values()))}
    batches = {name: (array.shape[0] if array.ndim else None) for name, array in outputs.items()}
    if None in batches.values() or len(set(batches.values())) > 1:
        raise invalid_argument(f"outputs need one batch size for the row format, got {batches}; "
                               "use the columnar format ('inputs')")
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    rows = next(iter(batches.values()))
    return {"predictions": [{name: column[row] for name, column in values.items()}
                            for row in range(rows)]}


def _from_instances(instances: Any, specs: Mapping[str, tf.TensorSpec]) -> dict[str, np.ndarray]:
    if not isinstance(instances, list):
        raise invalid_argument("Expecting 'instances' to be a list/array")
    if not instances:
        raise invalid_argument("No values in 'instances' array")
    named = _is_named(instances[0])
    if not named and len(specs) > 1:
        raise invalid_argument(
            f"instances is a plain list, but the signature takes inputs {sorted(specs)}: "
            "each instance must be an object with one key per input")
    columns: dict[str, list] = {name: [] for name in specs}
    for index, instance in enumerate(instances):
        if _is_named(instance) != named:
            raise invalid_argument(f"instance {index} of 'instances' is "
                                   f"{'not ' if named else ''}an object, unlike instance 0")
        if not named:
            columns[next(iter(specs))].append(instance)
            continue
        if set(instance) != set(specs):
            raise invalid_argument(f"instance {index} of 'instances' has keys "
                                   f"{sorted(instance)}; expected {sorted(specs)}")
        for name, value in instance.items():
            columns[name].append(value)
    return {name: to_array(name, values, specs[name].dtype) for name, values in columns.items()}


def _from_inputs(inputs: Any, specs: Mapping[str, tf.TensorSpec]) -> dict[str, np.ndarray]:
    if _is_named(inputs):
        for name in specs:
            if name not in inputs:
                raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
        unknown = sorted(set(inputs) - set(specs))
        if unknown:
            raise invalid_argument(f"'inputs' has unknown keys {unknown}; the signature "
                                   f"takes inputs {sorted(specs)}")
        return {name: to_array(name, inputs[name], spec.dtype) for name, spec in specs.items()}
    if len(specs) > 1:
        raise invalid_argument(
            f"inputs is a plain value/list, but the signature takes inputs {sorted(specs)}: "
            "'inputs' must be an object with one key per input")
    name = next(iter(specs))
    return {name: to_array(name, inputs, specs[name].dtype)}


def to_array(name: str, value: Any, dtype: tf.DType) -> np.ndarray:
    """A rectangular JSON value (nested lists) as an array of `dtype`, checked leaf by leaf."""
    shape: list[int] = []
    level = [value]
    while any(isinstance(item, list) for item in level):
        if not all(isinstance(item, list) for item in level):
            raise invalid_argument(f"input {name!r}: lists and values mixed at depth "
                                   f"{len(shape)}; a tensor must be rectangular")
        sizes = {len(item) for item in level}
        if len(sizes) > 1:
            raise invalid_argument(f"input {name!r}: lists of sizes {sorted(sizes)} at depth "
                                   f"{len(shape)}; a tensor must be rectangular")
        shape.append(sizes.pop())
        if len(shape) > _MAX_RANK:
            raise invalid_argument(f"input {name!r}: more than {_MAX_RANK} dimensions")
        level = [leaf for item in level for leaf in item]
    return _leaves_array(name, level, dtype).reshape(shape)


def _leaves_array(name: str, leaves: list, dtype: tf.DType) -> np.ndarray:
    if dtype == tf.string:
        return np.array([_string_leaf(name, leaf) for leaf in leaves], dtype=object)
    if dtype == tf.bool:
        allowed: tuple[type, ...] = (bool,)
    elif dtype.is_integer:
        allowed = (int,)
    elif dtype.is_floating:
        allowed = (int, float)
    else:
        raise invalid_argument(f"input {name!r}: JSON has no conversion to {dtype.name}")
    for leaf in leaves:
        if type(leaf) not in allowed:  # exact types: JSON true/false are not numbers
            raise invalid_argument(
                f"input {name!r}: JSON Value: {_preview(leaf)} Type: {_json_type(leaf)} is not "
                f"of expected type: {dtype.name}")
    numpy_dtype = dtype.as_numpy_dtype
    if dtype.is_integer:
        info = np.iinfo(numpy_dtype)
        out_of_range = [leaf for leaf in leaves if not info.min <= leaf <= info.max]
        if out_of_range:
            raise invalid_argument(f"input {name!r}: {_preview(out_of_range[0])} is out of "
                                   f"range for {dtype.name}")
    try:
        return np.array(leaves, dtype=numpy_dtype)
    except (OverflowError, ValueError) as error:
        raise invalid_argument(f"input {name!r}: cannot convert to {dtype.name}: {error}") from None


def _string_leaf(name: str, leaf: Any) -> bytes:
    if isinstance(leaf, str):
        try:
            return leaf.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape such as "\\ud800"
            raise invalid_argument(f"input {name!r}: {_preview(leaf)} is not valid "
                                   "UTF-8") from None
    if _is_base64(leaf):
        try:
            return base64.b64decode(leaf[BASE64_KEY], validate=True)
        except (binascii.Error, ValueError):
            raise invalid_argument(f"input {name!r}: Unable to base64 decode") from None
    raise invalid_argument(f"input {name!r}: JSON Value: {_preview(leaf)} Type: "
                           f"{_json_type(leaf)} is not of expected type: string")


def _json_values(name: str, array: np.ndarray) -> Any:
    """An output as JSON values: numbers, strings, or {"b64": ...} for `*_bytes` strings.
    Finite float32/64, integer and bool arrays stay numpy arrays, for `dumps` to write."""
    if array.dtype != object:
        if (orjson is not None and array.ndim and array.dtype.kind in _FAST_KINDS
                and array.dtype.itemsize in _FAST_KINDS[array.dtype.kind]
                and (array.dtype.kind != "f" or np.isfinite(array).all())):
            return np.ascontiguousarray(array)
        values = array.tolist()
        if isinstance(values, list):
            return _StandardOnly(values)
        return _StandardScalar(values) if isinstance(values, float) else values
    if name.endswith(BYTES_SUFFIX):
        convert = np.frompyfunc(
            lambda data: {BASE64_KEY: base64.b64encode(data).decode("ascii")}, 1, 1)
    else:
        convert = np.frompyfunc(lambda data: data.decode("utf-8", "replace"), 1, 1)
    converted = convert(array)
    return converted.tolist() if isinstance(converted, np.ndarray) else converted


class _StandardOnly(list):
    """Values only the standard library writes as TF Serving does (NaN, Infinity, float16)."""


class _StandardScalar:
    """A float only the standard library writes as TF Serving does (orjson refuses the type)."""

    def __init__(self, value: float):
        self.value = value


def _is_base64(value: Any) -> bool:
    return (isinstance(value, dict) and len(value) == 1
            and isinstance(value.get(BASE64_KEY), str))


def _is_named(value: Any) -> bool:
    """An object of named inputs (not a `{"b64": ...}` value)."""
    return isinstance(value, dict) and not _is_base64(value)


def _json_type(value: Any) -> str:
    return {bool: "Boolean", int: "Number", float: "Number", str: "String", dict: "Object",
            list: "Array", type(None): "Null"}.get(type(value), type(value).__name__)


def _preview(value: Any, limit: int = 80) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."
