"""The credit report: HTML sections (``sections``), chart, input digests and the nbconvert export."""
