"""An import script whose import fails: the failure is logged and the server keeps serving."""

raise RuntimeError("preload failed on purpose")
