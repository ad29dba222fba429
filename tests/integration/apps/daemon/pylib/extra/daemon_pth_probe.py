"""Importable only through the daemon_probe.pth file next to ../daemon_path_probe.py."""
VALUE = "found through a .pth file"
