"""The recommendation engine: interaction data, models, ranking and offline evaluation.

Importable and testable without the web app.
"""
