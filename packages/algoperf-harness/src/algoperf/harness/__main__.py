"""`python -m algoperf.harness`: same as the `algoperf` command."""

from algoperf.harness._cli import cli_exit

cli_exit()
