"""Running the assessment notebook: one institution (``execute``) or many in parallel (``runner``)."""
