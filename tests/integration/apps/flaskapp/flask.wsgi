# mod_wsgi entry script for the Flask test application: makes this folder importable and
# exposes the Flask app as the WSGI callable `application`.
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
if here not in sys.path:
    sys.path.insert(0, here)

from flaskdemo import app as application  # noqa: E402
