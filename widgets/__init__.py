"""Jupyter widgets used by the lessons and the Voila apps (anywidget front ends + Python classes)."""
