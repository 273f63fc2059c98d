"""Reports: metrics, figures (PNG) and the PDF, as pure functions of run results."""
