"""A YAML or JSON document read as text, with the line of every key, before any value is trusted.

YAML 1.1 guesses types: ``013`` is octal 11, ``true``/``yes``/``on`` are booleans, ``1_000`` and
``2023-02-30`` are numbers and dates. For files whose scalars are identifiers, every plain scalar
is read here as the text the user typed (only ``~``/``null``/empty mean "nothing"), and the caller
decides what each field may hold. The same reader refuses what silently loses data: a key written
twice (``'4'`` and ``4`` are the same text), aliases (a few hundred bytes can expand to gigabytes)
and explicit type tags such as ``!!int``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, ClassVar

from .errors import Fault, InputError
from .yamlsafe import YamlFault, strict_loader

if TYPE_CHECKING:
    import yaml

MAX_BYTES = 1_000_000  # a judgments file is a few kilobytes; a larger one is a mistake, not data
MAX_NUMBER_CHARS = 40  # longer digit strings are refused while parsing (int() of 10**5000 is slow)
NULL_TAG = "tag:yaml.org,2002:null"
PLAIN_TAGS = frozenset({"tag:yaml.org,2002:str", NULL_TAG, "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})

KeyPath = tuple[str, ...]


@cache
def _text_loader() -> type[yaml.SafeLoader]:
    """The strict loader (no anchors, aliases or merge keys) resolving a plain scalar to null or text only;
    built on first use, as ``strict_loader``."""

    class TextLoader(strict_loader()):  # type: ignore[misc]
        yaml_implicit_resolvers: ClassVar[dict] = {}  # none inherited: only the null resolver added below

    TextLoader.add_implicit_resolver(NULL_TAG, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
    return TextLoader


@dataclass
class Document:
    """The parsed data and the 1-based line of each key or list item, by path of key texts and indexes."""

    data: object
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, path: tuple) -> int | None:
        """The line of the nearest enclosing key the path passes through (pydantic's ``[key]`` ignored)."""
        parts = tuple(str(p) for p in path if p != "[key]")
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return None


def load_document(text: str, file: str, *, json_syntax: bool) -> Document:
    """JSON keeps its own types (numbers, booleans); YAML scalars are text. Faults name file and line."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise InputError([Fault(file, f"文件过大（超过 {MAX_BYTES // 1000} KB），不像评分文件")])
    return _load_json(text, file) if json_syntax else _load_yaml(text, file)


def _load_yaml(text: str, file: str) -> Document:
    import yaml

    loader = _text_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError([Fault(file, "文件为空")])
        lines: dict[KeyPath, int] = {}
        faults: list[Fault] = []
        _walk(node, (), lines, faults, file)
        if faults:
            raise InputError(faults)
        return Document(loader.construct_document(node), lines)
    except (YamlFault, yaml.YAMLError) as exc:
        raise InputError([_syntax_fault(exc, file)]) from None
    except RecursionError:
        raise InputError([Fault(file, "嵌套层次过深，无法读取")]) from None
    finally:
        loader.dispose()


def _load_json(text: str, file: str) -> Document:
    repeated: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        out: dict = {}
        for key, value in items:
            if key in out:
                repeated.append(key)
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=_no_constant, parse_int=_bounded_int)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise InputError([Fault(file, f"JSON 格式错误：{getattr(exc, 'msg', exc)}", row=line)]) from None
    except RecursionError:
        raise InputError([Fault(file, "嵌套层次过深，无法读取")]) from None
    if data is None:
        raise InputError([Fault(file, "文件为空")])
    lines: dict[KeyPath, int] = {}
    faults: list[Fault] = []
    import yaml

    try:  # JSON is YAML's flow syntax: PyYAML's parser supplies the lines json does not keep
        node = _text_loader()(text).get_single_node()
        if node is not None:
            _walk(node, (), lines, faults, file)
    except (YamlFault, yaml.YAMLError, RecursionError):
        lines, faults = {}, []
    if repeated and not faults:
        faults = [Fault(file, f"键 {key} 重复出现：同一对象中的键只能写一次") for key in repeated]
    if faults:
        raise InputError(faults)
    return Document(data, lines)


def _no_constant(name: str) -> float:
    raise ValueError(f"不允许 {name}（不是有限数）")


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"数字 {text[:12]}… 位数过多")
    return int(text)


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], faults: list[Fault], file: str) -> None:
    """Record lines; refuse type tags, keys that are not plain text, and keys written twice. Nodes are told
    apart by PyYAML's ``Node.id`` ("scalar", "sequence", "mapping"), so the recursion imports nothing."""
    line = node.start_mark.line + 1
    if node.tag not in PLAIN_TAGS:
        faults.append(
            Fault(
                file,
                f"{_where(path)}不支持 YAML 类型标签 {node.tag.replace('tag:yaml.org,2002:', '!!')}，请直接写值",
                row=line,
            )
        )
        return
    if node.id == "sequence":
        for i, item in enumerate(node.value):
            lines[(*path, str(i))] = item.start_mark.line + 1
            _walk(item, (*path, str(i)), lines, faults, file)
    elif node.id == "mapping":
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.id != "scalar" or key_node.tag not in PLAIN_TAGS:
                faults.append(Fault(file, f"{_where(path)}键必须是文字", row=key_line))
                continue
            key = key_node.value
            if key in seen:
                faults.append(
                    Fault(
                        file,
                        f"{_where(path)}键 {key} 写了两次（第 {seen[key]} 行与第 {key_line} 行），"
                        "后者会覆盖前者；请合并为一处",
                        row=key_line,
                    )
                )
                continue
            seen[key] = key_line
            lines[(*path, key)] = key_line
            _walk(value_node, (*path, key), lines, faults, file)


def _where(path: KeyPath) -> str:
    return f"{'.'.join(path)}：" if path else ""


def _syntax_fault(exc: YamlFault | yaml.YAMLError, file: str) -> Fault:
    if isinstance(exc, YamlFault):
        return Fault(file, exc.message, row=exc.line + 1)
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return Fault(file, f"YAML 格式错误：{problem}", row=mark.line + 1 if mark else None)
