"""Socket Lab: real TCP/UDP demo servers, a browser bridge and the course.

The package is the `socket-lab` program; this module only finds it, so
that `python -m socket_lab` works where the scripts directory is not on
the PATH (a school laptop, a virtual environment that is not activated).
"""

import os
import sys
import sysconfig

__all__ = ["find_socket_lab_bin"]


def find_socket_lab_bin() -> str:
    """The path of the installed `socket-lab` executable."""
    exe = "socket-lab" + (sysconfig.get_config_var("EXE") or "")
    schemes = [sysconfig.get_default_scheme()]
    user = "nt_user" if os.name == "nt" else "posix_user"
    if user not in schemes:
        schemes.append(user)
    for scheme in schemes:
        path = os.path.join(sysconfig.get_path("scripts", scheme), exe)
        if os.path.isfile(path):
            return path
    # pip install --target DIR puts scripts in DIR/bin.
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "bin", exe)
    if os.path.isfile(path):
        return path
    raise FileNotFoundError(
        f"{exe} was not found next to this Python ({sys.executable}); "
        "reinstall with `pipx install socket-lab` or `pip install socket-lab`"
    )
