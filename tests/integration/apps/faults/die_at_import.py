"""WSGIImportScript that kills its daemon process at startup: a crash loop."""

import os

os._exit(3)
