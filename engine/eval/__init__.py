"""Evaluation suites: suite files, checks, suite runs, result sets, compare and exports."""
