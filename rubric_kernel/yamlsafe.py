"""YAML for input files: safe types only, no anchors or aliases, no duplicate keys.

PyYAML's safe loader still expands aliases (a 400-byte "billion laughs" file costs minutes and
gigabytes) and lets a repeated key silently replace the first one. Input files of this project are
written by hand or by the tool and never need either, so both are refused with the line they are on,
before anything is built. ``strict_loader()`` can be subclassed by a loader that also changes how plain
scalars resolve (the judgments file reads identifiers as text).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Fault, InputError, display_path, excerpt

if TYPE_CHECKING:
    import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlFault(Exception):
    """A refused construct, carrying the (0-based) line it starts on."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


@cache
def strict_loader() -> type[yaml.SafeLoader]:
    """SafeLoader that refuses anchors, aliases, merge keys and duplicate mapping keys.

    Built on first use: importing PyYAML is 0.02 s of every command, and most commands read their
    inputs validated from ``var/cache`` and parse no YAML at all."""
    import yaml
    from yaml.events import AliasEvent
    from yaml.nodes import MappingNode, ScalarNode

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
            event = self.peek_event()
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
                raise YamlFault("不支持 YAML 锚点（&）和别名（*），请把内容直接写出", event.start_mark.line)
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
            if isinstance(node, MappingNode):
                seen: dict[str, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == MERGE_TAG:
                        raise YamlFault("不支持 YAML 合并键（<<），请把内容直接写出", key_node.start_mark.line)
                    if not isinstance(key_node, ScalarNode):
                        raise YamlFault("键必须是简单的文字或数字", key_node.start_mark.line)
                    # '4' and 4 are one key to a reader, whatever type each resolves to
                    text = key_node.value.strip()
                    line = key_node.start_mark.line
                    if text in seen:
                        raise YamlFault(
                            f"键“{excerpt(text)}”重复（第 {seen[text] + 1} 行与第 {line + 1} 行），后者会覆盖前者", line
                        )
                    seen[text] = line
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_timestamp(self, node):  # type: ignore[no-untyped-def]
            """An impossible unquoted date (2023-02-30) is a fault on its line, not a ValueError."""
            try:
                return super().construct_yaml_timestamp(node)
            except ValueError:
                raise YamlFault(f"日期“{excerpt(node.value)}”不存在", node.start_mark.line) from None

    StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", StrictLoader.construct_yaml_timestamp)
    return StrictLoader


def parse_yaml(text: str, file: str) -> object:
    """One YAML document, read by ``strict_loader``; raises InputError naming the file and line of the first fault."""
    import yaml

    try:
        return yaml.load(text, Loader=strict_loader())  # derives from SafeLoader
    except YamlFault as exc:
        raise InputError([Fault(file, exc.message, row=exc.line + 1)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "无法解析"
        raise InputError(
            [Fault(file, f"YAML 格式错误：{excerpt(problem, 80)}", row=mark.line + 1 if mark else None)]
        ) from None
    except yaml.YAMLError as exc:
        raise InputError([Fault(file, f"YAML 格式错误：{excerpt(str(exc), 80)}")]) from None
    except RecursionError:
        raise InputError([Fault(file, "YAML 嵌套层次过深")]) from None


def load_yaml(path: Path | str) -> object:
    """Read a UTF-8 YAML file with ``parse_yaml``; unreadable files are faults too."""
    file = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError([Fault(file, f"无法读取：{exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise InputError([Fault(file, "无法读取：文件不是 UTF-8 编码")]) from None
    return parse_yaml(text, file)
