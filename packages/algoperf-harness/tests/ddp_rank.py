"""One torchrun rank of `algoperf run`, leaving the process group before it exits.

`algoperf run --nproc N` relaunches itself under torchrun, but its ranks do not yet leave the
gloo group, and a rank can then abort at exit. Until the harness calls `shutdown_distributed`
itself, the DDP test launches the ranks through this script.
"""

import sys

from algoperf.harness._cli import cli
from algoperf.workloads.torch_base import shutdown_distributed


def main() -> int:
    code = cli(sys.argv[1:])
    shutdown_distributed()
    return code


if __name__ == "__main__":
    sys.exit(main())
