# `make expert` and the Voilà browser tests: the form's kernel is forked from a template started now,
# while the browser loads the page (rubric_kernel/lab_kernels.py), as in the project's JupyterLab.
from rubric_kernel.lab_kernels import NAME, start_template

c = get_config()  # noqa: F821 (traitlets' config loader defines it)
c.KernelProvisionerFactory.default_provisioner_name = NAME
start_template()
