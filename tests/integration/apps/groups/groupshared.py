"""State every script of one interpreter shares through sys.modules (probe.wsgi, other.wsgi)."""

VALUE = None
