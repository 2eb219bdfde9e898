"""Detectors with one API (scikit-learn / PyOD style): ``fit(X, y=None)`` returns self, learned
state in trailing-underscore attributes, ``score_samples`` gives a continuous anomaly score (higher
= more anomalous), ``predict`` applies ``threshold_``."""
