"""The checks of deploy/validate.py, by subject (see its docstring)."""
