"""`python -m socket_lab [ARGS]`: runs the installed `socket-lab` with ARGS."""

import os
import subprocess
import sys

from socket_lab import find_socket_lab_bin


def main() -> int:
    try:
        exe = find_socket_lab_bin()
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 2
    args = [exe, *sys.argv[1:]]
    if os.name == "posix":
        os.execv(exe, args)  # the server takes this process's place (Ctrl-C, signals)
    return subprocess.call(args)


if __name__ == "__main__":
    sys.exit(main())
