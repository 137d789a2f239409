"""Reproducible companion for JCRA (arXiv 2307.01004) and MultiWrite (arXiv 2605.22428)."""

__version__ = "0.1.0"
