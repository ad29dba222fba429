"""Importable only where python-path= names tests/integration/apps/daemon/pylib."""
VALUE = "found through python-path"
