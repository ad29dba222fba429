"""Imported by probe.wsgi on request: present in sys.modules only of the interpreter that did."""

import os

IMPORTED_BY = os.getpid()
