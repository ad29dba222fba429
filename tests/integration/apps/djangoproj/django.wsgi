# mod_wsgi entry script for the Django test project.
#
# The database directory comes from `SetEnv DJANGO_DATA_DIR ...` in the Apache config. SetEnv
# values reach the WSGI environ of each request, not os.environ, so the Django application is
# created on the first request, after that value has been copied into os.environ where the
# settings module reads it (the pattern mod_wsgi's documentation describes for SetEnv).
import os
import sys
import threading

here = os.path.dirname(os.path.abspath(__file__))
if here not in sys.path:
    sys.path.insert(0, here)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoproj.settings")

_lock = threading.Lock()
_django_application = None


def application(environ, start_response):
    global _django_application
    if _django_application is None:
        with _lock:
            if _django_application is None:
                os.environ.setdefault("DJANGO_DATA_DIR", environ["DJANGO_DATA_DIR"])
                from djangoproj.wsgi import application as django_application

                _django_application = django_application
    return _django_application(environ, start_response)
