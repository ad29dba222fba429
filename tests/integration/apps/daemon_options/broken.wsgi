"""A WSGI script that never imports (startup-timeout): every attempt raises."""

raise RuntimeError("STARTUP-BROKEN: this script never loads")
