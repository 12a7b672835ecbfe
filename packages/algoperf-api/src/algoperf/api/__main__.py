"""`python -m algoperf.api`: same as the `algoperf-api` command."""

from algoperf.api._cli import cli_exit

cli_exit()
