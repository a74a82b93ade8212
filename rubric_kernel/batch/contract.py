"""What the notebook hands back to its runners, importable without papermill (the kernel imports it)."""

# The notebook's machine-readable output: its result as ``Result.as_json()``, invisible in the HTML.
RESULT_MIMETYPE = "application/vnd.rubric-kernel.result+json"
