# Kernels started by `make lab`, `make expert` and the browser tests (IPYTHONDIR points at a copy of
# this folder) import what the assessment notebook's cells need while the page is still loading, so
# "Run All" does not wait for them: they were most of its time (benchmarks/interactive.py).
c = get_config()  # noqa: F821 (IPython's config loader defines it)
c.IPKernelApp.exec_lines = [
    "import rubric_kernel.assessment, rubric_kernel.form, rubric_kernel.notebook",
    "del rubric_kernel",
]
