"""rubric-kernel: credit assessment of skill-talent evaluation institutions."""

__version__ = "0.1.0"
