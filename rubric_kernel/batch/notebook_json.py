"""The report notebook as plain JSON for one report in this process: read and parameterised as papermill
does it, written as nbformat writes it, without importing either.

For ``rubric-kernel report`` the imports of papermill (which pulls in nbclient, jupyter_client and zmq)
and of nbformat's validator cost more than running the notebook's cells. What they do to the bundled
notebook is small and fixed: join the cells' lines, add papermill's metadata, insert the parameters
cell after the one tagged ``parameters``, and write sorted JSON with the lines split again. Anything
else (another nbformat version, a non-string parameter, a notebook with outputs or without a
parameters cell) is left to papermill (``load`` returns ``None``). tests/test_notebook_json.py keeps
this equal to papermill and nbformat.
"""

from __future__ import annotations

import copy
import json
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

INJECTED = "injected-parameters"
# nbformat splits these on writing (rwbase._split_mimebundle): text/* and two non-text types
SPLIT_MIMES = {"application/javascript", "image/svg+xml"}


def _code(parameters: dict[str, str]) -> str:
    """papermill's Python translator with ``params.ReadablePythonTranslator``'s strings (``repr``)."""
    return "# Parameters\n" + "".join(f"{name} = {value!r}\n" for name, value in parameters.items())


def _tagged(cells: list[dict[str, Any]], tag: str) -> int:
    return next((i for i, c in enumerate(cells) if tag in c["metadata"]["tags"]), -1)


def load(notebook: Path, parameters: dict[str, str]) -> dict[str, Any] | None:
    """The notebook parameterised as ``papermill.parameterize_notebook(load_notebook_node(...))`` gives it."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    meta = nb.get("metadata", {})
    language = meta.get("language_info", {}).get("name") or meta.get("kernelspec", {}).get("language")
    if (
        (nb.get("nbformat"), nb.get("nbformat_minor", 0) >= 5) != (4, True)
        or language != "python"
        or not all(isinstance(v, str) for v in parameters.values())
        or any(c.get("outputs") or c.get("attachments") for c in nb["cells"])
    ):
        return None
    for cell in nb["cells"]:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        cell["metadata"].setdefault("tags", [])
        cell["metadata"].setdefault("papermill", {})
    meta.setdefault(
        "papermill",
        {"default_parameters": {}, "parameters": {}, "environment_variables": {}, "version": version("papermill")},
    )
    injected = {
        "cell_type": "code",
        "execution_count": None,
        "id": uuid.uuid4().hex[:8],  # nbformat's random cell id
        "metadata": {"tags": [INJECTED]},
        "outputs": [],
        "source": _code(parameters),
    }
    cells = nb["cells"]
    if (i := _tagged(cells, INJECTED)) >= 0:
        cells[i] = injected
    elif (i := _tagged(cells, "parameters")) >= 0:
        cells.insert(i + 1, injected)
    else:
        return None
    meta["papermill"]["parameters"] = parameters
    nb["metadata"] = meta
    return nb


def _split(bundle: dict[str, Any]) -> None:
    for key, value in bundle.items():
        if isinstance(value, str) and (key.startswith("text/") or key in SPLIT_MIMES):
            bundle[key] = value.splitlines(True)


def dumps(nb: dict[str, Any]) -> str:
    """The notebook file, as ``nbformat.v4.writes`` writes it."""
    nb = copy.deepcopy(nb)
    for name in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        nb["metadata"].pop(name, None)
    for cell in nb["cells"]:
        cell["metadata"].pop("trusted", None)
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(True)
        for attachment in cell.get("attachments", {}).values():
            _split(attachment)
        for output in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if output["output_type"] in ("execute_result", "display_data"):
                _split(output.get("data", {}))
            elif output["output_type"] == "stream" and isinstance(output["text"], str):
                output["text"] = output["text"].splitlines(True)
    return json.dumps(nb, indent=1, sort_keys=True, separators=(",", ": "), ensure_ascii=False)
