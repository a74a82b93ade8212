"""Notebook parameters that read as written: Chinese stays Chinese, codes stay strings.

papermill's Python translator writes every non-ASCII character of a string parameter as a
``\\uXXXX`` escape, so a reviewer of the executed notebook reads gibberish; ``repr`` produces an
equally valid literal that keeps the characters.
"""

from __future__ import annotations

from dataclasses import asdict

from papermill.translators import PythonTranslator, papermill_translators

from .contract import Parameters


class ReadablePythonTranslator(PythonTranslator):
    @classmethod
    def translate_str(cls, val: str) -> str:
        return repr(val)


def install() -> None:
    """Idempotent: make papermill use the readable translator for Python kernels in this process."""
    papermill_translators.register("python", ReadablePythonTranslator)


def notebook_parameters(institution: int, **given: str) -> dict[str, str]:
    """Every parameter as a string, the types the notebook's parameters cell declares (``Parameters``)."""
    return {"institution": f"{institution:02d}", **asdict(Parameters(**given))}
