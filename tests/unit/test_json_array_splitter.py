"""The JSON-array upload splitter (infra.jobs.JsonArraySplitter) finds the same elements, the same over-long ones
and the same errors as the byte-by-byte splitter it replaced, for any body cut into any chunks (issue 14, P2)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra import jobs
from infra.jobs import BodyError, JsonArraySplitter, TooLong


class ByteWiseSplitter:
    """The splitter as it was, byte by byte in Python (7 MB/s): the oracle the fast one must agree with."""

    def __init__(self, max_line: int = 1 << 20) -> None:
        self._max = max_line
        self._skipped = 0
        self._state = "before"  # before '[', in array between elements, done after ']'
        self._element = bytearray()
        self._depth = 0
        self._in_string = False
        self._escaped = False

    def feed(self, chunk: bytes) -> Iterator[bytes | TooLong]:
        for byte in chunk:
            c = chr(byte)
            if self._state == "before":
                if c == "[":
                    self._state = "array"
                elif not c.isspace():
                    raise BodyError("a JSON body must be an array of lines")
            elif self._state == "done":
                if not c.isspace():
                    raise BodyError("text after the end of the JSON array")
            elif self._in_string:
                self._element.append(byte)
                if self._escaped:
                    self._escaped = False
                elif c == "\\":
                    self._escaped = True
                elif c == '"':
                    self._in_string = False
            elif self._depth == 0 and c in ",]":
                element = bytes(self._element).strip()
                self._element.clear()
                if self._skipped:
                    yield TooLong(size=self._skipped, limit=self._max)
                    self._skipped = 0
                elif element:
                    yield element
                elif c == ",":
                    raise BodyError("an empty element in the JSON array")
                if c == "]":
                    self._state = "done"
            else:
                if c == '"':
                    self._in_string = True
                elif c in "[{":
                    self._depth += 1
                elif c in "]}":
                    self._depth -= 1
                self._element.append(byte)
            if len(self._element) > self._max or (self._skipped and self._element):  # over-long: counted, not kept
                self._skipped += len(self._element)
                self._element.clear()

    def close(self) -> Iterator[bytes]:
        if self._state != "done":
            raise BodyError("the JSON array is not terminated")
        return iter(())



def run(splitter, body: bytes, cuts: list[int]) -> list:
    out: list = []
    try:
        start = 0
        for cut in [*sorted(c % (len(body) + 1) for c in cuts), len(body)]:
            out += [x.size if isinstance(x, TooLong) else x for x in splitter.feed(body[start:cut])]
            start = max(start, cut)
        out += list(splitter.close())
    except BodyError as exc:
        out.append(("error", str(exc)))
    return out


values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters(
    codec="utf-8"), max_size=12), lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=5), inner, max_size=4), max_leaves=12)
spaces = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


@st.composite
def bodies(draw) -> bytes:
    """Well-formed arrays with any spacing, and their damaged variants (truncated, an extra comma, text after)."""
    items = draw(st.lists(values, max_size=6))
    sep = draw(spaces)
    body = (draw(spaces) + "[" + sep + ("," + sep).join(json.dumps(v, ensure_ascii=draw(st.booleans()))
                                                          for v in items) + sep + "]" + draw(spaces)).encode()
    damage = draw(st.sampled_from(["none", "none", "truncate", "comma", "after", "bytes"]))
    if damage == "truncate" and body:
        body = body[:draw(st.integers(0, len(body) - 1))]
    elif damage == "comma":
        body = body.replace(b"[", b"[,", 1) if draw(st.booleans()) else body.replace(b"]", b",,]", 1)
    elif damage == "after":
        body += draw(st.sampled_from([b"x", b"[1]", b"\xa0", b" \x1c"]))
    elif damage == "bytes":
        body = draw(st.binary(max_size=40))
    return body


@settings(max_examples=400, deadline=None)
@given(body=bodies(), cuts=st.lists(st.integers(0, 10_000), max_size=6), max_line=st.sampled_from([1, 8, 64, 1 << 20]))
def test_the_fast_splitter_agrees_with_the_byte_wise_one(body, cuts, max_line):
    assert run(JsonArraySplitter(max_line), body, cuts) == run(ByteWiseSplitter(max_line), body, cuts)


@settings(max_examples=400, deadline=None)
@given(body=bodies(), cuts=st.lists(st.integers(0, 10_000), max_size=6), max_line=st.sampled_from([1, 8, 64, 1 << 20]))
def test_elements_taken_at_once_by_msgspec_agree_with_the_byte_wise_splitter(body, cuts, max_line):
    """The many-at-once path (msgspec decoding the complete elements of a chunk as Raw values) is taken for runs of
    any length here."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jobs, "RAW_RUN_MIN", 0)
        assert run(JsonArraySplitter(max_line), body, cuts) == run(ByteWiseSplitter(max_line), body, cuts)


@pytest.mark.parametrize("body", [b'[{"a": "x\\\\"}, {"b": "],\\"}"}]', b'[[1, [2]], {"k": [3, {"v": "}"}]}]'])
def test_escapes_and_brackets_inside_strings_are_text(body):
    cuts = list(range(len(body)))  # every byte its own chunk, the hardest cut
    assert run(JsonArraySplitter(), body, cuts) == run(ByteWiseSplitter(), body, cuts) == run(
        JsonArraySplitter(), body, [])
