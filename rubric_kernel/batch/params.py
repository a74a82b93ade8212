"""Notebook parameters that read as written: Chinese stays Chinese, codes stay strings.

papermill's Python translator writes every non-ASCII character of a string parameter as a
``\\uXXXX`` escape, so a reviewer of the executed notebook reads gibberish; ``repr`` produces an
equally valid literal that keeps the characters.
"""

from __future__ import annotations

from papermill.translators import PythonTranslator, papermill_translators


class ReadablePythonTranslator(PythonTranslator):
    @classmethod
    def translate_str(cls, val: str) -> str:
        return repr(val)


def install() -> None:
    """Idempotent: make papermill use the readable translator for Python kernels in this process."""
    papermill_translators.register("python", ReadablePythonTranslator)
